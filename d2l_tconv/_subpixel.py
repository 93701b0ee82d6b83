"""The products of the phase decomposition as one forward convolution ("sub-pixel convolution").

The phases of :mod:`d2l_tconv._phase_gemm` are stride-1 correlations of the (zero-padded) input
with ``n_h x n_w`` phase kernels, ``n = ceil(k / s)`` taps per dimension. Stacked along the output
channels, they are one ordinary convolution ``F.conv2d(X, W)`` with ``C_out * s_h * s_w`` output
channels: the well-known identity between a transposed convolution and a sub-pixel convolution
(a stride-1 convolution followed by a pixel shuffle, Shi et al. 2016, "Is the deconvolution layer
the same as a convolutional layer?"). The weight ``W (C_out * s_h * s_w, C_in, n_h, n_w)`` is
gathered from ``K`` at every call (:func:`d2l_tconv._phase_gemm.phase_kernel`, conv layout), and
:func:`d2l_tconv._phase_gemm.interleave` does the shuffle (and the crop) into the output.

Compared with the window copy and matrix product of :func:`d2l_tconv._phase_gemm.phase_products`,
this copies no windows and runs on PyTorch's forward convolution kernels (oneDNN on the CPU,
cuDNN on a GPU), which accumulate float16 / bfloat16 sums in float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._phase_gemm import DimPlan


def conv_products(X: torch.Tensor, W: torch.Tensor, plan_h: DimPlan, plan_w: DimPlan,
                  rows: tuple[int, int] | None = None,
                  padded: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Every phase's output on grid rows ``g0 <= g < g1``: ``(N, C_out, s_h, s_w, g1 - g0, grid_w)``.

    ``X`` is ``(N, C_in, H, W)``, or, with ``padded = (top, left)``, the input after ``top`` rows
    and ``left`` columns of zeros (:func:`pad_for`); ``W`` is the conv-layout phase kernel
    ``(C_out * s_h * s_w, C_in, n_h, n_w)`` of ``plan_h`` and ``plan_w``; ``rows`` defaults to the
    whole grid. The result is a view of one ``F.conv2d``. The rows that the band's windows need
    (padded rows ``g0 .. g1 + n_h - 1``) are cut out of ``X`` (a view), and any zero padding still
    missing around them is ``F.conv2d``'s own (the larger amount on both sides; the extra output
    rows are not viewed), so that the input is never copied here.
    """
    g0, g1 = rows or (0, plan_h.grid)
    H, Wd = X.shape[-2:]
    # padded row j is row j - top of X
    top, left = plan_h.pad[0] - g0 - padded[0], plan_w.pad[0] - padded[1]
    bottom = g1 - g0 + plan_h.taps - 1 - top - H
    right = plan_w.grid + plan_w.taps - 1 - left - Wd
    if min(top, bottom, left, right) < 0:
        X = X[:, :, max(-top, 0):H - max(-bottom, 0), max(-left, 0):Wd - max(-right, 0)]
    top, bottom, left, right = max(top, 0), max(bottom, 0), max(left, 0), max(right, 0)
    ph, pw = max(top, bottom), max(left, right)
    if X.shape[-2] < 1 or X.shape[-1] < 1:  # the band's windows hold only padding
        Z = X.new_zeros((X.shape[0], W.shape[0], g1 - g0, plan_w.grid))
    else:
        Z = F.conv2d(X, W, padding=(ph, pw))
    if Z.shape[-2:] != (g1 - g0, plan_w.grid):
        Z = Z[:, :, ph - top:ph - top + g1 - g0, pw - left:pw - left + plan_w.grid]
    phases_h, phases_w = plan_h.phases[1] - plan_h.phases[0], plan_w.phases[1] - plan_w.phases[0]
    return Z.unflatten(1, (-1, phases_h, phases_w))


def pad_for(X: torch.Tensor, pairs: list[tuple[DimPlan, DimPlan]]) -> tuple[torch.Tensor,
                                                                         tuple[int, int]]:
    """``X`` zero-padded once for the convolutions of all ``pairs``, and ``(top, left)`` for
    :func:`conv_products`'s ``padded``.

    Each pair's windows are then a view of the result, so that its ``F.conv2d`` needs no padding
    of its own: that padding would be the same on both sides, and where a pair needs padding on
    one side only (a phase group on its exact grid), it would compute rows that nobody views.
    """
    top, bottom = (max(0, *(plan_h.pad[i] for plan_h, _ in pairs)) for i in (0, 1))
    left, right = (max(0, *(plan_w.pad[i] for _, plan_w in pairs)) for i in (0, 1))
    if top == bottom == left == right == 0:
        return X, (0, 0)
    # channels last: measured faster for these convolutions of views (split time / one
    # convolution's, 2 threads: ResNet's k3 s2 64->32 on 32x32, N=4, 1.06 -> 0.95; DCGAN's
    # 64->32 on 32x32, 1.99 -> 1.59)
    X = X.contiguous(memory_format=torch.channels_last)
    return F.pad(X, (left, right, top, bottom)), (top, left)
