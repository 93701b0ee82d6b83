"""Parse the one exercise source and render the student and solution notebooks from it.

The source, ``exercises/source/exercises.txt``, is a list of cells. A line starting with
``%% `` opens a cell; its words say what the cell is:

* ``md`` or ``code``: the cell type; ``setup`` (a code cell): the Colab setup cell, written
  by :func:`d2l_tconv.project.colab_setup_source`;
* ``en`` or ``ja``: the cell belongs to one language only (default: both);
* ``solution`` / ``student``: the cell belongs to one version only (default: both);
* ``answer=N``: the free-text answer cell of question ``N``. The solution version holds the
  model answer written in the source; the student version a placeholder. Both start with
  the marker line by which the grader finds the answer.

Inside a cell, ``«en:English|ja:日本語»`` is replaced by the text of the notebook's language,
``{{badge}}``, ``{{parts:N}}``, ``{{points:ID}}``, ``{{pts:ID}}`` ("2 points"),
``{{title:ID}}`` and ``{{total}}`` by
generated text. In code cells, the lines between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` are kept in solutions only; student versions get the lines between the
``### BEGIN STUB`` / ``### END STUB`` that follow (or ``raise NotImplementedError()``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from d2l_tconv.exercise_checks import FREE_TEXT, PARTS
from d2l_tconv.project import colab_badge, colab_setup_source

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "exercises" / "source" / "exercises.txt"
LANGS = ("en", "ja")
KINDS = ("student", "solution")

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_STUB, END_STUB = "### BEGIN STUB", "### END STUB"
REGION_MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_STUB, END_STUB)
NBVAL_IGNORE = "# NBVAL_IGNORE_OUTPUT"

PLACEHOLDER = {
    "en": "_Write your answer here (keep the hidden first line of this cell)._",
    "ja": "_ここに答えを書いてください（このセルの見えない 1 行目は消さないでください）。_",
}
DEFAULT_STUB = {
    "en": ["# YOUR CODE HERE", "raise NotImplementedError()"],
    "ja": ["# ここにコードを書いてください", "raise NotImplementedError()"],
}
_I18N = re.compile(r"«en:(.*?)\|ja:(.*?)»", re.DOTALL)
_TEMPLATE = re.compile(r"\{\{(\w+)(?::([\w]+))?\}\}")


@dataclass
class SourceCell:
    """One cell of the source, before rendering."""

    cell_type: str  # "markdown" or "code"
    text: str
    line: int  # line of the header in the source, for error messages
    lang: str | None = None
    only: str | None = None  # "student", "solution" or None
    answer: str | None = None
    setup: bool = False
    solution_lines: list[str] = field(default_factory=list)


def notebook_path(kind: str, lang: str) -> str:
    """Repository path of a rendered notebook, e.g. ``exercises/student/exercises_en.ipynb``."""
    if kind == "student":
        return f"exercises/student/exercises_{lang}.ipynb"
    if kind == "solution":
        return f"exercises/solutions/solutions_{lang}.ipynb"
    raise ValueError(f"kind must be 'student' or 'solution', got {kind!r}")


def parse(text: str) -> list[SourceCell]:
    """The cells of the source ``text`` (lines before the first ``%%`` header are comments)."""
    cells: list[SourceCell] = []
    body: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("%% "):
            if body is not None:
                cells[-1].text = "\n".join(body).strip("\n")
            cells.append(_header(line, number))
            body = []
        elif body is not None:
            body.append(line)
    if body is not None:
        cells[-1].text = "\n".join(body).strip("\n")
    for cell in cells:
        if cell.cell_type == "code":
            cell.solution_lines = _solution_lines(cell)
    return cells


def _header(line: str, number: int) -> SourceCell:
    words = line[3:].split()
    if not words or words[0] not in ("md", "code"):
        raise ValueError(f"line {number}: a cell header starts with 'md' or 'code': {line!r}")
    cell = SourceCell("markdown" if words[0] == "md" else "code", "", number)
    for word in words[1:]:
        if word in LANGS:
            cell.lang = word
        elif word in KINDS:
            cell.only = word
        elif word.startswith("answer="):
            cell.answer = word.split("=", 1)[1]
        elif word == "setup" and cell.cell_type == "code":
            cell.setup = True
        else:
            raise ValueError(f"line {number}: unknown word {word!r} in cell header {line!r}")
    if cell.answer is not None and cell.cell_type != "markdown":
        raise ValueError(f"line {number}: only markdown cells can be answer cells")
    return cell


def _solution_lines(cell: SourceCell) -> list[str]:
    """The lines inside the cell's solution regions (for the leak test), checked for nesting."""
    inside, lines = None, []
    for n, line in enumerate(cell.text.splitlines()):
        marker = line.strip()
        if marker in (BEGIN_SOLUTION, BEGIN_STUB):
            if inside is not None:
                raise ValueError(f"line {cell.line + n + 1}: {marker} inside {inside}")
            inside = marker
        elif marker in (END_SOLUTION, END_STUB):
            expected = END_SOLUTION if inside == BEGIN_SOLUTION else END_STUB
            if marker != expected:
                raise ValueError(f"line {cell.line + n + 1}: {marker} without {expected}")
            inside = None
        elif inside == BEGIN_SOLUTION:
            lines.append(line)
    if inside is not None:
        raise ValueError(f"cell at line {cell.line}: {inside} is not closed")
    return lines


