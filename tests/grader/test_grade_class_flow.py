"""The instructor's flow on a class folder, with the real grader: grade -> review decisions
(decisions.csv, apply, and the next grading run) -> free-text marks -> finalize. Afterwards
the gradebook, grades_wide.csv, the feedback and the report agree; Japanese feedback is fully
Japanese. The grading run asks for a Canvas file (--roster/--lms): the automatic total until
finalize, the final total of final_grades.csv after it.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import bubblewrap_sandbox, grader_main

from d2l_tconv.exercise_checks import PARTS
from d2l_tconv_grader.lms import FINAL_ITEM, POINTS_POSSIBLE

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "submissions"
CLASS = ["correct_en", "untouched_ja", "partly_wrong_ja", "monkeypatch_torch",
         "honest_self_test_ja", "honest_reuses_names", "honest_pip_in_imports"]
HONEST = [name for name in CLASS if name.startswith("honest_")]
FLAGGED = "monkeypatch_torch"  # monkeypatches torch: an integrity finding, held for review

pytestmark = pytest.mark.slow  # the grader's command, in bubblewrap


def _grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "d2l_tconv_grader", *args], capture_output=True,
                          text=True, timeout=300, cwd=REPO)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        csv.writer(file, lineterminator="\n").writerows([header, *rows])


@pytest.fixture(scope="module")
def graded(grader_stage, tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    bubblewrap_sandbox(grader_stage)
    submissions, out = root / "submissions", root / "out"
    submissions.mkdir()
    for name in CLASS:
        text = (FIXTURES / f"{name}.fixture").read_text(encoding="utf-8")
        (submissions / f"{name}.ipynb").write_text(text, encoding="utf-8")
    roster = root / "roster.csv"  # Canvas's ID is the submission's position in CLASS
    _write(roster, ["submission", "name", "canvas_id"],
           [[name, name, str(100 + i)] for i, name in enumerate(CLASS)])
    done = _grade(str(submissions), "--out", str(out), "--seed", "7", "--jobs", "2",
                  "--cell-timeout", "20", "--roster", str(roster), "--lms", "canvas")
    assert done.returncode == 0, done.stdout + done.stderr
    return submissions, out


def _canvas(out: Path) -> tuple[dict[str, str], str]:
    """The Canvas file's grades by submission (with its Points Possible row) and the item."""
    with open(out / "lms_canvas.csv", newline="", encoding="utf-8") as file:
        table = list(csv.reader(file))
    return {CLASS[int(row[1]) - 100] if row[1] else row[0]: row[-1]
            for row in table[1:]}, table[0][-1]


def _totals(out: Path) -> dict[str, dict[str, float]]:
    """Each submission's automatic total, as every output file says it."""
    book: dict[str, float] = {}
    for row in _rows(out / "gradebook.csv"):
        book[row["submission"]] = book.get(row["submission"], 0) + float(row["points"])
    wide = {r["submission"]: float(r["auto_total"]) for r in _rows(out / "grades_wide.csv")}
    feedback = {}
    for path in (out / "feedback").glob("*.md"):
        match = re.search(r"\*\*(?:Automatically graded|自動採点): ([\d.]+) /", path.read_text(
            encoding="utf-8"))
        feedback[path.stem] = float(match.group(1))
    report = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"^\| (\S+) \| ([\d.]+) / 18 \|", (out / "report.md").read_text(encoding="utf-8"),
        re.MULTILINE)}
    return {"gradebook": book, "wide": wide, "feedback": feedback, "report": report}


def _agree(out: Path) -> dict[str, float]:
    totals = _totals(out)
    assert totals["gradebook"] == totals["wide"] == totals["feedback"] == totals["report"]
    return totals["wide"]


def test_class_view(graded):
    _, out = graded
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Class view" in report and "| part | max | mean |" in report
    assert all(f"| {p.id} | {p.points} |" in report for p in PARTS)
    assert "![Histogram of the automatic points](score_histogram.png)" in report
    assert (out / "score_histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    wide = {r["submission"]: r for r in _rows(out / "grades_wide.csv")}
    assert list(wide) == sorted(CLASS)
    assert wide["correct_en"]["auto_total"] == "18" and wide[FLAGGED]["needs_review"] == "true"
    for name in HONEST:
        assert wide[name]["auto_total"] == "18" and wide[name]["needs_review"] == "false"


def test_free_text_kept_wherever_it_was_written(graded):
    _, out = graded
    text = (out / "free_text_for_marking.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (\S+)  \(score: ___ / 4\)\n\n(.*?)(?=\n### |\n## |\Z)",
                               text, re.MULTILINE | re.DOTALL))
    for name in HONEST + ["correct_en"]:  # under the placeholder, in the next cell, as given
        answers = [body for key, body in re.findall(
            rf"^### ({name})  \(score: ___ / 4\)\n\n(.*?)(?=\n### |\n## |\Z)", text,
            re.MULTILINE | re.DOTALL)]
        assert len(answers) == 2 and all(len(a) > 300 for a in answers), name
        assert not any("answer here" in a or "答えを書いて" in a for a in answers), name
    assert sections["untouched_ja"].strip() == "_(no answer)_"


def test_flagged_student_is_told_about_a_review_not_accused(graded):
    _, out = graded
    feedback = (out / "feedback" / f"{FLAGGED}.md").read_text(encoding="utf-8")
    assert "needs a review by your instructor" in feedback
    assert "get around" not in feedback and "cheat" not in feedback


