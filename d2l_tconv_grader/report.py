"""The files a grading run writes into ``OUT_DIR`` (only after every sandbox has finished).

Every submission is first turned into one plain *record* (:func:`record`), stored as
``details/<submission>.json``; every other file is rendered from the records, so that
``python -m d2l_tconv_grader apply OUT_DIR`` can apply the instructor's review decisions later
and re-render them all, and the gradebook, feedback and report always agree.

* ``gradebook.csv``: ``submission,part,points,max_points,status``, one row per part;
* ``grades_wide.csv``: one row per submission: each part, the automatic total, needs_review;
* ``feedback/<submission>.md``: for the student, in the notebook's language: what to fix first
  (root causes), then points and messages per part;
* ``free_text_for_marking.md``: per question, the rubric, then every student's answer;
* ``free_text_marks.csv``: the marking sheet for those answers (never overwritten);
* ``decisions.csv``: the review decisions (``submission,decision,note``; never overwritten);
* ``report.md`` and ``score_histogram.png``: the class view and everything to review;
* ``details/<submission>.json``: the records.

Everything a submission controls goes through :mod:`.escape` on its way into a file.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import sys
from pathlib import Path

from d2l_tconv.exercise_checks import FREE_TEXT, PARTS
from d2l_tconv.project import colab_setup_source

from .cells import cell_label, name_cells, skip_shell_lines
from .escape import csv_cell, md_block, md_inline
from .grader import SubmissionResult
from .rubric import RUBRIC, max_points
from .sandbox import Limits, Sandbox
from .texts import local

COLUMNS = ["submission", "part", "points", "max_points", "status"]
MAX_AUTO = sum(p.points for p in PARTS)
DECISIONS = ("accept", "zero")
DECISION_COLUMNS = ["submission", "decision", "note"]
MARK_COLUMNS = ["submission", "question", "points", "max_points", "note"]

_TEXT = {
    "en": {
        "title": "Feedback", "auto": "Automatically graded", "points": "points",
        "free": "Your free-text answers are marked by hand.", "part": "part",
        "status": "status", "details": "Details", "first": "Fix these first",
        "cells": "Cells that did not run cleanly", "notes": "Notes",
        "review": "Your notebook needs a review by your instructor: the automatic points are "
                  "held at 0 until then. This is not a verdict: the grader asks for a review "
                  "whenever code changes the checks, PyTorch or the way results are collected.",
        "accepted": "Your instructor reviewed your notebook and accepted it.",
        "zeroed": "Your instructor reviewed your notebook: no automatic points.",
        "note": "Note", "review_status": "needs a review by your instructor",
        "rule": "0 points for part {part}: it asks for your own implementation, and a "
                "convolution routine was used (`{detail}`).",
        "skipped": "{label}: the shell or package line `{line}` was skipped (the "
                   "grader installs nothing and starts no process); the rest of the cell ran.",
        "refused": "The sandbox refused to start a process in {label} (`{error}`): the "
                   "grader runs no other programs. Remove that line; the later errors may "
                   "come from it.",
        "timeout": "{label} took longer than {limit:g} s, the time limit per cell, and was "
                   "stopped. Make it faster (smaller inputs, fewer repetitions).",
        "memory": "{label} ran out of memory (the grader's memory limit) and was stopped.",
        "stopped": "The run was stopped early ({why}); parts after that point were not graded.",
        "checked": "Your answer to each part is its value when that part's check(...) cell "
                   "ran; if that cell never ran, its value at the end of the notebook.",
        "run": "Run",
    },
    "ja": {
        "title": "フィードバック", "auto": "自動採点", "points": "点",
        "free": "記述式の答えは教員が手で採点します。", "part": "小問",
        "status": "状態", "details": "詳細", "first": "まず直すこと",
        "cells": "正常に実行できなかったセル", "notes": "補足",
        "review": "このノートブックは教員による確認が必要です。確認が終わるまで、自動採点の点は "
                  "0 点のままです。これは判定ではありません。チェックや PyTorch、結果の集め方を"
                  "変えるコードがあると、採点プログラムは教員に確認を求めます。",
        "accepted": "教員がノートブックを確認し、認めました。",
        "zeroed": "教員がノートブックを確認しました。自動採点の点はありません。",
        "note": "メモ", "review_status": "教員による確認が必要",
        "rule": "小問 {part} は 0 点です。自分の実装を求める小問ですが、畳み込みの関数が"
                "使われました（`{detail}`）。",
        "skipped": "{label}: シェルやパッケージの行 `{line}` は実行しませんでした"
                   "（採点プログラムはインストールもプロセスの起動もしません）。セルの残りは"
                   "実行しました。",
        "refused": "{label} で、サンドボックスがプロセスの起動を拒否しました（`{error}`）。"
                   "採点プログラムは他のプログラムを実行しません。その行を消してください。"
                   "後のエラーはこれが原因かもしれません。",
        "timeout": "{label} の実行が、セルごとの制限時間 {limit:g} 秒を超えたため止めました。"
                   "速くしてください（入力を小さく、繰り返しを少なく）。",
        "memory": "{label} がメモリの上限を超えたため止めました。",
        "stopped": "実行が途中で止められました（{why}）。それ以降の小問は採点されていません。",
        "checked": "各小問の答えは、その小問の check(...) のセルを実行したときの値です。"
                   "そのセルを実行していなければ、ノートブックの最後での値です。",
        "run": "実行",
    },
}

#: The install lines of the notebooks' own Colab set-up cell: skipped without a note.
_SETUP_LINES = {line.strip() for lang in ("en", "ja")
                for line in colab_setup_source(lang).splitlines()}
_REFUSED = re.compile(r"^(PermissionError|BlockingIOError|OSError): \[Errno (1|11)\]")


def _number(points: float) -> str:
    return str(int(points)) if float(points).is_integer() else f"{points:g}"


def _both(text: str) -> dict[str, str]:
    """A text in both languages (a plain ``str`` is translated by its pattern, if any)."""
    return {"en": str(text), "ja": local(text, "ja")}


# --- records --------------------------------------------------------------------------------

def record(result: SubmissionResult, limits: Limits) -> dict:
    """Everything the output files show about one submission, as plain JSON data."""
    submission = result.submission
    parts = []
    for p in result.parts:
        entry = {"part": p.part, "points": p.points, "max_points": p.max_points,
                 "status": _both(p.status), "message": _both(p.message),
                 "points_without_flags": p.points_without_flags, "flag_kind": p.flag_kind}
        if entry["message"]["ja"] == str(p.message):  # no translation: say the status
            entry["message"]["ja"] = entry["status"]["ja"] + "。"
        outcome = getattr(p, "outcome", None)
        if outcome is not None:
            entry["outcome"] = {"points": outcome.points, "status": _both(outcome.status),
                                "message": _both(outcome.message)}
        parts.append(entry)
    skipped = [[index, line] for index, source in submission.code_cells
               for line in skip_shell_lines(source)[1] if line not in _SETUP_LINES]
    return {
        "submission": result.name,
        "original_name": submission.path.stem,
        "file": submission.path.name,
        "lang": submission.lang,
        "problem": submission.problem,
        "ended": result.ended,
        "seconds": round(result.seconds, 2),
        "malformed_lines": result.malformed_lines,
        "internal_error": getattr(result, "internal_error", None),
        "cell_timeout": limits.cell_timeout,
        "flags": [{"code": f.code, "cell": f.cell, "detail": f.detail,
                   "kind": getattr(f, "kind", "integrity"), "part": getattr(f, "part", None)}
                  for f in result.flags],
        "integrity": any(getattr(f, "kind", "integrity") == "integrity" for f in result.flags),
        "decision": None,
        "cells": {str(i): c for i, c in sorted(result.cells.items())},
        "labels": {str(i): {lang: cell_label(submission.code_cells, i, lang)
                            for lang in ("en", "ja")} for i, _ in submission.code_cells},
        "skipped_lines": skipped,
        "parts": parts,
        "answers": submission.answers,
    }


def points(rec: dict) -> float:
    return sum(p["points"] for p in rec["parts"])


def needs_review(rec: dict) -> bool:
    """An integrity finding holds the points at 0 until the instructor's decision."""
    return rec["integrity"] and rec["decision"] is None


