"""The two exercise masters (exercises/source/{en,ja}/exercises.md) say the same thing: the
same cells, the same code apart from comments and the language of its strings, and the ids,
names and points of the parts that the grader uses. Fast: nothing is executed."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import exercise_source
import pytest

from d2l_tconv.exercise_checks import FREE_TEXT, PARTS

REPO = Path(__file__).resolve().parents[2]

MASTERS = exercise_source.load()
PAIRS = list(zip(MASTERS["en"].cells, MASTERS["ja"].cells, strict=False))
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
STRINGS = {tokenize.STRING} | {getattr(tokenize, name) for name in (
    "FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, name)}


def _tokens(source: str) -> list[tuple[int, str]]:
    """The code's tokens without comments (nbgrader's and nbval's markers are kept)."""
    return [(token.type, token.string)
            for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type != tokenize.NL and not (
                token.type == tokenize.COMMENT
                and not token.string.startswith(("### BEGIN", "### END", "# NBVAL")))]


def _same_code(en: str, ja: str) -> list[str]:
    """Differences between two sources; a string may differ when it is the notebook's
    language ("en"/"ja") or when the Japanese one is Japanese text."""
    a, b = _tokens(en), _tokens(ja)
    if [t for t, _ in a] != [t for t, _ in b]:
        return [f"different token structure:\n{en}\n---\n{ja}"]
    return [f"{x!r} != {y!r}" for (kind, x), (_, y) in zip(a, b, strict=True)
            if x != y and not (kind in STRINGS and (JAPANESE.search(y) or
                                                    (x, y) == ('"en"', '"ja"')))]


def test_masters_have_the_same_cells_with_the_same_metadata():
    assert len(MASTERS["en"].cells) == len(MASTERS["ja"].cells)
    for number, (en, ja) in enumerate(PAIRS, start=1):
        assert (en.cell_type, en.metadata.get("tags"), sorted(en.metadata)) == (
            ja.cell_type, ja.metadata.get("tags"), sorted(ja.metadata)), f"cell {number}"


@pytest.mark.parametrize("number", [n for n, (en, _) in enumerate(PAIRS, start=1)
                                    if en.cell_type == "code"])
def test_code_is_the_same_apart_from_comments_and_language(number):
    en, ja = PAIRS[number - 1]
    assert _same_code(en.source, ja.source) == []
    assert _same_code(en.metadata.get("stub", ""), ja.metadata.get("stub", "")) == []


def _markdown_skeleton(text: str, lang: str) -> dict[str, list[str]]:
    return {
        "parts": re.findall(r"\*\*(\d[a-z])\*\*", text),
        "answer markers": re.findall(r"<!-- d2l-tconv:answer \w+ -->", text),
        "solution regions": re.findall(r"^### (?:BEGIN|END) SOLUTION$", text, re.MULTILINE),
        "substitutions": re.findall(r"\{\{\s*(\w+)\s*\}\}", text),
        "links": [re.sub(rf"(?<=[/_]){lang}(?=[/.])", "LANG", url)
                  for url in re.findall(r"\]\(([^)\s]+)\)", text)],
    }


def test_markdown_cells_ask_the_same_parts_with_the_same_links():
    for number, (en, ja) in enumerate(PAIRS, start=1):
        if en.cell_type == "markdown":
            assert _markdown_skeleton(en.source, "en") == _markdown_skeleton(ja.source, "ja"), \
                f"cell {number}"


def test_every_free_text_answer_has_one_model_answer_per_master():
    for master in MASTERS.values():
        for question in FREE_TEXT:
            cells = [c.source for c in master.cells if c.source.startswith(question.marker)]
            assert len(cells) == 1
            assert cells[0].split("\n")[1] == exercise_source.BEGIN_SOLUTION


HEADING = {"en": r"\*\*(\w+)\*\* \((\d+) points?\)", "ja": r"\*\*(\w+)\*\*（(\d+) 点）"}
TOTAL = {"en": r"Automatically graded: (\d+) points", "ja": r"自動採点: 合計 (\d+) 点"}


@pytest.mark.parametrize("lang", exercise_source.LANGS)
def test_headings_and_tables_give_the_parts_of_the_grader(lang):
    master = MASTERS[lang]
    text = "\n".join(c.source for c in master.cells if c.cell_type == "markdown")
    points = {p.id: p.points for p in PARTS}
    assert dict((i, int(n)) for i, n in re.findall(HEADING[lang], text)) == points
    assert [int(n) for n in re.findall(TOTAL[lang], text)] == [sum(points.values())]
    rows = {}
    for name, table in master.metadata["myst"]["substitutions"].items():
        assert f"{{{{ {name} }}}}" in text
        for row in table.splitlines()[2:]:
            part_id, names, _, pts = (c.strip() for c in row.strip("|").split("|"))
            rows[part_id] = (tuple(re.findall(r"`(\w+)", names)), int(pts))
    assert rows == {p.id: (p.names, p.points) for p in PARTS}


# The section notebooks' terms (tests/notebooks/test_notebooks.py), in what students and
# markers read about the exercises: the masters' prose, the parts' titles and the rubric.
AVOIDED = {"ja": ("行列の乗算", "画素", "書き込まれ"), "en": ("non-zero", "W^T W", "colour")}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_exercise_texts_use_the_notebooks_terms(lang):
    prose = [cell.source for cell in MASTERS[lang].cells if cell.cell_type == "markdown"]
    prose += [str(getattr(item, "title", {}).get(lang, "")) for item in [*PARTS, *FREE_TEXT]]
    rubric = (REPO / "exercises" / "instructor" / "rubric.md").read_text(encoding="utf-8")
    for text in [*prose, rubric]:
        for avoided in AVOIDED[lang]:
            assert avoided not in text, (avoided, text[:120])
