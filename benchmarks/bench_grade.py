"""Grader throughput: submissions per minute on N copies of the correct fixture notebook,
or on a mix of correct, wrong and hanging notebooks.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_grade.py --copies 20 --jobs 2
    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_grade.py --mix --copies 10 --jobs 2
    make bench-grade      # both

Prints the wall-clock time of one ``python -m d2l_tconv_grader`` run over N copies of
``tests/fixtures/submissions/correct_en.fixture`` and the submissions graded per minute, and
checks that every copy got full marks (a fast but wrong grader is no benchmark). With
``--mix``, the N notebooks are, in turn, 3 correct, 1 wrong (``partly_wrong_ja``) and 1
hanging (``infinite_loop``: an extra cell that never ends, stopped at the per-cell limit, the
rest correct); it checks that the correct and hanging ones get 18/18 and the wrong ones less. Each submission still runs in its own fresh sandboxed process.
The machine this runs on is usually shared: run the figures you compare back to back.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "submissions"
FIXTURE = FIXTURES / "correct_en.fixture"
#: --mix: the kinds, in turn (3 correct, 1 wrong, 1 hanging of every 5).
MIX = ["correct_en", "correct_en", "correct_en", "partly_wrong_ja", "infinite_loop"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=20, help="notebooks to grade (default 20)")
    p.add_argument("--jobs", type=int, default=2, help="grader --jobs (default 2)")
    p.add_argument("--mix", action="store_true",
                   help="grade a mix of correct, wrong and hanging notebooks")
    p.add_argument("--cell-timeout", type=float, default=30.0,
                   help="grader --cell-timeout, what a hanging cell costs (default 30)")
    p.add_argument("--root", type=Path, default=ROOT,
                   help="checkout whose grader to run (default: this one)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        subs, out = Path(tmp) / "subs", Path(tmp) / "out"
        subs.mkdir()
        kinds = {}
        for n in range(args.copies):
            kind = MIX[n % len(MIX)] if args.mix else "correct_en"
            kinds[f"student{n:03d}"] = kind
            shutil.copyfile(FIXTURES / f"{kind}.fixture", subs / f"student{n:03d}.ipynb")
        env = {**os.environ, "PYTHONPATH": str(args.root.resolve())}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "d2l_tconv_grader", str(subs), "--out",
                               str(out), "--jobs", str(args.jobs), "--seed", "1",
                               "--cell-timeout", str(args.cell_timeout)],
                              env=env, cwd=tmp, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
            return 1
        with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        totals: dict[str, float] = {}
        for row in rows:
            totals[row["submission"]] = totals.get(row["submission"], 0) + float(row["points"])
    correct = [name for name, kind in kinds.items() if kind != "partly_wrong_ja"]
    full = sum(1 for name in correct if totals.get(name) == 18)
    others_below = all(totals.get(name, 0) < 18 for name in kinds if name not in correct)
    counts = {kind: list(kinds.values()).count(kind) for kind in set(MIX)}
    what = (f"a mix of {counts['correct_en']} correct, {counts['partly_wrong_ja']} wrong and "
            f"{counts['infinite_loop']} hanging (correct apart from the hanging cell)"
            if args.mix else f"{args.copies} copies")
    print(f"grader at {args.root}: {what}, --jobs {args.jobs}, --cell-timeout "
          f"{args.cell_timeout:g}: {seconds:.1f} s, {60 * args.copies / seconds:.1f} "
          f"submissions/min ({full}/{len(correct)} correct{' or hanging' if args.mix else ''} at 18/18"
          + ("" if not args.mix else f"; the others below 18: {others_below}") + ")")
    return 0 if full == len(correct) and others_below else 1


if __name__ == "__main__":
    sys.exit(main())
