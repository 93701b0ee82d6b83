"""kernel2matrix: W is the convolution's matrix and W.T the transposed convolution's.

The reference matrix is built by PyTorch itself: column ``q`` of ``W`` is ``F.conv2d`` of the
``q``-th basis image (a one at pixel ``q``, zeros elsewhere).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2l_tconv import kernel2matrix

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def cases(draw):
    """An input size, a kernel that fits in it once padded, a stride and a padding."""
    kernel = [draw(st.integers(1, 4)) for _ in range(2)]
    padding = [draw(st.integers(0, 2)) for _ in range(2)]
    size = [draw(st.integers(max(1, k - 2 * p), 7)) for k, p in zip(kernel, padding, strict=True)]
    stride = [draw(st.integers(1, 3)) for _ in range(2)]
    as_int = draw(st.booleans()) and stride[0] == stride[1] and padding[0] == padding[1]
    return {
        "input_shape": tuple(size),
        "k_shape": tuple(kernel),
        "stride": stride[0] if as_int else tuple(stride),
        "padding": padding[0] if as_int else tuple(padding),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def ints(shape, seed, device, low=-4, high=5):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, shape, generator=g).float().to(device)


def conv_matrix(K, input_shape, stride, padding):
    """W from F.conv2d applied to every basis image: shape (oh * ow, h * w)."""
    h, w = input_shape
    basis = torch.eye(h * w, dtype=K.dtype, device=K.device).reshape(h * w, 1, h, w)
    columns = F.conv2d(basis, K[None, None], stride=stride, padding=padding)
    return columns.reshape(h * w, -1).T


def output_padding(case):
    """The output padding that makes the transposed convolution's output (h, w) again."""
    s, p = case["stride"], case["padding"]
    s, p = ((s, s) if isinstance(s, int) else s), ((p, p) if isinstance(p, int) else p)
    sizes = zip(case["input_shape"], p, case["k_shape"], s, strict=True)
    return [(i + 2 * pp - k) % ss for i, pp, k, ss in sizes]


def hyper(case):
    return {"stride": case["stride"], "padding": case["padding"]}


@SETTINGS
@given(case=cases())
def test_dense_matrix_is_the_convolutions(device, case):
    K = ints(case["k_shape"], case["seed"], device)
    W = kernel2matrix(K, case["input_shape"], **hyper(case))
    assert W.device == K.device and W.dtype == K.dtype and W.layout == torch.strided
    assert torch.equal(W, conv_matrix(K, case["input_shape"], **hyper(case)))


@SETTINGS
@given(case=cases())
def test_products_are_conv2d_and_conv_transpose2d(device, case):
    K = ints(case["k_shape"], case["seed"], device)
    X = ints(case["input_shape"], case["seed"] + 1, device)
    Y = F.conv2d(X[None, None], K[None, None], **hyper(case))[0, 0]
    G = ints(Y.shape, case["seed"] + 2, device)
    Z = F.conv_transpose2d(G[None, None], K[None, None], **hyper(case),
                           output_padding=output_padding(case))[0, 0]
    for sparse in (False, True):
        W = kernel2matrix(K, case["input_shape"], **hyper(case), sparse=sparse)
        assert torch.equal(W @ X.reshape(-1), Y.reshape(-1))
        assert torch.equal(W.T @ G.reshape(-1), Z.reshape(-1))


@SETTINGS
@given(case=cases())
def test_sparse_matrix_stores_exactly_the_kernels_entries(device, case):
    # kernel entries 1..4, never 0: the stored entries are the nonzeros of the reference matrix
    K = ints(case["k_shape"], case["seed"], device, low=1, high=5)
    reference = conv_matrix(K, case["input_shape"], **hyper(case))
    W = kernel2matrix(K, case["input_shape"], **hyper(case), sparse=True)
    assert W.layout == torch.sparse_coo and W.is_coalesced()
    assert W.device == K.device and W.dtype == K.dtype
    assert W._nnz() == torch.count_nonzero(reference).item()
    assert torch.equal(W.to_dense(), reference)


def test_gradient_with_respect_to_the_kernel(device):
    K = ints((3, 2), 0, device).double().requires_grad_()
    X = ints((5, 6), 1, device).double()
    Y = F.conv2d(X[None, None], K[None, None], stride=2, padding=(0, 1)).reshape(-1)
    G = ints(Y.shape, 2, device).double()
    (theirs,) = torch.autograd.grad(Y, K, G)
    for sparse in (False, True):
        W = kernel2matrix(K, (5, 6), stride=2, padding=(0, 1), sparse=sparse)
        (ours,) = torch.autograd.grad(W @ X.reshape(-1), K, G)
        assert torch.equal(ours, theirs)


def test_sparse_handles_inputs_whose_dense_matrix_is_too_big(device):
    K = ints((3, 3), 0, device)
    shape = (300, 300)  # dense W: 90000 x 90000 float32 = 30 GiB
    with pytest.raises(ValueError, match=r"max_bytes.*30\.\d GiB.*sparse=True"):
        kernel2matrix(K, shape, padding=1)
    W = kernel2matrix(K, shape, padding=1, sparse=True)
    X = ints(shape, 1, device)
    expected = F.conv2d(X[None, None], K[None, None], padding=1).reshape(-1, 1)
    assert torch.equal(torch.sparse.mm(W, X.reshape(-1, 1)), expected)


def test_max_bytes_is_the_limit(device):
    K = torch.ones(2, 2, device=device)  # W is (4, 9) float32: 144 bytes
    assert kernel2matrix(K, (3, 3), max_bytes=144).shape == (4, 9)
    with pytest.raises(ValueError, match=r"max_bytes=143 .*\(4, 9\).*144\.0 B"):
        kernel2matrix(K, (3, 3), max_bytes=143)
    assert kernel2matrix(K, (3, 3), max_bytes=None).shape == (4, 9)
