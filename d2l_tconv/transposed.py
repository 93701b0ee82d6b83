"""Transposed convolution from first principles: every input pixel broadcasts a kernel-sized patch.

``trans_conv_loop`` is the book's element-by-element code. ``trans_conv`` computes the same thing
for batches, channels, strides and paddings, and agrees with PyTorch's ``F.conv_transpose2d``:
matrix products give every input pixel times every kernel entry at once, and a scatter-add puts
each product where it lands in the output.
"""

from __future__ import annotations

import torch

from ._validation import (
    as_pair,
    check_output_padding,
    check_same_device_and_dtype,
    check_tensor,
)
from .shapes import trans_conv_output_shape

_X_LAYOUTS = {2: "(H, W)", 4: "(N, C_in, H, W)"}
_K_LAYOUTS = {2: "(kH, kW)", 4: "(C_in, C_out, kH, kW)"}


def trans_conv_loop(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """The book's transposed convolution (stride 1, no padding), one input element at a time.

    Args:
        X: input of shape ``(h, w)``, floating point.
        K: kernel of shape ``(kh, kw)``, same dtype and device as ``X``.

    Returns:
        ``Y`` of shape ``(h + kh - 1, w + kw - 1)`` on ``X``'s device: the sum over input positions
        ``(i, j)`` of ``X[i, j] * K`` placed at ``Y[i:i + kh, j:j + kw]``.
    """
    check_tensor(X, "X", {2: _X_LAYOUTS[2]})
    check_tensor(K, "K", {2: _K_LAYOUTS[2]})
    check_same_device_and_dtype(X, K)
    h, w = K.shape
    Y = X.new_zeros((X.shape[0] + h - 1, X.shape[1] + w - 1))
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Y[i : i + h, j : j + w] += X[i, j] * K
    return Y


def trans_conv(X: torch.Tensor, K: torch.Tensor, stride=1, padding=0,
               output_padding=0) -> torch.Tensor:
    """Transposed convolution with the semantics of ``F.conv_transpose2d`` (no bias, no groups).

    Input pixel ``(y, x)`` times kernel entry ``(a, b)`` lands on output pixel
    ``(y * stride + a - padding, x * stride + b - padding)``; contributions to one pixel add up.
    ``padding`` therefore crops the output on every side, and ``output_padding`` adds rows and
    columns at the bottom and right.

    Args:
        X: ``(h, w)`` (the book's case) or ``(N, C_in, h, w)``; floating point.
        K: ``(kh, kw)`` with a 2-D ``X``, or ``(C_in, C_out, kh, kw)`` (PyTorch's weight layout
            for ``nn.ConvTranspose2d``) with a 4-D ``X``; same dtype and device as ``X``.
        stride: int or pair, ``>= 1``.
        padding: int or pair, ``>= 0``.
        output_padding: int or pair, ``>= 0`` and smaller than ``stride``.

    Returns:
        ``(oh, ow)`` or ``(N, C_out, oh, ow)`` on ``X``'s device, with
        ``o = (i - 1) * stride - 2 * padding + k + output_padding`` (see
        :func:`d2l_tconv.trans_conv_output_shape`). Differentiable with respect to ``X`` and ``K``.

    Cost: the same multiply-adds as ``F.conv_transpose2d``, done by matrix products; the extra
    memory is about one to three times the output's size (``make bench`` measures both).
    """
    check_tensor(X, "X", _X_LAYOUTS)
    check_tensor(K, "K", _K_LAYOUTS)
    if K.ndim != X.ndim:
        raise ValueError(
            f"K must be {X.ndim}-D {_K_LAYOUTS[X.ndim]} when X is {X.ndim}-D {_X_LAYOUTS[X.ndim]}, "
            f"got K of shape {tuple(K.shape)}"
        )
    check_same_device_and_dtype(X, K)
    if X.ndim == 4 and K.shape[0] != X.shape[1]:
        raise ValueError(
            f"K has {K.shape[0]} input channels (K.shape[0]) but X has {X.shape[1]} channels "
            f"(X.shape[1]); K's layout is (C_in, C_out, kH, kW)"
        )
    s = as_pair(stride, "stride", minimum=1)
    p = as_pair(padding, "padding", minimum=0)
    a = as_pair(output_padding, "output_padding", minimum=0)
    check_output_padding(a, s)
    out_hw = trans_conv_output_shape(tuple(X.shape[-2:]), tuple(K.shape[-2:]), s, p, a)
    if X.ndim == 2:
        return _trans_conv_4d(X[None, None], K[None, None], s, p, out_hw)[0, 0]
    return _trans_conv_4d(X, K, s, p, out_hw)


def _trans_conv_4d(X, K, stride, padding, out_hw):
    """The computation for validated ``X (N, C_in, H, W)`` and ``K (C_in, C_out, kh, kw)``.

    1. One matrix product per group of kernel entries ``(a, b)``: ``products[n, j, c, y, x]`` is
       input pixel ``(y, x)`` of image ``n`` times entry ``j`` of the group, summed over input
       channels. (Groups reach 128 rows for an efficient product, but their products stay within
       twice the output's size.)
    2. Scatter-add. Along one dimension, input index ``i`` times kernel index ``a = m * s + r``
       lands on the uncropped output index ``u = i * s + a = (i + m) * s + r``. The indices with
       the same phase ``r = u mod s`` receive their contributions at unit spacing ``t = i + m``,
       so each phase is accumulated in a dense buffer (contiguous adds, which are fast).
    3. Interleave the phases into the output, cropping ``padding`` (output ``y`` is uncropped
       ``u = y + padding``); rows added by ``output_padding`` that no input reaches stay zero.
    """
    N, C_in, H, W = X.shape
    _, C_out, kh, kw = K.shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    # phases[r, q, :, :, t, v] is the uncropped output pixel (t * sh + r, v * sw + q)
    th = max(H + _ceil_div(kh, sh) - 1, _ceil_div(oh + ph, sh))
    tw = max(W + _ceil_div(kw, sw) - 1, _ceil_div(ow + pw, sw))
    phases = X.new_zeros((sh, sw, N, C_out, th, tw))
    K_rows = K.permute(2, 3, 1, 0).reshape(kh * kw * C_out, C_in)  # row (a * kw + b) * C_out + c
    X_flat = X.reshape(N, C_in, H * W)
    group = max(1, min(_ceil_div(128, C_out), 2 * oh * ow // (H * W)))
    for start in range(0, kh * kw, group):
        stop = min(start + group, kh * kw)
        products = K_rows[start * C_out : stop * C_out] @ X_flat
        products = products.view(N, stop - start, C_out, H, W)
        for j, entry in enumerate(range(start, stop)):
            (mh, r), (mw, q) = divmod(entry // kw, sh), divmod(entry % kw, sw)
            phases[r, q, :, :, mh : mh + H, mw : mw + W].add_(products[:, j])
        del products  # free it before the next group's product is made
    Y = X.new_empty((N, C_out, oh, ow))
    for y0 in range(min(sh, oh)):
        t0, r = divmod(y0 + ph, sh)
        rows = slice(t0, t0 + len(range(y0, oh, sh)))
        for x0 in range(min(sw, ow)):
            v0, q = divmod(x0 + pw, sw)
            cols = slice(v0, v0 + len(range(x0, ow, sw)))
            Y[:, :, y0::sh, x0::sw] = phases[r, q, :, :, rows, cols]
    return Y


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
