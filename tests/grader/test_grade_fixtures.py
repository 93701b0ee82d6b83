"""The grader on the fixture submissions: exact scores and statuses, and what the sandbox held.

All fixtures are graded ONCE, by the real command (``python -m d2l_tconv_grader``), with two
sandboxes at a time; every test below reads that one gradebook and its side files. The attacks
on the grader itself (``attack_*``, issue 8) are graded in that same run, beside the correct
and the untouched notebook, and copies of the correct notebook under hostile file names.

Time limits (issue 13): the run uses the grader's defaults (30 s per cell, 10 s per hidden
call, 120 s per submission): over 10 times the slowest cell of the correct notebook (about
0.9 s with a cold font cache, 1.8 s under a two-core load), its hidden calls (milliseconds)
and the whole notebook (about 3 s). The fixtures that must time out never finish
(``while True``), so the limit decides only when they stop.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import skip_or_fail

from d2l_tconv.exercise_checks import PARTS
from d2l_tconv_grader.cells import cell_label
from d2l_tconv_grader.escape import md_inline, safe_name
from d2l_tconv_grader.sandbox import find_sandbox, make_stage, verify_sandbox

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "submissions"
SEED = 12345
IDS = [p.id for p in PARTS]
FULL = {p.id: (p.points, "ok") for p in PARTS}
#: Correct notebooks in the styles honest students write (issue 15): full marks, free text kept.
HONEST = sorted(p.name.removesuffix(".fixture") for p in FIXTURES.glob("honest_*.fixture"))
pytestmark = pytest.mark.slow  # the grader's command, in bubblewrap
LIMITS = ["--timeout", "120", "--cell-timeout", "30", "--part-timeout", "10",
          "--memory-mb", "2048"]
#: Hostile file names (issue 8) -> (the fixture copied under that name, its gradebook name):
#: formulas for a spreadsheet, and a line break that would add a row to report.md's table.
ATTACK_FILE_NAMES = {
    '=HYPERLINK("x.test","y")': ("correct_en", """'=HYPERLINK("x.test","y")"""),
    "@SUM(1+1)": ("correct_en", "'@SUM(1+1)"),
    "evil\n| x | 18 |": ("correct_en", None),  # an alias: evil_| x | 18 |-<hash>
}


def _copy_fixtures(submissions: Path, out: Path, names: list[str] | None = None) -> None:
    submissions.mkdir()
    for fixture in sorted(FIXTURES.glob("*.fixture")):
        text = fixture.read_text(encoding="utf-8")
        name = fixture.name.removesuffix(".fixture").removesuffix(".template")
        if names is not None and name not in names:
            continue
        text = (text.replace("{{REPO}}", str(REPO)).replace("{{SUBMISSIONS}}", str(submissions))
                .replace("{{OUT}}", str(out)))
        (submissions / f"{name}.ipynb").write_text(text, encoding="utf-8")
    for file_name, (fixture, _) in ATTACK_FILE_NAMES.items():
        if names is None or fixture in names:
            (submissions / f"{file_name}.ipynb").write_bytes(
                (submissions / f"{fixture}.ipynb").read_bytes())


def _grade(submissions: Path, out: Path) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "d2l_tconv_grader", str(submissions), "--out", str(out),
         "--seed", str(SEED), "--jobs", "2", *LIMITS],
        capture_output=True, text=True, timeout=1200, cwd=REPO)
    return done, time.monotonic() - start


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
               REPO / "d2l_tconv_grader" / "hidden.py"]
    before = {p: _digest(p) for p in watched}
    done, _ = _grade(submissions, out)
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