def read_decisions(path: Path, names: set[str]) -> dict[str, dict]:
    """Submission -> ``{"decision", "note"}`` from ``decisions.csv``; rows with an empty
    decision are pending. Raises ``ValueError`` naming the row for anything else."""
    if not path.exists():
        return {}
    decisions: dict[str, dict] = {}
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        if reader.fieldnames is None or not set(DECISION_COLUMNS[:2]) <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected the columns {', '.join(DECISION_COLUMNS)}")
        for number, row in enumerate(reader, start=2):
            name = (row.get("submission") or "").strip().removeprefix("'")
            decision = (row.get("decision") or "").strip().lower()
            if not decision:
                continue
            if decision not in DECISIONS:
                raise ValueError(f"{path}, line {number}: decision must be 'accept' or 'zero', "
                                 f"got {decision!r}")
            if name not in names:
                raise ValueError(f"{path}, line {number}: no submission named {name!r}")
            decisions[name] = {"decision": decision, "note": (row.get("note") or "").strip()}
    return decisions


def apply_decision(rec: dict, decision: dict | None) -> dict:
    """``rec`` with the instructor's review decision applied (a new record)."""
    rec = json.loads(json.dumps(rec))
    rec["decision"] = decision
    if decision is None:
        return rec
    rec["parts_before_review"] = json.loads(json.dumps(rec["parts"]))
    note = decision["note"]
    for entry in rec["parts"]:
        if decision["decision"] == "zero":
            entry["points"] = 0
            entry["status"] = {"en": "zero after review", "ja": "確認の結果 0 点"}
            entry["message"] = {"en": "Your instructor reviewed the notebook: no points.",
                                "ja": "教員が確認した結果、0 点です。"}
        elif entry["flag_kind"] == "integrity" and "outcome" in entry:
            outcome = entry["outcome"]
            entry["points"] = outcome["points"]
            entry["status"] = {"en": f"accepted after review: {outcome['status']['en']}",
                               "ja": f"確認の結果認められました: {outcome['status']['ja']}"}
            entry["message"] = outcome["message"]
        if note:
            entry["review_note"] = note
    return rec