def translate(text: str, lang: str) -> str:
    """Replace every ``«en:...|ja:...»`` by the text of ``lang``."""
    return _I18N.sub(lambda m: m.group(1 if lang == "en" else 2), text)


def _parts_table(exercise: str, lang: str) -> str:
    head = {"en": "| part | what you define | points |", "ja": "| 小問 | 定義するもの | 配点 |"}
    rows = [head[lang], "|---|---|---|"]
    for p in PARTS:
        if p.id.startswith(exercise):
            names = ", ".join(f"`{n}`" for n in p.names)
            rows.append(f"| {p.id} | {names}: {p.title[lang]} | {p.points} |")
    return "\n".join(rows)


def _fill(text: str, kind: str, lang: str) -> str:
    parts = {p.id: p for p in PARTS}

    def replace(match: re.Match) -> str:
        name, arg = match.group(1), match.group(2)
        if name == "badge":
            return colab_badge(notebook_path(kind, lang))
        if name == "parts":
            return _parts_table(arg, lang)
        if name == "points":
            return str(parts[arg].points)
        if name == "pts":
            n = parts[arg].points
            return {"en": f"{n} point" + ("s" if n != 1 else ""), "ja": f"{n} 点"}[lang]
        if name == "title":
            return parts[arg].title[lang]
        if name == "total":
            return str(sum(p.points for p in PARTS))
        raise ValueError(f"unknown template {match.group(0)}")

    return _TEMPLATE.sub(replace, text)


def _render_code(text: str, kind: str, lang: str) -> str:
    out: list[str] = []
    lines = text.splitlines()
    n = 0
    while n < len(lines):
        line, marker = lines[n], lines[n].strip()
        indent = line[: len(line) - len(line.lstrip())]
        if marker == BEGIN_SOLUTION:
            end = next(i for i in range(n, len(lines)) if lines[i].strip() == END_SOLUTION)
            region = lines[n + 1:end]
            n = end + 1
            stub = None
            if n < len(lines) and lines[n].strip() == BEGIN_STUB:
                stub_end = next(i for i in range(n, len(lines)) if lines[i].strip() == END_STUB)
                stub = lines[n + 1:stub_end]
                n = stub_end + 1
            if kind == "solution":
                out.extend(region)
            else:
                out.extend(stub if stub is not None else [indent + s for s in DEFAULT_STUB[lang]])
            continue
        out.append(line)
        n += 1
    return "\n".join(out)


def _cell_id(kind: str, lang: str, index: int, source: str) -> str:
    digest = hashlib.sha1(f"{kind}/{lang}/{index}/{source}".encode()).hexdigest()
    return digest[:8]


def render(cells: list[SourceCell], kind: str, lang: str, *, filled: bool = False
           ) -> nbformat.NotebookNode:
    """The ``kind`` ("student" or "solution") notebook in ``lang``, without outputs.

    ``filled=True`` (student notebooks only) fills in the solution regions and the model
    answers: a student notebook as a student who solved everything would hand it in.
    """
    if kind not in KINDS or lang not in LANGS:
        raise ValueError(f"kind/lang must be in {KINDS}/{LANGS}, got {kind!r}/{lang!r}")
    content = "solution" if filled else kind
    nb = nbformat.v4.new_notebook()
    by_id = {q.id: q for q in FREE_TEXT}
    for cell in cells:
        if (cell.lang and cell.lang != lang) or (cell.only and cell.only != kind):
            continue
        if cell.setup:
            source = colab_setup_source(lang)
        else:
            source = _fill(translate(cell.text, lang), kind, lang)
        if cell.answer is not None:
            question = by_id[cell.answer]
            answer = source if content == "solution" else PLACEHOLDER[lang]
            nb.cells.append(nbformat.v4.new_markdown_cell(f"{question.marker}\n{answer}"))
        elif cell.cell_type == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            code = _render_code(source, content, lang)
            if kind == "student":  # a marker for nbval, which never runs student notebooks
                code = code.replace(f"{NBVAL_IGNORE}\n", "")
            nb.cells.append(nbformat.v4.new_code_cell(code))
    for index, nb_cell in enumerate(nb.cells):
        nb_cell.id = _cell_id(kind, lang, index, nb_cell.source)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "d2l_tconv": {"kind": kind, "lang": lang},
    }
    return nb


def load(path: Path = SOURCE) -> list[SourceCell]:
    """Parse the exercise source file."""
    return parse(path.read_text(encoding="utf-8"))


def solution_texts(cells: list[SourceCell]) -> list[str]:
    """Everything that only solutions may contain: solution-region lines, solution-only
    cells and model answers (each stripped, in both languages)."""
    texts: list[str] = []
    for cell in cells:
        if cell.only == "solution" or cell.answer is not None:
            for lang in LANGS:
                if cell.lang in (None, lang):
                    texts.append(translate(cell.text, lang).strip())
        for lang in LANGS:
            texts.extend(translate(line, lang).strip() for line in cell.solution_lines)
    return [t for t in texts if t]
