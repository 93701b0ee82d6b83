"""The grader on the fixture submissions: exact scores and statuses, and what the sandbox held.

All fixtures are graded ONCE, by the real command (``python -m d2l_tconv.grade``), with two
sandboxes at a time; every test below reads that one gradebook and its side files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import skip_or_fail

import d2l_tconv
from d2l_tconv.exercise_checks import PARTS
from d2l_tconv.grade.sandbox import find_sandbox, make_stage, verify_sandbox

REPO = Path(d2l_tconv.__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "submissions"
SEED = 12345
IDS = [p.id for p in PARTS]
FULL = {p.id: (p.points, "ok") for p in PARTS}


def _copy_fixtures(submissions: Path, out: Path) -> None:
    submissions.mkdir()
    for fixture in sorted(FIXTURES.glob("*.fixture")):
        text = fixture.read_text(encoding="utf-8")
        name = fixture.name.removesuffix(".fixture").removesuffix(".template")
        text = (text.replace("{{REPO}}", str(REPO)).replace("{{SUBMISSIONS}}", str(submissions))
                .replace("{{OUT}}", str(out)))
        (submissions / f"{name}.ipynb").write_text(text, encoding="utf-8")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every fixture once; return the output folder, the gradebook and the digests of
    files the escape fixture attacked, before and after."""
    root = tmp_path_factory.mktemp("grading")
    sandbox = verify_sandbox(find_sandbox(), make_stage(root / "stage"), [])
    if sandbox.kind != "bubblewrap":
        skip_or_fail(f"bubblewrap (bwrap) not installed or not working: {sandbox.problem}")
    submissions, out = root / "submissions", root / "out"
    _copy_fixtures(submissions, out)
    watched = [*sorted(submissions.iterdir()), REPO / "pyproject.toml",
               REPO / "d2l_tconv" / "grade" / "hidden.py"]
    before = {p: _digest(p) for p in watched}
    done = subprocess.run(
        [sys.executable, "-m", "d2l_tconv.grade", str(submissions), "--out", str(out),
         "--seed", str(SEED), "--jobs", "2", "--timeout", "60", "--cell-timeout", "2",
         "--part-timeout", "5", "--memory-mb", "2048"],
        capture_output=True, text=True, timeout=400, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    after = {p: _digest(p) for p in watched}
    return {"out": out, "rows": rows, "before": before, "after": after, "stdout": done.stdout,
            "submissions": submissions}


def _details(graded, name: str) -> dict:
    return json.loads((graded["out"] / "details" / f"{name}.json").read_text(encoding="utf-8"))


def _cell(name: str, needle: str) -> int:
    """Number (from 1, all cells counted) of the one code cell of fixture ``name`` whose
    source contains ``needle``."""
    path = next(FIXTURES.glob(f"{name}*.fixture"))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    hits = [i for i, c in enumerate(cells)
            if c["cell_type"] == "code" and needle in "".join(c["source"])]
    assert len(hits) == 1, (name, needle, hits)
    return hits[0] + 1


def _flagged(*codes: str) -> dict[str, tuple[int, str]]:
    return {p: (0, f"flagged: {', '.join(sorted(codes))}") for p in IDS}


def _all(status: str) -> dict[str, tuple[int, str]]:
    return {p: (0, status) for p in IDS}


def expected() -> dict[str, dict[str, tuple[int, str]]]:
    """Every submission's (points, status) per part."""
    stopped = _cell("unstoppable_loop", "catches the time-limit interruption")
    return {
        "always_equal": _flagged("eq-override"),
        "correct_en": FULL,
        "empty": _all("not graded: empty notebook (no code)"),
        "escapes": _flagged("reads-course-files"),
        "fake_pass": _flagged("fake-pass-message"),
        "imports_reference": _flagged("forbidden-op", "imports-reference"),
        "infinite_loop": FULL,
        "invalid_json": _all("not graded: invalid JSON (JSONDecodeError)"),
        "memory_hog": FULL,
        "monkeypatch_grader": _flagged("imports-reference", "monkeypatch"),
        "monkeypatch_otter": _flagged("monkeypatch"),
        "monkeypatch_torch": _flagged("monkeypatch"),
        "monkeypatch_transformer": _flagged("monkeypatch"),
        "network": _flagged("network"),
        "not_a_notebook": _all("not graded: not a Jupyter notebook"),
        "partly_wrong_ja": {
            "1a": (0, "wrong: Z has wrong values"),
            "1b": (1, "ok"),
            "1c": (1, "partial: WtW_is_identity is wrong"),
            "1d": (0, "wrong: 4 of 4 hidden inputs"),
            "1e": (2, "ok"),
            "2a": (0, "error: NotImplementedError on hidden input 1"),
            "2b": (1, "partial: bytes_dense_224 is not an int"),
            "2c": (3, "ok"),
            "2d": (1, "partial: dense_bytes is wrong"),
        },
        "raises_top_level": {
            **FULL,
            "1b": (0, f"missing: WtW not defined "
                      f"(cell {_cell('raises_top_level', 'not sure yet')}: ValueError)"),
            "1c": (0, "missing: rank_WtW, WtW_is_identity not defined "
                      f"(cell {_cell('raises_top_level', 'rank_WtW = int(')}: NameError)"),
        },
        "reads_solutions": _flagged("imports-reference", "reads-course-files"),
        "redefines_check": _flagged("redefines-check"),
        "syntax_error": {
            **FULL,
            "2c": (0, "missing: conv_by_matmul not defined "
                      f"(cell {_cell('syntax_error', 'def conv_by_matmul(X, K)')}: SyntaxError)"),
        },
        "untouched_ja": {
            "1a": (0, "missing: Z still None"),
            "1b": (0, "missing: WtW still None"),
            "1c": (0, "missing: rank_WtW, WtW_is_identity still None"),
            "1d": (0, "error: NotImplementedError on hidden input 1"),
            "1e": (0, "missing: K_id, stride_id, padding_id, input_shape_id still None"),
            "2a": (0, "error: NotImplementedError on hidden input 1"),
            "2b": (0, "missing: bytes_dense_224, bytes_kernel_224 still None"),
            "2c": (0, "error: NotImplementedError on hidden input 1"),
            "2d": (0, "missing: dense_bytes, dense_ms, conv_ms still None"),
        },
        "unstoppable_loop": {
            **{p: FULL[p] for p in ("1a", "1b", "1c", "1d", "1e")},
            **{p: (0, f"not reached: cell {stopped} could not be interrupted")
               for p in ("2a", "2b", "2c", "2d")},
        },
    }


def test_gradebook_has_exactly_the_expected_rows(graded):
    rows = graded["rows"]
    assert rows[0] == ["submission", "part", "points", "max_points", "status"]
    maximum = {p.id: p.points for p in PARTS}
    want = [[name, part, str(points), str(maximum[part]), status]
            for name, parts in sorted(expected().items())
            for part, (points, status) in ((p, parts[p]) for p in IDS)]
    got = rows[1:]
    assert [r[0] for r in got[::len(IDS)]] == sorted(expected()), "one block per submission"
    for want_row, got_row in zip(want, got, strict=True):
        assert got_row == want_row


def test_every_fixture_was_graded_and_has_feedback(graded):
    names = {p.name.removesuffix(".fixture").removesuffix(".template")
             for p in FIXTURES.glob("*.fixture")}
    assert names == set(expected())
    for name in names:
        assert (graded["out"] / "feedback" / f"{name}.md").is_file()


def test_sandbox_kept_files_outside_scratch_unchanged(graded):
    assert graded["before"] == graded["after"]
    text = (graded["out"] / "gradebook.csv").read_text(encoding="utf-8")
    assert "alice" not in text and "100" not in text
    assert not Path("/etc/d2l-tconv-escape").exists()
    cells = _details(graded, "escapes")["cells"]
    errors = [cells[str(_cell("escapes", needle))]["error"] for needle in
              ("gradebook.csv", "correct_en.ipynb", "pyproject.toml", "/etc/d2l-tconv-escape")]
    assert all(e and e.startswith("OSError: [Errno 30] Read-only file system") for e in errors), \
        errors
    fork = cells[str(_cell("escapes", "os.fork()"))]["error"]
    assert fork.startswith("PermissionError"), fork  # seccomp: no new processes


def test_sandbox_hides_solutions_hidden_tests_and_grader(graded):
    cells = _details(graded, "reads_solutions")["cells"]
    for needle in ("solutions_en.ipynb", "hidden.py"):
        assert cells[str(_cell("reads_solutions", needle))]["error"].startswith(
            "FileNotFoundError")
    assert cells[str(_cell("reads_solutions", "import d2l_tconv.grade"))]["error"].startswith(
        "ModuleNotFoundError")
    # the reference implementation is not importable inside the sandbox either
    cells = _details(graded, "imports_reference")["cells"]
    error = cells[str(_cell("imports_reference", "from d2l_tconv import kernel2matrix"))]["error"]
    assert error.startswith("ImportError: cannot import name 'kernel2matrix'")


def test_sandbox_has_no_network(graded):
    cells = _details(graded, "network")["cells"]
    for needle in ("socket.create_connection", "urlopen"):
        status = cells[str(_cell("network", needle))]
        assert status["status"] == "error" and ("unreachable" in status["error"]
                                                or "resolution" in status["error"])


def test_time_and_memory_limits_stop_cells_not_grading(graded):
    hog = _details(graded, "memory_hog")
    assert [c["status"] for c in hog["cells"].values()].count("memory") == 2
    loop = _details(graded, "infinite_loop")
    cell = loop["cells"][str(_cell("infinite_loop", "while True:\n    pass"))]
    assert cell["status"] == "timeout" and loop["ended"] == "completed"
    stuck = _details(graded, "unstoppable_loop")
    assert stuck["ended"].startswith("stopped: cell")


def test_flagged_submissions_get_nothing_but_are_reported(graded):
    report = (graded["out"] / "report.md").read_text(encoding="utf-8")
    assert "sandbox: bubblewrap" in report and "NO SANDBOX" not in report
    for name, parts in expected().items():
        if parts["1a"][1].startswith("flagged"):
            assert f"- **{name}**:" in report
            details = _details(graded, name)
            assert details["flags"], name
    # The tricks gain nothing even without the flag: the checks ran outside the sandbox.
    always = _details(graded, "always_equal")["parts"]
    by_part = {p["part"]: p for p in always}
    assert by_part["1a"]["points_without_flags"] == 0
    assert "invalid answer" in by_part["1a"]["message"]
    assert "__main__.AlwaysEqual" in by_part["1a"]["message"]
    assert by_part["1d"]["points_without_flags"] == 0
    torch_patch = {p["part"]: p for p in _details(graded, "monkeypatch_torch")["parts"]}
    assert torch_patch["1a"]["points_without_flags"] == 0  # Z = zeros: wrong, whatever allclose


def test_free_text_collected_for_marking(graded):
    text = (graded["out"] / "free_text_for_marking.md").read_text(encoding="utf-8")
    assert text.count("### Rubric") == 2
    assert "### correct_en" in text and "The transposed convolution is the *transpose*" in text
    assert "_(not readable: invalid JSON (JSONDecodeError))_" in text
    assert "_(no answer cell found: check the notebook by hand)_" in text  # small fixtures
    feedback = (graded["out"] / "feedback" / "partly_wrong_ja.md").read_text(encoding="utf-8")
    assert "自動採点: 9 / 18 点。" in feedback
    assert "Failed on 4 of 4 hidden inputs" in feedback


def test_command_printed_the_sandbox(graded):
    assert graded["stdout"].startswith("sandbox: bubblewrap")
    assert "wrote" in graded["stdout"]


def test_grading_does_not_touch_the_submissions_folder(graded):
    names = sorted(p.name for p in graded["submissions"].iterdir())
    assert names == sorted(f"{n}.ipynb" for n in expected())


def test_the_student_notebook_as_handed_out_runs_cleanly(graded):
    details = _details(graded, "untouched_ja")
    assert details["ended"] == "completed" and details["lang"] == "ja"
    assert {c["status"] for c in details["cells"].values()} == {"ok"}
    assert details["answers"] == {"1": exercise_source_placeholder("ja"),
                                  "2": exercise_source_placeholder("ja")}


def exercise_source_placeholder(lang: str) -> str:
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import exercise_source
    finally:
        sys.path.pop(0)
    return exercise_source.PLACEHOLDER[lang]
