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

from ._phase_gemm import DimPlan, phase_count


def convolution_cost(plan_h: DimPlan, plan_w: DimPlan, images: int, C_in: int, C_out: int,
                     cost_per_copy: float) -> tuple[bool, float]:
    """What the convolution of ``plan_h`` and ``plan_w`` costs beyond its multiply-adds, in
    multiply-adds (a value copied counts ``cost_per_copy``), and whether it should pad ``X`` with
    ``F.pad`` (one side each, a copy of ``X``) rather than with ``F.conv2d``'s own, symmetric
    padding (the larger amount on both sides: extra output rows, computed and dropped).

    Every convolution copies its input once (PyTorch's CPU convolution reorders it into oneDNN's
    blocked layout), and pays for the cheaper of the two paddings.
    """
    extra_h = abs(max(plan_h.pad[0], 0) - max(plan_h.pad[1], 0))
    extra_w = abs(max(plan_w.pad[0], 0) - max(plan_w.pad[1], 0))
    (gh, th), (gw, tw) = (plan_h.grid, plan_h.taps), (plan_w.grid, plan_w.taps)
    per_position = images * C_in * C_out * phase_count(plan_h) * phase_count(plan_w) * th * tw
    wasted = per_position * ((gh + extra_h) * (gw + extra_w) - gh * gw)
    copied = cost_per_copy * images * C_in * (gh + th - 1) * (gw + tw - 1)
    return copied < wasted, copied + min(copied, wasted)


def conv_products(X: torch.Tensor, W: torch.Tensor, plan_h: DimPlan, plan_w: DimPlan,
                  rows: tuple[int, int] | None = None, one_sided: bool = False) -> torch.Tensor:
    """Every phase's output on grid rows ``g0 <= g < g1``: ``(N, C_out, s_h, s_w, g1 - g0, grid_w)``.

    ``X`` is ``(N, C_in, H, W)``; ``W`` is the conv-layout phase kernel
    ``(C_out * s_h * s_w, C_in, n_h, n_w)`` of ``plan_h`` and ``plan_w``; ``rows`` defaults to the
    whole grid. The result is a view of one ``F.conv2d``. The rows that the band's windows need
    (padded rows ``g0 .. g1 + n_h - 1``) are cut out of ``X`` (a view), and the zero padding around
    them is ``F.conv2d``'s own (the larger amount on both sides; the extra output rows are not
    viewed), so that the input is not copied here; or, with ``one_sided`` and different amounts
    on the two sides (a phase group on its own grid rows), ``F.pad``'s, so that the convolution
    computes exactly the rows that are viewed (:func:`convolution_cost` says which is cheaper).
    """
    g0, g1 = rows or (0, plan_h.grid)
    H, Wd = X.shape[-2:]
    top, left = plan_h.pad[0] - g0, plan_w.pad[0]  # padded row j is input row j - top
    bottom = g1 - g0 + plan_h.taps - 1 - top - H
    right = plan_w.grid + plan_w.taps - 1 - left - Wd
    if min(top, bottom, left, right) < 0:
        X = X[:, :, max(-top, 0):H - max(-bottom, 0), max(-left, 0):Wd - max(-right, 0)]
    top, bottom, left, right = max(top, 0), max(bottom, 0), max(left, 0), max(right, 0)
    ph, pw = max(top, bottom), max(left, right)
    if X.shape[-2] < 1 or X.shape[-1] < 1:  # the band's windows hold only padding
        Z = X.new_zeros((X.shape[0], W.shape[0], g1 - g0, plan_w.grid))
    elif one_sided and (top != bottom or left != right):
        Z = F.conv2d(F.pad(X, (left, right, top, bottom)), W)
        ph, pw = top, left
    else:
        Z = F.conv2d(X, W, padding=(ph, pw))
    if Z.shape[-2:] != (g1 - g0, plan_w.grid):
        Z = Z[:, :, ph - top:ph - top + g1 - g0, pw - left:pw - left + plan_w.grid]
    phases_h, phases_w = plan_h.phases[1] - plan_h.phases[0], plan_w.phases[1] - plan_w.phases[0]
    return Z.unflatten(1, (-1, phases_h, phases_w))