def _label(name: str, needle: str) -> str:
    """How the gradebook names that cell (as the feedback does): ``code cell 12 (`line`)``."""
    path = next(FIXTURES.glob(f"{name}*.fixture"))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = [(i + 1, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    return cell_label(code, _cell(name, needle))


def _flagged(*codes: str) -> dict[str, tuple[int, str]]:
    return {p: (0, f"flagged: {', '.join(sorted(codes))}") for p in IDS}


def _all(status: str) -> dict[str, tuple[int, str]]:
    return {p: (0, status) for p in IDS}


def _small_notebook() -> dict[str, tuple[int, str]]:
    """A fixture built by ``_small`` with nothing flagged: 1c and 2b right, the rest missing."""
    missing = {p.id: (0, f"missing: {', '.join(p.names)} not defined") for p in PARTS}
    return {**missing, "1c": FULL["1c"], "2b": FULL["2b"]}


def expected() -> dict[str, dict[str, tuple[int, str]]]:
    """Every submission's (points, status) per part."""
    stopped = _label("unstoppable_loop", "catches the time-limit interruption")
    return {
        "always_equal": _flagged("eq-override"),
        "correct_en": FULL,
        "empty": _all("not graded: empty notebook (no code)"),
        "escapes": _flagged("reads-course-files"),
        "fake_pass": _small_notebook(),  # a pass-like string: a note, never a penalty
        "imports_reference": {**FULL, "1d": (0, "flagged: forbidden-op"),
                              "2d": (0, "wrong: dense_bytes; dense_ms, conv_ms")},
        "infinite_loop": FULL,
        "invalid_json": _all("not graded: invalid JSON (JSONDecodeError)"),
        "memory_hog": FULL,
        "monkeypatch_grader": _flagged("imports-reference", "monkeypatch"),
        "monkeypatch_otter": _flagged("monkeypatch"),
        "monkeypatch_torch": _flagged("monkeypatch"),
        "monkeypatch_transformer": _flagged("monkeypatch"),
        "network": _small_notebook(),  # no network in the sandbox: a note only
        "not_a_notebook": _all("not graded: not a Jupyter notebook"),
        "partly_wrong_ja": {
            "1a": (0, "wrong: Z"),
            "1b": (1, "ok"),
            "1c": (1, "partial: WtW_is_identity"),
            "1d": (0, "wrong: 4 of 4 hidden inputs"),
            "1e": (2, "ok"),
            "2a": (0, "not attempted"),
            "2b": (1, "partial: bytes_dense_224"),
            "2c": (3, "ok"),
            "2d": (1, "partial: dense_bytes"),
        },
        "raises_top_level": {
            **FULL,
            "1b": (0, f"missing: WtW not defined "
                      f"({_label('raises_top_level', 'not sure yet')}: ValueError)"),
            "1c": (0, "missing: rank_WtW, WtW_is_identity not defined "
                      f"({_label('raises_top_level', 'rank_WtW = int(')}: NameError)"),
        },
        "reads_solutions": _flagged("imports-reference", "reads-course-files"),
        "redefines_check": _flagged("redefines-check"),
        "syntax_error": {
            **FULL,
            "2c": (0, "missing: conv_by_matmul not defined "
                      f"({_label('syntax_error', 'def conv_by_matmul(X, K)')}: SyntaxError)"),
        },
        "untouched_ja": _all("not attempted"),
        # issue 15: one mistake, charged once: Wᵀ costs 1d; 2d is measured with the student's W
        "transposed_w_ja": {**FULL, "1d": (0.75, "partial: 1 of 4 hidden inputs"),
                            "2d": (2, "ok (measured by the grader: the 2d cell failed)")},
        **{name: FULL for name in HONEST},  # issue 15: no style costs a point
        "unstoppable_loop": {
            **{p: FULL[p] for p in ("1a", "1b", "1c", "1d", "1e")},
            **{p: (0, f"not reached: {stopped} could not be interrupted")
               for p in ("2a", "2b", "2c", "2d")},
        },
    }


def _gradebook_names() -> dict[str, str]:
    """Submission name in the gradebook (as a spreadsheet reads it back) -> fixture."""
    names = {p.name.removesuffix(".fixture").removesuffix(".template"): None
             for p in FIXTURES.glob("*.fixture")}
    names = {name: name for name in names}
    for file_name, (fixture, shown) in ATTACK_FILE_NAMES.items():
        names[shown or safe_name(file_name)] = fixture
    return names


def _blocks(rows: list[list[str]]) -> dict[str, list[list[str]]]:
    blocks: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        blocks.setdefault(row[0], []).append(row)
    return blocks


def test_gradebook_has_one_row_per_part_of_every_submission(graded):
    rows = graded["rows"]
    assert rows[0] == ["submission", "part", "points", "max_points", "status"]
    blocks = _blocks(rows)
    assert set(blocks) == set(_gradebook_names())
    for name, block in blocks.items():
        assert [r[1] for r in block] == IDS, name


def test_gradebook_has_exactly_the_expected_rows(graded):
    maximum = {p.id: p.points for p in PARTS}
    blocks = _blocks(graded["rows"])
    for name, parts in sorted(expected().items()):
        want = [[name, part, str(parts[part][0]), str(maximum[part]), parts[part][1]]
                for part in IDS]
        assert blocks[name] == want, name


def test_every_fixture_was_graded_and_has_feedback(graded):
    for name in _gradebook_names():
        file_name = name.removeprefix("'")
        assert (graded["out"] / "feedback" / f"{file_name}.md").is_file(), name


def test_sandbox_kept_files_outside_scratch_unchanged(graded):
    assert graded["before"] == graded["after"]
    text = (graded["out"] / "gradebook.csv").read_text(encoding="utf-8")
    assert not any(line.startswith("alice,") for line in text.splitlines())
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
    assert cells[str(_cell("reads_solutions", "import d2l_tconv_grader"))]["error"].startswith(
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
    assert "invalid answer" in json.dumps(by_part["1a"]["message"])
    assert "__main__.AlwaysEqual" in json.dumps(by_part["1a"]["message"])
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
    assert "非公開の入力 4 個のうち 0 個に正解しました" in feedback


def test_command_printed_the_sandbox(graded):
    assert graded["stdout"].startswith("sandbox: bubblewrap")
    assert "wrote" in graded["stdout"]


def test_grading_does_not_touch_the_submissions_folder(graded):
    names = sorted(p.name for p in graded["submissions"].iterdir())
    fixtures = {p.name.removesuffix(".fixture").removesuffix(".template")
                for p in FIXTURES.glob("*.fixture")}
    assert names == sorted(f"{n}.ipynb" for n in [*fixtures, *ATTACK_FILE_NAMES])


def test_the_student_notebook_as_handed_out_runs_cleanly(graded):
    details = _details(graded, "untouched_ja")
    assert details["ended"] == "completed" and details["lang"] == "ja"
    assert {c["status"] for c in details["cells"].values()} == {"ok"}
    # only the placeholder: stripped, so nothing to mark
    assert exercise_source_placeholder("ja") and details["answers"] == {"1": "", "2": ""}


def test_a_transposed_w_is_charged_in_1d_only_and_the_feedback_says_why(graded):
    details = _details(graded, "transposed_w_ja")
    cell = _cell("transposed_w_ja", "dense_bytes.append(")
    assert details["cells"][str(cell)]["error"].startswith("RuntimeError: size mismatch")
    feedback = (graded["out"] / "feedback" / "transposed_w_ja.md").read_text(encoding="utf-8")
    label = _label("transposed_w_ja", "dense_bytes.append(")
    ja = label.replace("code cell", "コードセル")
    assert f"**2d**: 2d のセル（{ja}）が失敗しました: `RuntimeError: size mismatch" in feedback
    assert "my_kernel2matrix(K, (8, 8)) の形状は (64, 36) で、W @ x に必要な (36, 64)" in feedback
    assert "採点プログラムがサンドボックスの中で Wᵀ @ x により測定しました" in feedback
    prose = re.sub(r"`[^`]*`", " ", feedback)  # Japanese feedback: no English sentences
    assert not re.findall(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b", prose)


def test_honest_notebooks_are_not_flagged_and_keep_their_free_text(graded):
    text = (graded["out"] / "free_text_for_marking.md").read_text(encoding="utf-8")
    assert HONEST
    for name in HONEST:
        details = _details(graded, name)
        assert not details["integrity"] and all(f["kind"] == "heuristic"
                                                for f in details["flags"]), name
        assert all(len(details["answers"][q]) > 300 for q in ("1", "2")), name
        assert f"### {name}  (score: ___ / 4)\n\n_(no answer" not in text


def exercise_source_placeholder(lang: str) -> str:
    import exercise_source

    return exercise_source.PLACEHOLDER[lang]


# --- attacks on the grader (issue 8) -------------------------------------------------------

#: What each attack targets, and the status it must get there (every other part: whatever the
#: rest of the notebook earns, never more than a correct notebook).
ATTACKS = {
    "attack_deep_json": _all("not graded: too large (JSON nested deeper than 64)"),
    "attack_huge_int": _all("not graded: too large (an integer of 5000 digits, limit 100)"),
    "attack_huge_cell": _all("not graded: too large (cell 9 has 600000 characters, "
                             "limit 100000)"),
    "attack_chained_plus": FULL,  # the grader's scan no longer recurses: graded as usual
    "attack_regex_bomb": {"1a": (0, "not attempted")},  # graded, in linear time
    "attack_conv3d": {"1d": (0, "flagged: forbidden-op"), "2c": (0, "flagged: forbidden-op")},
    "attack_dummy_def": {"1d": (0, "flagged: forbidden-op")},
    "attack_static_method": {"1d": (0, "flagged: forbidden-op")},
    "attack_aten_scipy": {"1d": (0, "flagged: forbidden-op"),
                          "2c": (0, "flagged: forbidden-op")},
    "attack_getattr": _all("flagged: computed-attribute"),  # held for review
    "attack_guard_off": _all("flagged: computed-attribute, tampering"),
    "attack_constant_timings": {"2d": (1, "partial: dense_ms, conv_ms")},
    "attack_shared_memory": FULL,  # the memory is refused; the rest of the notebook counts
    "attack_html": FULL,
    "attack_forged_channel": _all("flagged: reads-course-files"),
}


def test_each_attack_gains_nothing_on_what_it_targets(graded):
    blocks = _blocks(graded["rows"])
    assert set(ATTACKS) <= set(blocks)
    for name, targets in ATTACKS.items():
        got = {row[1]: (float(row[2]), row[4]) for row in blocks[name]}
        for part, (points, status) in targets.items():
            assert got[part] == (points, status), (name, part)


def test_controls_beside_the_attacks_keep_their_scores(graded):
    blocks = _blocks(graded["rows"])
    for name in ("correct_en", *(shown or safe_name(file_name)
                                 for file_name, (_, shown) in ATTACK_FILE_NAMES.items())):
        assert [(r[1], r[2], r[4]) for r in blocks[name]] == [
            (p.id, str(p.points), "ok") for p in PARTS], name
    assert sum(float(r[2]) for r in blocks["untouched_ja"]) == 0


def test_run_time_guard_and_its_findings_are_reported(graded):
    conv3d = {p["part"]: p for p in _details(graded, "attack_conv3d")["parts"]}
    assert conv3d["1d"]["flag_kind"] == "rule" and conv3d["1a"]["flag_kind"] is None
    flags = _details(graded, "attack_aten_scipy")["flags"]
    details = " ".join(f["detail"] for f in flags)
    assert "aten.convolution" in details and "scipy.signal.correlate2d" in details
    guard = _details(graded, "attack_guard_off")["flags"]
    assert any("guard was switched off" in f["detail"] for f in guard)


def test_shared_memory_is_refused_inside_the_sandbox(graded):
    cells = _details(graded, "attack_shared_memory")["cells"]
    errors = [cells[str(_cell("attack_shared_memory", needle))]["error"] for needle in
              ("mmap.mmap(-1", "os.memfd_create", "/dev/shm/fill")]
    assert errors[0].startswith("PermissionError: [Errno 1]"), errors
    assert errors[1].startswith("PermissionError: [Errno 1]"), errors
    assert errors[2].startswith("OSError: [Errno 30] Read-only file system"), errors
    report = (graded["out"] / "report.md").read_text(encoding="utf-8")
    assert "shared mappings, memfd_create and shmget refused (seccomp)" in report


def test_nothing_from_a_submission_is_rendered_or_forged_in_the_outputs(graded):
    out = graded["out"]
    report = (out / "report.md").read_text(encoding="utf-8")
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert len(headings) == len(set(headings)) and "<!--" not in report, headings
    texts = [report, (out / "free_text_for_marking.md").read_text(encoding="utf-8"),
             *(p.read_text(encoding="utf-8") for p in (out / "feedback").iterdir())]
    for text in texts:
        assert "<script" not in text and "<img" not in text
    alias = safe_name("evil\n| x | 18 |")
    # the alias, with its mapping (as Markdown text: "|" escaped)
    assert "evil\n" not in report and md_inline(alias) in report
    gradebook = (out / "gradebook.csv").read_text(encoding="utf-8")
    assert "\n=HYPERLINK" not in gradebook and "\n@SUM" not in gradebook


def test_attacks_finish_within_twice_the_controls_plus_one_submission_limit(tmp_path):
    """Issue 8's bound, measured in this test's own two runs on the same machine: the attacks
    with the controls, then the controls alone. A grader that hangs on an attack (the
    quadratic search took over 200 s) fails it; it asserts no absolute time."""
    controls = ["correct_en", "untouched_ja"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _copy_fixtures(tmp_path / "a" / "subs", tmp_path / "a" / "out", [*controls, *ATTACKS])
    _copy_fixtures(tmp_path / "b" / "subs", tmp_path / "b" / "out", controls)
    sandbox = verify_sandbox(find_sandbox(), make_stage(tmp_path / "stage"), [])
    if sandbox.kind != "bubblewrap":
        skip_or_fail(f"bubblewrap (bwrap) not installed or not working: {sandbox.problem}")
    done, with_attacks = _grade(tmp_path / "a" / "subs", tmp_path / "a" / "out")
    assert done.returncode == 0, done.stderr
    done, alone = _grade(tmp_path / "b" / "subs", tmp_path / "b" / "out")
    assert done.returncode == 0, done.stderr
    assert with_attacks <= 2 * alone + float(LIMITS[1]), (with_attacks, alone)
