"""Bad input: a ValueError or TypeError that names the argument and says what was expected.

``pytest.raises`` with one exception class also proves that no RuntimeError from deep inside
PyTorch escapes, and that nothing silently returns a wrong answer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from d2l_tconv import (
    conv_output_shape,
    corr2d,
    kernel2matrix,
    trans_conv,
    trans_conv_loop,
    trans_conv_output_shape,
)

X2, K2 = torch.ones(3, 3), torch.ones(2, 2)
X4, K4 = torch.ones(2, 3, 4, 4), torch.ones(3, 5, 2, 2)

# (call, expected exception, regex the message must match)
CASES = {
    # --- tensors: type, dtype, number of dimensions, emptiness, layout -----------------------
    "trans_conv X not a tensor": (lambda: trans_conv([[1.0]], K2), TypeError, r"^X must be a torch.Tensor, got list"),
    "trans_conv K not a tensor": (lambda: trans_conv(X2, 2.0), TypeError, r"^K must be a torch.Tensor, got float"),
    "trans_conv X integer": (lambda: trans_conv(X2.long(), K2), TypeError, r"^X must have a floating-point dtype.*torch.int64"),
    "trans_conv K complex": (lambda: trans_conv(X2, K2.to(torch.complex64)), TypeError, r"^K must have a floating-point dtype.*complex64"),
    "trans_conv X bool": (lambda: trans_conv(X2.bool(), K2), TypeError, r"^X must have a floating-point dtype"),
    "trans_conv X 3-D": (lambda: trans_conv(torch.ones(3, 4, 4), K4), ValueError, r"^X must be 2-D \(H, W\) or 4-D \(N, C_in, H, W\), got a 3-D"),
    "trans_conv X 1-D": (lambda: trans_conv(torch.ones(4), K2), ValueError, r"^X must be 2-D"),
    "trans_conv K 3-D": (lambda: trans_conv(X4, torch.ones(3, 2, 2)), ValueError, r"^K must be 2-D \(kH, kW\) or 4-D \(C_in, C_out, kH, kW\)"),
    "trans_conv 4-D X, 2-D K": (lambda: trans_conv(X4, K2), ValueError, r"^K must be 4-D \(C_in, C_out, kH, kW\) when X is 4-D"),
    "trans_conv 2-D X, 4-D K": (lambda: trans_conv(X2, K4), ValueError, r"^K must be 2-D \(kH, kW\) when X is 2-D"),
    "trans_conv channel mismatch": (lambda: trans_conv(X4, torch.ones(4, 5, 2, 2)), ValueError, r"^K has 4 input channels \(K.shape\[0\]\) but X has 3"),
    "trans_conv empty X": (lambda: trans_conv(torch.ones(2, 3, 0, 4), K4), ValueError, r"^X must not be empty"),
    "trans_conv empty K": (lambda: trans_conv(X4, torch.ones(3, 0, 2, 2)), ValueError, r"^K must not be empty"),
    "trans_conv sparse X": (lambda: trans_conv(X2.to_sparse(), K2), TypeError, r"^X must be a dense \(strided\) tensor"),
    "trans_conv dtype mismatch": (lambda: trans_conv(X2, K2.double()), TypeError, r"^K has dtype torch.float64 but X has torch.float32"),
    # --- hyper-parameters ---------------------------------------------------------------------
    "trans_conv stride 0": (lambda: trans_conv(X2, K2, stride=0), ValueError, r"^stride must be an int or a pair of ints >= 1, got 0"),
    "trans_conv stride negative in pair": (lambda: trans_conv(X2, K2, stride=(1, -2)), ValueError, r"^stride must be .* >= 1, got \(1, -2\)"),
    "trans_conv stride float": (lambda: trans_conv(X2, K2, stride=1.5), TypeError, r"^stride must be an int or a pair of ints >= 1, got float 1.5"),
    "trans_conv stride bool": (lambda: trans_conv(X2, K2, stride=True), TypeError, r"^stride must be .*got bool True"),
    "trans_conv stride bool in pair": (lambda: trans_conv(X2, K2, stride=(1, False)), TypeError, r"^stride must be .*got tuple \(1, False\)"),
    "trans_conv stride string": (lambda: trans_conv(X2, K2, stride="2"), TypeError, r"^stride must be .*got str '2'"),
    "trans_conv stride triple": (lambda: trans_conv(X2, K2, stride=(1, 1, 1)), ValueError, r"^stride must be .*got a sequence of length 3"),
    "trans_conv stride None": (lambda: trans_conv(X2, K2, stride=None), TypeError, r"^stride must be"),
    "trans_conv stride tensor": (lambda: trans_conv(X2, K2, stride=torch.tensor([2, 2])), TypeError, r"^stride must be .*tensor of shape \(2,\)"),
    "trans_conv padding negative": (lambda: trans_conv(X2, K2, padding=-1), ValueError, r"^padding must be an int or a pair of ints >= 0, got -1"),
    "trans_conv padding bool": (lambda: trans_conv(X2, K2, padding=False), TypeError, r"^padding must be"),
    "trans_conv padding crops all": (lambda: trans_conv(X2, K2, padding=2), ValueError, r"^padding=\(2, 2\) is too large.*\(0, 0\)"),
    "trans_conv output_padding = stride": (lambda: trans_conv(X2, K2, stride=2, output_padding=2), ValueError, r"^output_padding must be smaller than stride.*output_padding=\(2, 2\), stride=\(2, 2\)"),
    "trans_conv output_padding without stride": (lambda: trans_conv(X2, K2, output_padding=(0, 1)), ValueError, r"^output_padding must be smaller than stride"),
    "trans_conv output_padding negative": (lambda: trans_conv(X2, K2, output_padding=-1), ValueError, r"^output_padding must be .* >= 0"),
    # --- trans_conv_loop -----------------------------------------------------------------------
    "trans_conv_loop X not a tensor": (lambda: trans_conv_loop(np.ones((2, 2)), K2), TypeError, r"^X must be a torch.Tensor, got ndarray"),
    "trans_conv_loop X 4-D": (lambda: trans_conv_loop(X4, K2), ValueError, r"^X must be 2-D \(H, W\), got a 4-D"),
    "trans_conv_loop K integer": (lambda: trans_conv_loop(X2, K2.int()), TypeError, r"^K must have a floating-point dtype"),
    "trans_conv_loop dtype mismatch": (lambda: trans_conv_loop(X2.double(), K2), TypeError, r"^K has dtype torch.float32 but X has torch.float64"),
    # --- corr2d --------------------------------------------------------------------------------
    "corr2d X not a tensor": (lambda: corr2d([[1.0, 2.0]], K2), TypeError, r"^X must be a torch.Tensor"),
    "corr2d K 4-D": (lambda: corr2d(X2, K4), ValueError, r"^K must be 2-D \(kH, kW\), got a 4-D"),
    "corr2d X integer": (lambda: corr2d(torch.arange(9).reshape(3, 3), K2), TypeError, r"^X must have a floating-point dtype.*X.float\(\)"),
    "corr2d kernel larger than input": (lambda: corr2d(X2, torch.ones(4, 2)), ValueError, r"^K is larger than the padded input: kernel \(4, 2\) does not fit in input \(3, 3\)"),
    "corr2d dtype mismatch": (lambda: corr2d(X2.half(), K2), TypeError, r"^K has dtype torch.float32 but X has torch.float16"),
    # --- kernel2matrix -------------------------------------------------------------------------
    "kernel2matrix K not a tensor": (lambda: kernel2matrix([[1.0]], (3, 3)), TypeError, r"^K must be a torch.Tensor"),
    "kernel2matrix K 4-D": (lambda: kernel2matrix(K4, (3, 3)), ValueError, r"^K must be 2-D \(kH, kW\)"),
    "kernel2matrix K integer": (lambda: kernel2matrix(K2.long(), (3, 3)), TypeError, r"^K must have a floating-point dtype"),
    "kernel2matrix input_shape zero": (lambda: kernel2matrix(K2, (0, 3)), ValueError, r"^input_shape must be an int or a pair of ints >= 1, got \(0, 3\)"),
    "kernel2matrix input_shape 4-D": (lambda: kernel2matrix(K2, X4.shape), ValueError, r"^input_shape must be .*got a sequence of length 4"),
    "kernel2matrix input_shape string": (lambda: kernel2matrix(K2, "3x3"), TypeError, r"^input_shape must be"),
    "kernel2matrix stride 0": (lambda: kernel2matrix(K2, (3, 3), stride=0), ValueError, r"^stride must be"),
    "kernel2matrix padding negative": (lambda: kernel2matrix(K2, (3, 3), padding=(0, -1)), ValueError, r"^padding must be .* >= 0"),
    "kernel2matrix kernel larger than padded input": (lambda: kernel2matrix(torch.ones(6, 2), (3, 3), padding=1), ValueError, r"^K is larger than the padded input: kernel \(6, 2\) does not fit in input \(3, 3\) padded by \(1, 1\)"),
    "kernel2matrix sparse not bool": (lambda: kernel2matrix(K2, (3, 3), sparse="yes"), TypeError, r"^sparse must be True or False, got str"),
    "kernel2matrix sparse int": (lambda: kernel2matrix(K2, (3, 3), sparse=1), TypeError, r"^sparse must be True or False"),
    "kernel2matrix max_bytes exceeded": (lambda: kernel2matrix(K2, (3, 3), max_bytes=100), ValueError, r"^max_bytes=100 \(100.0 B\) exceeded: the dense matrix W of shape \(4, 9\) would take 144.0 B; pass sparse=True"),
    "kernel2matrix max_bytes exceeded sparse": (lambda: kernel2matrix(K2, (3, 3), sparse=True, max_bytes=10), ValueError, r"^max_bytes=10 .*sparse matrix W of shape \(4, 9\) would need up to"),
    "kernel2matrix max_bytes 0": (lambda: kernel2matrix(K2, (3, 3), max_bytes=0), ValueError, r"^max_bytes must be >= 1, got 0"),
    "kernel2matrix max_bytes bool": (lambda: kernel2matrix(K2, (3, 3), max_bytes=True), TypeError, r"^max_bytes must be an int, got bool"),
    "kernel2matrix max_bytes float": (lambda: kernel2matrix(K2, (3, 3), max_bytes=1e9), TypeError, r"^max_bytes must be an int, got float"),
    # --- shapes --------------------------------------------------------------------------------
    "conv_output_shape kernel too large": (lambda: conv_output_shape((3, 3), (5, 2)), ValueError, r"^kernel_shape is larger than the padded input"),
    "conv_output_shape dilated kernel too large": (lambda: conv_output_shape(5, 3, dilation=3), ValueError, r"^kernel_shape is larger than the padded input: kernel \(3, 3\) with dilation \(3, 3\)"),
    "conv_output_shape input_shape 1 value": (lambda: conv_output_shape((3,), 2), ValueError, r"^input_shape must be .*got a sequence of length 1"),
    "conv_output_shape input_shape negative": (lambda: conv_output_shape(-3, 2), ValueError, r"^input_shape must be .* >= 1"),
    "conv_output_shape kernel_shape float": (lambda: conv_output_shape(3, 2.0), TypeError, r"^kernel_shape must be"),
    "conv_output_shape stride bool": (lambda: conv_output_shape(3, 2, stride=True), TypeError, r"^stride must be"),
    "conv_output_shape dilation 0": (lambda: conv_output_shape(3, 2, dilation=0), ValueError, r"^dilation must be .* >= 1"),
    "conv_output_shape padding negative": (lambda: conv_output_shape(3, 2, padding=-1), ValueError, r"^padding must be"),
    "trans_conv_output_shape output_padding": (lambda: trans_conv_output_shape(3, 2, stride=2, output_padding=2), ValueError, r"^output_padding must be smaller than stride in each"),
    "trans_conv_output_shape output_padding dilation": (lambda: trans_conv_output_shape(3, 2, stride=2, output_padding=3, dilation=3), ValueError, r"^output_padding must be smaller than stride or dilation.*dilation=\(3, 3\)"),
    "trans_conv_output_shape padding crops all": (lambda: trans_conv_output_shape(1, 2, padding=1), ValueError, r"^padding=\(1, 1\) is too large"),
    "trans_conv_output_shape kernel_shape 0": (lambda: trans_conv_output_shape(3, (2, 0)), ValueError, r"^kernel_shape must be"),
    "trans_conv_output_shape stride string": (lambda: trans_conv_output_shape(3, 2, stride="1"), TypeError, r"^stride must be"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_with_a_clear_message(name):
    call, error, message = CASES[name]
    with pytest.raises(error, match=message):
        call()


def _other_device(device: torch.device) -> str:
    """A device other than ``device``: the CPU for CUDA, else "meta" (no GPU needed)."""
    return "cpu" if device.type == "cuda" else "meta"


@pytest.mark.parametrize(
    "call",
    [
        lambda X, K: trans_conv(X, K),
        lambda X, K: trans_conv(X[None, None], K[None, None]),
        lambda X, K: trans_conv_loop(X, K),
        lambda X, K: corr2d(X, K),
    ],
    ids=["trans_conv", "trans_conv 4-D", "trans_conv_loop", "corr2d"],
)
def test_input_and_kernel_on_different_devices(device, call):
    X = torch.ones(3, 3, device=device)
    K = torch.ones(2, 2, device=_other_device(device))
    with pytest.raises(ValueError, match=r"^K is on device .* but X is on .*move both to one device"):
        call(X, K)
    with pytest.raises(ValueError, match=r"^K is on device"):
        call(K, X)  # the other way round (K then is the input, X the kernel: same message shape)


def test_accepted_spellings_of_hyper_parameters():
    """Pairs as tuples, lists or torch.Size; numpy and 0-d tensor integers count as ints."""
    expected = trans_conv(X4, K4, stride=(2, 2), padding=(1, 1))
    for s, p in [(2, 1), ([2, 2], [1, 1]), (torch.Size([2, 2]), (1, 1)), (np.int64(2), np.int32(1)),
                 (torch.tensor(2), torch.tensor(1))]:
        assert torch.equal(trans_conv(X4, K4, stride=s, padding=p), expected)
