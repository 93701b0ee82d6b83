"""A convolution as a matrix: ``kernel2matrix`` builds ``W`` with ``conv(X) = W @ vec(X)``.

Its transpose is the transposed convolution: ``trans_conv(Y) = W.T @ vec(Y)``, which is where the
name comes from (the book's section "Connection to Matrix Transposition").
"""

from __future__ import annotations

import torch

from ._validation import as_int, as_pair, check_kernel_fits, check_tensor
from .shapes import conv_output_shape

DEFAULT_MAX_BYTES = 2**30  # 1 GiB


def kernel2matrix(K: torch.Tensor, input_shape, stride=1, padding=0, sparse: bool = False, *,
                  max_bytes: int | None = DEFAULT_MAX_BYTES) -> torch.Tensor:
    """The matrix ``W`` of the 2-D convolution (cross-correlation) of an ``(h, w)`` input by ``K``.

    Row ``i * ow + j`` of ``W`` holds the kernel entries that output pixel ``(i, j)`` multiplies,
    placed at the columns ``r * w + c`` of the input pixels ``(r, c)`` they meet; entries that meet
    the zero padding are dropped. So for ``X`` of shape ``(h, w)`` and ``Y`` of shape ``(oh, ow)``:

    * ``W @ X.reshape(-1)`` equals ``F.conv2d(X, K, stride, padding)`` flattened, and
    * ``W.T @ Y.reshape(-1)`` equals ``F.conv_transpose2d(Y, K, stride, padding, a)`` flattened,
      with ``a = (h + 2 * padding - kh) % stride`` so that its output is ``(h, w)`` again.

    The book's ``kernel2matrix(K)`` is ``kernel2matrix(K, (3, 3))``.

    Args:
        K: kernel of shape ``(kh, kw)``, floating point.
        input_shape: ``(h, w)`` of the convolution's input (or one int for a square input).
        stride: int or pair, ``>= 1``.
        padding: int or pair, ``>= 0``; the kernel must fit in the padded input.
        sparse: return a coalesced sparse COO tensor, built without a dense matrix.
        max_bytes: refuse (``ValueError``) to build a result larger than this; ``None`` for no
            limit. A dense ``W`` has ``oh * ow * h * w`` entries and grows as the square of the
            image size; a sparse one has at most ``kh * kw`` entries per row.

    Returns:
        ``W`` of shape ``(oh * ow, h * w)`` with ``K``'s dtype and device, differentiable with
        respect to ``K``.
    """
    check_tensor(K, "K", {2: "(kH, kW)"})
    h, w = as_pair(input_shape, "input_shape", minimum=1)
    kh, kw = K.shape
    s = as_pair(stride, "stride", minimum=1)
    p = as_pair(padding, "padding", minimum=0)
    if not isinstance(sparse, bool):
        raise TypeError(f"sparse must be True or False, got {type(sparse).__name__} {sparse!r}")
    if max_bytes is not None:
        max_bytes = as_int(max_bytes, "max_bytes", minimum=1)
    check_kernel_fits((h, w), (kh, kw), p)
    oh, ow = conv_output_shape((h, w), (kh, kw), s, p)
    size = (oh * ow, h * w)
    if sparse:
        # indices (2 x int64) and a value for each of at most oh*ow*kh*kw stored entries
        needed = oh * ow * kh * kw * (2 * 8 + K.element_size())
        what = f"the sparse matrix W of shape {size} would need up to {_human(needed)}"
        advice = "use a smaller input or raise max_bytes"
    else:
        needed = size[0] * size[1] * K.element_size()
        what = f"the dense matrix W of shape {size} would take {_human(needed)}"
        advice = "pass sparse=True for a sparse COO matrix, or raise max_bytes"
    if max_bytes is not None and needed > max_bytes:
        raise ValueError(f"max_bytes={max_bytes} ({_human(max_bytes)}) exceeded: {what}; {advice}")

    rows, cols, values = _entries(K, (h, w), (oh, ow), s, p)
    if sparse:
        # Entries come out sorted by (row, column) and without repeats: already coalesced.
        return torch.sparse_coo_tensor(torch.stack([rows, cols]), values, size,
                                       is_coalesced=True, check_invariants=False)
    W = K.new_zeros(size)
    W[rows, cols] = values
    return W


def _entries(K, input_hw, output_hw, stride, padding):
    """Row indices, column indices and values of the nonzero pattern of ``W``, row-major.

    Output pixel ``(i, j)`` meets input pixel ``(i * s + a - p, j * s + b - p)`` through kernel
    entry ``(a, b)``; arrays of shape ``(oh, ow, kh, kw)`` enumerate every such meeting at once.
    """
    (h, w), (oh, ow), (kh, kw) = input_hw, output_hw, K.shape
    i = torch.arange(oh, device=K.device).view(oh, 1, 1, 1)
    j = torch.arange(ow, device=K.device).view(1, ow, 1, 1)
    a = torch.arange(kh, device=K.device).view(1, 1, kh, 1)
    b = torch.arange(kw, device=K.device).view(1, 1, 1, kw)
    r = i * stride[0] + a - padding[0]  # input row met, (oh, 1, kh, 1)
    c = j * stride[1] + b - padding[1]  # input column met, (1, ow, 1, kw)
    inside = ((r >= 0) & (r < h) & (c >= 0) & (c < w)).expand(oh, ow, kh, kw)
    rows = (i * ow + j).expand(oh, ow, kh, kw)[inside]
    cols = (r * w + c).expand(oh, ow, kh, kw)[inside]
    values = K.expand(oh, ow, kh, kw)[inside]
    return rows, cols, values


def _human(n_bytes: int) -> str:
    """``n_bytes`` in binary units, e.g. ``'1.5 GiB'``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    size, n = float(n_bytes), 0
    while size >= 1024 and n < len(units) - 1:
        size, n = size / 1024, n + 1
    return f"{size:.1f} {units[n]}"
