"""The instructor's steps after grading, on an OUT_DIR of a grading run.

    python -m d2l_tconv_grader apply OUT_DIR      # apply decisions.csv, re-render every file
    python -m d2l_tconv_grader finalize OUT_DIR   # automatic + free-text marks -> final_grades.csv

``apply`` re-renders the gradebook, the feedback and the report from the stored records
(``details/``) with the decisions in ``decisions.csv``, without running any notebook again,
and the LMS grade file with its section of the report where the grading run asked for one
(``--roster``/``--lms``, :func:`.lms.refresh`), with the automatic totals. ``finalize``
refuses, listing every problem, while a free-text mark is missing, not a number or out of
range, or a submission still awaits its review decision; otherwise it re-renders the same
files as ``apply`` (so that they agree with ``final_grades.csv``), writes
``final_grades.csv``, and makes the LMS file carry its final totals, out of ``max_total``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from d2l_tconv.exercise_checks import FREE_TEXT

from . import lms
from .escape import csv_cell
from .report import MAX_AUTO, apply_decision, load, needs_review, points, read_decisions, render
from .rubric import max_points

FINAL_COLUMNS = ["submission", "auto_points", *(f"free_text_{q.id}" for q in FREE_TEXT),
                 "total", "max_total"]


def read_marks(path: Path, names: set[str]) -> tuple[dict[tuple[str, str], float], list[str]]:
    """``(submission, question) -> points`` from the marking sheet, and every problem found
    (unmarked, not a number, out of range, unknown, duplicated, missing)."""
    if not path.exists():
        return {}, [f"{path} does not exist: grade first, then fill it in"]
    marks: dict[tuple[str, str], float] = {}
    seen: set[tuple[str, str]] = set()
    problems: list[str] = []
    questions = {q.id for q in FREE_TEXT}
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        if reader.fieldnames is None or not {"submission", "question", "points"} <= set(
                reader.fieldnames):
            return {}, [f"{path}: expected the columns submission, question, points"]
        for number, row in enumerate(reader, start=2):
            name = (row["submission"] or "").strip().removeprefix("'")
            question = (row["question"] or "").strip()
            where = f"{path.name}, line {number} ({name}, question {question})"
            if name not in names or question not in questions:
                problems.append(f"{where}: no such submission or question")
                continue
            if (name, question) in seen:
                problems.append(f"{where}: marked twice")
            seen.add((name, question))
            text = (row["points"] or "").strip()
            if not text:
                problems.append(f"{where}: not marked yet")
                continue
            try:
                value = float(text)
            except ValueError:
                problems.append(f"{where}: points must be a number, got {text!r}")
                continue
            if not 0 <= value <= max_points(question):
                problems.append(f"{where}: points must be between 0 and "
                                f"{max_points(question)}, got {text}")
                continue
            marks[(name, question)] = value
    problems += [f"{path.name}: no row for {name}, question {q}" for name in sorted(names)
                 for q in sorted(questions) if (name, q) not in seen]
    return marks, problems


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def finalize(out: Path) -> int:
    records, run = load(out)
    names = {r["submission"] for r in records}
    decisions = read_decisions(out / "decisions.csv", names)
    decided = [apply_decision(r, decisions.get(r["submission"])) for r in records]
    marks, problems = read_marks(out / "free_text_marks.csv", names)
    problems += [f"{r['submission']}: awaits a review decision in decisions.csv"
                 for r in decided if needs_review(r)]
    if problems:
        print(f"finalize: refused, {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"- {problem}", file=sys.stderr)
        return 1
    records = render(out, records, run)
    free_max = sum(max_points(q.id) for q in FREE_TEXT)
    totals: dict[str, float] = {}
    path = out / "final_grades.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(FINAL_COLUMNS)
        for rec in records:
            name = rec["submission"]
            automatic = points(rec)
            free = [marks[(name, q.id)] for q in FREE_TEXT]
            totals[name] = automatic + sum(free)
            writer.writerow([csv_cell(name), _number(automatic), *map(_number, free),
                             _number(totals[name]), MAX_AUTO + free_max])
    print(f"wrote {path} ({len(records)} submission(s))")
    lms.refresh(out, final=totals, maximum=MAX_AUTO + free_max)
    return 0


def _render(out: Path, records: list[dict], run: dict) -> list[dict]:
    """Every file of ``out`` re-rendered with ``decisions.csv``, the LMS file included."""
    records = render(out, records, run)
    lms.refresh(out)
    return records


def apply(out: Path) -> int:
    records, run = load(out)
    pending = sum(needs_review(r) for r in _render(out, records, run))
    print(f"applied {out / 'decisions.csv'}; rewrote gradebook.csv, grades_wide.csv, "
          f"feedback/, report.md ({pending} submission(s) still awaiting review)")
    return 0


def main(argv: list[str]) -> int:
    """``apply OUT_DIR`` or ``finalize OUT_DIR``: 0 done, 1 refused, 2 usage error."""
    p = argparse.ArgumentParser(prog="python -m d2l_tconv_grader",
                                description="The instructor's steps after grading.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_text in (("apply", "apply OUT_DIR/decisions.csv and re-render every file"),
                            ("finalize", "write OUT_DIR/final_grades.csv from the automatic "
                                         "points and OUT_DIR/free_text_marks.csv")):
        sub.add_parser(name, help=help_text).add_argument("out", type=Path, metavar="OUT_DIR")
    args = p.parse_args(argv)
    try:
        return apply(args.out) if args.command == "apply" else finalize(args.out)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
