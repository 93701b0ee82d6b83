"""The book's 2-D cross-correlation ``corr2d`` (what deep learning calls a convolution)."""

from __future__ import annotations

import torch

from ._validation import check_kernel_fits, check_same_device_and_dtype, check_tensor


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """2-D cross-correlation of ``X`` with ``K``, as ``d2l.corr2d`` computes it.

    ``Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()``: the book's loop, with every window taken at
    once (``Tensor.unfold`` makes a view, nothing is copied until the product).

    Args:
        X: input of shape ``(h, w)``, floating point.
        K: kernel of shape ``(kh, kw)`` with ``kh <= h`` and ``kw <= w``, same dtype and device.

    Returns:
        ``Y`` of shape ``(h - kh + 1, w - kw + 1)``, on ``X``'s device, with ``X``'s dtype.
        Unlike ``d2l.corr2d`` (which always returns a CPU tensor) nothing moves between devices.
    """
    check_tensor(X, "X", {2: "(H, W)"})
    check_tensor(K, "K", {2: "(kH, kW)"})
    check_same_device_and_dtype(X, K)
    kh, kw = K.shape
    check_kernel_fits(tuple(X.shape), (kh, kw))
    windows = X.unfold(0, kh, 1).unfold(1, kw, 1)  # (h - kh + 1, w - kw + 1, kh, kw)
    return (windows * K).sum(dim=(-2, -1))
