"""Issue 15: one mistake is not charged twice, cells are named one way everywhere, and the LMS
file follows the instructor's decisions.

* Part 2d measured by the grader (:mod:`d2l_tconv_grader.measured`): a W of part 1d that breaks
  the 2d cell (a transposed one) costs 1d only; a 2d cell crashed on purpose earns nothing
  more. The notebooks run through the real job and harness, unconfined (fast); the bubblewrap
  run of the fixture ``transposed_w_ja`` is in test_grade_fixtures.py.
* The gradebook, report.md and Gradescope's output name cells as the feedback does.
* ``apply`` and ``finalize`` keep the LMS file and its section of report.md, with the decisions.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from d2l_tconv.exercise_checks import PARTS, SIZES_2D
from d2l_tconv_grader import data, hidden, measured
from d2l_tconv_grader.grader import Context, PartResult, SubmissionResult, grade_submission
from d2l_tconv_grader.notebook import Submission
from d2l_tconv_grader.sandbox import Limits, Sandbox
from d2l_tconv_grader.scan import Flag
from d2l_tconv_grader.texts import local

SEED = 5
IMPORTS = ("import time\nimport torch\nimport torch.nn.functional as F\n"
           "from d2l_tconv.exercise_checks import SIZES_2D, check")
KERNEL2MATRIX = (
    "def my_kernel2matrix(K, input_shape):\n"
    "    kh, kw = K.shape\n    h, w = input_shape\n    oh, ow = h - kh + 1, w - kw + 1\n"
    "    W = torch.zeros((oh * ow, h * w), dtype=K.dtype)\n"
    "    for i in range(oh):\n        for j in range(ow):\n"
    "            window = torch.zeros((h, w), dtype=K.dtype)\n"
    "            window[i:i + kh, j:j + kw] = K\n"
    "            W[i * ow + j] = window.reshape(-1)\n"
    "    return {result}")
#: The exercise's 2d cell (exercises/source/en/exercises.md).
CELL_2D = (
    "def time_ms(f, *args, repeat=5):\n    best = float('inf')\n    for _ in range(repeat):\n"
    "        start = time.perf_counter()\n        f(*args)\n"
    "        best = min(best, time.perf_counter() - start)\n    return 1000 * best\n\n\n"
    "K3 = torch.randn(3, 3)\ndense_bytes, dense_ms, conv_ms = [], [], []\n"
    "for n in SIZES_2D:\n    x = torch.randn(n, n)\n    W_n = my_kernel2matrix(K3, (n, n))\n"
    "    dense_bytes.append(W_n.element_size() * W_n.nelement())\n"
    "    dense_ms.append(time_ms(torch.mv, W_n, x.reshape(-1)))\n"
    "    conv_ms.append(time_ms(F.conv2d, x[None, None], K3[None, None]))")
CHECK_2D = 'check("2d", dense_bytes, dense_ms, conv_ms)'


def _grade(stage: Path, tmp_path: Path, *cells: str, lang: str = "en"
           ) -> dict[str, PartResult]:
    """Grade a notebook of ``cells`` through the real job and harness (unconfined), with the
    grader's staging folder ``stage``."""
    cells_json = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
                   "execution_count": None} for source in cells]
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "t.ipynb"
    path.write_text(json.dumps({"cells": cells_json, "metadata": {"language": lang},
                                "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    limits = Limits(timeout=120, cell_timeout=30, part_timeout=10)
    context = Context(Sandbox("none", problem="test"), stage, [],
                      limits, SEED, tmp_path / "runs")
    result = grade_submission(path, context)
    assert result.internal_error is None, result.internal_error
    return {p.part: p for p in result.parts}


def _notebook(result: str = "W", cell_2d: str = CELL_2D) -> list[str]:
    return [IMPORTS, KERNEL2MATRIX.format(result=result), cell_2d, CHECK_2D]


def test_a_transposed_w_costs_1d_only(grader_stage, tmp_path):
    parts = _grade(grader_stage, tmp_path, *_notebook("W.T"))
    assert parts["1d"].points < 3  # the mistake is charged once, in 1d
    two = parts["2d"]
    assert (two.points, str(two.status)) == (2, "ok (measured by the grader: the 2d cell failed)")
    message = str(two.message)
    assert message.startswith("Your 2d cell (cell 3) failed: `RuntimeError: size mismatch")
    assert "my_kernel2matrix(K, (8, 8)) has shape (64, 36), the transpose of the (36, 64)" \
        in message
    assert "measured it in the sandbox with Wᵀ @ x: dense_bytes = [9216, 200704, 3686400, " \
        "62980096] (`float32`)" in message
    ja = local(two.message, "ja")
    assert "2d のセル（セル 3）が失敗しました" in ja and "の転置です。" in ja
    assert local(two.status, "ja") == "正解（2d のセルが失敗したため採点プログラムが測定）"


def test_the_measured_w_keeps_its_dtype(grader_stage, tmp_path):
    parts = _grade(grader_stage, tmp_path, *_notebook("W.T.double()"))
    two = parts["2d"]
    assert (two.points, str(two.status)) == (
        1, "partial: dense_bytes (measured by the grader: the 2d cell failed)")
    assert "(`float64`)" in str(two.message) and "float64, 2x the bytes" in str(two.message)


def test_a_2d_cell_crashed_on_purpose_earns_nothing_more(grader_stage, tmp_path):
    honest = _grade(grader_stage, tmp_path / "a", *_notebook("W"))["2d"]
    assert (honest.points, honest.status) == (2, "ok")
    crashed = _grade(grader_stage, tmp_path / "b", *_notebook(
        "W", "dense_bytes, dense_ms, conv_ms = [], [], []\nraise RuntimeError('later')"))["2d"]
    assert crashed.points == 0 and "measured" not in str(crashed.status)
    # with a transposed W the measurement stands in for the cell: never above a cell that ran
    both = _grade(grader_stage, tmp_path / "c", *_notebook(
        "W.T", "dense_bytes, dense_ms, conv_ms = [9216] * 4, [1e9] * 4, [1e9] * 4\n1 / 0"))
    assert both["2d"].points <= honest.points
    assert both["1d"].points < 3


def test_a_w_that_cannot_be_built_keeps_the_own_score_and_says_why(grader_stage, tmp_path):
    raising = "W if h * w < 60 else 1 / 0"
    two = _grade(grader_stage, tmp_path, *_notebook(raising))["2d"]
    assert two.points == 0 and "measured" not in str(two.status)
    assert "my_kernel2matrix(K, (8, 8)) failed (`ZeroDivisionError" in str(two.message)
    assert "fix part 1d first" in str(two.message)


def _row(n: int, shape: tuple[int, int], **extra) -> dict:
    return {"n": n, "shape": list(shape), "dtype": "float32", "layout": "strided",
            "bytes": 4 * shape[0] * shape[1], "product": "W @ x", "dense_ms": 1.0 * n,
            "conv_ms": 0.01, **extra}


def test_rescore_uses_the_measurement_only_when_w_is_the_cause():
    own = hidden.Outcome(0, "wrong: dense_bytes; dense_ms, conv_ms", "x")
    right = {"rows": [_row(n, ((n - 2) ** 2, n * n)) for n in SIZES_2D]}
    assert measured.rescore(own, right, (3, "NameError: x"), SEED) is own
    off_by_one = {"rows": [_row(n, ((n - 1) ** 2, n * n)) for n in SIZES_2D]}
    assert measured.rescore(own, off_by_one, (3, "NameError: x"), SEED) is own
    transposed = {"rows": [_row(n, (n * n, (n - 2) ** 2), product="Wᵀ @ x")
                           for n in SIZES_2D]}
    assert measured.rescore(own, transposed, None, SEED) is own  # no failed 2d cell
    assert measured.rescore(own, transposed, (3, "RuntimeError: size"), SEED).points == 2
    full = hidden.Outcome(2, "ok", "Correct.")
    assert measured.rescore(full, transposed, (3, "RuntimeError: size"), SEED) is full


@pytest.mark.parametrize("event", [
    {"event": "measure", "id": "2d", "rows": [{"n": 8, "shape": [64, 36], "bytes": True}]},
    {"event": "measure", "id": "2d", "rows": [_row(8, (36, 64), dense_ms=float("inf"))]},
    {"event": "measure", "id": "2d", "rows": [_row(8, (36, 64), product="x")]},
    {"event": "measure", "id": "2d", "rows": [_row(8, (36, 64), extra=1)]},
    {"event": "measure", "id": "9z", "rows": []},
    {"event": "measure", "id": "2d", "rows": [], "error": "x"},
    {"event": "measure", "id": "2d", "rows": [_row(8, (36, 64))] * 11},
])
def test_malformed_measurements_are_refused(event):
    with pytest.raises(data.InvalidAnswer):
        data.validate_event(event)


def test_a_measurement_passes_validation_cleaned():
    event = data.validate_event({"event": "measure", "id": "2d",
                                 "rows": [_row(8, (64, 36), product="Wᵀ @ x", dtype="x\n# h"),
                                          {"n": 16, "error": "E\n" * 500}]})
    assert event["rows"][0]["dtype"] == "x # h" and len(event["rows"][1]["error"]) == 300


# --- cells named as the feedback names them: gradebook, report.md, Gradescope -----------------

def _result(lang: str = "en", ended: str = "completed") -> SubmissionResult:
    cells = [(2, "import torch"), (4, "while True:\n    pass"), (6, "Z = 1")]
    result = SubmissionResult(Submission("s", Path("s.ipynb"), code_cells=cells, lang=lang))
    result.cells = {2: {"status": "ok", "error": None},
                    4: {"status": "timeout", "error": "CellTimeout: 30 s"},
                    6: {"status": "error", "error": "NameError: x"}}
    result.ended = ended
    result.parts = [PartResult(p.id, 0, p.points, "missing: Z not defined (cell 6: NameError)",
                               "No answer: Z not defined.") for p in PARTS]
    return result


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_every_file_names_cells_by_code_cell_number_and_first_line(tmp_path):
    from d2l_tconv_grader.gradescope import results_json
    from d2l_tconv_grader.report import write_all

    results = [_result("en", "stopped: cell 4 could not be interrupted")]
    results[0].submission.name = "a"
    results.append(_result("ja"))
    results[1].submission.name = "b"
    write_all(tmp_path, results, Sandbox("none", problem="test"), Limits(), SEED, 1.0)
    statuses = {r["status"] for r in _rows(tmp_path / "gradebook.csv")}
    assert statuses == {"missing: Z not defined (code cell 3 (`Z = 1`): NameError)"}
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "stopped: code cell 2 (`while True:`) could not be interrupted" in report
    assert "cell 4" not in report and "cell 6" not in report
    rec = json.loads((tmp_path / "details" / "b.json").read_text(encoding="utf-8"))
    outputs = [t["output"] for t in results_json(rec, "test", 1.0)["tests"]]
    assert "（コードセル 3 (`Z = 1`): NameError）" in outputs[0] and "セル 6" not in outputs[0]


def test_a_run_on_other_files_leaves_no_stale_record_or_feedback(tmp_path):
    from d2l_tconv_grader.report import write_all

    first = [_result("en"), _result("ja")]
    first[0].submission.name, first[1].submission.name = "a", "b"
    write_all(tmp_path, first, Sandbox("none", problem="test"), Limits(), SEED, 1.0)
    assert (tmp_path / "feedback" / "a.md").exists() and (tmp_path / "details" / "a.json").exists()
    second = [_result("ja")]
    second[0].submission.name = "b"
    write_all(tmp_path, second, Sandbox("none", problem="test"), Limits(), SEED, 1.0)
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == ["b.md"]
    assert sorted(p.name for p in (tmp_path / "details").iterdir()) == ["_run.json", "b.json"]


# --- the LMS file survives apply and finalize --------------------------------------------------

def _flagged(name: str) -> SubmissionResult:
    result = SubmissionResult(Submission(name, Path(f"{name}.ipynb"), code_cells=[(1, "x = 1")]))
    result.ended = "completed"
    result.flags = [Flag("monkeypatch", 1, "torch.allclose replaced", "integrity")]
    for spec in PARTS:
        part = PartResult(spec.id, 0, spec.points, "flagged: monkeypatch", "held",
                          spec.points, "integrity")
        part.outcome = hidden.Outcome(spec.points, "ok", "Correct.")
        result.parts.append(part)
    return result


def _honest(name: str, points: int) -> SubmissionResult:
    result = SubmissionResult(Submission(name, Path(f"{name}.ipynb"), code_cells=[(1, "x = 1")]))
    result.ended = "completed"
    result.parts = [PartResult(p.id, points if p.id == "1a" else 0, p.points, "ok", "Correct.")
                    for p in PARTS]
    return result


def test_apply_and_finalize_keep_the_lms_file_with_the_decisions(tmp_path, capsys):
    from d2l_tconv_grader import instructor, lms
    from d2l_tconv_grader.report import write_all

    out = tmp_path / "out"
    write_all(out, [_flagged("ann"), _honest("bob", 1)], Sandbox("none", problem="test"),
              Limits(), SEED, 1.0)
    roster_path = tmp_path / "roster.csv"
    roster_path.write_text("submission,email\nann,ann@example.jp\nbob,bob@example.jp\n"
                           "eve,eve@example.jp\n", encoding="utf-8")
    args = argparse.Namespace(lms="moodle", lms_item="Ex", roster=roster_path)
    lms.write_for_args(args, out, lms.read_roster(roster_path))

    def state() -> tuple[dict[str, str], str]:
        grades = {r["email"]: r["Ex"] for r in _rows(out / "lms_moodle.csv")}
        section = (out / "report.md").read_text(encoding="utf-8").split("## LMS grade file")
        assert len(section) == 2, "report.md has one LMS section"
        return grades, section[1]

    grades, section = state()
    assert grades == {"ann@example.jp": "", "bob@example.jp": "1"}
    assert "Awaiting review (row written with an empty grade): ann." in section
    assert "Roster entries with no submission (no row written): eve." in section

    (out / "decisions.csv").write_text("submission,decision,note\nann,accept,ok\n",
                                       encoding="utf-8")
    assert instructor.main(["apply", str(out)]) == 0
    grades, section = state()
    assert grades == {"ann@example.jp": "18", "bob@example.jp": "1"}
    assert "Awaiting review (row written with an empty grade): none." in section
    assert "eve" in section

    marks = _rows(out / "free_text_marks.csv")
    with open(out / "free_text_marks.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, list(marks[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({**m, "points": "2"} for m in marks)
    (out / "decisions.csv").write_text("submission,decision,note\nann,zero,\n", encoding="utf-8")
    assert instructor.main(["finalize", str(out)]) == 0  # the decision changed: all agree
    grades, section = state()
    final = {r["submission"]: r for r in _rows(out / "final_grades.csv")}
    assert {name: r["auto_points"] for name, r in final.items()} == {"ann": "0", "bob": "1"}
    # the LMS file carries the final totals (automatic + 2 + 2), as final_grades.csv
    assert grades == {"ann@example.jp": "4", "bob@example.jp": "5"}
    assert {name: r["total"] for name, r in final.items()} == {"ann": "4", "bob": "5"}
    assert f"the final total out of {final['ann']['max_total']}" in section
    assert "wrote" in capsys.readouterr().out

    # grading again into the same OUT_DIR, without --lms: the stored export is made again,
    # with the new automatic totals until the next finalize
    write_all(out, [_flagged("ann"), _honest("bob", 2)], Sandbox("none", problem="test"),
              Limits(), SEED, 1.0)
    lms.write_for_args(argparse.Namespace(lms=None, lms_item="x", roster=None), out, None)
    grades, section = state()
    assert grades == {"ann@example.jp": "0", "bob@example.jp": "2"}
    assert "the automatic total out of 18" in section


def test_a_submission_named_like_the_run_record_keeps_its_record(tmp_path):
    """``_run.ipynb`` gets an alias: its record and the run's own facts (details/_run.json) are
    both kept, so apply, finalize and merge still see the submission."""
    from d2l_tconv_grader.escape import safe_name
    from d2l_tconv_grader.report import load, write_all

    alias = safe_name("_run")
    assert alias != "_run" and alias.startswith("_run-")
    result = _honest(alias, 1)
    result.submission.path = Path("_run.ipynb")
    write_all(tmp_path, [result, _honest("bob", 1)], Sandbox("none", problem="test"),
              Limits(), SEED, 1.0)
    records, run = load(tmp_path)
    assert [r["submission"] for r in records] == [alias, "bob"] and run["seed"] == SEED
    assert {r["submission"] for r in _rows(tmp_path / "gradebook.csv")} == {alias, "bob"}
    assert f"- {alias} ← '_run'" in (tmp_path / "report.md").read_text(encoding="utf-8")
