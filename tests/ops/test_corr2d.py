"""corr2d against F.conv2d (which computes a cross-correlation, as d2l.corr2d does)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from d2l_tconv import corr2d

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def shapes(draw):
    """An input ``(h, w)`` and a kernel ``(kh, kw)`` that fits in it."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return (draw(st.integers(kh, 9)), draw(st.integers(kw, 9))), (kh, kw)


def reference(X, K):
    return F.conv2d(X[None, None], K[None, None])[0, 0]


@SETTINGS
@given(shape=shapes(), seed=st.integers(0, 2**31 - 1), dtype=st.sampled_from([torch.float32,
                                                                              torch.float64]))
def test_matches_conv2d_exactly_on_integers(device, shape, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(-5, 6, shape[0], generator=g).to(device, dtype)
    K = torch.randint(-5, 6, shape[1], generator=g).to(device, dtype)
    Y = corr2d(X, K)
    assert Y.device == X.device and Y.dtype == dtype
    assert torch.equal(Y, reference(X, K))


@SETTINGS
@given(shape=shapes(), seed=st.integers(0, 2**31 - 1))
def test_matches_conv2d_on_real_values(device, shape, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(shape[0], generator=g, dtype=torch.float64).to(device)
    K = torch.randn(shape[1], generator=g, dtype=torch.float64).to(device)
    assert_close(corr2d(X, K), reference(X, K))


def test_gradients_match_conv2d(device):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(-3, 4, (6, 5), generator=g).double().to(device).requires_grad_()
    K = torch.randint(-3, 4, (3, 2), generator=g).double().to(device).requires_grad_()
    G = torch.randint(-3, 4, (4, 4), generator=g).double().to(device)
    ours = torch.autograd.grad(corr2d(X, K), (X, K), G)
    theirs = torch.autograd.grad(reference(X, K), (X, K), G)
    assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])


def test_non_contiguous_input(device):
    X = torch.arange(30.0, device=device).reshape(5, 6).T  # (6, 5), a transposed view
    K = torch.tensor([[1.0, -1.0], [2.0, 0.5]], device=device)
    assert torch.equal(corr2d(X, K), reference(X.contiguous(), K))
