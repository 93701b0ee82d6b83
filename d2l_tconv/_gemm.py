"""The one matrix product the transposed convolution needs, on the fastest kernel at hand.

On the CPU, PyTorch sends a float32 ``torch.matmul`` to MKL's SGEMM, while its convolutions run on
oneDNN's own kernels. On CPUs where MKL takes a slower path (AMD processors: measured 2-2.5x
slower on this project's machine, ``make bench`` prints both), that alone would make any
matrix-product formulation lose to ``F.conv_transpose2d``. oneDNN's matrix product is reachable
as ``torch.ops.mkldnn._linear_pointwise`` (the fused linear layer that ``torch.compile`` uses on
the CPU): a plain matrix product, no convolution. It is a private operator without autograd, so it is
used only for float32 CPU tensors outside autograd, after a check at first use that it exists and
agrees with ``torch.matmul``; everything else uses ``torch.matmul``.
"""

from __future__ import annotations

import torch

# Set to False to always use torch.matmul (the benchmark compares both).
USE_ONEDNN = True
_onednn_works: bool | None = None  # decided on first use


def _onednn_linear(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(A, B, None, "none", [None], "")


def onednn_available() -> bool:
    """Whether oneDNN's matrix product exists here and agrees with ``torch.matmul`` (checked once)."""
    global _onednn_works
    if _onednn_works is None:
        try:
            g = torch.Generator().manual_seed(0)
            A, B = torch.randn(5, 7, generator=g), torch.randn(3, 7, generator=g)
            _onednn_works = bool(torch.allclose(_onednn_linear(A, B), A @ B.t(), atol=1e-5))
        except (AttributeError, RuntimeError, NotImplementedError):
            _onednn_works = False
    return _onednn_works


def matmul_nt(A: torch.Tensor, Bt: torch.Tensor) -> torch.Tensor:
    """``A (m, k) @ Bt (n, k).T`` as a contiguous ``(m, n)`` tensor.

    ``Bt`` may be row-major or a transposed view of a row-major ``(k, n)`` matrix: oneDNN reorders
    its weight (``Bt``) into its own blocked layout anyway, so neither costs a copy here.
    """
    needs_grad = torch.is_grad_enabled() and (A.requires_grad or Bt.requires_grad)
    if (USE_ONEDNN and A.device.type == "cpu" and A.dtype == torch.float32 and not needs_grad
            and onednn_available()):
        return _onednn_linear(_plain(A, transposed_ok=False), _plain(Bt, transposed_ok=True))
    return A @ Bt.t()


def _plain(M: torch.Tensor, transposed_ok: bool) -> torch.Tensor:
    """``M`` with exact row-major (or, if allowed, column-major) strides, copied only if needed.

    oneDNN checks the strides even of size-1 dimensions, which PyTorch leaves arbitrary.
    """
    rows, cols = M.shape
    if M.stride() == (cols, 1) or (transposed_ok and M.stride() == (1, rows)):
        return M
    return M.clone(memory_format=torch.contiguous_format)
