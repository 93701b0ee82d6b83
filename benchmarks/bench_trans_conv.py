"""Benchmark: d2l_tconv's trans_conv against PyTorch's F.conv_transpose2d on real decoder layers.

Run with ``make bench`` (``make bench BENCH_ARGS=--quick`` for a short run), or
``.venv/bin/python benchmarks/bench_trans_conv.py [--quick] [--threads N] [--device cuda]``.

Sections (float32 unless said otherwise):

1. Decoder layers (U-Net, DCGAN, FCN, the book's FCN layer, ...): time per call of ``trans_conv``
   and ``F.conv_transpose2d``, called alternately in interleaved rounds; per layer the ratio
   (median of the per-round ratios; below 1 means trans_conv is faster) and its spread; then the
   geometric mean of the ratios and the worst layer. Goal: geometric mean <= 0.9, no layer > 1.5.
   The strategy column says how trans_conv computed the layer (d2l_tconv.transposed): "subpixel"
   (the phases as one F.conv2d, or one per group of phases), "phase" (the phases as one matrix
   product) or "fold" (one product on K as it is, its columns added by phase or by F.fold: on
   Intel CPUs also the layers whose K has more values than their output). Every call rebuilds
   the phase kernels from K (nothing is cached across calls but index tables that depend only
   on the shapes), as in training, where K changes at every step.
2. Pathological shapes of the old implementation (huge strides, huge kernels): ratio, and the
   number of ATen operations of one call (bounded: it does not grow with stride or kernel size).
   Goal: within 5x of PyTorch.
3. bfloat16 / float16: relative error (L2) against a float64 reference computed from the same
   rounded inputs, ours and PyTorch's. Goal: ours within 2x of PyTorch's.
4. Peak memory of one call, as a multiple of the output's size. Goal: at most 3x.
5. The convolution of one image as a dense / sparse matrix-vector product (kernel2matrix).

Timing is wall-clock time (``--clock cpu``: CPU time, with one thread, steadier when other
programs share the cores) with ``torch.set_num_threads`` fixed for the whole run. Nothing here
asserts: the numbers are for reading, and a busy machine shows up as spread.

A call's time also depends on the process's history: glibc's malloc gives large freed blocks
back to the system (``munmap``, or trimming the heap) depending on what was allocated before, and
a call whose buffers then come fresh from the system pays a page fault per 4 KiB touched
(measured: F.conv_transpose2d on the ResNet layer, 2.5 ms with 1800 faults per call vs 0.63 ms
with none, in the same process). ``--steady-malloc`` pins glibc's thresholds (``mallopt``) so
that freed memory is reused and both functions are timed without page faults: their
computation, not the allocator's history.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import _timing
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too
from _timing import (  # noqa: E402
    aten_operations,
    interleaved,
    ms,
    noise_note,
    peak_bytes,
    ratios,
    spread,
    spread_text,
    table,
)

from d2l_tconv import _gemm, kernel2matrix, trans_conv  # noqa: E402
from d2l_tconv.transposed import strategy_name  # noqa: E402

# name, X shape, K shape (C_in, C_out, kh, kw), stride, padding, output_padding
DECODER_LAYERS = [
    ("U-Net up 512->256 16x16 k2 s2, N=4", (4, 512, 16, 16), (512, 256, 2, 2), 2, 0, 0),
    ("U-Net up 256->128 32x32 k2 s2", (1, 256, 32, 32), (256, 128, 2, 2), 2, 0, 0),
    ("U-Net up 128->64 64x64 k2 s2", (1, 128, 64, 64), (128, 64, 2, 2), 2, 0, 0),
    ("U-Net up 64->32 128x128 k2 s2, N=2", (2, 64, 128, 128), (64, 32, 2, 2), 2, 0, 0),
    ("DCGAN 256->128 8x8 k4 s2 p1, N=16", (16, 256, 8, 8), (256, 128, 4, 4), 2, 1, 0),
    ("DCGAN 128->64 16x16 k4 s2 p1", (1, 128, 16, 16), (128, 64, 4, 4), 2, 1, 0),
    ("decoder 64->64 32x32 k3 s1 p1, N=8", (8, 64, 32, 32), (64, 64, 3, 3), 1, 1, 0),
    ("FCN 16->16 128x128 k4 s2 p1", (1, 16, 128, 128), (16, 16, 4, 4), 2, 1, 0),
    ("book FCN 21->21 10x15 k64 s32 p16", (1, 21, 10, 15), (21, 21, 64, 64), 32, 16, 0),
    # our additions: the ResNet-style k3 s2 upsampling, and a VAE decoder's last layer to RGB
    ("ResNet up 64->32 32x32 k3 s2 p1 op1, N=4", (4, 64, 32, 32), (64, 32, 3, 3), 2, 1, 1),
    ("VAE out 32->3 64x64 k4 s2 p1, N=8", (8, 32, 64, 64), (32, 3, 4, 4), 2, 1, 0),
]

PATHOLOGICAL = [
    ("2x2 input, 1x1 kernel, stride 256", (1, 1, 2, 2), (1, 1, 1, 1), 256, 0),
    ("2x2 input, 1x1 kernel, stride 512", (1, 1, 2, 2), (1, 1, 1, 1), 512, 0),
    ("2x2 input, 3x3 kernel, stride 512, p1", (1, 4, 2, 2), (4, 4, 3, 3), 512, 1),
    ("16x16 input, 128x128 kernel", (1, 1, 16, 16), (1, 1, 128, 128), 1, 0),
    ("8->8 ch 16x16 input, 128x128 kernel", (1, 8, 16, 16), (8, 8, 128, 128), 1, 0),
]

LOW_PRECISION = [
    ("DCGAN 256->128 8x8 k4 s2 p1, N=4", (4, 256, 8, 8), (256, 128, 4, 4), 2, 1),
    ("decoder 256->64 16x16 k3 s1 p1", (1, 256, 16, 16), (256, 64, 3, 3), 1, 1),
    ("U-Net up 512->256 8x8 k2 s2", (1, 512, 8, 8), (512, 256, 2, 2), 2, 0),
    ("book FCN 21->21 10x15 k64 s32 p16", (1, 21, 10, 15), (21, 21, 64, 64), 32, 16),
    ("64->4 ch 3x4 input, 40x40 kernel", (1, 64, 3, 4), (64, 4, 40, 40), 1, 0),
]


def layer_inputs(x_shape, k_shape, device, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(x_shape, generator=g).to(device, dtype)
    K = (torch.randn(k_shape, generator=g) / math.sqrt(k_shape[0] * k_shape[2] * k_shape[3]))
    return X, K.to(device, dtype)


def bench_decoder_layers(device: torch.device, seconds: float) -> None:
    rows, logs = [], []
    for name, x_shape, k_shape, s, p, a in DECODER_LAYERS:
        X, K = layer_inputs(x_shape, k_shape, device)
        hyper = {"stride": s, "padding": p, "output_padding": a}
        t = interleaved({"ours": lambda X=X, K=K, h=hyper: trans_conv(X, K, **h),
                         "torch": lambda X=X, K=K, h=hyper: F.conv_transpose2d(X, K, **h)},
                        device, seconds)
        r = ratios(t["ours"], t["torch"])
        logs.append((name, math.log(statistics.median(r))))
        rows.append([name, ms(t["ours"]), ms(t["torch"]), f"{statistics.median(r):.2f}x",
                     spread_text(spread(r)), strategy_name(x_shape, k_shape, s, p, a, device)])
    table("1. Decoder layers (ms per call; ratio = trans_conv's time / F.conv_transpose2d's, "
          "below 1 = faster)",
          ["layer", "trans_conv", "F.conv_transpose2d", "ratio", "spread", "strategy"], rows)
    print(noise_note())
    geo = math.exp(sum(v for _, v in logs) / len(logs))
    worst = max(logs, key=lambda item: item[1])
    print(f"geometric mean of the ratios: {geo:.2f}x over {len(logs)} layers (goal <= 0.90x); "
          f"worst layer: {worst[0]} at {math.exp(worst[1]):.2f}x (goal <= 1.50x)")


def bench_pathological(device: torch.device, seconds: float, memory: bool) -> None:
    rows = []
    for name, x_shape, k_shape, s, p in PATHOLOGICAL:
        X, K = layer_inputs(x_shape, k_shape, device)
        fns = {"ours": lambda X=X, K=K, s=s, p=p: trans_conv(X, K, stride=s, padding=p),
               "torch": lambda X=X, K=K, s=s, p=p: F.conv_transpose2d(X, K, stride=s, padding=p)}
        t = interleaved(fns, device, seconds)
        r = ratios(t["ours"], t["torch"])
        operations = aten_operations(fns["ours"])
        rows.append([name, ms(t["ours"]), ms(t["torch"]), f"{statistics.median(r):.2f}x",
                     spread_text(spread(r)), str(operations)])
        if memory:  # peak of one call, as a multiple of the output's size
            out_bytes = fns["torch"]().numel() * X.element_size()
            rows[-1] += [f"{peak_multiple(fn, device, out_bytes):.1f}x" for fn in fns.values()]
        rows[-1].append(strategy_name(x_shape, k_shape, s, p, device=device))
    table("2. Pathological shapes of the old code (ms per call; goal: ratio <= 5x; ATen "
          "operations of one call, nested included, from torch.profiler"
          + ("; peak memory of one call / output, measured as in 4" if memory else "") + ")",
          ["case", "trans_conv", "F.conv_transpose2d", "ratio", "spread", "operations",
           *(["memory", "torch's"] if memory else []), "strategy"], rows)
    print("(the old code took 2.1 s / 12.6 s at stride 256 / 512 and 1.8 s with a 128x128 kernel)")


def relative_error(Y: torch.Tensor, reference: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(Y.double() - reference) /
                 torch.linalg.vector_norm(reference))


def bench_low_precision(device: torch.device) -> None:
    rows = []
    for name, x_shape, k_shape, s, p in LOW_PRECISION:
        for dtype in (torch.bfloat16, torch.float16):
            X, K = layer_inputs(x_shape, k_shape, device, dtype)
            reference = F.conv_transpose2d(X.double(), K.double(), stride=s, padding=p)
            ours = relative_error(trans_conv(X, K, stride=s, padding=p), reference)
            theirs = relative_error(F.conv_transpose2d(X, K, stride=s, padding=p), reference)
            rows.append([name, str(dtype).removeprefix("torch."), f"{ours:.2e}", f"{theirs:.2e}",
                         f"{ours / theirs:.2f}x"])
    table("3. Low precision: relative error ||Y - Y64|| / ||Y64||, Y64 = float64 result of the "
          "same rounded inputs (goal: ratio <= 2x)",
          ["layer", "dtype", "trans_conv", "F.conv_transpose2d", "ratio"], rows)


def peak_multiple(fn, device: torch.device, out_bytes: int) -> float:
    """Peak memory of one call of ``fn`` as a multiple of ``out_bytes`` (minimum of 2 calls)."""
    return min(peak_bytes(fn, device) for _ in range(2)) / out_bytes


def bench_memory(device: torch.device) -> None:
    rows, over = [], []
    for name, x_shape, k_shape, s, p, a in DECODER_LAYERS:
        X, K = layer_inputs(x_shape, k_shape, device)
        hyper = {"stride": s, "padding": p, "output_padding": a}
        fns = {"ours": lambda X=X, K=K, h=hyper: trans_conv(X, K, **h),
               "torch": lambda X=X, K=K, h=hyper: F.conv_transpose2d(X, K, **h)}
        out_bytes = fns["torch"]().numel() * X.element_size()
        row, peaks = [name, f"{out_bytes / 2**20:.2f}"], []
        for fn in fns.values():
            fn()  # warm-up: one-time allocations are not part of a call's cost
            peaks.append(peak_multiple(fn, device, out_bytes))
            row += [f"{peaks[-1] * out_bytes / 2**20:.2f}", f"{peaks[-1]:.2f}x"]
        rows.append(row)
        if peaks[0] > MEMORY_GOAL:
            over.append(f"{name}: {peaks[0]:.2f}x (F.conv_transpose2d {peaks[1]:.2f}x; K alone "
                        f"is {K.numel() * K.element_size() / out_bytes:.2f}x the output)")
    table("4. Peak memory of one call (MiB, and as a multiple of the output's size; goal <= 3x)",
          ["layer", "output", "trans_conv", "/ output", "F.conv_transpose2d", "/ output"], rows)
    how = ("torch.cuda.max_memory_allocated" if device.type == "cuda" else
           "torch.profiler(profile_memory=True): peak of the running sum of the CPU allocator's "
           "allocations and frees during the call, output included, inputs not; buffers oneDNN "
           "or MKL allocate for themselves are not seen")
    print(f"(measured with {how}; minimum of 2 calls)")
    print("Above the goal: " + ("; ".join(over) if over else "none") + ".")
    if over:
        print("Where K is large next to the output (DCGAN 128->64 on 16x16: 2x), the sub-pixel "
              "convolution copies K into its phase kernels at every call (and PyTorch's CPU "
              "convolution copies those into oneDNN's layout): 6.63x the output; in 2, 4 or 8 "
              "chunks of output channels 4.1x, 2.8x or 2.1x, at 1.7x, 2.3x or 3.5x "
              "F.conv_transpose2d's time (2 threads, AMD CPU). On Intel CPUs such a layer goes "
              "by columns (strategy fold), which reads K as it is but holds the product's "
              "columns (k*k / (s*s) = 4x the output) and the phases' grid (1.13x) until the "
              "output exists: 5.13x. Prototypes that hold less, as F.conv_transpose2d's time "
              "(2 threads, Intel Xeon; by columns as it is, inlined: 1.04-1.21x): 2, 3 or 4 chunks of "
              "output channels 1.50-1.61x, 1.68-1.70x, 1.88-1.91x (4.13x, 3.15x, 2.56x the "
              "output); 2, 3 or 4 bands of input rows added into one grid 1.48-1.59x, "
              "1.75-1.89x, 2.06-2.19x (3.13x, 2.63x, 2.13x); the four "
              "tap groups' products accumulated into the grid by addmm_ (no columns) 1.65-1.68x "
              "(3.16x); 2 chunks of output channels, each added by col2im straight into the "
              "output (what trans_conv does where one image's columns exceed 2 MiB) 1.47-1.61x "
              "(3.00x): col2im's scalar loop takes 0.23 ms, the phase grid's additions 0.09-0.15 ms. "
              "Also measured: each tap's product added by add_ into strided views of the "
              "output, no grid, in 2 chunks 1.64-1.84x (3.00x); the grid as the interleaved "
              "view of an uncropped output, 2 chunks 1.75-2.24x (additions with an inner stride "
              "of 2); one F.conv2d per phase on its 2 x 2 taps 1.8-2.1x; copied windows and one "
              "product per phase 1.16-1.19x, but about 3.9x by count. "
              "The extra strided additions and smaller products cost 15-35 us each, "
              "against PyTorch's 0.34-0.39 ms for the whole call. None stays within 3x without "
              "taking about 1.5x the time or more.")


MEMORY_GOAL = 3.0  # peak memory of one call, as a multiple of the output's size

MATRIX_SIZES = [8, 16, 32, 64, 128, 256]
DENSE_MAX_BYTES = 256 * 2**20  # skip dense matrices above this in the benchmark


def bench_matrix(device: torch.device, seconds: float) -> None:
    rows = []
    K = torch.randn(3, 3, device=device)
    for n in MATRIX_SIZES:
        X = torch.randn(n, n, device=device)
        x = X.reshape(-1)
        t0 = time.perf_counter()
        W_coo = kernel2matrix(K, (n, n), padding=1, sparse=True)
        build_sparse = time.perf_counter() - t0
        with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
            warnings.simplefilter("ignore", UserWarning)
            W_csr = W_coo.to_sparse_csr()
        dense_bytes = (n * n) ** 2 * 4
        fns = {"torch": lambda X=X: F.conv2d(X[None, None], K[None, None], padding=1),
               "coo": lambda W=W_coo, x=x: torch.mv(W, x),
               "csr": lambda W=W_csr, x=x: torch.mv(W, x)}
        if dense_bytes <= DENSE_MAX_BYTES:
            W_dense = kernel2matrix(K, (n, n), padding=1)
            fns["dense"] = lambda W=W_dense, x=x: torch.mv(W, x)
        t = interleaved(fns, device, seconds)

        def ratio(key: str, t=t) -> str:
            return f"{statistics.median(ratios(t[key], t['torch'])):.2f}x"

        dense = [ms(t["dense"]), ratio("dense")] if "dense" in t else ["skipped", "-"]
        rows.append([f"{n}x{n}", ms(t["torch"]), *dense, ms(t["coo"]), ratio("coo"),
                     ms(t["csr"]), ratio("csr"), f"{dense_bytes / 2**20:.1f}",
                     f"{W_coo._nnz() * (2 * 8 + 4) / 2**20:.2f}", f"{build_sparse * 1e3:.2f}"])
        del fns
    table("5. Convolution of one n x n image with a 3x3 kernel, padding 1, as W @ vec(X) "
          "(ms per call; ratio = time / F.conv2d's)",
          ["input", "F.conv2d", "dense W@x", "ratio", "COO W@x", "ratio", "CSR W@x", "ratio",
           "dense MiB", "COO MiB", "build ms"], rows)
    print(f"(dense W skipped above {DENSE_MAX_BYTES // 2**20} MiB; COO = kernel2matrix(..., "
          "sparse=True), CSR = its .to_sparse_csr(); build ms = kernel2matrix(..., sparse=True), "
          "not included in the products' times)")


# glibc's mallopt parameters, and the values --steady-malloc sets: blocks up to 32 MiB (glibc's
# largest allowed threshold) from the heap, which is never trimmed below 1 GiB of free memory
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
STEADY_MMAP_THRESHOLD, STEADY_TRIM_THRESHOLD = 32 << 20, 1 << 30


def steady_malloc() -> bool:
    """Pin glibc's malloc thresholds (no page faults from its history); False if not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, STEADY_MMAP_THRESHOLD)
                    and libc.mallopt(M_TRIM_THRESHOLD, STEADY_TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False


def describe_matmul(device: torch.device) -> str:
    if device.type != "cpu":
        return "torch.matmul"
    vendor = "an Intel CPU" if _gemm.mkl_is_fast() else "not an Intel CPU"
    if _gemm.use_onednn() and _gemm.onednn_available():
        return (f"oneDNN (torch.ops.mkldnn._linear_pointwise) for float32, torch.matmul otherwise "
                f"({vendor})")
    return f"torch.matmul (MKL on the CPU; {vendor})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2,
                        help="torch.set_num_threads for the whole run (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--quick", action="store_true",
                        help="about 4x shorter: fewer rounds, no memory or matrix sections")
    parser.add_argument("--matmul", choices=["auto", "onednn", "torch"], default="auto",
                        help="auto: torch.matmul (MKL) on Intel CPUs, oneDNN's matrix product on "
                             "other CPUs where available; onednn: oneDNN's wherever available; "
                             "torch: always torch.matmul (MKL on the CPU)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: wall-clock time (default); cpu: this process's CPU time, "
                             "steadier on a busy machine (needs --threads 1, CPU only)")
    parser.add_argument("--steady-malloc", action="store_true",
                        help="pin glibc's malloc thresholds so that no call pays page faults "
                             "for memory that an earlier call gave back (see the docstring)")
    args = parser.parse_args()
    malloc = "glibc's default"
    if args.steady_malloc:
        malloc = ("steady (glibc mallopt: thresholds pinned)" if steady_malloc()
                  else "default (--steady-malloc needs glibc)")
    if args.clock == "cpu":
        if args.threads != 1 or args.device != "cpu":
            parser.error("--clock cpu needs --threads 1 and --device cpu")
        _timing.CLOCK = time.process_time
    torch.set_num_threads(args.threads)
    _gemm.USE_ONEDNN = {"auto": None, "onednn": True, "torch": False}[args.matmul]
    device = torch.device(args.device)
    seconds = 0.5 if args.quick else 2.0  # per layer, both functions together
    start = time.perf_counter()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, Python {platform.python_version()}, {cpu}, "
          f"{os.cpu_count()} cores, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
          + f", torch.get_num_threads() = {torch.get_num_threads()}, clock: {args.clock}, "
          f"malloc: {malloc}")
    print(f"trans_conv's matrix product: {describe_matmul(device)}")
    if load:
        print(f"load average before: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min); above "
              f"{os.cpu_count()} the cores are shared and times are noisy")
    with torch.inference_mode():
        bench_decoder_layers(device, seconds)
        bench_pathological(device, seconds / 2, memory=not args.quick)
        bench_low_precision(device)
        if not args.quick:
            bench_memory(device)
            bench_matrix(device, seconds / 4)
    if load:
        print(f"\nload average after: {os.getloadavg()[0]:.2f} (1 min)")
    print(f"total benchmark time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