def test_japanese_feedback_has_no_english_sentences(graded):
    _, out = graded
    for name in ("untouched_ja", "partly_wrong_ja", "honest_self_test_ja",
                 "honest_reuses_names"):
        text = (out / "feedback" / f"{name}.md").read_text(encoding="utf-8")
        assert "フィードバック" in text
        prose = re.sub(r"`[^`]*`", " ", text)  # code spans: names, lines and errors as written
        english = re.findall(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b", prose)
        assert not english, (name, english)


def test_untouched_parts_are_not_attempted(graded):
    _, out = graded
    rows = [r for r in _rows(out / "gradebook.csv") if r["submission"] == "untouched_ja"]
    assert {r["status"] for r in rows} == {"not attempted"}


def test_decisions_marks_and_finalize(graded):
    submissions, out = graded
    assert _agree(out)[FLAGGED] == 0
    # before finalize the LMS file has the automatic totals and the report says so
    grades, item = _canvas(out)
    assert grades == {POINTS_POSSIBLE: "18", **{name: f"{total:g}" for name, total in
                                                 _agree(out).items()}, FLAGGED: ""}
    assert "the automatic total out of 18" in (out / "report.md").read_text(encoding="utf-8")
    decisions = _rows(out / "decisions.csv")
    assert [(r["submission"], r["decision"]) for r in decisions] == [(FLAGGED, "")]

    # finalize refuses while marks are missing and a review is pending (the command itself;
    # the later steps call its main in this process)
    done = _grade("finalize", str(out))
    assert done.returncode == 1 and "not marked yet" in done.stderr
    assert f"{FLAGGED}: awaits a review decision" in done.stderr
    assert not (out / "final_grades.csv").exists()

    # accept: the would-be score comes back everywhere
    _write(out / "decisions.csv", ["submission", "decision", "note"],
           [[FLAGGED, "accept", "patched torch to print nicer; talked to the student"]])
    assert _grade("apply", str(out)).returncode == 0
    totals = _agree(out)
    assert totals[FLAGGED] == 4  # 1c and 2b right; Z = zeros wrong, whatever allclose says
    feedback = (out / "feedback" / f"{FLAGGED}.md").read_text(encoding="utf-8")
    assert "reviewed your notebook and accepted it" in feedback
    assert "talked to the student" in feedback
    assert "decided: accept" in (out / "report.md").read_text(encoding="utf-8")

    # zero, then the next grading run applies it too: a run (main, in this process) of the
    # flagged submission alone (the others would only be graded again), into a folder that
    # holds this decisions.csv
    _write(out / "decisions.csv", ["submission", "decision", "note"], [[FLAGGED, "zero", ""]])
    again, regraded = out.parent / "again", out.parent / "regraded"
    again.mkdir()
    regraded.mkdir()
    shutil.copyfile(submissions / f"{FLAGGED}.ipynb", again / f"{FLAGGED}.ipynb")
    shutil.copyfile(out / "decisions.csv", regraded / "decisions.csv")
    done = grader_main(str(again), "--out", str(regraded), "--seed", "7", "--jobs", "2",
                 "--cell-timeout", "20")
    assert done.returncode == 0, done.stderr
    assert _agree(regraded) == {FLAGGED: 0}
    assert {r["status"] for r in _rows(regraded / "gradebook.csv")
            if r["submission"] == FLAGGED} == {"zero after review"}

    # a bad decision is a usage error naming the line
    _write(out / "decisions.csv", ["submission", "decision", "note"], [[FLAGGED, "maybe", ""]])
    done = grader_main("apply", str(out))
    assert done.returncode == 2 and "line 2" in done.stderr and "accept" in done.stderr
    _write(out / "decisions.csv", ["submission", "decision", "note"], [[FLAGGED, "accept", ""]])
    assert grader_main("apply", str(out)).returncode == 0

    # marks: out of range and not a number are refused; then finalize writes the grades
    marks = _rows(out / "free_text_marks.csv")
    assert len(marks) == 2 * len(CLASS) and {m["max_points"] for m in marks} == {"4"}
    rows = [[m["submission"], m["question"], "3", m["max_points"], ""] for m in marks]
    rows[0][2], rows[1][2] = "5", "three"
    _write(out / "free_text_marks.csv", list(marks[0]), rows)
    done = grader_main("finalize", str(out))
    assert done.returncode == 1
    assert "between 0 and 4, got 5" in done.stderr and "must be a number" in done.stderr
    rows[0][2], rows[1][2] = "4", "2.5"
    _write(out / "free_text_marks.csv", list(marks[0]), rows)
    done = grader_main("finalize", str(out))
    assert done.returncode == 0, done.stderr
    final = {r["submission"]: r for r in _rows(out / "final_grades.csv")}
    assert set(final) == set(CLASS)
    wide = _agree(out)
    for name, row in final.items():
        free = float(row["free_text_1"]) + float(row["free_text_2"])
        assert float(row["total"]) == wide[name] + free and row["max_total"] == "26"
    assert final[FLAGGED]["auto_points"] == "4"
    # the LMS file now carries the final totals, out of the final maximum
    grades, item = _canvas(out)
    assert grades == {POINTS_POSSIBLE: "26", **{name: row["total"] for name, row in
                                                 final.items()}}
    assert item == FINAL_ITEM
    assert "the final total out of 26" in (out / "report.md").read_text(encoding="utf-8")
