"""The nbgrader route end to end (issue 9), with the real nbgrader (0.9.6): export-nbgrader ->
nbgrader generate_assignment -> a correct and a blank submission -> nbgrader autograde ->
nbgrader export. The correct one gets full marks on every automatic part, the blank one 0,
the free text is left for manual grading, and every part's points equal the sandboxed
grader's for the same notebooks and seed (the same scoring code decides).

Slow: two kernels run the whole notebook, plus one sandboxed grading run; about 40-60 s here.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import skip_or_fail

from d2l_tconv.exercise_checks import FREE_TEXT, PARTS

REPO = Path(__file__).resolve().parents[2]
SEED = "5"
ASSIGNMENT = "tconv_en"
pytestmark = pytest.mark.slow


def _env() -> dict:
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from PATH
    return {**os.environ, "PYTHONPATH": str(REPO),
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=_env(),
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _strip_markers(text: str) -> str:
    """``text`` without its solution-region marker lines."""
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(line for line in text.split("\n") if line.strip() not in markers)


def _solved(release: dict, source: dict) -> dict:
    """The released notebook with every solution cell as the instructor's source has it,
    markers removed: the stub lines stay next to the solution (an assignment overwritten by
    it, or an unreachable ``raise`` after ``return``), as a student might leave them."""
    by_id = {c["metadata"]["nbgrader"]["grade_id"]: c for c in source["cells"]}
    notebook = json.loads(json.dumps(release))
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            cell["source"] = _strip_markers("".join(by_id[meta["grade_id"]]["source"]))
    return notebook


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        skip_or_fail("nbgrader not installed (the 'courses' extra)")
    course = tmp_path_factory.mktemp("nbgrader")
    done = subprocess.run([sys.executable, "-m", "d2l_tconv_grader", "export-nbgrader",
                           str(course), "--lang", "both", "--seed", SEED], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release = json.loads((course / "release" / ASSIGNMENT / "exercises_en.ipynb").read_text())
    source = json.loads((course / "source" / ASSIGNMENT / "exercises_en.ipynb").read_text())
    notebooks = {"correct": _solved(release, source), "blank": release}
    for student, notebook in notebooks.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "exercises_en.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    _nbgrader(course, "autograde", ASSIGNMENT, "--force")
    _nbgrader(course, "export")
    return course, notebooks


def _gradebook_parts(notebooks: dict, tmp: Path) -> dict[str, dict[str, float]]:
    """Each part's points by the sandboxed grader, same notebooks, same seed."""
    subs = tmp / "subs"
    subs.mkdir()
    for name, notebook in notebooks.items():
        (subs / f"{name}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "d2l_tconv_grader", str(subs), "--out",
                           str(tmp / "out"), "--seed", SEED, "--jobs", "2"], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=300)
    if "no sandbox" in done.stderr:
        pytest.skip("bubblewrap is missing: no sandboxed grading to compare with")
    assert done.returncode == 0, done.stdout + done.stderr
    parts: dict[str, dict[str, float]] = {}
    with open(tmp / "out" / "gradebook.csv", newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            parts.setdefault(row["submission"], {})[row["part"]] = float(row["points"])
    return parts


def test_source_tree(course):
    root, _ = course
    source = json.loads((root / "source" / ASSIGNMENT / "exercises_en.ipynb").read_text())
    metas = [c["metadata"]["nbgrader"] for c in source["cells"]]
    tests = {m["grade_id"]: m for m in metas if m["grade"] and not m["solution"]}
    assert {f"test_{p.id}": p.points for p in PARTS} == {k: v["points"] for k, v in
                                                        tests.items()}
    free = [m for m in metas if m["grade"] and m["solution"]]
    assert [m["grade_id"] for m in free] == [f"free_text_{q.id}" for q in FREE_TEXT]
    for cell in source["cells"]:
        meta = cell["metadata"]["nbgrader"]
        text = "".join(cell["source"])
        if meta["grade_id"].startswith("test_"):
            assert "### BEGIN HIDDEN TESTS" in text and f"seed={SEED}" in text
        if not meta["solution"] and not meta["grade"]:
            assert meta["locked"], meta  # instructions and check cells are read-only
        if "### BEGIN SOLUTION" in text:
            assert meta["solution"]
    assert (root / "source" / "tconv_ja" / "exercises_ja.ipynb").is_file()
    release = (root / "release" / ASSIGNMENT / "exercises_en.ipynb").read_text()
    assert "HIDDEN TESTS" not in release and "_d2l_tconv_score" not in release
    assert "trans_conv(Y, K)" not in release  # no solution left in what students get


def test_autograde_matches_the_sandboxed_grader(course, tmp_path):
    from nbgrader.api import Gradebook

    root, notebooks = course
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        scores = {student: {p.id: gb.find_grade(f"test_{p.id}", "exercises_en", ASSIGNMENT,
                                                student).score for p in PARTS}
                  for student in notebooks}
        free = {student: [gb.find_grade(f"free_text_{q.id}", "exercises_en", ASSIGNMENT,
                                        student) for q in FREE_TEXT] for student in notebooks}
    assert scores["correct"] == {p.id: p.points for p in PARTS}
    assert scores["blank"] == {p.id: 0 for p in PARTS}
    # answered: left for manual grading; unchanged (blank): nbgrader gives 0 itself
    assert all(g.needs_manual_grade and g.auto_score is None and g.manual_score is None
               for g in free["correct"])
    assert all(not g.needs_manual_grade and g.auto_score == 0 for g in free["blank"])
    with open(root / "grades.csv", newline="", encoding="utf-8") as file:
        rows = {r["student_id"]: r for r in csv.DictReader(file)}
    assert float(rows["correct"]["raw_score"]) == sum(p.points for p in PARTS)
    assert float(rows["blank"]["raw_score"]) == 0
    ours = _gradebook_parts(notebooks, tmp_path)
    assert ours == {s: {p: float(v) for p, v in parts.items()} for s, parts in scores.items()}
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
