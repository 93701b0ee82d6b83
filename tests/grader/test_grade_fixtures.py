"""The grader on the fixture submissions: exact scores and statuses, and what the sandbox held.

The fixtures are graded by the real command (``python -m d2l_tconv_grader``), with two
sandboxes at a time, in four runs made ONCE for this module (every test below reads their
gradebooks and side files; each fixture is graded in one run, but the controls are graded
again alone, and the correct notebook, the target of ``escapes``, in ``others`` as well):

- ``attacks``: the attacks on the grader itself (``attack_*`` and copies of the correct
  notebook under hostile file names, issue 8), beside the controls (the correct and the
  untouched notebook); timed;
- ``controls``: the two controls alone, timed: issue 8's bound compares the two times;
- ``others``: every other fixture but the two below, with the correct notebook;
- ``hanging``: the two fixtures with a cell that never ends, graded while ``others`` runs.

Time limits (issue 13): the first three runs use the grader's defaults (30 s per cell, 10 s
per hidden call, 120 s per submission): over 10 times the slowest cell of the correct notebook
(about 0.9 s with a cold font cache, 1.8 s under a two-core load), its hidden calls
(milliseconds) and the whole notebook (about 3 s). The ``hanging`` fixtures never finish a
cell (``while True``), so the limit decides only when they stop: their run uses 5 s per cell
(the other cells of ``infinite_loop`` still finish well within it); that the default is 30 s
is checked in tests/grader/test_grade_units.py.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import bubblewrap_sandbox

from d2l_tconv.exercise_checks import PARTS
from d2l_tconv_grader.cells import cell_label
from d2l_tconv_grader.escape import md_inline, safe_name

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
#: The ``hanging`` run: its cells stop at the cell limit, which only says when.
HANGING_LIMITS = ["--timeout", "120", "--cell-timeout", "5", "--part-timeout", "10",
                  "--memory-mb", "2048"]
CONTROLS = ["correct_en", "untouched_ja"]
HANGING = ["infinite_loop", "unstoppable_loop"]
#: Hostile file names (issue 8) -> (the fixture copied under that name, its gradebook name):
#: formulas for a spreadsheet, and a line break that would add a row to report.md's table.
ATTACK_FILE_NAMES = {
    '=HYPERLINK("x.test","y")': ("correct_en", """'=HYPERLINK("x.test","y")"""),
    "@SUM(1+1)": ("correct_en", "'@SUM(1+1)"),
    "evil\n| x | 18 |": ("correct_en", None),  # an alias: evil_| x | 18 |-<hash>
}


def _fixture_names() -> list[str]:
    return sorted(p.name.removesuffix(".fixture").removesuffix(".template")
                  for p in FIXTURES.glob("*.fixture"))


def _copy_fixtures(submissions: Path, out: Path, names: list[str],
                   hostile_names: bool = False) -> list[str]:
    """The fixtures ``names`` into ``submissions``, with the copies of the correct notebook
    under hostile file names when it is among them (and ``hostile_names``); returns the names
    of the files it wrote."""
    submissions.mkdir(parents=True)
    copied = []
    for fixture in sorted(FIXTURES.glob("*.fixture")):
        text = fixture.read_text(encoding="utf-8")
        name = fixture.name.removesuffix(".fixture").removesuffix(".template")
        if name not in names:
            continue
        text = (text.replace("{{REPO}}", str(REPO)).replace("{{SUBMISSIONS}}", str(submissions))
                .replace("{{OUT}}", str(out)))
        (submissions / f"{name}.ipynb").write_text(text, encoding="utf-8")
        copied.append(f"{name}.ipynb")
    for file_name, (fixture, _) in ATTACK_FILE_NAMES.items():
        if hostile_names and fixture in names:
            (submissions / f"{file_name}.ipynb").write_bytes(
                (submissions / f"{fixture}.ipynb").read_bytes())
            copied.append(f"{file_name}.ipynb")
    return copied


def _grade(submissions: Path, out: Path,
           limits: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "d2l_tconv_grader", str(submissions), "--out", str(out),
         "--seed", str(SEED), "--jobs", "2", *limits],
        capture_output=True, text=True, timeout=1200, cwd=REPO)
    return done, time.monotonic() - start


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Run:
    """One run of the grader's command: its folders, gradebook rows, printed text, wall time,
    and the digests of the files the escape fixture attacks, before and after."""

    names: set[str]  # the submissions' names in the gradebook
    copied: list[str]  # the files put in ``submissions``
    submissions: Path
    out: Path
    rows: list[list[str]]
    stdout: str
    seconds: float
    before: dict[Path, str]
    after: dict[Path, str]


