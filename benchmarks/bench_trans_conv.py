"""Benchmark: d2l_tconv's transposed convolution and matrix form against PyTorch's operators.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_trans_conv.py [--threads N]``.

Three tables, all float32:

1. ``trans_conv`` against ``F.conv_transpose2d`` (and the book's ``trans_conv_loop`` on small
   2-D inputs) over growing sizes; the "medium" row is the case the README's target refers to.
2. The convolution of one image as a dense and as a sparse matrix-vector product with
   ``kernel2matrix``'s ``W``, against ``F.conv2d``.
3. Peak memory of the medium case, as a multiple of the output's size.

Timing: ``torch.set_num_threads`` is fixed for the whole run; each function is warmed up, then the
functions of one row are called in turn, round after round (so that a slow spell of a busy
machine hits all of them alike). Times are medians over rounds; a ratio is the median of the
per-round ratios. Nothing here asserts: the numbers are for reading.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too
from d2l_tconv import kernel2matrix, trans_conv, trans_conv_loop  # noqa: E402

TIME_PER_FUNCTION_S = 1.0  # measuring time per function and row, after warm-up


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compare(fns: dict[str, Callable[[], object]], device: torch.device) -> dict[str, list[float]]:
    """Seconds per call of each function, measured in interleaved rounds after a warm-up."""
    for fn in fns.values():  # warm-up: caches, allocator, oneDNN/cuDNN kernel choice
        for _ in range(2):
            fn()
    sync(device)
    start = time.perf_counter()
    for fn in fns.values():
        fn()
    sync(device)
    per_round = time.perf_counter() - start
    rounds = max(5, min(150, int(TIME_PER_FUNCTION_S * len(fns) / max(per_round, 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:9.3f}"


def ratio(samples: list[float], baseline: list[float]) -> str:
    return f"{statistics.median(a / b for a, b in zip(samples, baseline, strict=True)):7.2f}x"


NOISY = 0.25  # spread above which a row is flagged


def spread(*samples: list[float]) -> str:
    """The largest interquartile range / median among ``samples``; ``!`` marks a noisy row."""
    worst = 0.0
    for s in samples:
        q1, _, q3 = statistics.quantiles(s, n=4)
        worst = max(worst, (q3 - q1) / statistics.median(s))
    return f"{worst * 100:.0f}%" + (" !" if worst > NOISY else "")


def noise_note() -> str:
    return (f"(spread: interquartile range / median of the row's times, worst function; '!' marks "
            f"rows above {NOISY:.0%}: the machine was busy, rerun for firmer numbers)")


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print a table: first column left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    print(f"\n{title}\n{fmt(header)}\n{'-' * len(fmt(header))}")
    for r in rows:
        print(fmt(r))


# --- 1. trans_conv ------------------------------------------------------------------------------

TRANS_CONV_CASES = [
    # name, X shape, K shape, stride, padding
    ("2-D 8x8 k2", (8, 8), (2, 2), 1, 0),
    ("2-D 32x32 k3", (32, 32), (3, 3), 1, 0),
    ("2-D 64x64 k4 s2 p1", (64, 64), (4, 4), 2, 1),
    ("small  1x8->8 16x16 k3 p1", (1, 8, 16, 16), (8, 8, 3, 3), 1, 1),
    ("medium 8x64->32 32x32 k4 s2 p1", (8, 64, 32, 32), (64, 32, 4, 4), 2, 1),
    ("large  8x128->64 64x64 k4 s2 p1", (8, 128, 64, 64), (128, 64, 4, 4), 2, 1),
    ("k5 s1 p2 8x32->32 32x32", (8, 32, 32, 32), (32, 32, 5, 5), 1, 2),
]
LOOP_MAX_PIXELS = 64 * 64  # the book's loop only on small 2-D inputs


def bench_trans_conv(device: torch.device) -> None:
    rows = []
    for name, x_shape, k_shape, s, p in TRANS_CONV_CASES:
        X = torch.randn(x_shape, device=device)
        K = torch.randn(k_shape, device=device)
        X4, K4 = (X[None, None], K[None, None]) if X.ndim == 2 else (X, K)
        fns = {
            "torch": lambda X4=X4, K4=K4, s=s, p=p: F.conv_transpose2d(X4, K4, stride=s, padding=p),
            "ours": lambda X=X, K=K, s=s, p=p: trans_conv(X, K, stride=s, padding=p),
        }
        with_loop = X.ndim == 2 and s == 1 and p == 0 and X.numel() <= LOOP_MAX_PIXELS
        if with_loop:
            fns["loop"] = lambda X=X, K=K: trans_conv_loop(X, K)
        t = compare(fns, device)
        loop = [ms(t["loop"]), ratio(t["loop"], t["torch"])] if with_loop else ["-", "-"]
        rows.append([name, ms(t["ours"]), ms(t["torch"]), ratio(t["ours"], t["torch"]), *loop,
                     spread(t["ours"], t["torch"])])
    table("1. Transposed convolution (ms per call; ratio = time / F.conv_transpose2d's)",
          ["case", "trans_conv", "F.conv_transpose2d", "ratio", "trans_conv_loop", "loop ratio",
           "spread"], rows)
    print(noise_note())


# --- 2. the convolution as a matrix product -----------------------------------------------------

MATRIX_SIZES = [8, 16, 32, 64, 128, 256]
DENSE_MAX_BYTES = 256 * 2**20  # skip dense matrices above this in the benchmark


def bench_matrix(device: torch.device) -> None:
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
        t = compare(fns, device)
        dense = ([ms(t["dense"]), ratio(t["dense"], t["torch"])] if "dense" in t
                 else ["skipped", "-"])
        rows.append([f"{n}x{n}", ms(t["torch"]), *dense, ms(t["coo"]), ratio(t["coo"], t["torch"]),
                     ms(t["csr"]), ratio(t["csr"], t["torch"]), f"{dense_bytes / 2**20:.1f}",
                     f"{W_coo._nnz() * (2 * 8 + 4) / 2**20:.2f}", f"{build_sparse * 1e3:.2f}",
                     spread(*t.values())])
        del fns
    table("2. Convolution of one n x n image with a 3x3 kernel, padding 1, as W @ vec(X) "
          "(ms per call; ratio = time / F.conv2d's)",
          ["input", "F.conv2d", "dense W@x", "ratio", "COO W@x", "ratio", "CSR W@x", "ratio",
           "dense MiB", "COO MiB", "build ms", "spread"], rows)
    print(f"(dense W skipped above {DENSE_MAX_BYTES // 2**20} MiB; COO = kernel2matrix(..., "
          "sparse=True), CSR = its .to_sparse_csr(); build ms = kernel2matrix(..., sparse=True), "
          "not included in the products' times)")
    print(noise_note())


# --- 3. peak memory -----------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_stderr():
    """Silence the profiler's C++ log lines (written straight to file descriptor 2)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_bytes(fn: Callable[[], torch.Tensor], device: torch.device) -> int:
    """Peak of the bytes held by allocations made while ``fn`` runs (its output included).

    CUDA: ``torch.cuda.max_memory_allocated`` minus what was allocated before. CPU:
    ``torch.profiler`` with ``profile_memory=True`` records every allocation and free of
    PyTorch's CPU allocator; the running sum of those, in time order, peaks here. Buffers that a
    BLAS library allocates for itself (e.g. MKL's packing) are not seen.
    """
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        out = fn()
        sync(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        del out
        return peak
    from torch.profiler import ProfilerActivity, profile

    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
        del out
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = peak = 0
    for _, n_bytes in events:
        live += n_bytes
        peak = max(peak, live)
    return peak


def bench_memory(device: torch.device) -> None:
    rows = []
    for name, x_shape, k_shape, s, p in TRANS_CONV_CASES:
        if len(x_shape) != 4:
            continue
        X = torch.randn(x_shape, device=device)
        K = torch.randn(k_shape, device=device)
        fns = {"ours": lambda X=X, K=K, s=s, p=p: trans_conv(X, K, stride=s, padding=p),
               "torch": lambda X=X, K=K, s=s, p=p: F.conv_transpose2d(X, K, stride=s, padding=p)}
        out_bytes = fns["torch"]().numel() * X.element_size()
        row = [name, f"{out_bytes / 2**20:.2f}"]
        for fn in fns.values():
            fn()  # warm-up: one-time allocations are not part of a call's cost
            peak = min(peak_bytes(fn, device) for _ in range(3))
            row += [f"{peak / 2**20:.2f}", f"{peak / out_bytes:.2f}x"]
        rows.append(row)
    table("3. Peak memory of one call (MiB, and as a multiple of the output's size)",
          ["case", "output", "trans_conv", "/ output", "F.conv_transpose2d", "/ output"], rows)
    how = ("torch.cuda.max_memory_allocated" if device.type == "cuda" else
           "torch.profiler(profile_memory=True): peak of the running sum of the CPU allocator's "
           "allocations and frees during the call, output included, inputs not")
    print(f"(measured with {how}; minimum of 3 calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=min(os.cpu_count() or 1, 8),
                        help="torch.set_num_threads for the whole run (default: cores, at most 8)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    start = time.perf_counter()
    print(f"torch {torch.__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"device {device}, torch.get_num_threads() = {torch.get_num_threads()}, float32")
    with torch.inference_mode():
        bench_trans_conv(device)
        bench_matrix(device)
    bench_memory(device)
    print(f"\ntotal benchmark time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
