"""The exercise notebooks: made from the MyST masters (one per language), up to date, and what students receive holds
no solution, no hidden test and no reference value."""

from __future__ import annotations

import re
from pathlib import Path

import build_exercises
import exercise_source
import nbformat
import pytest
import torch.nn.functional as F

import d2l_tconv
from d2l_tconv.exercise_checks import FREE_TEXT, PARTS, SIZES_2D
from d2l_tconv.project import colab_badge
from d2l_tconv_grader import hidden
from d2l_tconv_grader.sandbox import Limits

REPO = Path(__file__).resolve().parents[2]

STUDENT = [REPO / f"exercises/student/exercises_{lang}.ipynb" for lang in ("en", "ja")]
SOLUTIONS = [REPO / f"exercises/solutions/solutions_{lang}.ipynb" for lang in ("en", "ja")]
CHECKS = Path(d2l_tconv.__file__).resolve().parent / "exercise_checks.py"


def _text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in nb.cells)


def test_written_files_are_what_the_source_gives():
    assert build_exercises.check() == [], "run: python tools/build_exercises.py"


def test_solution_regions_are_cleared_as_nbgrader_does():
    text = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\nf()"
    assert exercise_source.clear_solutions(text, "raise NotImplementedError()") == (
        "def f():\n    raise NotImplementedError()\nf()")
    assert exercise_source.clear_solutions(text, None) == "def f():\n    return 1\nf()"
    with pytest.raises(ValueError, match="not closed"):
        exercise_source.clear_solutions("### BEGIN SOLUTION\nx = 1", None)
    with pytest.raises(ValueError, match="without"):
        exercise_source.clear_solutions("x = 1\n### END SOLUTION", None)


def test_masters_with_unknown_metadata_or_open_regions_are_refused(tmp_path):
    good = {lang: exercise_source.source_path(lang).read_text(encoding="utf-8")
            for lang in exercise_source.LANGS}
    for bad, message in (("```{code-cell} ipython3\n:tags: [studnet-only]\n\nx = 1\n```\n",
                          "unknown metadata"),
                         ("```{code-cell} ipython3\n### BEGIN SOLUTION\nx = 1\n```\n",
                          "not closed")):
        for lang in exercise_source.LANGS:
            path = exercise_source.source_path(lang, tmp_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(good[lang] + "\n" + bad, encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            exercise_source.load(tmp_path)


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_student_notebook_has_no_solution(path):
    text = _text(path)
    nb = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    for marker in exercise_source.REGION_MARKERS:
        assert marker not in text
    leaks = [t for t in exercise_source.solution_texts(exercise_source.load())
             if len(t) >= 12 and t in text]
    assert leaks == []


@pytest.mark.parametrize("path", [*STUDENT, CHECKS], ids=lambda p: p.name)
def test_student_files_hold_no_hidden_test_and_no_reference_value(path):
    text = _text(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    for word in ("d2l_tconv_grader", "hidden_inputs", "score_values", "score_calls",
                 "conv_matrix", "rubric", "RUBRIC"):
        assert word not in text, word
    # Reference values, computed here (never typed in): Z of the section, the 224 sizes.
    X, K = hidden.section_example()
    Z = F.conv_transpose2d(F.conv2d(X[None, None], K[None, None]), K[None, None])[0, 0]
    dense = hidden.dense_bytes((224, 224), (3, 3))
    values = [str(int(v)) for v in Z.reshape(-1) if v >= 100]
    values += [str(dense), f"{dense:,}"]
    values += [str(hidden.dense_bytes((n, n), (3, 3))) for n in SIZES_2D]
    assert [v for v in values if re.search(rf"(?<![\d.]){re.escape(v)}(?![\d])", text)] == []


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_student_notebook_asks_every_part_and_question(path):
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    for p in PARTS:
        assert f'check("{p.id}"' in code
        for name in p.names:
            assert re.search(rf"^(def )?{name}\b", code, re.MULTILINE), name
    for question in FREE_TEXT:
        assert sum(m.startswith(question.marker) for m in markdown) == 1
    assert colab_badge(str(path.relative_to(REPO))) in markdown[0]
    assert "hidden tests" in markdown[0] or "非公開テスト" in markdown[0]


ANSWER_HEADING = {"en": "#### ✏️ Your answer", "ja": "#### ✏️ あなたの答え"}
# What students must be told about grading (issue 15), with the grader's own limits.
GRADING_RULES = {
    "en": ["each cell may run for at most {cell:g} s", "on a hidden input for at most {part:g} s",
           "the value it had when its `check(...)` cell ran", "at the end of the notebook",
           "Lines starting with `!`, `%pip` or `%conda`, and `%%bash` cells, are skipped",
           "until your instructor has reviewed them", "*Run → Run All Cells*", "*Runtime → Run all*"],
    "ja": ["1 つのセルの実行時間は {cell:g} 秒まで", "1 回呼び出す時間は {part:g} 秒まで",
           "`check(...)` のセルを実行した時点の値", "ノートブックの最後の時点の値",
           "`!`、`%pip`、`%conda` で始まる行と `%%bash` のセルは、採点時には実行されません",
           "教員が確認するまで自動採点の点が保留されます", "*実行 → すべてのセルを実行*", "*ランタイム → すべてのセルを実行*"],
}


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_student_notebook_states_how_it_is_graded(path):
    nb = nbformat.read(path, as_version=4)
    lang, limits = nb.metadata["d2l_tconv"]["lang"], Limits()
    for rule in GRADING_RULES[lang]:
        assert rule.format(cell=limits.cell_timeout, part=limits.part_timeout).lower() in \
            nb.cells[0].source.lower(), rule


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_student_answer_cells_are_framed_places_to_write_below_the_marker(path):
    nb = nbformat.read(path, as_version=4)
    lang = nb.metadata["d2l_tconv"]["lang"]
    placeholder = exercise_source.PLACEHOLDER[lang]
    heading, _, frame = placeholder.partition("\n\n")
    assert heading == ANSWER_HEADING[lang] and frame.startswith("> ")
    for question in FREE_TEXT:
        cells = [c.source for c in nb.cells if c.source.startswith(question.marker)]
        assert cells == [f"{question.marker}\n{placeholder}"]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebook_passes_every_public_check(path):
    nb = nbformat.read(path, as_version=4)
    printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                      for out in cell.outputs)
    for p in PARTS:
        assert f"✓ {p.id}:" in printed, p.id
    assert "✗" not in printed
    assert all(out.output_type != "error" for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    for question in FREE_TEXT:
        answer = next(m for m in markdown if m.startswith(question.marker))
        assert len(answer) > 300  # a model answer, not the placeholder


def test_links_between_the_exercise_files_exist():
    for path in (*STUDENT, *SOLUTIONS):
        for target in re.findall(r"\]\((\.\.?/[^)#]+)\)", _text(path)):
            if "notebooks/" in target:
                continue  # the section notebooks are another engineer's files
            assert (path.parent / target).resolve().exists(), (path.name, target)
    readme = (REPO / "exercises" / "README.md").read_text(encoding="utf-8")
    assert "python -m d2l_tconv_grader SUBMISSIONS_DIR --out OUT_DIR" in readme
    for path in (*STUDENT, *SOLUTIONS):
        assert str(path.relative_to(REPO / "exercises")) in readme
