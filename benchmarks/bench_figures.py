"""Benchmark and pixel check of the package's figures (``plot_trans_conv``, ``plot_kernel_matrix``).

Run with ``PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_figures.py [--out DIR] [--compare DIR]``.

Each case is drawn and saved to PNG as the notebook's inline backend does
(``fig.savefig(buffer, format="png", bbox_inches="tight")``): the book's figures, stride 2,
padding and output padding, step views, the explorer's settings from
``tests/ops/test_explorer.py`` and a kernel matrix, in English and Japanese. Printed per case:
the median CPU seconds (``time.process_time``: steadier than the wall clock on a shared machine)
of building the figure and of saving it. ``--out DIR`` writes each case's PNG there;
``--compare DIR`` decodes the PNGs written there by an earlier run (for example before a change)
and prints, per case, whether the bytes are equal, the largest absolute difference of any pixel
channel and the fraction of differing pixels. ``--profile`` prints cProfile's top functions for
the slowest case instead.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from d2l_tconv import figures  # noqa: E402
from d2l_tconv.explorer_view import Controls, explorer_view  # noqa: E402
from d2l_tconv.matrix import kernel2matrix  # noqa: E402

BOOK = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
K3 = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 1.0], [2.0, 0.0, 1.0]])
WIDE_X = torch.tensor([[1234.5, -0.125], [3.0, 100000.0]])
WIDE_K = torch.tensor([[1.5, -2.0], [0.25, 7.0]])
RANDOM_X = torch.randint(-20, 50, (6, 6), generator=torch.Generator().manual_seed(0)).double()
RANDOM_K = torch.randint(-2, 4, (5, 5), generator=torch.Generator().manual_seed(1)).double()
# the explorer's settings of tests/ops/test_explorer.py (SETTINGS), "all intermediate tensors"
EXPLORER = {
    "settings0": Controls(stride=2),
    "settings1": Controls(stride=2, padding=1, output_padding=1),
    "settings2": Controls(values="random", input_h=3, input_w=2, kernel_h=3, kernel_w=2,
                          stride=3, padding=1, output_padding=2),
    "settings3": Controls(values="ones", input_h=1, input_w=4, kernel_h=5, kernel_w=1, stride=4,
                          padding=2, output_padding=3),
    "settings4": Controls(values="random", input_h=6, input_w=6, kernel_h=5, kernel_w=5,
                          stride=4, padding=3),
}


def cases(lang: str) -> dict:
    """``name: function returning a Figure`` for one language."""
    found = {
        "book_stride1": lambda: figures.plot_trans_conv(BOOK, BOOK, stride=1, lang=lang),
        "book_stride2": lambda: figures.plot_trans_conv(BOOK, BOOK, stride=2, lang=lang),
        "padding": lambda: figures.plot_trans_conv(BOOK, K3, stride=2, lang=lang, padding=1,
                                                   output_padding=1),
        "step2_padding": lambda: figures.plot_trans_conv(BOOK, K3, stride=2, lang=lang,
                                                         padding=1, output_padding=1, step=2),
        # numbers wider than their cell (past the panel's edge), and cells so small that the
        # font size stops shrinking (5 pt)
        "wide_values": lambda: figures.plot_trans_conv(WIDE_X, WIDE_K, stride=1, lang=lang),
        "small_cells": lambda: figures.plot_trans_conv(
            RANDOM_X, RANDOM_K, stride=4, lang=lang, padding=1, step=36, max_width_inches=4.0),
        "kernel_matrix": lambda: figures.plot_kernel_matrix(
            kernel2matrix(BOOK, (3, 3)), lang=lang),
    }
    for name, controls in EXPLORER.items():
        found[f"explorer_{name}"] = (lambda c=controls: explorer_view(c, lang).figure())
    return found


def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def timed(fn, rounds: int) -> tuple[float, float, bytes]:
    """Median CPU seconds of drawing and of saving, and the PNG."""
    draw, save = [], []
    for _ in range(rounds):
        t0 = time.process_time()
        fig = fn()
        t1 = time.process_time()
        data = png(fig)
        t2 = time.process_time()
        draw.append(t1 - t0)
        save.append(t2 - t1)
    return statistics.median(draw), statistics.median(save), data


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"), dtype=np.int16)


def compare(data: bytes, reference: Path) -> str:
    if not reference.is_file():
        return "no reference"
    old = reference.read_bytes()
    if old == data:
        return "bytes equal"
    a, b = pixels(data), pixels(old)
    if a.shape != b.shape:
        return f"SIZE {b.shape[1]}x{b.shape[0]} -> {a.shape[1]}x{a.shape[0]}"
    diff = np.abs(a - b)
    return (f"max abs diff {int(diff.max())}, differing pixels "
            f"{(diff.max(axis=2) > 0).mean():.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write each case's PNG to this folder")
    parser.add_argument("--compare", type=Path, help="compare with the PNGs in this folder")
    parser.add_argument("--profile", action="store_true", help="cProfile explorer_settings4 (ja)")
    parser.add_argument("--lang", nargs="+", default=["en", "ja"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.profile:
        fn = cases("ja")["explorer_settings4"]
        png(fn())  # warm-up: fonts, caches
        profile = cProfile.Profile()
        profile.runcall(lambda: png(fn()))
        pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
        return
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    total = 0.0
    print(f"{'case':32} {'draw s':>8} {'save s':>8}  pixels")
    for lang in args.lang:
        for name, fn in cases(lang).items():
            png(fn())  # warm-up
            draw, save, data = timed(fn, args.rounds)
            total += draw + save
            key = f"{name}_{lang}.png"
            if args.out:
                (args.out / key).write_bytes(data)
            result = compare(data, args.compare / key) if args.compare else ""
            print(f"{name + ' ' + lang:32} {draw:8.3f} {save:8.3f}  {result}", flush=True)
    print(f"{'total (median CPU s per case)':32} {total:8.3f}")


if __name__ == "__main__":
    main()
