"""The section's examples (In [3] to In [11] of the seed notebook) as unit tests.

Each example is checked twice: against PyTorch's operator on the same input, and against the
numbers printed in the book.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from d2l_tconv import (
    conv_output_shape,
    corr2d,
    kernel2matrix,
    trans_conv,
    trans_conv_loop,
    trans_conv_output_shape,
)


def book_X_K(device):
    """In [3]: the 2 x 2 input and kernel of the figure "trans_conv"."""
    X = torch.tensor([[0.0, 1.0], [2.0, 3.0]], device=device)
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]], device=device)
    return X, K


def tconv_layer(K, **kwargs):
    """In [4]-[6]: ``nn.ConvTranspose2d(1, 1, kernel_size=2, bias=False)`` with weight K."""
    layer = nn.ConvTranspose2d(1, 1, kernel_size=2, bias=False, **kwargs).to(K.device)
    layer.weight.data = K.reshape(1, 1, 2, 2)
    return layer


def test_in3_basic_transposed_convolution(device):
    X, K = book_X_K(device)
    book = torch.tensor([[0.0, 0.0, 1.0], [0.0, 4.0, 6.0], [4.0, 12.0, 9.0]], device=device)
    for Y in (trans_conv_loop(X, K), trans_conv(X, K)):
        assert torch.equal(Y, book)
        assert torch.equal(Y, F.conv_transpose2d(X[None, None], K[None, None])[0, 0])


def test_in4_high_level_api(device):
    X, K = book_X_K(device)
    X, K = X.reshape(1, 1, 2, 2), K.reshape(1, 1, 2, 2)
    book = torch.tensor([[[[0.0, 0.0, 1.0], [0.0, 4.0, 6.0], [4.0, 12.0, 9.0]]]], device=device)
    with torch.no_grad():
        expected = tconv_layer(K)(X)
    assert torch.equal(expected, book)
    assert torch.equal(trans_conv(X, K), expected)


def test_in5_padding_crops_the_output(device):
    X, K = book_X_K(device)
    with torch.no_grad():
        expected = tconv_layer(K, padding=1)(X[None, None])
    assert torch.equal(expected, torch.tensor([[[[4.0]]]], device=device))
    assert torch.equal(trans_conv(X[None, None], K[None, None], padding=1), expected)
    assert torch.equal(trans_conv(X, K, padding=1), torch.tensor([[4.0]], device=device))


def test_in6_stride_2(device):
    X, K = book_X_K(device)
    book = torch.tensor(
        [[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 2.0, 3.0], [0.0, 2.0, 0.0, 3.0], [4.0, 6.0, 6.0, 9.0]],
        device=device,
    )
    with torch.no_grad():
        expected = tconv_layer(K, stride=2)(X[None, None])[0, 0]
    assert torch.equal(expected, book)
    assert torch.equal(trans_conv(X, K, stride=2), expected)


def test_in7_transposed_convolution_restores_the_shape(device):
    # float64: on CUDA, cuDNN may use TF32 for float32 convolutions, rounding to ~1e-3
    torch.manual_seed(0)
    X = torch.rand(size=(1, 10, 16, 16), device=device, dtype=torch.float64)
    conv = nn.Conv2d(10, 20, kernel_size=5, padding=2, stride=3).to(device, torch.float64)
    tconv = nn.ConvTranspose2d(20, 10, kernel_size=5, padding=2, stride=3).to(device, torch.float64)
    with torch.no_grad():
        Y = conv(X)
        expected = tconv(Y)
        ours = trans_conv(Y, tconv.weight, stride=3, padding=2) + tconv.bias.reshape(1, -1, 1, 1)
    assert expected.shape == X.shape  # the book's True
    assert ours.shape == X.shape
    torch.testing.assert_close(ours, expected)
    assert conv_output_shape((16, 16), 5, stride=3, padding=2) == tuple(Y.shape[-2:]) == (6, 6)
    assert trans_conv_output_shape((6, 6), 5, stride=3, padding=2) == (16, 16)


def test_in8_corr2d(device):
    X = torch.arange(9.0, device=device).reshape(3, 3)
    K = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    Y = corr2d(X, K)
    assert torch.equal(Y, torch.tensor([[27.0, 37.0], [57.0, 67.0]], device=device))
    assert torch.equal(Y, F.conv2d(X[None, None], K[None, None])[0, 0])


def test_in9_kernel2matrix_for_a_3x3_input(device):
    K = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    book = torch.tensor(
        [
            [1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0],
        ],
        device=device,
    )
    assert torch.equal(kernel2matrix(K, (3, 3)), book)
    assert torch.equal(kernel2matrix(K, 3), book)
    sparse = kernel2matrix(K, (3, 3), sparse=True)
    assert sparse.layout == torch.sparse_coo and sparse._nnz() == 16  # 4 rows x 4 kernel entries
    assert torch.equal(sparse.to_dense(), book)


def test_in10_and_in11_matrix_products(device):
    X = torch.arange(9.0, device=device).reshape(3, 3)
    K = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    Y = F.conv2d(X[None, None], K[None, None])[0, 0]
    for sparse in (False, True):
        W = kernel2matrix(K, (3, 3), sparse=sparse)
        # In [10]: Y == W @ vec(X)
        assert torch.equal(torch.matmul(W, X.reshape(-1)).reshape(2, 2), Y)
        # In [11]: Z = trans_conv(Y, K) == W.T @ vec(Y)
        Z = trans_conv(Y, K)
        assert torch.equal(Z, F.conv_transpose2d(Y[None, None], K[None, None])[0, 0])
        assert torch.equal(torch.matmul(W.T, Y.reshape(-1)).reshape(3, 3), Z)