def _run(root: Path, names: list[str], limits: list[str], hostile_names: bool = False) -> Run:
    submissions, out = root / "submissions", root / "out"
    copied = _copy_fixtures(submissions, out, names, hostile_names)
    watched = [*sorted(submissions.iterdir()), REPO / "pyproject.toml",
               REPO / "d2l_tconv_grader" / "hidden.py"]
    before = {p: _digest(p) for p in watched}
    done, seconds = _grade(submissions, out, limits)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    shown = {shown for shown, fixture in _gradebook_names().items()
             if fixture in names and (hostile_names or shown == fixture)}
    return Run(shown, copied, submissions, out, rows, done.stdout, seconds, before,
               {p: _digest(p) for p in watched})


@pytest.fixture(scope="module")
def graded(grader_stage, tmp_path_factory) -> dict[str, Run]:
    """Grade the fixtures in the four runs of the module's docstring: the two timed runs one
    after the other, then ``others`` while ``hanging`` waits for its cells' limits."""
    root = tmp_path_factory.mktemp("grading")
    bubblewrap_sandbox(grader_stage)
    others = [n for n in _fixture_names()
              if n not in ATTACKS and n not in HANGING and n != "untouched_ja"]
    runs = {"attacks": _run(root / "attacks", [*CONTROLS, *ATTACKS], LIMITS,
                            hostile_names=True),
            "controls": _run(root / "controls", CONTROLS, LIMITS)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        hanging = pool.submit(_run, root / "hanging", HANGING, HANGING_LIMITS)
        runs["others"] = _run(root / "others", others, LIMITS)
        runs["hanging"] = hanging.result()
    return runs


def _run_of(graded: dict[str, Run], name: str) -> Run:
    """The (first) run that graded the submission ``name``."""
    return next(run for run in graded.values() if name in run.names)


def _details(graded, name: str) -> dict:
    out = _run_of(graded, name).out
    return json.loads((out / "details" / f"{name}.json").read_text(encoding="utf-8"))


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
    for label, run in graded.items():
        assert run.rows[0] == ["submission", "part", "points", "max_points", "status"], label
        blocks = _blocks(run.rows)
        assert set(blocks) == run.names, label
        for name, block in blocks.items():
            assert [r[1] for r in block] == IDS, (label, name)
    assert set().union(*(run.names for run in graded.values())) == set(_gradebook_names())


def test_gradebook_has_exactly_the_expected_rows(graded):
    maximum = {p.id: p.points for p in PARTS}
    for name, parts in sorted(expected().items()):
        want = [[name, part, str(parts[part][0]), str(maximum[part]), parts[part][1]]
                for part in IDS]
        runs = [run for run in graded.values() if name in run.names]
        assert runs, name
        for run in runs:  # the correct notebook, in several runs, scores the same in each
            assert _blocks(run.rows)[name] == want, name


def test_every_fixture_was_graded_and_has_feedback(graded):
    for run in graded.values():
        for name in run.names:
            file_name = name.removeprefix("'")
            assert (run.out / "feedback" / f"{file_name}.md").is_file(), name


def test_sandbox_kept_files_outside_scratch_unchanged(graded):
    for label, run in graded.items():
        assert run.before == run.after, label
        text = (run.out / "gradebook.csv").read_text(encoding="utf-8")
        assert not any(line.startswith("alice,") for line in text.splitlines()), label
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
    for label, run in graded.items():
        report = (run.out / "report.md").read_text(encoding="utf-8")
        assert "sandbox: bubblewrap" in report and "NO SANDBOX" not in report, label
    for name, parts in expected().items():
        if parts["1a"][1].startswith("flagged"):
            report = (_run_of(graded, name).out / "report.md").read_text(encoding="utf-8")
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
    for label, run in graded.items():
        text = (run.out / "free_text_for_marking.md").read_text(encoding="utf-8")
        assert text.count("### Rubric") == 2, label
    text = (graded["others"].out / "free_text_for_marking.md").read_text(encoding="utf-8")
    assert "### correct_en" in text and "The transposed convolution is the *transpose*" in text
    assert "_(not readable: invalid JSON (JSONDecodeError))_" in text
    assert "_(no answer cell found: check the notebook by hand)_" in text  # small fixtures
    feedback = (_run_of(graded, "partly_wrong_ja").out / "feedback" / "partly_wrong_ja.md"
                ).read_text(encoding="utf-8")
    assert "自動採点: 9 / 18 点。" in feedback
    assert "非公開の入力 4 個のうち 0 個に正解しました" in feedback


def test_command_printed_the_sandbox(graded):
    for label, run in graded.items():
        assert run.stdout.startswith("sandbox: bubblewrap"), label
        assert "wrote" in run.stdout, label


def test_grading_does_not_touch_the_submissions_folder(graded):
    for label, run in graded.items():
        names = sorted(p.name for p in run.submissions.iterdir())
        assert names == sorted(run.copied), label
    copied = set().union(*(run.copied for run in graded.values()))
    assert copied == {f"{n}.ipynb" for n in [*_fixture_names(), *ATTACK_FILE_NAMES]}


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
    feedback = (graded["others"].out / "feedback" / "transposed_w_ja.md").read_text(encoding="utf-8")
    label = _label("transposed_w_ja", "dense_bytes.append(")
    ja = label.replace("code cell", "コードセル")
    assert f"**2d**: 2d のセル（{ja}）が失敗しました: `RuntimeError: size mismatch" in feedback
    assert "my_kernel2matrix(K, (8, 8)) の形状は (64, 36) で、W @ x に必要な (36, 64)" in feedback
    assert "採点プログラムがサンドボックスの中で Wᵀ @ x により測定しました" in feedback
    prose = re.sub(r"`[^`]*`", " ", feedback)  # Japanese feedback: no English sentences
    assert not re.findall(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b", prose)


def test_honest_notebooks_are_not_flagged_and_keep_their_free_text(graded):
    assert HONEST
    for name in HONEST:
        text = (_run_of(graded, name).out / "free_text_for_marking.md").read_text(
            encoding="utf-8")
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
    blocks = _blocks(graded["attacks"].rows)
    assert set(ATTACKS) <= set(blocks)
    for name, targets in ATTACKS.items():
        got = {row[1]: (float(row[2]), row[4]) for row in blocks[name]}
        for part, (points, status) in targets.items():
            assert got[part] == (points, status), (name, part)


def test_controls_beside_the_attacks_keep_their_scores(graded):
    hostile = [shown or safe_name(file_name) for file_name, (_, shown) in ATTACK_FILE_NAMES.items()]
    for label in ("attacks", "controls"):  # beside the attacks, and alone
        blocks = _blocks(graded[label].rows)
        for name in ["correct_en", *(hostile if label == "attacks" else [])]:
            assert [(r[1], r[2], r[4]) for r in blocks[name]] == [
                (p.id, str(p.points), "ok") for p in PARTS], (label, name)
        assert sum(float(r[2]) for r in blocks["untouched_ja"]) == 0, label


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
    report = (graded["attacks"].out / "report.md").read_text(encoding="utf-8")
    assert "shared mappings, memfd_create and shmget refused (seccomp)" in report


def test_nothing_from_a_submission_is_rendered_or_forged_in_the_outputs(graded):
    alias = safe_name("evil\n| x | 18 |")
    assert alias in graded["attacks"].names
    for label, run in graded.items():
        out = run.out
        report = (out / "report.md").read_text(encoding="utf-8")
        headings = [line for line in report.splitlines() if line.startswith("#")]
        assert len(headings) == len(set(headings)) and "<!--" not in report, (label, headings)
        texts = [report, (out / "free_text_for_marking.md").read_text(encoding="utf-8"),
                 *(p.read_text(encoding="utf-8") for p in (out / "feedback").iterdir())]
        for text in texts:
            assert "<script" not in text and "<img" not in text, label
        if alias in run.names:  # the alias, with its mapping (as Markdown text: "|" escaped)
            assert "evil\n" not in report and md_inline(alias) in report, label
        gradebook = (out / "gradebook.csv").read_text(encoding="utf-8")
        assert "\n=HYPERLINK" not in gradebook and "\n@SUM" not in gradebook, label


def test_attacks_finish_within_twice_the_controls_plus_one_submission_limit(graded):
    """Issue 8's bound, measured in two runs on the same machine, one after the other: the
    attacks with the controls, then the controls alone. A grader that hangs on an attack (the
    quadratic search took over 200 s) fails it; it asserts no absolute time."""
    with_attacks, alone = graded["attacks"].seconds, graded["controls"].seconds
    assert {*ATTACKS, *CONTROLS} <= graded["attacks"].names
    assert graded["controls"].names == set(CONTROLS)
    assert with_attacks <= 2 * alone + float(LIMITS[1]), (with_attacks, alone)
