"""Benchmark: the section notebook's import cell, broken down with ``python -X importtime``.

Run with ``.venv/bin/python benchmarks/bench_import.py [--runs N]`` (``make bench`` runs it too).

The cell is ``import torch; from torch import nn; from d2l import torch as d2l; import d2l_tconv``.
Each run is a fresh interpreter (a cold start, as a new notebook kernel is), so the times include
reading files that the operating system may or may not have cached: the first run is often the
slowest. Printed per run: the cumulative time of each top-level import, the largest imports that
``d2l.torch`` makes itself (beyond what torch already loaded), and ``import d2l_tconv`` on its own
after torch (what this project adds to the cell).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL = "import torch\nfrom torch import nn\nfrom d2l import torch as d2l\nimport d2l_tconv\n"
OURS = "import torch\nimport d2l_tconv\n"


def import_times(code: str) -> list[tuple[int, str, float]]:
    """``(depth, module, cumulative seconds)`` for every import ``code`` makes, in import order."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                            text=True, env=env, check=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append((depth, name.strip(), int(cumulative) / 1e6))
    return rows


def children(rows: list[tuple[int, str, float]], parent: str) -> list[tuple[str, float]]:
    """The direct imports of top-level module ``parent`` (importtime lists them just before it)."""
    index = next(i for i, (d, name, _) in enumerate(rows) if d == 0 and name == parent)
    found = []
    for depth, name, seconds in reversed(rows[:index]):
        if depth == 0:
            break
        if depth == 1:
            found.append((name, seconds))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="fresh interpreters to time (2)")
    args = parser.parse_args()
    print("Import cell of the section notebooks (seconds, cumulative per import, cold process):")
    for run in range(1, args.runs + 1):
        rows = import_times(CELL)
        top = [(name, s) for d, name, s in rows if d == 0]
        print(f"\nrun {run}: whole cell {sum(s for _, s in top):.2f} s")
        seconds_of = dict(top)
        for name in ("torch", "d2l.torch", "d2l_tconv"):
            print(f"  {name:24s} {seconds_of.get(name, 0.0):6.2f}")
        others = sum(seconds_of.values()) - sum(seconds_of.get(n, 0.0)
                                                for n in ("torch", "d2l.torch", "d2l_tconv"))
        print(f"  {'(interpreter start-up)':24s} {others:6.2f}")
        print("  of which d2l.torch imports (beyond torch):")
        for name, seconds in sorted(children(rows, "d2l.torch"), key=lambda t: -t[1])[:7]:
            print(f"    {name:22s} {seconds:6.2f}")
        ours = dict((name, s) for d, name, s in import_times(OURS) if d == 0)
        print(f"  import d2l_tconv alone, after torch: {ours['d2l_tconv']:.3f} s "
              f"(matplotlib and the figures load on first use)")


if __name__ == "__main__":
    main()
