"""``python -m d2l_tconv_grader SUBMISSIONS_DIR --out OUT_DIR``: grade every notebook."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import instructor, isolation, lms, shards
from .cells import cell_label, name_cells
from .escape import csv_cell
from .grader import Context, SubmissionResult, grade_submission
from .notebook import find_submissions
from .report import MAX_AUTO, write_all
from .sandbox import Limits, Sandbox, find_sandbox, hidden_paths, make_stage, verify_sandbox


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m d2l_tconv_grader",
        description="Grade every .ipynb in SUBMISSIONS_DIR in a sandbox and write "
                    "OUT_DIR/gradebook.csv, per-student feedback, the free-text answers for "
                    "marking by hand and a report.",
        epilog="Exit status: 0 every submission graded; 1 graded, but the grader failed on "
               "some submission (its rows say 'not graded: internal error', the traceback "
               "is in report.md) or on the report; 2 usage error, nothing graded.")
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
    # Courses (issue 9): shards, LMS grade files (d2l_tconv_grader/shards.py, lms.py).
    p.add_argument("--shard", type=shards.parse_shard, default=None, metavar="I/N",
                   help="grade only shard I of N (0-based; by a stable hash of the file "
                        "name); needs --seed; merge the OUT_DIRs with 'merge'")
    lms.add_arguments(p)
    p.add_argument("--fallback-uid", type=_positive(int), default=None, metavar="BASE",
                   help="without bubblewrap, when run as root: run each submission as a fresh "
                        "unprivileged user id from BASE (Gradescope; weaker, see report.md)")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="grade even without a sandbox (student code then runs unconfined; "
                        "the report says the scores cannot be trusted)")
    return p


#: Exit codes: every submission graded; graded, but the grader failed on some submission (its
#: rows say ``not graded: internal error``) or on the report; usage error (nothing graded).
EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    """Grade a folder; returns :data:`EXIT_OK`, :data:`EXIT_FAILURES` or :data:`EXIT_USAGE`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("apply", "finalize"):  # the instructor's steps after grading
        return instructor.main(argv)
    if argv and argv[0] == "merge":
        return shards.main(argv[1:])
    if argv and argv[0] == "export-gradescope":
        from . import gradescope
        return gradescope.main(argv[1:])
    if argv and argv[0] == "export-nbgrader":
        from . import nbgrader_export
        return nbgrader_export.main(argv[1:])
    args = parser().parse_args(argv)
    submissions, out = args.submissions.resolve(), args.out.resolve()
    if not submissions.is_dir():
        print(f"SUBMISSIONS_DIR: {args.submissions} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    if out == submissions:
        print("--out: OUT_DIR must differ from SUBMISSIONS_DIR", file=sys.stderr)
        return EXIT_USAGE
    if args.shard is not None and args.seed is None:
        print("--shard: needs --seed (every shard must draw the same hidden inputs)",
              file=sys.stderr)
        return EXIT_USAGE
    roster = lms.read_roster_arg(args)
    if isinstance(roster, str):
        print(roster, file=sys.stderr)
        return EXIT_USAGE
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
        if sandbox.kind == "none" and args.fallback_uid is not None:
            problem = isolation.available()
            if problem:
                print(f"--fallback-uid: {problem}", file=sys.stderr)
                return EXIT_USAGE
            sandbox = Sandbox("uid", problem=sandbox.problem, uid_base=args.fallback_uid)
            isolation.use(private)
        if sandbox.kind == "none" and not args.allow_unsandboxed:
            print(f"error: no sandbox: {sandbox.problem}.\nStudent code would run unconfined, "
                  "so the scores could not be trusted. Install bubblewrap, or pass "
                  "--allow-unsandboxed to grade anyway.", file=sys.stderr)
            return EXIT_USAGE
        print(sandbox.description, flush=True)
        all_paths = find_submissions(submissions)
        paths = shards.select(all_paths, args.shard)
        context = Context(sandbox, stage, hidden, limits, seed, private / "runs")

        def grade(path: Path) -> SubmissionResult:
            result = grade_submission(path, context)
            cells = result.submission.code_cells
            ended = name_cells(result.ended, {str(i): cell_label(cells, i) for i, _ in cells
                                              if f"cell {i}" in result.ended})
            print(f"graded {result.name}: {result.points:g} / {MAX_AUTO} ({ended}, "
                  f"{result.seconds:.1f} s)", flush=True)
            return result

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(grade, paths))
    finally:
        shutil.rmtree(private, ignore_errors=True)
    # Written only now, from this process, after every sandbox has finished.
    try:
        write_all(out, results, sandbox, limits, seed, time.monotonic() - start)
    except Exception:  # noqa: BLE001 - never leave OUT empty: write what can be written
        write_fallback(out, results, traceback.format_exc())
        print(f"error: the report writer failed; wrote {out / 'gradebook.csv'} and "
              f"{out / 'report.md'} with the traceback", file=sys.stderr)
        return EXIT_FAILURES
    shards.write_manifest(out, shards.manifest(
        seed, dataclasses.asdict(limits), args.shard,
        [p.name for p in all_paths], [p.name for p in paths]))
    lms.write_for_args(args, out, roster)
    print(f"wrote {out / 'gradebook.csv'} ({len(results)} submission(s)), feedback/, "
          "free_text_for_marking.md, report.md")
    if sandbox.kind == "none":
        print(sandbox.description, file=sys.stderr)
    failed = [r.name for r in results if r.internal_error]
    if failed:
        print(f"graded, with failures: the grader failed on {len(failed)} submission(s) "
              f"({', '.join(failed[:10])}); see report.md", file=sys.stderr)
        return EXIT_FAILURES
    return EXIT_OK


def write_fallback(out: Path, results: list[SubmissionResult], trace: str) -> None:
    """A plain gradebook.csv and report.md, for when the full report cannot be written."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "gradebook.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["submission", "part", "points", "max_points", "status"])
        for result in results:
            for row in result.parts:
                writer.writerow([csv_cell(result.name), row.part, f"{row.points:g}",
                                 row.max_points, csv_cell(row.status)])
    fence = "~~~~"
    lines = ["# Grading report (fallback)", "",
             "The full report could not be written; gradebook.csv is complete. "
             "The grader's error:", "", fence, trace.replace(fence, "~ ~"), fence, ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
