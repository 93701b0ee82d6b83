"""Timing, memory and table helpers shared by the benchmark scripts.

Timing: each function is warmed up, then the functions are called in turn, round after round, in
an order that alternates every round (so that a slow spell of a busy machine, or running first,
hits all of them alike). Times are medians over rounds; a ratio is the median of the per-round
ratios, and its spread is the interquartile range of those ratios over their median.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch

NOISY = 0.25  # spread above which a row is flagged


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# time.perf_counter (wall clock, the default) or time.process_time (CPU time of this process:
# steadier on a busy machine, but meaningful only with one thread and on the CPU)
CLOCK = time.perf_counter


def interleaved(fns: dict[str, Callable[[], object]], device: torch.device,
                seconds: float) -> dict[str, list[float]]:
    """Seconds per call of each function, in interleaved rounds for about ``seconds`` in all."""
    for fn in fns.values():  # warm-up: caches, allocator, oneDNN/cuDNN kernel choice
        for _ in range(2):
            fn()
    sync(device)
    start = time.perf_counter()
    for fn in fns.values():
        fn()
    sync(device)
    per_round = time.perf_counter() - start
    rounds = max(7, min(200, int(seconds / max(per_round, 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns.items())
    for i in range(rounds):
        for name, fn in (order if i % 2 == 0 else order[::-1]):
            sync(device)
            t0 = CLOCK()
            fn()
            sync(device)
            times[name].append(CLOCK() - t0)
    return times


def ratios(samples: list[float], baseline: list[float]) -> list[float]:
    return [a / b for a, b in zip(samples, baseline, strict=True)]


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.3f}"


def spread(values: list[float]) -> float:
    """Interquartile range / median."""
    q1, median, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / median if median else 0.0


def spread_text(value: float) -> str:
    return f"{value * 100:.0f}%" + (" !" if value > NOISY else "")


def noise_note() -> str:
    return (f"(spread: interquartile range / median over the rounds; '!' marks rows above "
            f"{NOISY:.0%}: the machine was busy, rerun for firmer numbers)")


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print a table: first column left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    print(f"\n{title}\n{fmt(header)}\n{'-' * len(fmt(header))}")
    for r in rows:
        print(fmt(r))


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
    BLAS library allocates for itself (e.g. MKL's or oneDNN's packing) are not seen.
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


def aten_operations(fn: Callable[[], object]) -> int:
    """How many ATen operations (profiler events ``aten::...``, nested included) ``fn()`` runs."""
    from torch.profiler import ProfilerActivity, profile

    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return sum(1 for event in prof.events() if event.name.startswith("aten::"))
