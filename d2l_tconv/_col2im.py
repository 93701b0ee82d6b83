"""Transposed convolution as one matrix product and one ``F.fold`` (col2im).

The product ``K^T X`` gives, for every input pixel, its ``C_out x kh x kw`` patch (input pixel
times every kernel entry, summed over input channels); ``F.fold`` adds each patch into the output
at ``stride`` spacing and crops ``padding`` on every side, which is exactly a transposed
convolution. The columns hold ``C_out * kh * kw`` values per input pixel, so this suits kernels
that are large next to the input (where unfolding the input would repeat it many times).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def columns_per_image(K_shape: tuple[int, ...], in_hw: tuple[int, int]) -> int:
    """Values of the product (the columns ``F.fold`` reads) for one batch image."""
    _, C_out, kh, kw = K_shape
    return C_out * kh * kw * in_hw[0] * in_hw[1]


def fold_trans_conv(X: torch.Tensor, K: torch.Tensor, stride, padding, out_hw) -> torch.Tensor:
    """``X (N, C_in, H, W)``, ``K (C_in, C_out, kh, kw)`` -> ``(N, C_out, oh, ow)``.

    ``F.fold`` sums in the columns' dtype, so float16 / bfloat16 are computed in float32 and
    rounded once at the end.
    """
    N, C_in, H, W = X.shape
    _, C_out, kh, kw = K.shape
    low_precision = X.dtype in (torch.float16, torch.bfloat16)
    Xc, Kc = (X.float(), K.float()) if low_precision else (X, K)
    columns = torch.matmul(Kc.reshape(C_in, C_out * kh * kw).t(), Xc.reshape(N, C_in, H * W))
    Y = F.fold(columns, out_hw, (kh, kw), stride=stride, padding=padding)
    return Y.to(X.dtype) if low_precision else Y
