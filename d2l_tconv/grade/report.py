"""The files a grading run writes into ``OUT_DIR`` (only after every sandbox has finished).

* ``gradebook.csv``: ``submission,part,points,max_points,status``, one row per automatically
  graded part of each submission;
* ``feedback/<submission>.md``: per-part points and messages, cells that failed, flags;
* ``free_text_for_marking.md``: per question, the rubric, then every student's answer;
* ``report.md``: sandbox, limits, seed, totals, flagged submissions, failures;
* ``details/<submission>.json``: the same facts, machine-readable.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..exercise_checks import FREE_TEXT, PARTS
from .grader import SubmissionResult
from .rubric import RUBRIC, max_points
from .sandbox import Limits, Sandbox
from .scan import flag_codes

COLUMNS = ["submission", "part", "points", "max_points", "status"]
MAX_AUTO = sum(p.points for p in PARTS)

_TEXT = {
    "en": {
        "title": "Feedback", "auto": "Automatically graded", "points": "points",
        "free": "Your free-text answers are marked by hand.", "part": "part",
        "status": "status", "details": "Details", "cells": "Cells that did not run cleanly (numbered from 1, markdown cells included)",
        "flags": "Flags",
        "flagged": "This notebook was flagged for code that tries to get around the grading; "
                   "it gets no credit for the automatically graded parts. Your instructor "
                   "reviews flagged notebooks.",
        "ended": "Run",
    },
    "ja": {
        "title": "フィードバック", "auto": "自動採点", "points": "点",
        "free": "記述式の答えは教員が手で採点します。", "part": "小問",
        "status": "状態", "details": "詳細", "cells": "正常に実行できなかったセル（番号はマークダウンのセルも含めて 1 から数えたもの）",
        "flags": "不正の印",
        "flagged": "このノートブックには採点を回避しようとするコードがあったため、不正の印が付き、"
                   "自動採点の小問は 0 点になりました。印の付いたノートブックは教員が確認します。",
        "ended": "実行",
    },
}


def _number(points: float) -> str:
    return str(int(points)) if float(points).is_integer() else f"{points:.2f}"


def write_gradebook(out: Path, results: list[SubmissionResult]) -> Path:
    path = out / "gradebook.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(COLUMNS)
        for result in results:
            for row in result.parts:
                writer.writerow([result.name, row.part, _number(row.points), row.max_points,
                                 row.status])
    return path


def feedback_markdown(result: SubmissionResult) -> str:
    text = _TEXT[result.submission.lang]
    stop = "。" if result.submission.lang == "ja" else "."
    lines = [f"# {text['title']}: {result.name}", "",
             f"**{text['auto']}: {_number(result.points)} / {MAX_AUTO} {text['points']}{stop}** "
             f"{text['free']}", "",
             f"| {text['part']} | {text['points']} | {text['status']} |", "|---|---|---|"]
    for row in result.parts:
        lines.append(f"| {row.part} | {_number(row.points)} / {row.max_points} | {row.status} |")
    lines += ["", f"## {text['details']}", ""]
    for row in result.parts:
        first, *more = row.message.splitlines() or [""]
        lines += [f"**{row.part}**: {first}", *(f"- {line}" for line in more), ""]
    failed = {i: c for i, c in sorted(result.cells.items()) if c["status"] != "ok"}
    if failed:
        lines += [f"## {text['cells']}", ""]
        for index, cell in failed.items():
            lines.append(f"- cell {index}: {cell['status']}"
                         + (f" — `{cell['error']}`" if cell["error"] else ""))
        lines.append("")
    lines += [f"{text['ended']}: {result.ended}{stop}", ""]
    if result.flags:
        lines += [f"## {text['flags']}", "", text["flagged"], ""]
        lines += [f"- {flag}" for flag in result.flags]
        lines.append("")
    return "\n".join(lines)


def free_text_markdown(results: list[SubmissionResult]) -> str:
    lines = ["# Free-text answers for marking / 記述式解答（手採点用）", "",
             "INSTRUCTOR MATERIAL. Mark each answer with the rubric; the automatic points are in "
             "gradebook.csv.", ""]
    for question in FREE_TEXT:
        lines += [f"## Question {question.id}: {question.title['en']} / {question.title['ja']}"
                  f" ({max_points(question.id)} points)", "", "### Rubric", ""]
        for points, en, ja in RUBRIC[question.id]:
            lines += [f"- [ ] **{points}** — {en} / {ja}"]
        lines.append("")
        for result in results:
            answer = result.submission.answers.get(question.id)
            lines += [f"### {result.name}  (score: ___ / {max_points(question.id)})", ""]
            if result.submission.problem:
                lines.append(f"_(not readable: {result.submission.problem})_")
            elif answer is None:
                lines.append("_(no answer cell found: check the notebook by hand)_")
            elif not answer.strip() or answer.strip().startswith(("_Write your answer here",
                                                                   "_ここに答えを書いて")):
                lines.append("_(no answer)_")
            else:
                lines += ["> " + line if line.strip() else ">" for line in answer.splitlines()]
            lines.append("")
    return "\n".join(lines)


def report_markdown(results: list[SubmissionResult], sandbox: Sandbox, limits: Limits,
                    seed: int, seconds: float) -> str:
    lines = ["# Grading report", "", f"- {sandbox.description}",
             f"- limits per submission: {limits.timeout:g} s in all, {limits.cell_timeout:g} s "
             f"per cell, {limits.part_timeout:g} s per hidden call, {limits.memory_mb} MiB "
             "of memory",
             f"- hidden inputs drawn from seed {seed}",
             f"- {len(results)} submission(s) graded in {seconds:.1f} s", "",
             "| submission | points | ended | flags |", "|---|---|---|---|"]
    for result in results:
        codes = ", ".join(flag_codes(result.flags)) or "-"
        lines.append(f"| {result.name} | {_number(result.points)} / {MAX_AUTO} | "
                     f"{result.ended} | {codes} |")
    flagged = [r for r in results if r.flags]
    lines += ["", "## Flagged submissions", ""]
    if not flagged:
        lines.append("None.")
    for result in flagged:
        raw = sum(p.points_without_flags for p in result.parts)
        lines.append(f"- **{result.name}**: {', '.join(flag_codes(result.flags))} "
                     f"(would have scored {_number(raw)} / {MAX_AUTO} without the flags)")
        lines += [f"  - {flag}" for flag in result.flags]
    problems = [r for r in results if r.submission.problem or r.ended != "completed"
                or any(c["status"] != "ok" for c in r.cells.values())]
    lines += ["", "## Failures and limits", ""]
    if not problems:
        lines.append("None.")
    for result in problems:
        failed = [f"cell {i} {c['status']}" for i, c in sorted(result.cells.items())
                  if c["status"] != "ok"]
        lines.append(f"- **{result.name}**: {result.ended}"
                     + (f"; {', '.join(failed)}" if failed else ""))
    lines.append("")
    return "\n".join(lines)


def details(result: SubmissionResult) -> dict:
    return {
        "submission": result.name,
        "file": result.submission.path.name,
        "lang": result.submission.lang,
        "problem": result.submission.problem,
        "ended": result.ended,
        "seconds": round(result.seconds, 2),
        "malformed_lines": result.malformed_lines,
        "flags": [{"code": f.code, "cell": f.cell, "detail": f.detail} for f in result.flags],
        "cells": {str(i): c for i, c in sorted(result.cells.items())},
        "parts": [{"part": p.part, "points": p.points, "max_points": p.max_points,
                   "status": p.status, "message": p.message,
                   "points_without_flags": p.points_without_flags} for p in result.parts],
        "answers": result.submission.answers,
    }


def write_all(out: Path, results: list[SubmissionResult], sandbox: Sandbox, limits: Limits,
              seed: int, seconds: float) -> None:
    """Write every output file of a grading run into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(exist_ok=True)
    (out / "details").mkdir(exist_ok=True)
    write_gradebook(out, results)
    for result in results:
        (out / "feedback" / f"{result.name}.md").write_text(feedback_markdown(result),
                                                            encoding="utf-8")
        (out / "details" / f"{result.name}.json").write_text(
            json.dumps(details(result), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "free_text_for_marking.md").write_text(free_text_markdown(results), encoding="utf-8")
    (out / "report.md").write_text(report_markdown(results, sandbox, limits, seed, seconds),
                                   encoding="utf-8")
