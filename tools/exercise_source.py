"""Read the exercise masters and render the student and solution notebooks from them.

The masters, ``exercises/source/{en,ja}/exercises.md``, are notebooks in Jupytext's MyST
Markdown format, one per language. Each holds every cell of both notebooks:

* a cell tagged ``student-only`` or ``solution-only`` goes into that notebook only;
* the code cell tagged ``colab-setup`` gets :func:`d2l_tconv.project.colab_setup_source`;
* nbgrader's markers: the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are
  kept in the solutions; the student notebook gets the cell's ``stub`` metadata instead or,
  without one, the master's ``code_stub`` (code cells) or ``text_stub`` (markdown cells,
  the free-text answers), as nbgrader's ClearSolutions does;
* MyST substitutions ``{{ name }}`` in markdown cells: those of the master's front matter
  (``myst: substitutions:``) and ``{{ badge }}``, the notebook's "Open in Colab" badge.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import jupytext
import nbformat
from notebook_exec import kernel_metadata

from d2l_tconv.project import colab_badge, colab_setup_source

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "exercises" / "source"
LANGS = ("en", "ja")
KINDS = ("student", "solution")

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
REGION_MARKERS = (BEGIN_SOLUTION, END_SOLUTION)
TAGS = ("student-only", "solution-only", "colab-setup")
NBVAL_IGNORE = "# NBVAL_IGNORE_OUTPUT"
_SUBSTITUTION = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def source_path(lang: str, folder: Path = SOURCES) -> Path:
    """The master of ``lang``, e.g. ``exercises/source/ja/exercises.md``."""
    return folder / lang / "exercises.md"


def notebook_path(kind: str, lang: str) -> str:
    """Repository path of a rendered notebook, e.g. ``exercises/student/exercises_en.ipynb``."""
    if kind == "student":
        return f"exercises/student/exercises_{lang}.ipynb"
    if kind == "solution":
        return f"exercises/solutions/solutions_{lang}.ipynb"
    raise ValueError(f"kind must be 'student' or 'solution', got {kind!r}")


def _regions(text: str) -> list[tuple[str, str]]:
    """Each line of ``text`` with its role: ``"begin"`` or ``"end"`` (a marker line),
    ``"solution"`` (inside a solution region) or ``"shared"``."""
    roles, inside = [], False
    for number, line in enumerate(text.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if inside:
                raise ValueError(f"line {number}: {BEGIN_SOLUTION} inside a solution region")
            inside = True
            roles.append((line, "begin"))
        elif marker == END_SOLUTION:
            if not inside:
                raise ValueError(f"line {number}: {END_SOLUTION} without {BEGIN_SOLUTION}")
            inside = False
            roles.append((line, "end"))
        else:
            roles.append((line, "solution" if inside else "shared"))
    if inside:
        raise ValueError(f"{BEGIN_SOLUTION} is not closed")
    return roles


def clear_solutions(text: str, stub: str | None) -> str:
    """``text`` with each solution region replaced by ``stub`` (indented like its
    ``### BEGIN SOLUTION`` line), or, with ``stub=None``, with only the marker lines removed."""
    out: list[str] = []
    for line, role in _regions(text):
        if role == "begin" and stub is not None:
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + s if s else s for s in stub.split("\n"))
        elif role == "shared" or (role == "solution" and stub is None):
            out.append(line)
    return "\n".join(out)


def _check(master: nbformat.NotebookNode, path: Path) -> None:
    for number, cell in enumerate(master.cells, start=1):
        where = f"{path}, cell {number} ({cell.source.partition(chr(10))[0][:40]!r})"
        unknown = (set(cell.metadata) - {"tags", "stub"}) | (
            set(cell.metadata.get("tags", [])) - set(TAGS))
        if unknown:
            raise ValueError(f"{where}: unknown metadata {sorted(unknown)}; known tags: {TAGS}")
        try:
            _regions(cell.source)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None


def load(folder: Path = SOURCES) -> dict[str, nbformat.NotebookNode]:
    """The master of each language, read by Jupytext and checked, by language."""
    masters = {}
    for lang in LANGS:
        path = source_path(lang, folder)
        masters[lang] = jupytext.read(path, fmt="md:myst")
        _check(masters[lang], path)
    return masters


def _substitute(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        if match.group(1) not in values:
            raise ValueError(f"unknown substitution {match.group(0)}; known: {sorted(values)}")
        return values[match.group(1)].strip()

    return _SUBSTITUTION.sub(value, text)


def _cell_id(kind: str, lang: str, index: int, source: str) -> str:
    digest = hashlib.sha1(f"{kind}/{lang}/{index}/{source}".encode()).hexdigest()
    return digest[:8]


def render(source: dict[str, nbformat.NotebookNode], kind: str, lang: str, *,
           filled: bool = False) -> nbformat.NotebookNode:
    """The ``kind`` ("student" or "solution") notebook in ``lang``, without outputs.

    ``filled=True`` (student notebooks only) keeps the solution regions: a student
    notebook as a student who solved everything would hand it in.
    """
    if kind not in KINDS or lang not in LANGS:
        raise ValueError(f"kind/lang must be in {KINDS}/{LANGS}, got {kind!r}/{lang!r}")
    master = source[lang]
    stubs = master.metadata["d2l_tconv"]
    substitutions = {**master.metadata.get("myst", {}).get("substitutions", {}),
                     "badge": colab_badge(notebook_path(kind, lang))}
    other_only = "solution-only" if kind == "student" else "student-only"
    nb = nbformat.v4.new_notebook()
    for cell in master.cells:
        tags = cell.metadata.get("tags", [])
        if other_only in tags:
            continue
        if "colab-setup" in tags:
            nb.cells.append(nbformat.v4.new_code_cell(colab_setup_source(lang)))
            continue
        default_stub = stubs["code_stub" if cell.cell_type == "code" else "text_stub"]
        stub = None if filled or kind == "solution" else cell.metadata.get("stub", default_stub)
        text = clear_solutions(cell.source, stub)
        if cell.cell_type == "markdown":
            text = _substitute(text, substitutions)
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            if kind == "student":  # a marker for nbval, which never runs student notebooks
                text = text.replace(f"{NBVAL_IGNORE}\n", "")
            nb.cells.append(nbformat.v4.new_code_cell(text))
    for index, nb_cell in enumerate(nb.cells):
        nb_cell.id = _cell_id(kind, lang, index, nb_cell.source)
    nb.metadata = {**kernel_metadata(), "d2l_tconv": {"kind": kind, "lang": lang}}
    return nb


def solution_texts(source: dict[str, nbformat.NotebookNode]) -> list[str]:
    """Everything that only solutions may contain, stripped: solution-only cells and every
    line of a solution region (model answers included), in both languages."""
    texts: list[str] = []
    for master in source.values():
        for cell in master.cells:
            if "solution-only" in cell.metadata.get("tags", []):
                texts.append(cell.source.strip())
                continue
            texts.extend(line.strip() for line, role in _regions(cell.source)
                         if role == "solution")
    return [t for t in texts if t]


PLACEHOLDER = {lang: master.metadata["d2l_tconv"]["text_stub"]
               for lang, master in load().items()}
"""The student's answer cell below its marker line, by language (the master's text_stub)."""
