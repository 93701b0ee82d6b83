"""Transposed convolution by phases: one window copy, one matrix product, one interleave.

Output row ``y`` of a transposed convolution with stride ``s`` and padding ``p`` only receives
kernel rows ``a`` with ``a ≡ y + p (mod s)``: the rows of one *phase* form an ordinary (stride-1)
correlation of the input with every ``s``-th kernel row (a "sub-pixel" convolution). This module
computes all ``s_h x s_w`` phases at once:

1. the ``n_h x n_w`` input window that any phase needs at each position of a small grid is copied
   out of the (zero-padded) input, ``n = ceil(k / s)`` taps per dimension, often 1 or 2;
2. one matrix product of the phase-kernel matrix ``(C_out * s_h * s_w, n_h * n_w * C_in)`` with
   those windows gives every phase's output; all the multiply-adds of an output pixel happen in
   that one product (so float16 / bfloat16 sums accumulate in the product's float32 accumulator);
3. strided copies interleave the phases into the output: at most 3 x 3 pieces, each one copy (or
   one per phase, for at most 16 phases), whatever the stride.

Grid and phases: along one dimension, output ``y`` is grid row ``g`` and phase ``rho`` with
``y + c = g * s + rho`` (the *phase offset* ``c`` is chosen so that every phase reads its input
window from the same grid row; the phases' windows differ by at most one row). Phases whose taps
are fewer than the window can get products of their own (:func:`group_plans`), and phases that no
kernel entry reaches are left out. The number of PyTorch operations does not depend on the stride
or the kernel size; the memory is the copied windows plus the products (about the output's size).
:func:`plan_cost` reports both so that the caller can choose this strategy or another, and how
much of the batch to do at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._gemm import matmul_nt


@dataclass(frozen=True, eq=False)
class DimPlan:
    """The phase decomposition of one spatial dimension (height or width).

    Output ``y`` is grid row ``g`` and phase ``rho`` with ``y + phase_offset = g * stride + rho``.
    The window of grid row ``g`` is padded-input rows ``g .. g + taps - 1``; ``pad`` is the
    ``F.pad`` amount (before, after) of the input (negative crops). ``kernel_index[rho, e]`` is the
    kernel row that window entry ``e`` meets in phase ``rho``, or ``kernel_size`` (a zero).
    """

    stride: int
    out_size: int
    kernel_size: int
    taps: int
    grid: int
    phase_offset: int
    pad: tuple[int, int]
    kernel_index: torch.Tensor  # (phases, taps), int64
    phases: tuple[int, int] = (0, 0)  # this plan's phases rho0 <= rho < rho1 (all: (0, stride))
    groups: tuple[tuple[int, int, int, int, int, int], ...] = ()  # by taps, see _groups
    exact_groups: tuple[tuple[int, int, int, int, int, int], ...] = ()  # by taps and grid rows
    grid_start: int = 0  # grid row 0 of this plan is row grid_start of the whole plan's grid

    def restricted(self, rho0: int, rho1: int, e0: int, e1: int, g0: int, g1: int) -> DimPlan:
        """The same plan for phases ``rho0 .. rho1``, window entries ``e0 .. e1`` and grid rows
        ``g0 .. g1`` only (grid row ``g0`` becomes row 0: the phase offset and the padding move).
        """
        index = self.kernel_index[rho0 - self.phases[0]:rho1 - self.phases[0], e0:e1]
        return DimPlan(self.stride, self.out_size, self.kernel_size, e1 - e0, g1 - g0,
                       self.phase_offset - g0 * self.stride,
                       (self.pad[0] - e0 - g0, self.pad[1] - (self.taps - e1) - (self.grid - g1)),
                       index, (rho0, rho1), (), (), self.grid_start + g0)


@functools.lru_cache(maxsize=256)
def plan_dim(in_size: int, kernel_size: int, stride: int, padding: int,
             out_size: int) -> DimPlan | None:
    """Plan one dimension; ``None`` when no kernel entry reaches any output index.

    A constant number of tensor operations, whatever the stride (phases are tensor entries), and
    cached: a network calls the same layer shapes again and again. Treat the result as read-only.

    Uncropped output index ``u = y + padding``; input ``i`` times kernel entry ``a`` lands on
    ``u = i * s + a``. With ``offset = (-padding) mod s`` and ``shift = ceil(padding / s)``, output
    ``y = t * s + r`` receives input ``i = t + shift - m`` times kernel entry
    ``a = m * s + r - offset`` for every ``m`` with ``0 <= a < k``, i.e. ``lo_r <= m <= hi_r``.
    """
    s, k = stride, kernel_size
    offset, shift = (-padding) % s, -(-padding // s)
    # every phase r that some output index has, at once (tensors: no Python loop over phases)
    r = torch.arange(min(s, out_size))
    lo, hi = (r < offset).long(), torch.div(offset + k - 1 - r, s, rounding_mode="floor")
    reached = lo <= hi
    if not bool(reached.any()):
        return None
    lo, hi, r = lo[reached], hi[reached], r[reached]
    taps = int((hi - lo).max()) + 1
    # phase r's window at output t starts at input t + shift - hi_r; hi_r takes two values at most
    base = int((shift - hi).min())
    late = r[shift - hi - base == 1]  # phases whose window starts one row later
    phase_offset = s - int(late.min()) if len(late) else 0
    grid = -(-(out_size + phase_offset) // s)
    before = -base
    after = grid + taps - 1 - in_size - before
    # kernel_index[rho, e]: window entry e of grid row g reads input g + base + e, which is
    # t + shift - m for phase r = (rho - phase_offset) mod s, t = g - [rho < phase_offset]
    rho, e = torch.arange(s)[:, None], torch.arange(taps)[None, :]
    m = shift - base - (rho < phase_offset).long() - e
    a = m * s + (rho - phase_offset) % s - offset
    kernel_index = torch.where((a >= 0) & (a < k), a, k)
    # phase rho has outputs on grid rows g0 <= g < g1 (0 <= g * s + rho - c < out_size)
    g0 = (-torch.div(rho[:, 0] - phase_offset, s, rounding_mode="floor")).clamp(min=0)
    g1 = (torch.div(out_size - 1 + phase_offset - rho[:, 0], s, rounding_mode="floor") + 1)
    whole = torch.zeros_like(g0), torch.full_like(g1, grid)
    return DimPlan(s, out_size, k, taps, grid, phase_offset, (before, after), kernel_index,
                   (0, s), _groups(kernel_index, k, *whole),
                   _groups(kernel_index, k, g0, g1.clamp(max=grid)))


def _groups(kernel_index: torch.Tensor, k: int, g0: torch.Tensor,
            g1: torch.Tensor) -> tuple[tuple[int, int, int, int, int, int], ...]:
    """Runs of consecutive phases with the same window entries and grid rows:
    ``(rho0, rho1, e0, e1, g0, g1)``.

    A phase uses a contiguous range of window entries (its taps) and computes grid rows ``g0 ..
    g1`` (per phase, the tensors of that name: the whole grid, or the rows where the phase has
    outputs): phases whose taps are fewer than the window, or whose rows fewer than the grid, can
    get their own product, so that no multiply-add is spent on a zero (a 3 x 3 kernel with stride
    2 would otherwise do 16 instead of 9 per four outputs) or on a grid row outside the output
    (DCGAN's k4 s2 p1 on an 8-row input: a grid of 9 rows per phase for 8 outputs). Phases that no
    kernel entry reaches, or that have no output, are left out. A handful of runs, found with
    tensor operations.
    """
    used = kernel_index < k
    taps = used.shape[1]
    first = torch.where(used.any(1), used.long().argmax(1), taps)
    last = torch.where(used.any(1), taps - used.flip(1).long().argmax(1), taps)
    key = torch.stack([first, last, g0, g1], 1)
    starts = [0, *(torch.nonzero((key[1:] != key[:-1]).any(1)).flatten() + 1).tolist()]
    ends = [*starts[1:], len(key)]
    return tuple((r0, r1, *key[r0].tolist()) for r0, r1 in zip(starts, ends, strict=True)
                 if first[r0] < taps and g0[r0] < g1[r0])


# Separate products per phase group only when they save at least this many multiply-adds in
# all. Measured (CPU time, one thread): for a 3 x 3 kernel with stride 2 (9 of 16 multiply-adds
# useful in one product), four products were slower than one for batches of 1, 4 and 16 images
# (more, smaller products and copies), so this is high; below it, groups serve only to skip
# phases that no kernel entry reaches (a kernel smaller than the stride), in one product.
MIN_SAVED_MULTIPLY_ADDS = 1 << 34


def group_plans(plan_h: DimPlan, plan_w: DimPlan, C_in: int, C_out: int, images: int = 1,
                min_saved: int | None = None, max_fraction: float = 1.0,
                max_products: int | None = None,
                product_cost: Callable[[DimPlan, DimPlan], float] | None = None,
                cost_per_product: int = 0) -> list[tuple[DimPlan, DimPlan]]:
    """The (height, width) plan pairs, one per product.

    Candidates: one product per pair of phase groups, the groups by taps and grid rows
    (:attr:`DimPlan.exact_groups`: no multiply-add on a zero or outside the output) or by taps
    only (:attr:`DimPlan.groups`), in both dimensions, or in one of them with the other one whole
    (half the products: a 3 x 3 kernel with stride 2 then does 12 instead of 16 multiply-adds per
    four outputs, in two products, where both dimensions give 9 in four). The baseline is one
    product: over the only group pair where there is one (it leaves out phases that no kernel
    entry reaches), else over all phases. A candidate's cost (for ``images`` batch images) is its
    multiply-adds plus ``product_cost`` of each product (a function of the pair, in
    multiply-adds: copies, padding) plus ``cost_per_product`` per extra product; the cheapest
    candidate that costs at least ``min_saved`` less than the baseline (default
    :data:`MIN_SAVED_MULTIPLY_ADDS`, the matrix product's threshold), leaves at most
    ``max_fraction`` of its multiply-adds and has at most ``max_products`` products is taken,
    else the baseline.
    """
    min_saved = MIN_SAVED_MULTIPLY_ADDS if min_saved is None else min_saved
    whole_h, whole_w = _whole(plan_h), _whole(plan_w)
    candidates = [(plan_h.exact_groups, plan_w.exact_groups), (plan_h.groups, plan_w.groups),
                  *((h, whole_w) for h in (plan_h.exact_groups, plan_h.groups)),
                  *((whole_h, w) for w in (plan_w.exact_groups, plan_w.groups))]
    # one product: over the only group pair if there is one, else over everything
    one = next(((h, w) for h, w in candidates[:2] if len(h) * len(w) == 1), (whole_h, whole_w))

    def pairs_of(groups_h, groups_w):
        return [(plan_h if gh in whole_h else plan_h.restricted(*gh),
                 plan_w if gw in whole_w else plan_w.restricted(*gw))
                for gh in groups_h for gw in groups_w]

    def cost(pairs):  # multiply-adds (per channel pair and image: phases x taps x grid rows)
        return sum(images * C_in * C_out * _units(_whole(ph)) * _units(_whole(pw))
                   + (product_cost(ph, pw) if product_cost else 0) for ph, pw in pairs)

    one_pair = pairs_of(*one)
    whole, one_cost = _units(one[0]) * _units(one[1]), cost(one_pair)
    best, best_cost = one_pair, None
    for groups_h, groups_w in candidates:
        count, split = len(groups_h) * len(groups_w), _units(groups_h) * _units(groups_w)
        if count == 1 or split > max_fraction * whole or count > (max_products or count):
            continue
        pairs = pairs_of(groups_h, groups_w)
        split_cost = cost(pairs) + cost_per_product * (count - 1)
        if one_cost - split_cost >= min_saved and (best_cost is None or split_cost < best_cost):
            best, best_cost = pairs, split_cost
    return best


def _whole(plan: DimPlan) -> tuple[tuple[int, ...], ...]:
    """All of ``plan``'s phases, taps and grid rows as one group (the form of its groups)."""
    return ((*plan.phases, 0, plan.taps, 0, plan.grid),)


def _units(groups) -> int:
    """Multiply-adds per image and channel pair of ``groups`` along one dimension."""
    return sum((r1 - r0) * (e1 - e0) * (g1 - g0) for r0, r1, e0, e1, g0, g1 in groups)


def covers_every_phase(plan: DimPlan) -> bool:
    """Whether the groups cover all phases (else some outputs receive nothing and stay zero)."""
    return sum(r1 - r0 for r0, r1, *_ in plan.groups) == plan.stride


def plan_cost(pairs: list[tuple[DimPlan, DimPlan]], C_in: int, C_out: int) -> tuple[int, int]:
    """Per batch image, over the products of ``pairs``: (values of the windows, of the products)."""
    windows = products = 0
    for plan_h, plan_w in pairs:
        positions = plan_h.grid * plan_w.grid
        windows += C_in * plan_h.taps * plan_w.taps * positions
        products += C_out * phase_count(plan_h) * phase_count(plan_w) * positions
    return windows, products


def phase_count(plan: DimPlan) -> int:
    """How many phases ``plan`` has (``rho0 <= rho < rho1``)."""
    return plan.phases[1] - plan.phases[0]


def kernel_gather_index(k_shape: tuple[int, ...], plan_h: DimPlan, plan_w: DimPlan,
                        conv_layout: bool = False) -> tuple[torch.Tensor, bool]:
    """What :func:`phase_kernel` gathers from ``K``, and whether it needs a zero appended.

    The phase kernel of ``K (C_in, C_out, kh, kw)`` has rows ``(c, rho_h, rho_w)`` (output channel
    and phase) and, per row, the kernel entry that window entry ``(e_h, e_w)`` meets in that
    phase for every input channel, or zero. Two layouts, each with the gather measured fastest
    for it:

    - the matrix of :func:`phase_products`, ``(C_out * s_h * s_w, n_h * n_w * C_in)``, columns
      ``(e_h, e_w, c_in)``: the index picks, per ``(rho_h, rho_w, e_h, e_w)``, one of the
      ``kh * kw`` kernel entries (``kh * kw``: the zero), whose ``C_in``-long rows are gathered
      from ``K`` transposed;
    - with ``conv_layout``, the weight ``(C_out * s_h * s_w, C_in, n_h, n_w)`` of ``F.conv2d``:
      the index picks every entry from ``K.reshape(-1)`` (``K.numel()``: the zero), one gather.

    Built once per plan (the caller caches it); int32 where it fits (half the memory, same speed).
    The matrix's index is ``None`` where it would pick every kernel entry in order (e.g. a 2 x 2
    kernel with stride 2): the transposed ``K`` is then the matrix, with no gather.
    """
    C_in, C_out, kh, kw = k_shape
    ih, iw = plan_h.kernel_index[:, None, :, None], plan_w.kernel_index[None, :, None, :]
    entry = torch.where((ih == kh) | (iw == kw), -1, ih * kw + iw)  # (s_h, s_w, n_h, n_w)
    with_zero = bool((entry < 0).any())
    if not conv_layout:
        index = torch.where(entry < 0, kh * kw, entry).reshape(-1)
        if not with_zero and torch.equal(index, torch.arange(kh * kw)):
            return None, False  # every phase meets its own kernel entry: K transposed as it is
        return index, with_zero
    zero = C_in * C_out * kh * kw
    c_out = torch.arange(C_out).view(C_out, 1, 1, 1, 1, 1) * (kh * kw)
    c_in = torch.arange(C_in).view(1, 1, 1, 1, 1, C_in) * (C_out * kh * kw)
    index = torch.where(entry[None, ..., None] < 0, zero, c_out + entry[None, ..., None] + c_in)
    index = index.permute(0, 1, 2, 5, 3, 4).reshape(-1)
    return (index.int() if zero < 2**31 - 1 else index), with_zero


def phase_kernel(K: torch.Tensor, index: torch.Tensor, with_zero: bool,
                 conv_layout: bool = False,
                 channels: tuple[int, int] | None = None) -> torch.Tensor:
    """The phase kernel of ``K`` in the layout of ``index`` (:func:`kernel_gather_index`), flat
    for the convolution's weight, ``(C_out, s_h * s_w * n_h * n_w, C_in)`` for the matrix; only
    output channels ``c0 <= c < c1`` with ``channels=(c0, c1)``.

    One gather, after one copy of ``K`` (transposed for the matrix, with a zero appended where
    some phase meets no kernel entry); the caller views the result as its matrix or weight. With
    no ``index`` (the matrix is ``K`` transposed as it is), ``K``'s own transposed view, no copy.
    """
    C_in, C_out, kh, kw = K.shape
    c0, c1 = channels or (0, C_out)
    if conv_layout:
        flat = K.reshape(-1)
        if with_zero:
            flat = torch.cat([flat, flat.new_zeros(1)])
        if channels is not None:  # the index runs over output channels first
            per_channel = index.numel() // C_out
            index = index[c0 * per_channel:c1 * per_channel]
        return flat.index_select(0, index)
    rows = K.reshape(C_in, C_out * kh * kw).t()
    if index is None:  # no copy here: the product takes K transposed as it is, or copies it
        return rows.view(C_out, kh * kw, C_in)[c0:c1]
    rows = rows.contiguous().view(C_out, kh * kw, C_in)[c0:c1]
    if with_zero:
        rows = torch.cat([rows, rows.new_zeros((c1 - c0, 1, C_in))], dim=1)
    return rows.index_select(1, index)


def phase_products(X: torch.Tensor, W: torch.Tensor, plan_h: DimPlan, plan_w: DimPlan,
                   rows: tuple[int, int] | None = None) -> torch.Tensor:
    """Every phase's output on grid rows ``g0 <= g < g1``: ``(N, C_out, s_h, s_w, g1 - g0, grid_w)``.

    ``X`` is ``(N, C_in, H, W)``; ``W`` is :func:`phase_kernel`'s matrix; ``rows`` defaults to the
    whole grid. The windows of all images are the columns of one matrix
    ``(n_h * n_w * C_in, N * positions)``, so one product serves the whole batch; the result is a
    permuted view of that product ``(C_out * s_h * s_w, N * positions)``, or of its transpose
    where ``W`` is a transposed view (K's own, not copied) and the grid is narrower than
    :data:`CHANNELS_FIRST_MIN_WIDTH`.
    """
    N, C_in = X.shape[:2]
    g0, g1 = rows or (0, plan_h.grid)
    (top, bottom), (left, right) = plan_h.pad, plan_w.pad
    # padded row j is input row j - top; this band needs padded rows g0 .. g1 + taps - 1
    top, bottom = top - g0, bottom - (plan_h.grid - g1)
    if (top, bottom, left, right) != (0, 0, 0, 0):
        X = F.pad(X, (left, right, top, bottom))  # negative amounts crop
    nh, nw = plan_h.taps, plan_w.taps
    gh, gw = g1 - g0, plan_w.grid
    phases_h, phases_w = phase_count(plan_h), phase_count(plan_w)
    channels_first = gw >= CHANNELS_FIRST_MIN_WIDTH
    if channels_first:
        # windows[n, c, g, h, e_h, e_w] is padded input (g + e_h, h + e_w): a view, no copy;
        # the copy runs along grid rows of gw values
        windows = X.unfold(2, nh, 1).unfold(3, nw, 1)
        columns = windows.permute(4, 5, 1, 0, 2, 3).reshape(nh * nw * C_in, N * gh * gw)
        patches = columns.t()
    else:
        # channels last: the copy runs along the C_in values of each window entry
        X = X.permute(0, 2, 3, 1).contiguous()  # (N, H', W', C_in), a batch of 2-D transposes
        windows = X.unfold(1, nh, 1).unfold(2, nw, 1)  # (N, g, h, C_in, e_h, e_w)
        patches = windows.permute(0, 1, 2, 4, 5, 3).reshape(N * gh * gw, nh * nw * C_in)
    if channels_first or W.is_contiguous():
        products = matmul_nt(W, patches).view(-1, phases_h, phases_w, N, gh, gw)
        return products.permute(3, 0, 1, 2, 4, 5)
    # W is K's own transposed view (U-Net's k2 s2: no gather): as the right factor of the
    # product, with the (copied) windows as its rows, oneDNN reads it as it is: K is not copied
    products = matmul_nt(patches, W).view(N, gh, gw, -1, phases_h, phases_w)
    return products.permute(0, 3, 4, 5, 1, 2)


# Grids narrower than this copy their windows channels last (measured faster: the rows along
# the grid are then too short for a fast copy).
CHANNELS_FIRST_MIN_WIDTH = 32


def _pieces(plan: DimPlan, rows: tuple[int, int]) -> list[tuple[int, int, int, int, int, int]]:
    """Output rows of grid ``rows`` as pieces ``(y0, count, span, g0, rho0, rho1)``.

    A piece is output rows ``y0 .. y0 + count * span`` viewed as ``(count, span)``: grid rows
    ``g0 .. g0 + count``, phases ``rho0 .. rho1`` (``span = rho1 - rho0``). At most three: a
    partial grid row at the start, whole grid rows, a partial one at the end.
    """
    s, c = plan.stride, plan.phase_offset
    start, end = c, c + plan.out_size  # in grid coordinates g * s + rho
    pieces = []
    g = start // s
    while g * s < end:
        rho0, rho1 = max(start - g * s, 0), min(end - g * s, s)
        if rho0 == 0 and rho1 == s:  # whole grid rows: as many as there are in one piece
            count = min(end // s, rows[1]) - max(g, rows[0])
            if count > 0:
                g_first = max(g, rows[0])
                pieces.append((g_first * s - c, count, s, g_first, 0, s))
            g = max(g + 1, end // s)
            continue
        if rows[0] <= g < rows[1]:
            pieces.append((g * s + rho0 - c, 1, rho1 - rho0, g, rho0, rho1))
        g += 1
    return pieces


# Up to this many phases, and up to this many values of Y, each phase is copied on its own: one
# strided copy per phase, whose inner loop runs along a row (measured 1.4-3.6x faster for stride
# 2 than one copy whose inner loop runs over the s_w phases, with 1 to 16 images of 3 to 128
# channels); beyond (the extra passes over memory cost more: 1.6x slower for 4M values), with
# more phases, or from products whose rows are not contiguous (channels last: U-Net 512->256 on
# 16x16, N=4, 4% faster so, one thread), at most 3 x 3 pieces, one copy each, whatever the stride.
PHASE_BY_PHASE_MAX = 16
PHASE_BY_PHASE_MAX_VALUES = 2 << 20


def interleave(Y: torch.Tensor, products: torch.Tensor, plan_h: DimPlan, plan_w: DimPlan,
               rows: tuple[int, int] | None = None) -> None:
    """Copy ``products`` (grid ``rows``, from :func:`phase_products`) into their places in ``Y``.

    ``Y`` is ``(N, C_out, oh, ow)``; output ``(y, x)`` is phase ``(rho_h, rho_w)`` of grid position
    ``(g, h)`` with ``y + c_h = g * s_h + rho_h`` and ``x + c_w = h * s_w + rho_w``. One copy per
    phase when there are few phases and values (:data:`PHASE_BY_PHASE_MAX`), else at most
    3 x 3 pieces.
    """
    rows = rows or (0, plan_h.grid)
    (p0, _), (q0, _) = plan_h.phases, plan_w.phases
    if (phase_count(plan_h) * phase_count(plan_w) <= PHASE_BY_PHASE_MAX
            and Y.numel() <= PHASE_BY_PHASE_MAX_VALUES and products.stride(-1) == 1):
        # strided views made directly (as_strided): Python indexing cost more than the copies of
        # small layers
        (yn, yc, yy, yx), (pn, pc, pr, pq, pg, ph) = Y.stride(), products.stride()
        n, c = Y.shape[:2]
        y_strides, p_strides = (yn, yc, plan_h.stride * yy, plan_w.stride * yx), (pn, pc, pg, ph)
        y_offset = Y.storage_offset()
        p_offset = products.storage_offset() - p0 * pr - q0 * pq - rows[0] * pg
        columns = _phase_rows(plan_w, (0, plan_w.grid))
        for y0, g0, nt, rho_h in _phase_rows(plan_h, rows):
            for x0, h0, nv, rho_w in columns:
                dst = Y.as_strided((n, c, nt, nv), y_strides, y_offset + y0 * yy + x0 * yx)
                src = products.as_strided((n, c, nt, nv), p_strides,
                                          p_offset + rho_h * pr + rho_w * pq + g0 * pg + h0 * ph)
                dst.copy_(src)
        return
    for y0, nt, span_h, g0, r0, r1 in _pieces(plan_h, rows):
        a0, a1 = max(r0, p0), min(r1, plan_h.phases[1])  # this product's phases in the piece
        if a0 >= a1:
            continue
        for x0, nv, span_w, h0, b0, b1 in _pieces(plan_w, (0, plan_w.grid)):
            c0, c1 = max(b0, q0), min(b1, plan_w.phases[1])
            if c0 >= c1:
                continue
            dst = Y[:, :, y0:y0 + nt * span_h, x0:x0 + nv * span_w]
            dst = dst.unflatten(2, (nt, span_h)).unflatten(4, (nv, span_w))
            dst = dst[:, :, :, a0 - r0:a1 - r0, :, c0 - b0:c1 - b0]
            src = products[:, :, a0 - p0:a1 - p0, c0 - q0:c1 - q0,
                           g0 - rows[0]:g0 - rows[0] + nt, h0:h0 + nv]
            dst.copy_(src.permute(0, 1, 4, 2, 5, 3))


@functools.lru_cache(maxsize=1024)
def _phase_rows(plan: DimPlan, rows: tuple[int, int]) -> tuple[tuple[int, int, int, int], ...]:
    """Per phase ``rho`` of ``plan`` with outputs on grid ``rows``: ``(y0, g0, count, rho)``.

    Output rows ``y0, y0 + s, ...`` (``count`` of them) are phase ``rho`` of grid rows ``g0, g0 +
    1, ...``: ``y + c = g * s + rho`` with ``0 <= y < out_size``.
    """
    s, c = plan.stride, plan.phase_offset
    runs = []
    for rho in range(*plan.phases):
        g0 = max(rows[0], -((rho - c) // s))  # first g with g * s + rho - c >= 0
        g1 = min(rows[1], (plan.out_size - 1 + c - rho) // s + 1)
        if g0 < g1:
            runs.append((g0 * s + rho - c, g0, g1 - g0, rho))
    return tuple(runs)
