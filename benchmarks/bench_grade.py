"""Grader throughput: submissions per minute on N copies of the correct fixture notebook.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_grade.py --copies 20 --jobs 2

Prints the wall-clock time of one ``python -m d2l_tconv.grade`` run over N copies of
``tests/fixtures/submissions/correct_en.fixture`` and the submissions graded per minute, and
checks that every copy got full marks (a fast but wrong grader is no benchmark). The machine
this runs on is usually shared: run the figures you compare back to back.
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
FIXTURE = ROOT / "tests" / "fixtures" / "submissions" / "correct_en.fixture"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=20, help="notebooks to grade (default 20)")
    p.add_argument("--jobs", type=int, default=2, help="grader --jobs (default 2)")
    p.add_argument("--root", type=Path, default=ROOT,
                   help="checkout whose grader to run (default: this one)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        subs, out = Path(tmp) / "subs", Path(tmp) / "out"
        subs.mkdir()
        for n in range(args.copies):
            shutil.copyfile(FIXTURE, subs / f"student{n:03d}.ipynb")
        env = {**os.environ, "PYTHONPATH": str(args.root.resolve())}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "d2l_tconv.grade", str(subs), "--out",
                               str(out), "--jobs", str(args.jobs), "--seed", "1"],
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
    full = sum(1 for t in totals.values() if t == 18)
    print(f"grader at {args.root}: {args.copies} copies, --jobs {args.jobs}: "
          f"{seconds:.1f} s, {60 * args.copies / seconds:.1f} submissions/min "
          f"({full}/{args.copies} at 18/18)")
    return 0 if full == args.copies else 1


if __name__ == "__main__":
    sys.exit(main())
