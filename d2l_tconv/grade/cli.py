"""``python -m d2l_tconv.grade SUBMISSIONS_DIR --out OUT_DIR``: grade every notebook."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .grader import Context, SubmissionResult, grade_submission
from .notebook import find_submissions
from .report import MAX_AUTO, write_all
from .sandbox import Limits, find_sandbox, hidden_paths, make_stage, verify_sandbox


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m d2l_tconv.grade",
        description="Grade every .ipynb in SUBMISSIONS_DIR in a sandbox and write "
                    "OUT_DIR/gradebook.csv, per-student feedback, the free-text answers for "
                    "marking by hand and a report.")
    p.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    p.add_argument("--out", type=Path, required=True, metavar="OUT_DIR")
    p.add_argument("--jobs", type=_positive(int), default=min(2, os.cpu_count() or 1),
                   help="submissions graded at once (default: min(2, CPUs))")
    p.add_argument("--timeout", type=_positive(float), default=120.0,
                   help="wall-clock seconds per submission (default 120)")
    p.add_argument("--cell-timeout", type=_positive(float), default=30.0,
                   help="seconds per notebook cell (default 30)")
    p.add_argument("--part-timeout", type=_positive(float), default=10.0,
                   help="seconds per call of a student function on a hidden input (default 10)")
    p.add_argument("--memory-mb", type=_positive(int), default=3072,
                   help="memory limit per submission in MiB (default 3072)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the hidden inputs (default: a fresh secret one)")
    p.add_argument("--hide", type=Path, action="append", default=[], metavar="PATH",
                   help="another folder student code must not see (repeatable)")
    p.add_argument("--bwrap", default=None, help="path of bwrap (default: from PATH)")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="grade even without a sandbox (student code then runs unconfined; "
                        "the report says the scores cannot be trusted)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    submissions, out = args.submissions.resolve(), args.out.resolve()
    if not submissions.is_dir():
        print(f"SUBMISSIONS_DIR: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    if out == submissions:
        print("--out: OUT_DIR must differ from SUBMISSIONS_DIR", file=sys.stderr)
        return 2
    if args.cell_timeout > args.timeout:
        args.cell_timeout = args.timeout
    limits = Limits(args.timeout, args.cell_timeout, args.part_timeout, args.memory_mb)
    seed = args.seed if args.seed is not None else secrets.randbits(62)
    start = time.monotonic()
    private = Path(tempfile.mkdtemp(prefix="d2l-tconv-grade-"))
    try:
        out.mkdir(parents=True, exist_ok=True)  # before hidden_paths, which skips missing ones
        stage = make_stage(private / "stage")
        hidden = hidden_paths(submissions, out, private, args.hide)
        sandbox = verify_sandbox(find_sandbox(args.bwrap), stage, hidden)
        if sandbox.kind == "none" and not args.allow_unsandboxed:
            print(f"error: no sandbox: {sandbox.problem}.\nStudent code would run unconfined, "
                  "so the scores could not be trusted. Install bubblewrap, or pass "
                  "--allow-unsandboxed to grade anyway.", file=sys.stderr)
            return 2
        print(sandbox.description, flush=True)
        paths = find_submissions(submissions)
        context = Context(sandbox, stage, hidden, limits, seed, private / "runs")

        def grade(path: Path) -> SubmissionResult:
            result = grade_submission(path, context)
            print(f"graded {result.name}: {result.points:g} / {MAX_AUTO} ({result.ended}, "
                  f"{result.seconds:.1f} s)", flush=True)
            return result

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(grade, paths))
    finally:
        shutil.rmtree(private, ignore_errors=True)
    # Written only now, from this process, after every sandbox has finished.
    write_all(out, results, sandbox, limits, seed, time.monotonic() - start)
    print(f"wrote {out / 'gradebook.csv'} ({len(results)} submission(s)), feedback/, "
          "free_text_for_marking.md, report.md")
    if sandbox.kind == "none":
        print(sandbox.description, file=sys.stderr)
    return 0
