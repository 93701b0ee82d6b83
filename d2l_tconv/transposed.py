"""Transposed convolution from first principles: every input pixel broadcasts a kernel-sized patch.

``trans_conv_loop`` is the book's element-by-element code. ``trans_conv`` computes the same thing
for batches, channels, strides and paddings, and agrees with PyTorch's ``F.conv_transpose2d``,
with one matrix product (or one forward convolution) and a bounded number of copies, whatever
the stride or kernel size. It chooses, per shape, between three ways (a small cost model, from
``make bench``'s measurements):

- by phases (:mod:`d2l_tconv._phase_gemm`): output rows ``y`` with the same ``y mod stride`` meet
  every ``stride``-th kernel row, so each such phase is an ordinary convolution over a small input
  window; one product computes all phases, and strided copies interleave them (U-Net layers,
  whose phases have one tap);
- by sub-pixel convolution (:mod:`d2l_tconv._subpixel`): the same phases, computed by PyTorch's
  forward convolution ``F.conv2d`` with the phase kernels stacked as ``C_out * s_h * s_w`` output
  channels (the known identity "transposed convolution = stride-1 convolution + pixel shuffle");
  the phase kernels are gathered from ``K`` at every call, and the same strided copies
  interleave the phases (DCGAN, ResNet and VAE layers, stride 1); where that saves enough
  multiply-adds (zero taps, many output channels), one ``F.conv2d`` per group of phases (along
  one dimension or both), each on exactly its phases' grid rows, padded by ``F.pad`` or by
  ``F.conv2d`` itself, whichever costs less; a layer whose workspace exceeds the memory budget
  runs in chunks of the batch, or of output channels where that copies less (a large ``K``);
- by columns (:mod:`d2l_tconv._col2im`): one product, on ``K`` as it is, gives every input pixel
  times the whole kernel, and col2im adds each patch where it lands: a few strided additions by
  phase where each phase meets few kernel entries, else ``F.fold`` (kernels large next to the
  input, or smaller than the stride; on Intel CPUs, whose MKL product is the fastest at hand,
  also kernels with more values than the output, which the phase strategies would copy at every
  call); where one image's columns exceed the memory budget, in chunks of output channels (and of
  kernel rows, where the channels are few), each added by col2im into the output.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch

from . import _gemm, _phase_gemm
from ._col2im import columns_per_image, fold_in_chunks, fold_trans_conv, workspace_per_image
from ._phase_gemm import (
    covers_every_phase,
    group_plans,
    interleave,
    kernel_gather_index,
    phase_count,
    phase_kernel,
    phase_products,
    plan_cost,
    plan_dim,
)
from ._subpixel import conv_products, convolution_cost
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

    Cost: about the multiply-adds of ``F.conv_transpose2d`` (up to ``ceil(k / s)**2 * s**2 / k**2``
    times as many where the stride does not divide the kernel, e.g. 16/9 for a 3 x 3 kernel with
    stride 2, or 12/9 in two convolutions), in one matrix product or forward convolution (or a
    few) per chunk (float16 / bfloat16 sums accumulate in float32), and a number of PyTorch
    operations that does not grow with the stride or the kernel size. Extra memory: at most about
    twice the output's size (or 2 MiB for small outputs), the phase kernels (about ``K``'s size)
    included, in chunks of the batch, of output rows or of output channels; a kernel much larger
    than the input (or, on Intel CPUs, than the output) needs its product's columns,
    ``C_out * kh * kw`` values per input pixel and image, in up to 8 chunks.
    ``make bench`` measures time and memory against PyTorch.
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
    # plain ints or pairs of ints (a network's layers call the same ones again): checked once and
    # cached; anything else (lists, bools, tensors, ...) is checked at every call
    plain = (type(stride) is type(padding) is type(output_padding) is int) or all(
        type(v) is int or (type(v) is tuple and len(v) == 2 and type(v[0]) is int
                           and type(v[1]) is int) for v in (stride, padding, output_padding))
    check = _checked_arguments if plain else _checked_arguments.__wrapped__
    s, p, out_hw = check(X.shape[-2:], K.shape[-2:], stride, padding, output_padding)
    if X.ndim == 2:
        return _trans_conv_4d(X[None, None], K[None, None], s, p, out_hw)[0, 0]
    return _trans_conv_4d(X, K, s, p, out_hw)


@functools.lru_cache(maxsize=256)
def _checked_arguments(x_hw, k_hw, stride, padding, output_padding):
    """``stride`` and ``padding`` as pairs, and the output's ``(oh, ow)``, after every check."""
    s = as_pair(stride, "stride", minimum=1)
    p = as_pair(padding, "padding", minimum=0)
    a = as_pair(output_padding, "output_padding", minimum=0)
    check_output_padding(a, s)
    return s, p, trans_conv_output_shape(tuple(x_hw), tuple(k_hw), s, p, a)


