"""The one matrix product the transposed convolution needs, on the fastest kernel at hand.

On the CPU, PyTorch sends a float32 ``torch.matmul`` to MKL's SGEMM, while its convolutions run on
oneDNN's own kernels. MKL is Intel's library: on Intel CPUs it is the fastest product at hand, on
others it can take a slower path (an AMD processor, this project's machine in an earlier round:
2-2.5x slower than oneDNN; ``make bench --matmul`` compares them), and that alone would make any
matrix-product formulation lose to ``F.conv_transpose2d``. oneDNN's matrix product is reachable
as ``torch.ops.mkldnn._linear_pointwise`` (the fused linear layer that ``torch.compile`` uses on
the CPU): a plain matrix product, no convolution. It is a private operator without autograd, so it is
used only for float32 CPU tensors outside autograd, on CPUs that are not Intel's, after a check at
first use that it exists and agrees with ``torch.matmul``; everything else uses ``torch.matmul``.

Measured on an Intel Xeon (Sapphire Rapids, 2 threads): DCGAN 128->64 on 16x16 as one product,
``(1024 x 128) @ (128 x 256)``, 230 us with MKL, 446 us with oneDNN; U-Net 128->64 on 64x64 (k2
s2), trans_conv at 0.21x F.conv_transpose2d's time with MKL, 0.38x with oneDNN.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch

# None: oneDNN on CPUs that are not Intel's (:func:`mkl_is_fast`); True or False forces it on or
# off (tests; make bench's --matmul).
USE_ONEDNN: bool | None = None
_onednn_works: bool | None = None  # decided on first use


@functools.cache
def mkl_is_fast() -> bool:
    """Whether this CPU is Intel's (``vendor_id`` in ``/proc/cpuinfo``, else ``platform``), where
    MKL's products are the fastest at hand: torch.matmul on the CPU, and the strategy by columns
    chosen more often (:mod:`d2l_tconv.transposed`)."""
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip() == "GenuineIntel"
    except OSError:
        pass
    return "intel" in platform.processor().lower()


def use_onednn() -> bool:
    """Whether the CPU's float32 products go to oneDNN (:data:`USE_ONEDNN`, else the vendor)."""
    return not mkl_is_fast() if USE_ONEDNN is None else USE_ONEDNN


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
    if (A.device.type == "cpu" and A.dtype == torch.float32 and not needs_grad and use_onednn()
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