# --- the gradebook and the class files -------------------------------------------------------

def write_gradebook(out: Path, records: list[dict]) -> Path:
    path = out / "gradebook.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(COLUMNS)
        for rec in records:
            for entry in rec["parts"]:
                writer.writerow([csv_cell(rec["submission"]), entry["part"],
                                 _number(entry["points"]), entry["max_points"],
                                 csv_cell(relabel(entry["status"]["en"], rec, "en"))])
    return path


def write_wide(out: Path, records: list[dict]) -> Path:
    """``grades_wide.csv``: one row per submission."""
    path = out / "grades_wide.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["submission", *(p.id for p in PARTS), "auto_total", "max_auto",
                         "needs_review", "decision"])
        for rec in records:
            by_part = {e["part"]: e["points"] for e in rec["parts"]}
            writer.writerow([csv_cell(rec["submission"]),
                             *(_number(by_part.get(p.id, 0)) for p in PARTS),
                             _number(points(rec)), MAX_AUTO, str(needs_review(rec)).lower(),
                             (rec["decision"] or {}).get("decision", "")])
    return path


def _append_missing(path: Path, columns: list[str], rows: list[list[str]], key: int) -> None:
    """Create the instructor's sheet ``path``, or add the rows it lacks (by their first
    ``key`` columns); rows the instructor wrote are never changed."""
    existing: set[tuple[str, ...]] = set()
    if path.exists():
        with open(path, newline="", encoding="utf-8") as file:
            existing = {tuple(row[:key]) for row in csv.reader(file)}
    new = [row for row in rows if tuple(row[:key]) not in existing]
    if path.exists() and not new:
        return
    with open(path, "a", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        if not existing:
            writer.writerow(columns)
        writer.writerows(new)


def write_sheets(out: Path, records: list[dict]) -> None:
    """``free_text_marks.csv`` (one row per submission and question, points to fill in) and
    ``decisions.csv`` (one row per submission that needs a review, decision to fill in)."""
    _append_missing(out / "free_text_marks.csv", MARK_COLUMNS,
                    [[csv_cell(r["submission"]), q.id, "", str(max_points(q.id)), ""]
                     for r in records for q in FREE_TEXT], key=2)
    _append_missing(out / "decisions.csv", DECISION_COLUMNS,
                    [[csv_cell(r["submission"]), "", ""] for r in records if r["integrity"]],
                    key=1)


def write_histogram(path: Path, records: list[dict]) -> bool:
    """A histogram of the automatic totals (matplotlib, no display); ``False`` if matplotlib
    is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.hist([points(r) for r in records], bins=[x - 0.5 for x in range(MAX_AUTO + 2)],
            color="C0", edgecolor="white")
    ax.set(xlabel=f"automatic points (of {MAX_AUTO})", ylabel="submissions",
           xlim=(-0.5, MAX_AUTO + 0.5))
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


# --- the student's feedback --------------------------------------------------------------------

def relabel(text: str, rec: dict, lang: str) -> str:
    """Cell numbers (all cells counted) in ``text`` as the code-cell labels of ``rec`` in
    ``lang``: every file names a cell as the feedback does."""
    return name_cells(text, {index: label[lang] for index, label in rec["labels"].items()})


def _skipped(rec: dict, lang: str) -> list[str]:
    """A note per shell or package line the sandbox skipped (raw text: escape it)."""
    return [_TEXT[lang]["skipped"].format(label=rec["labels"][str(i)][lang],
                                          line=_code(line, 80))
            for i, line in rec["skipped_lines"]]


def _code(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, fit to sit between backticks (escape it with the
    whole line: these are raw texts)."""
    text = " ".join(str(text).split())
    return (text if len(text) <= limit else text[: limit - 3] + "...").replace("`", "'")


def _first_fixes(rec: dict, lang: str) -> list[str]:
    """Root causes of failures: refused processes, time and memory limits, a stopped run
    (raw texts: escape them)."""
    text = _TEXT[lang]
    labels = rec["labels"]
    fixes = []
    for index, cell in sorted(rec["cells"].items(), key=lambda item: int(item[0])):
        label = labels.get(index, {}).get(lang, index)
        error = cell.get("error") or ""
        if cell["status"] == "timeout":
            fixes.append(text["timeout"].format(label=label, limit=rec["cell_timeout"]))
        elif cell["status"] == "memory":
            fixes.append(text["memory"].format(label=label))
        elif _REFUSED.match(error):
            fixes.append(text["refused"].format(label=label,
                                                error=_code(error, 80)))
    if rec["ended"].startswith("stopped"):
        why = relabel(local(rec["ended"], lang), rec, lang)
        fixes.append(text["stopped"].format(why=why[:200]))
    return fixes


def feedback_markdown(rec: dict) -> str:
    lang = rec["lang"]
    text = _TEXT[lang]
    stop = "。" if lang == "ja" else "."
    lines = [f"# {text['title']}: {md_inline(rec['submission'])}", "",
             f"**{text['auto']}: {_number(points(rec))} / {MAX_AUTO} {text['points']}{stop}** "
             f"{text['free']}", ""]
    if needs_review(rec):
        lines += [f"**{text['review']}**", ""]
    elif rec["decision"]:
        lines += [text["accepted"] if rec["decision"]["decision"] == "accept" else
                  text["zeroed"], ""]
        if rec["decision"]["note"]:
            lines += [f"{text['note']}: {md_inline(rec['decision']['note'])}", ""]
    fixes = _first_fixes(rec, lang)
    rules = [f for f in rec["flags"] if f["kind"] == "rule"]
    fixes += [text["rule"].format(part=f["part"], detail=_code(f["detail"], 120))
              for f in rules]
    if fixes:
        lines += [f"## {text['first']}", "", *(f"- {md_inline(fix)}" for fix in fixes), ""]
    notes = _skipped(rec, lang)
    if notes:
        lines += [f"## {text['notes']}", "", *(f"- {md_inline(note)}" for note in notes), ""]
    lines += [f"| {text['part']} | {text['points']} | {text['status']} |", "|---|---|---|"]
    for entry in rec["parts"]:
        status = relabel(entry["status"][lang], rec, lang)
        if entry["flag_kind"] == "integrity" and needs_review(rec):
            status = text["review_status"]
        lines.append(f"| {entry['part']} | {_number(entry['points'])} / {entry['max_points']} "
                     f"| {md_inline(status, 200)} |")
    details = []
    for entry in rec["parts"]:
        if entry["flag_kind"] == "integrity" and needs_review(rec):
            continue  # said once, above
        message = entry["status" if entry["flag_kind"] == "rule" else "message"][lang]
        first, *more = relabel(message, rec, lang).splitlines() or [""]
        details += [f"**{entry['part']}**: {md_inline(first)}",
                    *(f"- {md_inline(line)}" for line in more), ""]
    lines += ["", *([f"## {text['details']}", "", *details] if details else [])]
    failed = {i: c for i, c in sorted(rec["cells"].items(), key=lambda item: int(item[0]))
              if c["status"] != "ok"}
    if failed:
        lines += [f"## {text['cells']}", ""]
        for index, cell in failed.items():
            label = md_inline(rec["labels"].get(index, {}).get(lang, index))
            error = md_inline(_code(cell["error"] or cell["status"], 300))
            lines.append(f"- {label}: `{error}`")
        lines.append("")
    lines += [text["checked"], "",
              f"{text['run']}: {md_inline(relabel(local(rec['ended'], lang), rec, lang))}"
              f"{stop}", ""]
    return "\n".join(lines)


# --- the instructor's files --------------------------------------------------------------------

def free_text_markdown(records: list[dict]) -> str:
    lines = ["# Free-text answers for marking / 記述式解答（手採点用）", "",
             "INSTRUCTOR MATERIAL. Mark each answer with the rubric and enter the points in "
             "`free_text_marks.csv`; then run `python -m d2l_tconv_grader finalize OUT_DIR`.", ""]
    for question in FREE_TEXT:
        lines += [f"## Question {question.id}: {question.title['en']} / {question.title['ja']}"
                  f" ({max_points(question.id)} points)", "", "### Rubric", ""]
        for worth, en, ja in RUBRIC[question.id]:
            lines += [f"- [ ] **{worth}** — {en} / {ja}"]
        lines.append("")
        for rec in records:
            answer = rec["answers"].get(question.id)
            lines += [f"### {md_inline(rec['submission'])}  "
                      f"(score: ___ / {max_points(question.id)})", ""]
            if rec["problem"]:
                lines.append(f"_(not readable: {md_inline(rec['problem'])})_")
            elif answer is None:
                lines.append("_(no answer cell found: check the notebook by hand)_")
            elif not answer.strip():
                lines.append("_(no answer)_")
            else:
                lines.append(md_block(answer))
            lines.append("")
    return "\n".join(lines)


def _class_view(records: list[dict], histogram: bool) -> list[str]:
    lines = ["## Class view", ""]
    if not records:
        return [*lines, "No submissions.", ""]
    totals = [points(r) for r in records]
    lines += [f"Automatic points: mean {statistics.mean(totals):.2f}, median "
              f"{statistics.median(totals):g} of {MAX_AUTO}; {len(records)} submission(s), "
              f"{sum(t == MAX_AUTO for t in totals)} with full marks, "
              f"{sum(needs_review(r) for r in records)} awaiting review.", "",
              "| part | max | mean | full marks | not attempted |", "|---|---|---|---|---|"]
    for spec in PARTS:
        entries = [e for r in records for e in r["parts"] if e["part"] == spec.id]
        scores = [e["points"] for e in entries]
        lines.append(f"| {spec.id} | {spec.points} | {statistics.mean(scores):.2f} | "
                     f"{sum(s == spec.points for s in scores)} | "
                     f"{sum(e['status']['en'] == 'not attempted' for e in entries)} |")
    lines.append("")
    if histogram:
        lines += ["![Histogram of the automatic points](score_histogram.png)", ""]
    return lines


def _where(rec: dict, flag: dict) -> str:
    """The cell of a finding, as the instructor finds it in Jupyter."""
    label = rec["labels"].get(str(flag["cell"]), {}).get("en")
    return md_inline(label) if label else f"cell {flag['cell']}"


def report_markdown(records: list[dict], run: dict, histogram: bool = True) -> str:
    lines = ["# Grading report", "", f"- {md_inline(run['sandbox'])}",
             f"- limits per submission: {run['timeout']:g} s in all, {run['cell_timeout']:g} s "
             f"per cell, {run['part_timeout']:g} s per hidden call, {run['memory_mb']} MiB "
             "of memory",
             f"- hidden inputs drawn from seed {run['seed']}",
             f"- {len(records)} submission(s) graded in {run['seconds']:.1f} s", "",
             *_class_view(records, histogram),
             "## Submissions", "",
             "| submission | points | needs review | ended | findings |", "|---|---|---|---|---|"]
    for rec in records:
        codes = ", ".join(sorted({f"{f['code']} ({f['kind']})" for f in rec["flags"]})) or "-"
        review = "yes" if needs_review(rec) else (rec["decision"] or {}).get("decision", "-")
        lines.append(f"| {md_inline(rec['submission'])} | {_number(points(rec))} / {MAX_AUTO} | "
                     f"{review} | {md_inline(relabel(rec['ended'], rec, 'en'), 200)} | "
                     f"{md_inline(codes)} |")
    if run.get("decisions_error"):
        lines += ["", f"**decisions.csv was NOT applied: {md_inline(run['decisions_error'])}.** "
                  "Fix it, then run `python -m d2l_tconv_grader apply OUT_DIR`."]
    lines += ["", "## Needs review", "",
              "Integrity findings hold the automatic points at 0. Record a decision per "
              "submission in `decisions.csv` (`accept` restores the would-be score, `zero` "
              "keeps 0), then run `python -m d2l_tconv_grader apply OUT_DIR` (or grade again "
              "into the same OUT_DIR).", ""]
    integrity = [r for r in records if r["integrity"]]
    if not integrity:
        lines.append("None.")
    for rec in integrity:
        would = sum(e.get("outcome", {}).get("points", e["points_without_flags"])
                    for e in rec["parts"])
        state = (f"decided: {rec['decision']['decision']}"
                 + (f" ({md_inline(rec['decision']['note'])})" if rec["decision"]["note"] else "")
                 if rec["decision"] else "pending")
        lines.append(f"- **{md_inline(rec['submission'])}**: {state}; would score "
                     f"{_number(would)} / {MAX_AUTO}")
        lines += [f"  - {md_inline(f['code'])} ({_where(rec, f)}): {md_inline(f['detail'])}"
                  for f in rec["flags"] if f["kind"] == "integrity"]
    lines += ["", "## Rule violations (0 on one part)", ""]
    rules = [(r, f) for r in records for f in r["flags"] if f["kind"] == "rule"]
    lines += [f"- **{md_inline(r['submission'])}**, part {md_inline(f['part'])}: "
              f"{md_inline(f['detail'])}" for r, f in rules] or ["None."]
    lines += ["", "## Notes for the instructor (no penalty)", ""]
    notes = [(r, f) for r in records for f in r["flags"] if f["kind"] == "heuristic"]
    lines += [f"- **{md_inline(r['submission'])}**: {md_inline(f['code'])} ({_where(r, f)}): "
              f"{md_inline(f['detail'])}" for r, f in notes] or ["None."]
    lines += ["", "## Failures and limits", "",
              "Root causes first: skipped shell lines, refused processes, time and memory "
              "limits; then the other cells that failed.", ""]
    problems = [r for r in records if r["problem"] or r["ended"] != "completed"
                or r["skipped_lines"] or any(c["status"] != "ok" for c in r["cells"].values())]
    if not problems:
        lines.append("None.")
    for rec in problems:
        causes = [md_inline(fix) for fix in _first_fixes(rec, "en") + _skipped(rec, "en")]
        failed = [f"{md_inline(rec['labels'].get(i, {}).get('en', i))} {c['status']}"
                  for i, c in sorted(rec["cells"].items(), key=lambda item: int(item[0]))
                  if c["status"] != "ok"]
        lines.append(f"- **{md_inline(rec['submission'])}**: "
                     f"{md_inline(relabel(rec['ended'], rec, 'en'), 200)}"
                     + (f"; {', '.join(failed)}" if failed else ""))
        lines += [f"  - {cause}" for cause in causes]
    errors = [r for r in records if r.get("internal_error")]
    if errors:
        lines += ["", "## Internal errors of the grader", ""]
        for rec in errors:
            lines += [f"### {md_inline(rec['submission'])}", "", md_block(rec["internal_error"]),
                      ""]
    aliases = [r for r in records if r["submission"] != r["original_name"]]
    if aliases:
        lines += ["", "## Renamed submissions", "",
                  "File names with control characters or path separators, and names of the "
                  "grader's own files (`_run`), are shown under a safe alias:", ""]
        lines += [f"- {md_inline(r['submission'])} ← {md_inline(repr(r['original_name']))}"
                  for r in aliases]
    lines.append("")
    return "\n".join(lines)


# --- writing everything ---------------------------------------------------------------------

def render(out: Path, records: list[dict], run: dict, strict: bool = True) -> list[dict]:
    """Apply ``out/decisions.csv`` to ``records``, (re)write every output file, and return
    the records as decided. A ``decisions.csv`` that cannot be read raises ``ValueError``
    with ``strict``; otherwise it is left unapplied and report.md says why."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(exist_ok=True)
    (out / "details").mkdir(exist_ok=True)
    run = {**run, "decisions_error": None}
    try:
        decisions = read_decisions(out / "decisions.csv", {r["submission"] for r in records})
    except ValueError as error:
        if strict:
            raise
        decisions, run["decisions_error"] = {}, str(error)
    records = [apply_decision(r, decisions.get(r["submission"])) for r in records]
    names = {r["submission"] for r in records}
    # An earlier run on other files must leave no record or feedback behind: an instructor
    # would otherwise hand out feedback for a notebook this run did not grade.
    for folder, pattern in (("details", "*.json"), ("feedback", "*.md")):
        for stale in (out / folder).glob(pattern):
            if stale.name != "_run.json" and stale.stem not in names:
                stale.unlink()
    write_gradebook(out, records)
    write_wide(out, records)
    write_sheets(out, records)
    for rec in records:
        (out / "feedback" / f"{rec['submission']}.md").write_text(feedback_markdown(rec),
                                                                  encoding="utf-8")
        (out / "details" / f"{rec['submission']}.json").write_text(
            json.dumps(rec, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "free_text_for_marking.md").write_text(free_text_markdown(records), encoding="utf-8")
    histogram = write_histogram(out / "score_histogram.png", records)
    (out / "report.md").write_text(report_markdown(records, run, histogram), encoding="utf-8")
    (out / "details" / "_run.json").write_text(json.dumps(run, indent=1) + "\n",
                                               encoding="utf-8")
    return records


def write_all(out: Path, results: list[SubmissionResult], sandbox: Sandbox, limits: Limits,
              seed: int, seconds: float) -> None:
    """Write every output file of a grading run into ``out`` (decisions already recorded in
    ``out/decisions.csv`` are applied)."""
    run = {"sandbox": sandbox.description, "timeout": limits.timeout,
           "cell_timeout": limits.cell_timeout, "part_timeout": limits.part_timeout,
           "memory_mb": limits.memory_mb, "seed": seed, "seconds": seconds}
    records = [record(r, limits) for r in results]
    try:
        read_decisions(out / "decisions.csv", {r["submission"] for r in records})
    except ValueError as error:
        print(f"warning: decisions.csv not applied (see report.md): {error}", file=sys.stderr)
    render(out, records, run, strict=False)


def load(out: Path) -> tuple[list[dict], dict]:
    """The records and run facts a grading run stored in ``out/details``."""
    folder = out / "details"
    run_file = folder / "_run.json"
    if not run_file.exists():
        raise ValueError(f"OUT_DIR: {out} holds no grading run (no details/_run.json)")
    records = [json.loads(p.read_text(encoding="utf-8"))
               for p in sorted(folder.glob("*.json")) if p.name != "_run.json"]
    for rec in records:
        rec["decision"] = None  # decisions.csv is the one place they live
        rec["parts"] = rec.pop("parts_before_review", rec["parts"])
    return sorted(records, key=lambda r: r["submission"]), json.loads(
        run_file.read_text(encoding="utf-8"))