# Strategy choice, from measurements with make bench (see benchmarks/bench_trans_conv.py):
# the phase decomposition wins on decoder layers; one product plus F.fold (col2im) wins when the
# kernel is large next to the input (its columns are then far smaller than the copied windows plus
# the products: FOLD_ADVANTAGE is how much smaller they must be) or smaller than the stride.
FOLD_ADVANTAGE = 4
# A kernel with more values than the output: by columns, which reads K as it is, where the phase
# strategies copy K at every call (gathered into the phase kernels, and again by PyTorch's CPU
# convolution into oneDNN's layout, each pass about as slow as the call's own arithmetic when K
# is large). On Intel CPUs, whose MKL product is the fastest at hand (:func:`_gemm.mkl_is_fast`),
# from FOLD_KERNEL_RATIO_MKL times the output's values. Measured there (Xeon, 2 threads, time /
# F.conv_transpose2d's, N=1, k4 s2 p1 unless said; sub-pixel convolution -> by columns): DCGAN
# 128->64 on 16x16 (K: 2x the output) 1.60-1.67x -> 1.13-1.24x; 256->128 on 8x8 (16x) 2.88x -> 1.36x;
# 512->256 on 4x4 (128x) 4.55x -> 1.09x; 1024->512 on 4x4 (256x) 3.70x -> 0.29x; 128->64 k3 s2
# p1 op1 on 8x8 (4.5x) 3.71x -> 2.08x; 256->256 k3 s1 p1 on 8x8 (36x) 2.24x -> 1.29x; but DCGAN
# 256->128 on 8x8, N=16 (1x) 1.31x -> 1.63x (not chosen). Elsewhere (an AMD processor in an
# earlier round: there MKL's product took 334-343 us of DCGAN 128->64's, oneDNN's whole
# convolution 214) the phase strategies stay: FOLD_KERNEL_RATIO is None.
FOLD_KERNEL_RATIO_MKL = 1
FOLD_KERNEL_RATIO: int | None = None
# The phases' products as one forward convolution ("subpixel") rather than one matrix product
# over copied windows ("phase") from this many taps per phase kernel (n_h * n_w) and up to this
# many phases (s_h * s_w). Measured (CPU time, one thread, ratio to F.conv_transpose2d,
# convolution vs matrix product): stride 1 or 2 with 2 x 2 or 3 x 3 taps, 0.46-1.33x vs
# 0.94-1.85x (DCGAN, FCN, VAE, decoder; ResNet's k3 s2: 1.44x vs 1.39x); one tap (U-Net k2 s2, a
# 1 x 1 convolution), 0.49-1.78x vs 0.43-1.08x; 16 or more phases (k8 s4, k16 s8, the book's FCN
# k64 s32), 0.65-1.60x vs 0.41-1.04x.
SUBPIXEL_MIN_TAPS = 2
SUBPIXEL_MAX_PHASES = 4
# The sub-pixel convolution split into one F.conv2d per phase group, or per phase group along one
# dimension (each on its phases' own grid rows, with no zero taps;
# :func:`d2l_tconv._phase_gemm.group_plans`) when that costs at least
# SUBPIXEL_MIN_SAVED_MULTIPLY_ADDS less than one convolution, counting multiply-adds, plus
# SUBPIXEL_COST_PER_COPY per value each convolution copies (its input, into oneDNN's layout, and
# X again where F.pad pads it one-sidedly; else F.conv2d's symmetric padding computes extra rows,
# whichever costs less: :func:`d2l_tconv._subpixel.convolution_cost`) and
# SUBPIXEL_COST_PER_CONVOLUTION per extra convolution; leaving at most
# SUBPIXEL_MAX_SPLIT_FRACTION of one convolution's multiply-adds, in at most
# SUBPIXEL_MAX_CONVOLUTIONS convolutions; of those splits, the cheapest. Measured (time /
# F.conv_transpose2d's, interleaved rounds in one process, 2 threads wall clock | 1 thread CPU
# time, no page faults (glibc's malloc thresholds pinned, see make bench's --steady-malloc); a
# 2-core machine shared with other work, so +-10%): one convolution / split along one dimension /
# along both (symmetric padding), ResNet's k3 s2 p1 op1 (9 of 16 multiply-adds useful in one
# convolution, 12 in two):
# - 64->32 on 32x32, N=4 (make bench's row; chosen: one dimension) 1.51-1.53 / 1.30-1.32 /
#   1.37-1.42 | 1.40-1.42 / 1.17-1.18 / 1.26;
# - N=1 (chosen: one) 1.55 / 1.82 / 2.28 | 1.40 / 1.44 / 1.61; 32->16 on 64x64, N=1 (one)
#   1.22 / 1.37 / 1.83 | 1.18 / 1.19 / 1.38 (extra convolutions cost more than they save);
# - 128->64 on 16x16, N=4 (both) 1.67-1.72 / 1.53-1.56 / 1.44-1.50;
# - DCGAN's k4 s2 p1 saves only grid rows (a fraction of 0.89 to 0.94: one convolution).
SUBPIXEL_COST_PER_COPY = 48  # multiply-adds
SUBPIXEL_COST_PER_CONVOLUTION = 6 << 20  # multiply-adds, about 6 M
SUBPIXEL_MIN_SAVED_MULTIPLY_ADDS = 1 << 20  # about 1 M
SUBPIXEL_MAX_SPLIT_FRACTION = 0.75
SUBPIXEL_MAX_CONVOLUTIONS = 4
# Workspace of one step (copied windows plus products, or the convolution's output and oneDNN's
# copies, or F.fold's columns; and the phase kernels), in values: at most WORKSPACE_PER_OUTPUT
# times the output, so that the peak stays within about three times the output; small outputs
# may use up to WORKSPACE_FLOOR values (2 MiB in float32; DCGAN 128->64 on 16x16 then runs in one
# step, where chunks took 1.7x to 3.5x F.conv_transpose2d's time). The VAE layer's 8 images run
# in 3 chunks, 2.52x the output; a floor of 4 MiB made that 2 chunks, 3.03x the output, about
# 18% faster (0.42x instead of 0.50x F.conv_transpose2d's time, 2 threads): the goal of 3x
# comes first, and the layer stays twice as fast as PyTorch's.
WORKSPACE_PER_OUTPUT = 2
WORKSPACE_FLOOR = 1 << 19
# By columns, where one image's columns and phase grid exceed that budget: at most this many
# chunks of its output channels (or, where there are fewer channels than chunks, of kernel rows
# too), each chunk's columns added into the output by col2im (F.fold's operation, without the
# copy of its input that F.fold allocates; no phase grid). Measured (Intel Xeon, 2 threads, time /
# F.conv_transpose2d's, peak memory / output; one step -> chunks): 8->8 channels on 16x16 with a
# 128x128 kernel (columns 205x the output) 1.22-1.40x, 410x -> 0.60-1.24x, 26.6x (8 channels);
# 1->1 channel, the same kernel, 1.23x, 410x -> 1.24-1.37x, 26.9x (8 bands of 16 kernel rows). DCGAN
# 128->64 on 16x16 stays in one step (under WORKSPACE_FLOOR: 1.09-1.15x, 5.13x): in 2 chunks it
# took 1.47-1.61x, at 3.00x, col2im's scalar loop (0.23 ms) being slower than the phase grid's
# strided additions (0.09-0.15 ms; 0.09 ms in place, add_) that it replaces.
FOLD_MAX_CHUNKS = 8
# "subpixel", "phase" or "fold" forces a strategy (tests); None chooses by the cost model above.
FORCE_STRATEGY: str | None = None
# A number forces the sub-pixel convolution into that many chunks of output channels (tests).
FORCE_CHANNEL_CHUNKS: int | None = None
# Chunks of output channels hold a multiple of this many (oneDNN computes output channels in
# blocks of 16 on AVX-512 CPUs: DCGAN 256->128 on 8x8, N=16 took 1.30x F.conv_transpose2d's
# time in 3 chunks of 42 or 43 channels, 1.05-1.09x in 2 or 4 chunks, one thread).
CHANNEL_BLOCK = 16


