"""Transposed convolution as one matrix product and col2im (by phase, or ``F.fold``).

The product ``K^T X`` gives, for every input pixel, its ``C_out x kh x kw`` patch (input pixel
times every kernel entry, summed over input channels); ``F.fold`` adds each patch into the output
at ``stride`` spacing and crops ``padding`` on every side, which is exactly a transposed
convolution. The columns hold ``C_out * kh * kw`` values per input pixel, so this suits kernels
that are large next to the input (where unfolding the input would repeat it many times), and
layers whose kernel is large next to their output (no copy of ``K``: the product reads it as it is).

Where each output phase meets few kernel entries, the columns are added by phase instead of by
``F.fold`` (:func:`phase_grid`): with ``n = ceil(k / s)`` entries per phase and dimension, kernel
row ``a * s + rho`` of input row ``i`` lands on grid row ``i + a`` of phase ``rho``, so ``n_h * n_w``
strided additions of whole slices of the columns build every phase's grid, and
:func:`d2l_tconv._phase_gemm.interleave` copies the phases into the output (measured faster
than ``F.fold``: :data:`ADD_BY_PHASE_MAX_ENTRIES`).

Where one image's columns exceed the memory budget, :func:`fold_in_chunks` computes them for a
range of output channels (or, with few channels, of kernel rows) at a time, and col2im adds each
chunk into its part of the output (no phase grid).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ._phase_gemm import DimPlan, interleave, phase_count

# Up to this many kernel entries per phase (n_h * n_w), and where patches overlap (k >= s), the
# columns are added by phase (one addition each); else by F.fold (128 x 128 kernels with stride
# 1: 16384 entries per phase; a 1 x 1 kernel with stride 256, where the few additions' Python
# cost made the call 5-10x F.conv_transpose2d's 0.01 ms, F.fold's 3x). Measured (Intel Xeon, 2
# threads, whole call / F.conv_transpose2d's, by phase vs F.fold): DCGAN 128->64 on 16x16 (k4
# s2 p1: 4 entries) 1.18-1.24x vs 1.33-1.40x; FCN 16->16 on 128x128 1.07-1.17x vs 2.07-2.11x;
# decoder k3 s1 (9 entries) 1.98-2.02x vs 3.42-3.73x; the book's FCN layer (k64 s32) 1.44-1.51x
# vs 2.14-2.19x; VAE 0.52-0.59x vs 0.89-0.91x (those layers choose other strategies).
ADD_BY_PHASE_MAX_ENTRIES = 16


def columns_per_image(K_shape: tuple[int, ...], in_hw: tuple[int, int]) -> int:
    """Values of the product (the columns ``F.fold`` reads) for one batch image."""
    _, C_out, kh, kw = K_shape
    return C_out * kh * kw * in_hw[0] * in_hw[1]


def workspace_per_image(K_shape: tuple[int, ...], in_hw: tuple[int, int],
                        stride: tuple[int, int]) -> int:
    """Values :func:`fold_trans_conv` holds per batch image beside the output: the columns, and
    the phases' grid where it adds them by phase."""
    _, C_out, kh, kw = K_shape
    if not adds_by_phase((kh, kw), stride):
        return columns_per_image(K_shape, in_hw)
    (_, phases_h, rows_h), (_, phases_w, rows_w) = (grid_dims(in_hw[0], kh, stride[0]),
                                                    grid_dims(in_hw[1], kw, stride[1]))
    return columns_per_image(K_shape, in_hw) + C_out * phases_h * phases_w * rows_h * rows_w


