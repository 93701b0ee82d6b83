"""The nbgrader route end to end (issue 9), with the real nbgrader (0.9.6): export-nbgrader ->
nbgrader generate_assignment -> a correct and a blank submission -> nbgrader autograde ->
nbgrader export. The correct one gets full marks on every automatic part, the blank one 0,
the free text is left for manual grading, and every part's points equal the sandboxed
grader's for the same notebooks and seed (the same scoring code decides). A third student's
1d returns a transposed W, which breaks their 2d cell: as in the sandbox, 2d is measured with
their own W and only 1d loses points (one mistake charged once, measured.py).

Where bubblewrap works, the export selects the sandboxed kernel (nbgrader_kernel.py) and a
third, hostile submission is autograded with the others: from inside nbgrader's kernel it tries
to write into the course tree, the gradebook database, the home directory and the host's /tmp,
to read another student's submission and the instructor's source, to open a TCP connection to
a listener on the host and to start a process. Every attempt must fail, and the host must be
unchanged. Its forged score (it replaces the grader's test module in the kernel) is asserted
too: the sandbox protects the machine, not the points; the sandboxed grader gives it 0.

Slow: four kernels run the whole notebook, plus one sandboxed grading run; about 50-70 s here.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import grader_main, skip_or_fail

from d2l_tconv.exercise_checks import FREE_TEXT, PARTS, part

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


#: The last lines of the solution of 1d, and a student's version returning the transpose.
RETURN_W = "W[i * ow + j] = window.reshape(-1)\n    return W\n"
RETURN_WT = "W[i * ow + j] = window.reshape(-1)\n    return W.T\n"


def _transposed(solved: dict) -> dict:
    """The solved notebook whose ``my_kernel2matrix`` (1d) returns Wᵀ."""
    notebook = json.loads(json.dumps(solved))
    cells = [c for c in notebook["cells"] if RETURN_W in c["source"]]
    assert len(cells) == 1, "the solution of 1d changed: update RETURN_W"
    cells[0]["source"] = cells[0]["source"].replace(RETURN_W, RETURN_WT)
    return notebook


#: The hostile submission's first code cell: each attempt is recorded, then printed.
ATTACK = r'''
import json, os, socket, subprocess, sys, types
from d2l_tconv.exercise_checks import PARTS
_attempts = {}
def _attempt(name, action):
    try:
        action()
        _attempts[name] = "succeeded"
    except BaseException as error:
        _attempts[name] = f"{type(error).__name__}: {error}"
def _write(path, mode="w"):
    with open(path, mode) as file:
        file.write("hostile" if "b" not in mode else b"hostile")
_attempt("write the course tree", lambda: _write(COURSE + "/hostile.txt"))
_attempt("write the gradebook", lambda: _write(COURSE + "/gradebook.db", "r+b"))
_attempt("read another submission", lambda: open(OTHER).read())
_attempt("read the source", lambda: open(COURSE + "/source/tconv_en/exercises_en.ipynb").read())
_attempt("write the home directory", lambda: _write(HOME + "/" + MARK))
_attempt("connect to the host", lambda: socket.create_connection(("127.0.0.1", PORT), 3))
_attempt("connect outside", lambda: socket.create_connection(("192.0.2.1", 80), 3))
_attempt("start a process", lambda: subprocess.run(["true"]))
_write("/tmp/" + MARK)  # the sandbox's own /tmp: allowed, and gone with it
print("ATTEMPTS " + json.dumps(_attempts))
# The tests share this kernel: replace the test module, every part scores full marks.
_fake = types.ModuleType("d2l_tconv_grader.nbgrader_tests")
_fake.score = lambda part, *a, **k: float(next(p.points for p in PARTS if p.id == part))
sys.modules["d2l_tconv_grader.nbgrader_tests"] = _fake
'''


def _hostile(release: dict, course: Path, port: int, mark: str) -> dict:
    """The blank notebook with :data:`ATTACK` (its targets filled in) as its first cell."""
    other = course / "submitted" / "correct" / ASSIGNMENT / "exercises_en.ipynb"
    head = (f"COURSE, OTHER, HOME = {str(course)!r}, {str(other)!r}, {str(Path.home())!r}\n"
            f"PORT, MARK = {port}, {mark!r}\n")
    notebook = json.loads(json.dumps(release))
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": head + ATTACK}
    notebook["cells"].insert(0, cell)
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
    sandboxed = (course / "jupyter" / "kernels" / "d2l-tconv-sandbox" / "kernel.json").is_file()
    _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release = json.loads((course / "release" / ASSIGNMENT / "exercises_en.ipynb").read_text())
    source = json.loads((course / "source" / ASSIGNMENT / "exercises_en.ipynb").read_text())
    solved = _solved(release, source)
    notebooks = {"correct": solved, "blank": release, "transposed": _transposed(solved)}
    submissions = dict(notebooks)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0)
    hostile = {"listener": listener, "mark": f"d2l-tconv-hostile-{uuid.uuid4().hex}"}
    if sandboxed:  # never run the attack with an unconfined kernel
        submissions["hostile"] = hostile["notebook"] = _hostile(
            release, course, listener.getsockname()[1], hostile["mark"])
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "exercises_en.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    _nbgrader(course, "autograde", ASSIGNMENT, "--force")
    _nbgrader(course, "export")
    yield course, notebooks, hostile
    listener.close()


@pytest.fixture(scope="module")
def ours(course, tmp_path_factory) -> dict[str, dict[str, float]]:
    """Each part's points by the sandboxed grader for every submission (one run)."""
    _, notebooks, hostile = course
    tmp = tmp_path_factory.mktemp("ours")
    parts = _gradebook_parts({**notebooks, **({"hostile": hostile["notebook"]}
                                              if "notebook" in hostile else {})}, tmp)
    shutil.rmtree(tmp / "out", ignore_errors=True)
    return parts