def _trans_conv_4d(X, K, stride, padding, out_hw):
    """The computation for validated ``X (N, C_in, H, W)`` and ``K (C_in, C_out, kh, kw)``."""
    N, C_out, (oh, ow) = X.shape[0], K.shape[1], out_hw
    plan = _plan(tuple(X.shape), tuple(K.shape), stride, padding, out_hw, X.device.type)
    if plan.strategy == "zeros":  # nothing reaches the output
        connected = X.reshape(-1)[:0].sum() + K.reshape(-1)[:0].sum()  # zero, keeps autograd's graph
        return X.new_zeros((N, C_out, oh, ow)) + connected
    if plan.strategy == "fold":
        if plan.channel_ranges:
            return fold_in_chunks(X, K, stride, padding, out_hw, plan.channel_ranges,
                                  plan.kernel_row_ranges)
        budget = max(WORKSPACE_PER_OUTPUT * N * C_out * oh * ow, WORKSPACE_FLOOR)
        images = max(1, budget // plan.fold_columns)
        if images >= N:
            return fold_trans_conv(X, K, stride, padding, out_hw)
        Y = X.new_empty((N, C_out, oh, ow))
        for n0 in range(0, N, images):
            Y[n0:n0 + images] = fold_trans_conv(X[n0:n0 + images], K, stride, padding, out_hw)
        return Y
    pairs, conv = plan.pairs, plan.strategy == "subpixel"
    products = conv_products if conv else phase_products
    channels, chunks = plan.channel_ranges, plan.steps
    if len(chunks) == 1 and len(channels) == 1 and stride == (1, 1):
        # stride 1, in one step: the products are the output
        (index, with_zero), = plan.gathers(K.device)
        W = phase_kernel(K, index, with_zero, conv).view(plan.kernel_shapes[0])
        return products(X, W, *pairs[0]).reshape(N, C_out, oh, ow)
    Y = X.new_empty((N, C_out, oh, ow)) if plan.covers_output else X.new_zeros((N, C_out, oh, ow))
    for c0, c1 in channels:
        part = None if c1 - c0 == C_out else (c0, c1)
        kernels = [phase_kernel(K, index, with_zero, conv, part).view(
                       (c1 - c0) * (shape[0] // C_out), *shape[1:])
                   for (index, with_zero), shape in zip(plan.gathers(K.device), plan.kernel_shapes,
                                                        strict=True)]
        Y_c = Y if c1 - c0 == C_out else Y[:, c0:c1]
        for (n0, n1), rows in chunks:
            X_n, Y_n = (X, Y_c) if n1 - n0 == N else (X[n0:n1], Y_c[n0:n1])
            for (plan_h, plan_w), W, options in zip(pairs, kernels, plan.product_options,
                                                    strict=True):
                # rows of the whole grid to this pair's own grid rows
                own = (max(rows[0] - plan_h.grid_start, 0),
                       min(rows[1] - plan_h.grid_start, plan_h.grid))
                if own[0] >= own[1]:
                    continue
                band = products(X_n, W, plan_h, plan_w, own, **options)
                interleave(Y_n, band, plan_h, plan_w, own)
                del band  # free it before the next one
        del kernels  # free them before the next chunk's
    return Y


@dataclass(frozen=True)
class _Plan:
    """How ``trans_conv`` computes one call: the strategy and what it needs."""

    strategy: str  # "subpixel", "phase", "fold" or "zeros"
    pairs: list = ()  # phase strategies: (height, width) DimPlan pair of each product
    fold_columns: int = 0  # per image: what the strategy by columns holds (columns, phase grid)
    covers_output: bool = True  # the products reach every output (else start from zeros)
    kernel_shapes: tuple = ()  # phase strategies: shape of each product's phase kernel
    cpu_gathers: tuple = ()  # phase strategies: (gather index, with_zero) of each phase kernel
    product_options: tuple = ()  # phase strategies: keyword arguments of each pair's product
    channel_ranges: tuple = ()  # chunks (c0, c1) of output channels (fold: only where chunked)
    steps: tuple = ()  # phase strategies: batch ranges (n0, n1) and grid rows (g0, g1) of each step
    kernel_row_ranges: tuple = ()  # fold, where chunked: chunks (r0, r1) of kernel rows
    _on_device: dict = field(default_factory=dict, compare=False)  # device -> gathers there

    def gathers(self, device: torch.device) -> tuple:
        """The phase kernels' gather indices on ``device`` (moved there once, then cached)."""
        if device.type == "cpu":
            return self.cpu_gathers
        if device not in self._on_device:
            self._on_device[device] = tuple((index if index is None else index.to(device),
                                             with_zero)
                                            for index, with_zero in self.cpu_gathers)
        return self._on_device[device]


def _plan(x_shape, k_shape, stride, padding, out_hw, device_type: str = "cpu") -> _Plan:
    """Choose the strategy by the cost model (workspace per image) and plan it (cached)."""
    kernel_ratio = (FOLD_KERNEL_RATIO_MKL if device_type == "cpu" and _gemm.mkl_is_fast()
                    else FOLD_KERNEL_RATIO)
    settings = (FORCE_STRATEGY, FORCE_CHANNEL_CHUNKS, CHANNEL_BLOCK, FOLD_ADVANTAGE,
                SUBPIXEL_MIN_TAPS, SUBPIXEL_MAX_PHASES, SUBPIXEL_COST_PER_COPY, SUBPIXEL_COST_PER_CONVOLUTION,
                SUBPIXEL_MIN_SAVED_MULTIPLY_ADDS, SUBPIXEL_MAX_SPLIT_FRACTION,
                SUBPIXEL_MAX_CONVOLUTIONS, WORKSPACE_PER_OUTPUT, WORKSPACE_FLOOR, FOLD_MAX_CHUNKS,
                _phase_gemm.MIN_SAVED_MULTIPLY_ADDS)
    return _cached_plan(x_shape, k_shape, stride, padding, out_hw, kernel_ratio, settings)


# Plans hold their phase kernels' gather indices (about the kernel's size, int32): few of them.
@functools.lru_cache(maxsize=64)
def _cached_plan(x_shape, k_shape, stride, padding, out_hw, kernel_ratio, settings) -> _Plan:
    """The plan; ``kernel_ratio``: by columns from this many times the output's values in K (or
    None: never for that reason); ``settings``: the module's tunables, part of the cache key."""
    N, C_in, H, W = x_shape
    _, C_out, kh, kw = k_shape
    plan_h = plan_dim(H, kh, stride[0], padding[0], out_hw[0])
    plan_w = plan_dim(W, kw, stride[1], padding[1], out_hw[1])
    if N == 0 or plan_h is None or plan_w is None:
        return _Plan("zeros")
    pairs = group_plans(plan_h, plan_w, C_in, C_out, N)
    windows, products = plan_cost(pairs, C_in, C_out)
    columns = columns_per_image(k_shape, (H, W))
    covers = _covers_output(pairs, plan_h, plan_w)
    # a kernel smaller than the stride (some outputs receive nothing): F.fold's columns are
    # smaller than the output, and it was measured 4-5x faster there
    fold = (not covers or FOLD_ADVANTAGE * columns < windows + products
            or (kernel_ratio is not None
                and C_in * C_out * kh * kw > kernel_ratio * N * C_out * out_hw[0] * out_hw[1]))
    # Workspace per image (what make bench's memory section sees): the products (with stride 1
    # they are the output itself, unless the batch comes in chunks), plus, for the convolution,
    # the copies of its input and output in oneDNN's blocked layout that PyTorch's CPU convolution
    # makes for NCHW tensors; and once per call the phase kernels (about K's size)
    products_kept = 0 if stride == (1, 1) else products
    subpixel = (min(ph.taps * pw.taps for ph, pw in pairs) >= SUBPIXEL_MIN_TAPS
                and plan_h.stride * plan_w.stride <= SUBPIXEL_MAX_PHASES)
    strategy = FORCE_STRATEGY or ("fold" if fold else "subpixel" if subpixel else "phase")
    if strategy not in ("subpixel", "phase"):
        # by columns: where one image's workspace exceeds the budget, an image at a time in
        # chunks whose columns fit: of output channels, then of kernel rows (one channel each)
        workspace = workspace_per_image(k_shape, (H, W), stride)
        room = max(WORKSPACE_PER_OUTPUT * C_out * out_hw[0] * out_hw[1], WORKSPACE_FLOOR)
        chunks = (min(FOLD_MAX_CHUNKS, -(-columns // room))
                  if strategy == "fold" and workspace > room else 1)
        if chunks == 1:
            return _Plan(strategy, pairs, workspace, covers)
        bands = min(kh, max(1, chunks // C_out))
        return _Plan(strategy, pairs, workspace, covers,
                     channel_ranges=_channel_ranges(C_out, chunks if bands == 1 else C_out, 1),
                     kernel_row_ranges=tuple((i * kh // bands, (i + 1) * kh // bands)
                                             for i in range(bands)))
    conv = strategy == "subpixel"
    conv_workspace = products_kept + products + C_in * H * W
    options = [{}] * len(pairs)
    if conv:  # one convolution, or one per phase group (each pads X its own way)
        def cost(ph, pw):  # (one-sided padding?, cost beyond the multiply-adds)
            return convolution_cost(ph, pw, N, C_in, C_out, SUBPIXEL_COST_PER_COPY)

        pairs = group_plans(plan_h, plan_w, C_in, C_out, N, SUBPIXEL_MIN_SAVED_MULTIPLY_ADDS,
                            SUBPIXEL_MAX_SPLIT_FRACTION, SUBPIXEL_MAX_CONVOLUTIONS,
                            lambda ph, pw: cost(ph, pw)[1], SUBPIXEL_COST_PER_CONVOLUTION)
        options = [{"one_sided": cost(ph, pw)[0]} for ph, pw in pairs]
        covers = _covers_output(pairs, plan_h, plan_w)
        if len(pairs) > 1:  # one product at a time, twice, and its input (padded by F.pad?)
            largest = max(plan_cost([pair], C_in, C_out)[1] for pair in pairs)
            padded = any(option["one_sided"] for option in options)
            conv_workspace = (2 * largest + C_in * H * W
                              + padded * C_in * (H + plan_h.taps) * (W + plan_w.taps))
    kernel_values = sum(C_out * phase_count(ph) * phase_count(pw) * C_in * ph.taps * pw.taps
                        for ph, pw in pairs)
    gathers, shapes = [], []
    for ph, pw in pairs:
        gathers.append(kernel_gather_index(k_shape, ph, pw, conv_layout=conv))
        rows = C_out * (ph.phases[1] - ph.phases[0]) * (pw.phases[1] - pw.phases[0])
        shapes.append((rows, C_in, ph.taps, pw.taps) if conv else (rows, -1))
    workspace = conv_workspace if conv else windows + products_kept
    budget = max(WORKSPACE_PER_OUTPUT * N * C_out * out_hw[0] * out_hw[1], WORKSPACE_FLOOR)
    # steps: the batch, or grid rows, in chunks whose workspace fits the budget
    steps = tuple(_chunks(N, plan_h.grid, workspace // plan_h.grid, max(budget - kernel_values, 0)))
    if (conv and stride == (1, 1) and len(steps) > 1
            and N * workspace + kernel_values <= budget + N * C_out * out_hw[0] * out_hw[1]):
        # Stride 1 in one step: the convolution's output is the result, allocated only after
        # oneDNN's copy of X is freed, so the output's own room is free while it runs. Measured
        # (decoder 64->64 on 32x32, N=8): the same peak, 2.14x the output, as in 2 batch chunks,
        # and 8% faster (0.96x instead of 1.04x F.conv_transpose2d's time, 2 threads).
        steps = (((0, N), (0, plan_h.grid)),)
    channel_chunks = 1  # or output channels in chunks, each with the whole batch and grid
    room = budget - N * C_in * H * W  # what the chunks of output channels leave beside X's copy
    if conv and len(steps) > 1 and 0 < room and budget <= 2 * room:
        # Each step convolves with all the phase kernels (which PyTorch's CPU convolution copies
        # into oneDNN's layout at each call), each chunk of output channels with its part of them
        # but with all of X (copied likewise): chunks of output channels where they copy less.
        # Measured (DCGAN 256->128 on 8x8, N=16, 2 threads): 1.19-1.35x F.conv_transpose2d's
        # time in 2 to 4 chunks of output channels, 1.38-1.40x in 4 batch chunks.
        chunks = -(-(kernel_values + N * (workspace - C_in * H * W)) // room)
        if kernel_values * (len(steps) - 1) > N * C_in * H * W * (chunks - 1):
            channel_chunks = min(C_out, chunks)
    if conv and FORCE_CHANNEL_CHUNKS:
        channel_chunks = min(C_out, FORCE_CHANNEL_CHUNKS)
    if channel_chunks > 1:
        steps = (((0, N), (0, plan_h.grid)),)
    return _Plan(strategy, pairs, columns, covers, tuple(shapes), tuple(gathers), tuple(options),
                 _channel_ranges(C_out, channel_chunks), steps)


def _channel_ranges(C_out: int, chunks: int,
                    block: int | None = None) -> tuple[tuple[int, int], ...]:
    """``C_out`` output channels in about ``chunks`` ranges ``(c0, c1)``, each a multiple of
    ``block`` channels (default :data:`CHANNEL_BLOCK`; the last one may be smaller)."""
    block = block or CHANNEL_BLOCK
    size = -(-C_out // chunks)
    size = min(C_out, -(-size // block) * block) if C_out > block else size
    return tuple((c, min(c + size, C_out)) for c in range(0, C_out, size))


def _covers_output(pairs, plan_h, plan_w) -> bool:
    """Whether the products of ``pairs`` reach every output (else ``Y`` starts from zeros)."""
    one_product = len(pairs) == 1 and pairs[0][0] is plan_h and pairs[0][1] is plan_w
    return one_product or (covers_every_phase(plan_h) and covers_every_phase(plan_w))


def strategy_name(x_shape, k_shape, stride=1, padding=0, output_padding=0,
                  device: str | torch.device = "cpu") -> str:
    """Which strategy ``trans_conv`` uses for these shapes (for benchmarks and curious readers).

    ``x_shape`` is ``(N, C_in, H, W)`` and ``k_shape`` ``(C_in, C_out, kh, kw)`` (or both 2-D);
    ``device`` is where the tensors are (the choice differs on Intel CPUs, see
    :data:`FOLD_KERNEL_RATIO_MKL`).
    Returns ``"subpixel"``, ``"phase"``, ``"fold"``, or ``"zeros"`` (no kernel entry reaches the
    output).
    """
    if len(x_shape) == 2:
        x_shape, k_shape = (1, 1, *x_shape), (1, 1, *k_shape)
    s, p = as_pair(stride, "stride", minimum=1), as_pair(padding, "padding", minimum=0)
    a = as_pair(output_padding, "output_padding", minimum=0)
    out_hw = trans_conv_output_shape(tuple(x_shape[-2:]), tuple(k_shape[-2:]), s, p, a)
    return _plan(tuple(x_shape), tuple(k_shape), s, p, out_hw, torch.device(device).type).strategy


def _chunks(N: int, grid_rows: int, per_row: int, budget: int):
    """Batch ranges and grid-row bands whose workspace (``per_row`` per row) fits ``budget``."""
    rows = max(1, budget // max(per_row, 1))
    if rows >= grid_rows or N == 0:
        images = max(1, rows // max(grid_rows, 1))
        steps = -(-N // images)
        for i in range(max(steps, 1)):  # as many images in each step as can be
            yield (i * N // steps, (i + 1) * N // steps) if N else (0, 0), (0, grid_rows)
        return
    steps = -(-grid_rows // rows)
    for n in range(N):
        for i in range(steps):
            yield (n, n + 1), (i * grid_rows // steps, (i + 1) * grid_rows // steps)
