"""The grader's own process against hostile submissions (issue 8), unit by unit: bounded
reading, an iterative scan, strict events from the sandbox, the run-time forbidden-op guard,
escaping, and failures that stay with one submission. The same attacks, end to end in the
sandbox, are fixtures (tests/test_grade_fixtures.py); malformed input at random is
tests/test_grade_fuzz.py."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from d2l_tconv.exercise_checks import PARTS
from d2l_tconv_grader import data, grader, hidden
from d2l_tconv_grader.cli import main
from d2l_tconv_grader.escape import csv_cell, md_block, md_inline, safe_name
from d2l_tconv_grader.measure import timings_problem
from d2l_tconv_grader.notebook import MAX_CELL_CHARS, MAX_CELLS, read_submission
from d2l_tconv_grader.sandbox import Limits, Sandbox, run_harness
from d2l_tconv_grader.scan import Flag, scan


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _notebook(*sources: str, **extra) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.update(extra)
    return nbformat.writes(nb)


# --- reading: explicit limits, nothing that grows without bound -----------------------------

@pytest.mark.parametrize("text, why", [
    ("[" * 100_000 + "]" * 100_000, "JSON nested deeper"),
    ('{"cells": [], "x": ' + "7" * 5000 + "}", "integer of 5000 digits"),
    ('{"cells": ' + "[" * 70 + "]" * 70 + "}", "JSON nested deeper"),
])
def test_hostile_json_is_too_large_not_a_crash(tmp_path, text, why):
    submission = read_submission(_write(tmp_path / "a.ipynb", text))
    assert submission.problem.startswith("too large (") and why in submission.problem


def test_cells_characters_and_outputs_are_limited(tmp_path):
    many = read_submission(_write(tmp_path / "many.ipynb",
                                  _notebook(*["x = 1"] * (MAX_CELLS + 1))))
    assert many.problem == f"too large ({MAX_CELLS + 1} cells, limit {MAX_CELLS})"
    long = read_submission(_write(tmp_path / "long.ipynb",
                                  _notebook("Z," * MAX_CELL_CHARS)))
    assert long.problem.startswith("too large (cell 1 has")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="y" * 2**20)] * 17
    outputs = read_submission(_write(tmp_path / "outputs.ipynb", nbformat.writes(nb)))
    assert outputs.problem.startswith("too large (stored outputs of")


def test_a_control_character_in_a_file_name_gets_an_alias(tmp_path):
    name = "evil\n| x | 18 |"
    submission = read_submission(_write(tmp_path / f"{name}.ipynb", _notebook("x = 1")))
    assert submission.original_name == name
    assert "\n" not in submission.name and submission.name.startswith("evil_| x | 18 |-")
    assert safe_name("=SUM(1)") == "=SUM(1)"  # no control character: kept (CSV escapes it)


def test_binding_cells_is_linear_on_a_huge_syntax_error():
    # ``(,[^=\n]*)?=`` was quadratic here (still running after 200 s on 600 KB); now one pass
    # per line, on the largest cell the reader lets through
    cells = [(1, "Z," * (MAX_CELL_CHARS // 2)), (2, "Z = 1")]
    assert grader.binding_cells(cells, "Z") == [2]
    assert grader.binding_cells([(3, "Z, W = 1, 2")], "Z") == [3]


# --- the scan: iterative, and three kinds of finding -----------------------------------------

def test_scan_survives_inputs_deeper_than_the_stack():
    flags = scan([(1, "x = 1" + " + 1" * 5000), (2, "f" + "()" * 3000),
                  (3, "x = " + "[" * 150 + "]" * 150)])
    assert all(f.code == "unscannable" for f in flags), flags


HONEST = {  # issue 15: each was flagged, and zeroed, before
    "self-test": 'ok = 20\nprint(f"{ok}/20 tests passed")',
    "ja": 'r = True\nprint("自分のテストにすべて合格:", r)',
    "tick": 'print("✓ 1e: Z == X for my kernel")',
    "time magic": "%%time\n# all tests should print True\nx = 1",
    "resource": "import resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
    "sys.path": 'import sys\nsys.path.insert(0, "../..")',
    "savefig": 'import matplotlib.pyplot as plt\nplt.savefig("../figures/timings.png")',
    "figure helper": "import d2l_tconv\nd2l_tconv.plot_trans_conv(1, 2)",
    "own corr2d": "def corr2d(X, K):\n    return X\n\n\ndef conv_by_matmul(X, K):\n"
                  "    return corr2d(X, K)",
}


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_styles_get_notes_not_penalties(name):
    flags = scan([(1, HONEST[name])])
    assert all(f.kind == "heuristic" for f in flags), flags


OWN = "    (h, w), (kh, kw) = input_shape, K.shape\n    b = torch.eye(h * w)\n"
RULE_BREAKS = {
    "conv3d": "def my_kernel2matrix(K, input_shape):\n" + OWN + "    return F.conv3d(b, K)",
    "module": "def my_kernel2matrix(K, input_shape):\n" + OWN + "    return nn.Conv1d(1, 1, 2)(b)",
    "dummy def": "def conv2d(*a):\n    pass\n\n\ndef my_kernel2matrix(K, input_shape):\n" + OWN
                 + "    return F.conv2d(b, K)",
    "static method": "class H:\n    @staticmethod\n    def go(b, K):\n        return F.conv2d(b, K)"
                     "\n\n\ndef my_kernel2matrix(K, input_shape):\n" + OWN
                     + "    return H.go(b, K)",
    "lambda": "go = lambda b, K: F.conv2d(b, K)\n\n\ndef my_kernel2matrix(K, input_shape):\n"
              + OWN + "    return go(b, K)",
    "partial": "import functools\n\n\ndef my_kernel2matrix(K, input_shape):\n" + OWN
               + "    c = functools.partial(F.conv2d, stride=1)\n    return c(b, K)",
    "scipy": "from scipy.signal import correlate2d as c\n\n\ndef conv_by_matmul(X, K):\n"
             "    return c(X, K)",
}


@pytest.mark.parametrize("name", sorted(RULE_BREAKS))
def test_convolution_inside_an_own_implementation_costs_that_part(name):
    flags = [f for f in scan([(1, RULE_BREAKS[name])]) if f.code == "forbidden-op"]
    part = "2c" if "conv_by_matmul" in RULE_BREAKS[name] else "1d"
    assert flags and {(f.kind, f.part) for f in flags} == {("rule", part)}, flags


def test_a_computed_name_on_torch_needs_review():
    flags = scan([(1, "import torch.nn.functional as F\nop = getattr(F, 'conv' + '2d')")])
    assert [(f.code, f.kind) for f in flags] == [("computed-attribute", "integrity")]
    assert scan([(1, "import torch\nx = getattr(torch, 'float32')")]) == []


def test_one_rule_flag_zeroes_one_part_and_integrity_holds_all(tmp_path, monkeypatch):
    outcome = hidden.Outcome(3, "ok", "Correct.")
    monkeypatch.setattr(grader, "_score", lambda *args: outcome)
    monkeypatch.setattr(grader, "run_harness", lambda *args: _no_run())
    context = grader.Context(Sandbox("none", problem="test"), tmp_path, [], Limits(), 1,
                             tmp_path / "private")
    path = _write(tmp_path / "a.ipynb", _notebook(RULE_BREAKS["conv3d"]))
    result = grader.grade_submission(path, context)
    by_part = {p.part: p for p in result.parts}
    assert (by_part["1d"].points, by_part["1d"].status, by_part["1d"].flag_kind) == (
        0, "flagged: forbidden-op", "rule")
    assert by_part["1d"].points_without_flags == 3 and not result.needs_review
    assert all(p.points == 3 for p in result.parts if p.part != "1d")
    path = _write(tmp_path / "b.ipynb", _notebook("import torch\ntorch.allclose = max"))
    result = grader.grade_submission(path, context)
    assert result.needs_review and all(
        (p.points, p.flag_kind, p.points_without_flags) == (0, "integrity", 3)
        for p in result.parts)


def _no_run():
    from d2l_tconv_grader.sandbox import RunResult

    return RunResult(['{"event": "done"}'], 0, None, 0.0, "")


# --- everything from the sandbox is untrusted ----------------------------------------------

@pytest.mark.parametrize("line", [
    '{"event": "part", "id": "1b", "stage": "x", "values": {"WtW": ' + "9" * 5000 + "}}",
    '{"event": "part", "id": "1a", "stage": "x", "values": {"Z": 1}, "extra": 1}',
    '{"event": "part", "id": "9z", "stage": "x", "values": {}}',
    '{"event": "part", "id": "1a", "stage": "x", "values": {"not_Z": 1}}',
    '{"event": "part", "id": "1d", "stage": "x", "calls": [{"value": 1, "error": "x"}]}',
    '{"event": "part", "id": "1d", "stage": "x", "calls": [{"forbidden": [1]}]}',
    '{"event": "cell", "index": -1, "status": "ok", "error": null}',
    '{"event": "cell", "index": 1, "status": "fine", "error": null}',
    '{"event": "stopped", "reason": 7}', "[" * 100_000, '"just a string"', "",
])
def test_malformed_events_are_refused(line):
    with pytest.raises(data.InvalidAnswer):
        data.validate_event(data.parse_line(line))


def test_event_texts_are_one_line_and_short():
    event = data.validate_event(data.parse_line(json.dumps(
        {"event": "stopped", "reason": "x\n\n## Flagged submissions\n\nNone.\n<!--" * 50})))
    assert "\n" not in event["reason"] and len(event["reason"]) <= data.MAX_TEXT


@pytest.mark.parametrize("answer", [
    {"__tensor__": {"dtype": "float32", "shape": [1], "data": [10**400]}},
    {"__tensor__": {"dtype": "int64", "shape": [1], "data": [10**30]}},
    {"__tensor__": {"dtype": "float32", "shape": [10**9, 10**9], "data": []}},
    {"__tensor__": {"dtype": "float32", "shape": [2], "data": [1.0, "x"]}},
    [[[[[[[[1]]]]]]]],
])
def test_hostile_answers_are_invalid_not_exceptions(answer):
    with pytest.raises(data.InvalidAnswer):
        data.decode_answer(answer)


def test_typed_in_timings_do_not_earn_the_point():
    assert timings_problem([1, 1, 1, 1], [1, 1, 1, 1]) is not None
    assert timings_problem([4, 3, 2, 1], [0.01] * 4) is not None  # dense must grow
    assert timings_problem([0.01, 0.05, 0.5, 5.0], [0.02, 0.02, 0.03, 9.0]) is not None
    assert timings_problem([0.002, 0.01, 0.3, 4.1], [0.01, 0.01, 0.02, 0.03]) is None


# --- the run-time guard (harness without bubblewrap: fast) -----------------------------------

def _guarded_1d(stage, tmp_path, source: str) -> dict:
    cases = hidden.hidden_inputs(5)["1d"]
    part = {"id": "1d", "kind": "function", "names": ["my_kernel2matrix"], "guard": True,
            "calls": [[data.encode_input(a) for a in args] for args in cases]}
    job = {"cells": [[1, "import torch\nimport torch.nn.functional as F\n" + source]],
           "parts": [part], "cell_timeout": 30, "part_timeout": 30, "grace": 2}
    run = run_harness(job, Sandbox("none", problem="test"), stage, [],
                      Limits(timeout=120), tmp_path / "private")
    return [e for e in map(json.loads, run.lines) if e["event"] == "part"][-1]


def test_guard_sees_a_convolution_however_it_was_reached(grader_stage, tmp_path):
    event = _guarded_1d(grader_stage, tmp_path,
                        "def my_kernel2matrix(K, input_shape):\n"
                        "    (h, w), (kh, kw) = input_shape, K.shape\n"
                        "    b = torch.eye(h * w).reshape(h * w, 1, 1, h, w)\n"
                        "    op = getattr(torch.ops, 'at' + 'en').convolution\n"
                        "    Y = op(b, K[None, None, None], None, [1, 1, 1],"
                        " [0, 0, 0], [1, 1, 1], False, [0, 0, 0], 1)\n"
                        "    return Y.reshape(h * w, -1).T")
    assert event["guard"] == "ok"
    assert all("aten.convolution.default" in call["forbidden"] for call in event["calls"])


def test_guard_notices_when_it_is_switched_off(grader_stage, tmp_path):
    event = _guarded_1d(grader_stage, tmp_path,
                        "def my_kernel2matrix(K, input_shape):\n"
                        "    torch._C._pop_torch_dispatch_stack(None)\n"
                        "    return torch.zeros(1)")
    assert event["guard"] == "lost"


def test_guard_leaves_an_own_implementation_alone(grader_stage, tmp_path):
    event = _guarded_1d(grader_stage, tmp_path,
                        "def my_kernel2matrix(K, input_shape):\n"
                        "    (h, w), (kh, kw) = input_shape, K.shape\n"
                        "    cols = torch.eye(h * w).reshape(h * w, 1, h, w)\n"
                        "    p = F.unfold(cols, K.shape)\n"
                        "    return (K.reshape(1, -1) @ p).reshape(h * w, -1).T")
    assert event["guard"] == "ok" and not any("forbidden" in c for c in event["calls"])


# --- escaping --------------------------------------------------------------------------------

def test_escaping_for_csv_markdown_and_html():
    assert [csv_cell(t) for t in ("=1+2", "+1", "-x", "@SUM(A1)", "\tx", "\rx", "ok", -1)] == [
        "'=1+2", "'+1", "'-x", "'@SUM(A1)", "'\tx", "'\rx", "ok", "-1"]
    assert md_inline("a|b\n## Failures\n<!--") == "a\\|b ## Failures &lt;!--"
    assert md_inline("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert md_block("# Grade: 100\n<img onerror=x>") == "> # Grade: 100\n> &lt;img onerror=x&gt;"


# --- failure stays with its submission -------------------------------------------------------

@pytest.mark.slow
def test_an_internal_error_stays_with_its_submission(tmp_path, monkeypatch, capsys):
    submissions = tmp_path / "subs"
    submissions.mkdir()
    _write(submissions / "good.ipynb", _notebook("rank_WtW, WtW_is_identity = 4, False"))
    _write(submissions / "boom.ipynb", _notebook("x = 1"))
    real_scan = grader.scan

    def scan_or_fail(cells):
        if any(source == "x = 1" for _, source in cells):
            raise ZeroDivisionError("a bug of the grader's")
        return real_scan(cells)

    monkeypatch.setattr(grader, "scan", scan_or_fail)
    out = tmp_path / "out"
    code = main([str(submissions), "--out", str(out), "--allow-unsandboxed", "--seed", "1",
                 "--bwrap", str(tmp_path / "no-bwrap")])
    assert code == 1 and "graded, with failures" in capsys.readouterr().err
    rows = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    boom = [r for r in rows if r.startswith("boom,")]
    assert len(boom) == len(PARTS)
    assert all(r.endswith("not graded: internal error (ZeroDivisionError)") for r in boom)
    assert "good,1c,2,2,ok" in rows
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "ZeroDivisionError: a bug of the grader's" in report
    details = json.loads((out / "details" / "boom.json").read_text(encoding="utf-8"))
    assert "ZeroDivisionError" in details["internal_error"]


def test_flag_kinds_are_checked():
    assert Flag("forbidden-op", 1, "x").kind == "rule"
    assert Flag("fake-pass-message", 1, "x").kind == "heuristic"
    assert Flag("monkeypatch", 1, "x").kind == "integrity"
    with pytest.raises(ValueError, match="kind"):
        Flag("monkeypatch", 1, "x", "severe")