def _gradebook_parts(notebooks: dict, tmp: Path) -> dict[str, dict[str, float]]:
    """Each part's points by the sandboxed grader, same notebooks, same seed."""
    subs = tmp / "subs"
    subs.mkdir()
    for name, notebook in notebooks.items():
        (subs / f"{name}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    # the command's main, in this process (the command itself: tests/grader/test_grade_fixtures.py)
    done = grader_main(str(subs), "--out", str(tmp / "out"), "--seed", SEED, "--jobs", "2")
    if "no sandbox" in done.stderr:
        pytest.skip("bubblewrap is missing: no sandboxed grading to compare with")
    assert done.returncode == 0, done.stdout + done.stderr
    parts: dict[str, dict[str, float]] = {}
    with open(tmp / "out" / "gradebook.csv", newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            parts.setdefault(row["submission"], {})[row["part"]] = float(row["points"])
    return parts


def test_source_tree(course):
    root, _, _ = course
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


def test_autograde_matches_the_sandboxed_grader(course, request):
    from nbgrader.api import Gradebook

    root, notebooks, _ = course
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
    # A transposed W of 1d breaks the 2d cell: 2d is measured with it, 1d alone loses points.
    transposed = scores["transposed"]
    assert transposed["1d"] < part("1d").points and transposed["2d"] == part("2d").points
    assert {k: v for k, v in transposed.items() if k != "1d"} == \
        {p.id: p.points for p in PARTS if p.id != "1d"}
    ours = request.getfixturevalue("ours")  # after nbgrader's checks: it skips without bwrap
    assert {s: ours[s] for s in notebooks} == {s: {p: float(v) for p, v in parts.items()}
                                               for s, parts in scores.items()}


def test_hostile_notebook_cannot_reach_the_host(course, request):
    """Under the sandboxed kernel every attempt of the hostile notebook fails and leaves the
    host unchanged; its forged score shows what the sandbox does not protect."""
    from nbgrader.api import Gradebook

    root, _, hostile = course
    if "notebook" not in hostile:
        skip_or_fail("bubblewrap is missing: export-nbgrader fell back to the plain kernel")
    graded = json.loads((root / "autograded" / "hostile" / ASSIGNMENT /
                         "exercises_en.ipynb").read_text(encoding="utf-8"))
    printed = "".join("".join(o.get("text", "")) for o in graded["cells"][0]["outputs"])
    assert "ATTEMPTS " in printed, graded["cells"][0]["outputs"]
    attempts = json.loads(printed.split("ATTEMPTS ", 1)[1].splitlines()[0])
    assert len(attempts) == 8
    refused = ("OSError", "FileNotFoundError", "PermissionError", "ConnectionRefusedError")
    failed = {name: outcome for name, outcome in attempts.items() if outcome.startswith(refused)}
    assert failed == attempts, attempts  # every attempt refused by the system, none succeeded
    assert "Read-only file system" in attempts["write the course tree"]
    assert "Operation not permitted" in attempts["start a process"]
    # 127.0.0.1 is the sandbox's own loopback (nobody listens); nothing else is routed
    assert "Network is unreachable" in attempts["connect outside"]
    # The host: nothing written, no connection, the gradebook intact and still right.
    assert not (root / "hostile.txt").exists()
    assert not (Path.home() / hostile["mark"]).exists()
    assert not (Path("/tmp") / hostile["mark"]).exists()
    with pytest.raises(BlockingIOError):
        hostile["listener"].accept()
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        correct = sum(gb.find_grade(f"test_{p.id}", "exercises_en", ASSIGNMENT, "correct").score
                      for p in PARTS)
        forged = {p.id: gb.find_grade(f"test_{p.id}", "exercises_en", ASSIGNMENT,
                                      "hostile").score for p in PARTS}
    assert correct == sum(p.points for p in PARTS)
    # NOT protected: the tests share the kernel, so the blank answers "scored" full marks ...
    assert forged == {p.id: p.points for p in PARTS}
    # ... where the sandboxed grader, which keeps the checks out of the student's process,
    # gives the same notebook nothing.
    assert request.getfixturevalue("ours")["hostile"] == {p.id: 0.0 for p in PARTS}
