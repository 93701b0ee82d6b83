"""conv_output_shape / trans_conv_output_shape against the shapes PyTorch's operators produce."""

from __future__ import annotations

import doctest

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import d2l_tconv.shapes
from d2l_tconv import conv_output_shape, trans_conv_output_shape

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, database=None)

small = st.integers(1, 4)


def pairs(low: int, high: int):
    """An int, or a pair (tuple or list) of ints, in ``[low, high]``."""
    one = st.integers(low, high)
    return st.one_of(one, st.tuples(one, one), st.lists(one, min_size=2, max_size=2))


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _torch_conv_shape(i, k, s, p, d):
    """The output shape F.conv2d gives on tiny CPU tensors, or its error (meta tensors skip the
    kernel-fits check in some torch releases, e.g. 2.11, and return an empty shape instead)."""
    x = torch.zeros(1, 1, *i)
    w = torch.zeros(1, 1, *k)
    return tuple(F.conv2d(x, w, stride=s, padding=p, dilation=d).shape[-2:])


def _torch_trans_conv_shape(i, k, s, p, a, d):
    """The output shape F.conv_transpose2d gives on tiny CPU tensors (meta skips some checks)."""
    x = torch.zeros(1, 1, *i)
    w = torch.zeros(1, 1, *k)
    y = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=a, dilation=d)
    return tuple(y.shape[-2:])


@SETTINGS
@given(i=pairs(1, 12), k=pairs(1, 6), s=pairs(1, 4), p=pairs(0, 3), d=pairs(1, 3))
def test_conv_output_shape_matches_conv2d(i, k, s, p, d):
    try:
        expected = _torch_conv_shape(_pair(i), _pair(k), s, p, d)
    except RuntimeError:  # PyTorch refuses: the dilated kernel is larger than the padded input
        with pytest.raises(ValueError, match="kernel_shape"):
            conv_output_shape(i, k, stride=s, padding=p, dilation=d)
        return
    assert conv_output_shape(i, k, stride=s, padding=p, dilation=d) == expected


@SETTINGS
@given(i=pairs(1, 8), k=pairs(1, 5), s=pairs(1, 4), p=pairs(0, 4), a=pairs(0, 4), d=pairs(1, 3))
def test_trans_conv_output_shape_matches_conv_transpose2d(i, k, s, p, a, d):
    try:
        expected = _torch_trans_conv_shape(_pair(i), _pair(k), s, p, a, d)
    except RuntimeError:  # output_padding too large, or the padding crops everything
        with pytest.raises(ValueError, match="output_padding|padding"):
            trans_conv_output_shape(i, k, stride=s, padding=p, output_padding=a, dilation=d)
        return
    if min(expected) < 1:
        # PyTorch returns an empty width on some paths (and refuses on others); we always refuse.
        with pytest.raises(ValueError, match="padding"):
            trans_conv_output_shape(i, k, stride=s, padding=p, output_padding=a, dilation=d)
        return
    got = trans_conv_output_shape(i, k, stride=s, padding=p, output_padding=a, dilation=d)
    assert got == expected


@SETTINGS
@given(i=pairs(1, 12), k=pairs(1, 6), s=pairs(1, 4), p=pairs(0, 3), d=pairs(1, 3))
def test_transposed_shape_inverts_conv_shape(i, k, s, p, d):
    """Dumoulin & Visin: with a = (i + 2p - d(k-1) - 1) mod s, the transposed conv restores i."""
    i2, k2, s2, p2, d2 = map(_pair, (i, k, s, p, d))
    if any(dd * (kk - 1) + 1 > ii + 2 * pp for ii, kk, pp, dd in zip(i2, k2, p2, d2, strict=True)):
        return  # no convolution of this input with this kernel
    o = conv_output_shape(i, k, stride=s, padding=p, dilation=d)
    sizes = zip(i2, k2, s2, p2, d2, strict=True)
    a = tuple((ii + 2 * pp - dd * (kk - 1) - 1) % ss for ii, kk, ss, pp, dd in sizes)
    assert trans_conv_output_shape(o, k, stride=s, padding=p, output_padding=a, dilation=d) == i2


def test_int_means_square():
    assert conv_output_shape(7, 3, stride=2) == conv_output_shape((7, 7), (3, 3), stride=(2, 2))
    assert trans_conv_output_shape(3, 2, stride=2) == trans_conv_output_shape((3, 3), (2, 2), 2)


def test_accepts_torch_size_and_numpy_ints():
    np = pytest.importorskip("numpy")
    x = torch.zeros(1, 1, 9, 7)
    shape = conv_output_shape(x.shape[-2:], np.int64(3), stride=np.int32(2))
    assert shape == tuple(F.conv2d(x, torch.zeros(1, 1, 3, 3), stride=2).shape[-2:])


def test_docstring_examples():
    result = doctest.testmod(d2l_tconv.shapes)
    assert result.attempted > 0 and result.failed == 0