def grid_dims(in_size: int, kernel_size: int, stride: int) -> tuple[int, int, int]:
    """One dimension of the phases' grid: ``(n, phases, rows)``, ``n = ceil(k / s)`` kernel
    entries per phase, ``min(s, k)`` phases reached, ``in_size + n - 1`` grid rows."""
    taps = -(-kernel_size // stride)
    return taps, min(stride, kernel_size), in_size + taps - 1


def adds_by_phase(k_hw: tuple[int, int], stride: tuple[int, int]) -> bool:
    """Whether :func:`fold_trans_conv` adds its columns by phase (else by ``F.fold``): where the
    kernel's patches overlap (``k >= s``), with few entries per phase."""
    (kh, kw), (sh, sw) = k_hw, stride
    return (kh >= sh and kw >= sw
            and -(-kh // sh) * -(-kw // sw) <= ADD_BY_PHASE_MAX_ENTRIES)


def fold_trans_conv(X: torch.Tensor, K: torch.Tensor, stride, padding, out_hw) -> torch.Tensor:
    """``X (N, C_in, H, W)``, ``K (C_in, C_out, kh, kw)`` -> ``(N, C_out, oh, ow)``.

    ``F.fold`` sums in the columns' dtype, so float16 / bfloat16 are computed in float32 and
    rounded once at the end.
    """
    N, C_in, H, W = X.shape
    _, C_out, kh, kw = K.shape
    low_precision = X.dtype in (torch.float16, torch.bfloat16)
    Xc, Kc = (X.float(), K.float()) if low_precision else (X, K)
    A = Kc.reshape(C_in, C_out * kh * kw).t()  # K as it is, transposed: no copy
    # one image: a plain torch.mm (torch.matmul would broadcast A and go through bmm)
    columns = torch.mm(A, Xc.reshape(C_in, H * W))[None] if N == 1 else (
        torch.matmul(A, Xc.reshape(N, C_in, H * W)))
    if adds_by_phase((kh, kw), stride):
        plan_h = grid_plan(H, kh, stride[0], padding[0], out_hw[0])
        plan_w = grid_plan(W, kw, stride[1], padding[1], out_hw[1])
        grid = phase_grid(columns.view(N, C_out, kh, kw, H, W), plan_h, plan_w)
        del columns  # freed before the output exists: the peak holds one of them, not both
        Y = (grid.new_empty if covers(plan_h) and covers(plan_w) else grid.new_zeros)(
            (N, C_out, *out_hw))
        interleave(Y, grid, plan_h, plan_w)
    else:
        Y = col2im(columns, out_hw, (kh, kw), stride, padding)
    return Y.to(X.dtype) if low_precision else Y


def col2im(columns: torch.Tensor, out_hw, kernel_hw, stride, padding,
           out: torch.Tensor | None = None) -> torch.Tensor:
    """``F.fold(columns, out_hw, kernel_hw, stride=stride, padding=padding)``, into ``out`` if
    given: ``columns (N, C * kh * kw, L)`` or ``(C * kh * kw, L)`` -> ``(N, C, oh, ow)`` or
    ``(C, oh, ow)``.

    Where autograd does not record (the ``out=`` form does not support it), col2im writes into an
    output of the right size: ``F.fold`` first allocates one as large as its input, the columns
    (measured: 16 MiB for a 0.08 MiB output, with a 128 x 128 kernel), and keeps it.
    """
    if torch.is_grad_enabled() and columns.requires_grad:
        Y = F.fold(columns, out_hw, kernel_hw, stride=stride, padding=padding)
        return Y if out is None else out.copy_(Y)
    if out is None:
        taps = kernel_hw[0] * kernel_hw[1]
        out = columns.new_empty((*columns.shape[:-2], columns.shape[-2] // taps, *out_hw))
    return torch.ops.aten.col2im.out(columns, list(out_hw), list(kernel_hw), [1, 1], list(padding),
                                     list(stride), out=out)


def fold_in_chunks(X: torch.Tensor, K: torch.Tensor, stride, padding, out_hw,
                   channel_ranges: tuple[tuple[int, int], ...],
                   row_ranges: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """``X (N, C_in, H, W)``, ``K (C_in, C_out, kh, kw)`` -> ``(N, C_out, oh, ow)``, by columns,
    one image, one range ``(c0, c1)`` of output channels and one range ``(r0, r1)`` of kernel rows
    at a time.

    Each chunk's product ``K[:, c0:c1, r0:r1]^T X[n]`` (``(c1 - c0) * (r1 - r0) * kw`` rows of
    ``H * W``, read from ``K`` as it is: a chunk of kernel rows comes with one output channel) goes
    into one reused buffer. With whole kernels, :func:`col2im` adds it straight into
    ``Y[n, c0:c1]``; a band of kernel rows ``r0 .. r1 - 1`` reaches output rows
    ``i * s_h + r0 - p_h ..``: col2im builds that band (its rows ``(H - 1) * s_h + r1 - r0``, as
    many as the input's span) and it is added in place. Beside the output, the call holds one
    chunk's columns (and band). Where autograd records the call (``out=`` forms do not support
    it), each chunk has its own product and ``F.fold``. float16 / bfloat16: each chunk's product
    and sums are computed in float32 (from float32 copies of its part of ``K`` and of ``X[n]``)
    and rounded once into ``Y``.
    """
    N, C_in, H, W = X.shape
    _, C_out, kh, kw = K.shape
    (sh, _), (ph, pw) = stride, padding
    whole = len(row_ranges) == 1
    low_precision = X.dtype in (torch.float16, torch.bfloat16)  # summed in float32, rounded once
    Y = (X.new_empty if whole else X.new_zeros)((N, C_out, *out_hw))
    recorded = torch.is_grad_enabled() and (X.requires_grad or K.requires_grad)
    widest = max(c1 - c0 for c0, c1 in channel_ranges)
    rows = widest * max(r1 - r0 for r0, r1 in row_ranges) * kw
    buffer = None if recorded else X.new_empty((rows, H * W), dtype=torch.float32
                                               if low_precision else X.dtype)
    # float16 / bfloat16: each chunk's output summed in float32 here, then rounded into Y
    sums = (X.new_empty((widest, *out_hw), dtype=torch.float32)
            if low_precision and not recorded else None)
    for n in range(N):
        X_n = X[n].reshape(C_in, H * W)
        X_n = X_n.float() if low_precision else X_n
        for c0, c1 in channel_ranges:
            # where this chunk's output is summed: Y itself, or a float32 one (a fresh tensor
            # where autograd records: in-place additions into a view of a view it refuses)
            if not low_precision:
                target, where = Y, (n, slice(c0, c1))
            elif recorded:
                target, where = X_n.new_zeros((c1 - c0, *out_hw)), (slice(None),)
            else:
                target, where = sums[:c1 - c0], (slice(None),)
                if not whole:
                    target.zero_()
            for r0, r1 in row_ranges:
                A = K[:, c0:c1, r0:r1].reshape(C_in, -1).t()
                A = A.float() if low_precision else A
                columns = (torch.mm(A, X_n) if recorded
                           else torch.mm(A, X_n, out=buffer[:A.shape[0]]))
                if whole:
                    col2im(columns, out_hw, (kh, kw), stride, padding, out=target[where])
                    continue
                band = col2im(columns, ((H - 1) * sh + r1 - r0, out_hw[1]), (r1 - r0, kw),
                              stride, (0, pw))
                lo, hi = max(0, ph - r0), min(band.shape[-2], ph - r0 + out_hw[0])
                if lo < hi:  # band row u is output row u + r0 - p_h
                    target[(*where, slice(lo + r0 - ph, hi + r0 - ph))].add_(band[:, lo:hi])
                del band  # freed before the next one exists
            if low_precision:
                Y[n, c0:c1] = target
    return Y


@functools.lru_cache(maxsize=256)
def grid_plan(in_size: int, kernel_size: int, stride: int, padding: int,
              out_size: int) -> DimPlan:
    """The phase grid of one dimension as :func:`phase_grid` builds it.

    Uncropped output index ``u = y + padding = g * s + rho``: grid rows ``g = i + a`` (input row
    ``i``, ``a = 0 .. n - 1``), phases ``rho = 0 .. min(s, k) - 1`` (kernel row ``a * s + rho``).
    ``kernel_index[rho, e]`` is the kernel row that window entry ``e`` (input row ``g - n + 1 + e``)
    meets, or ``k`` (none).
    """
    s, k = stride, kernel_size
    taps, phases, rows = grid_dims(in_size, k, s)
    rho, e = torch.arange(phases)[:, None], torch.arange(taps)[None, :]
    row = (taps - 1 - e) * s + rho
    kernel_index = torch.where(row < k, row, k)
    return DimPlan(s, out_size, k, taps, rows, padding, (taps - 1, taps - 1), kernel_index,
                   (0, phases))


def phase_grid(columns: torch.Tensor, plan_h: DimPlan, plan_w: DimPlan) -> torch.Tensor:
    """Every phase's grid ``(N, C_out, phases_h, phases_w, H + n_h - 1, W + n_w - 1)`` from
    ``columns (N, C_out, kh, kw, H, W)``: the sum of ``n_h * n_w`` shifted slices of the columns
    (kernel rows ``a * s .. a * s + s - 1`` at grid rows ``a .. a + H - 1``), which
    :func:`d2l_tconv._phase_gemm.interleave` then puts in place in the output.
    """
    N, C_out, kh, kw, H, W = columns.shape
    (sh, sw), (th, tw) = (plan_h.stride, plan_w.stride), (plan_h.taps, plan_w.taps)
    grid = columns.new_zeros((N, C_out, plan_h.phases[1], plan_w.phases[1], plan_h.grid,
                              plan_w.grid))
    for a in range(th):
        ph = min(sh, kh - a * sh)  # kernel rows a * s .. a * s + ph - 1 exist
        for b in range(tw):
            pw = min(sw, kw - b * sw)
            # add_ on the view: ``grid[...] += ...`` would also copy the sum back into itself
            grid[:, :, :ph, :pw, a:a + H, b:b + W].add_(
                columns[:, :, a * sh:a * sh + ph, b * sw:b * sw + pw])
    return grid


def covers(plan: DimPlan) -> bool:
    """Whether the grid of :func:`grid_plan` reaches every output row of its dimension: every
    phase is reached (``k >= s``) and the last output row lies on the grid."""
    s, c = plan.stride, plan.phase_offset
    return phase_count(plan) == s and plan.out_size - 1 + c <= plan.grid * s - 1
