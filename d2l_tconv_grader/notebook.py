"""Read a submitted notebook in the grader's process, without running any of it.

A submission that cannot be read (invalid JSON, not a notebook, too large, no cells) gets a
:class:`Submission` with ``problem`` set; its parts are then "not graded" with that reason.
Reading is bounded: the limits below (bytes, cells, characters per cell and in all code, stored
outputs, JSON nesting depth, integer digits) turn anything larger into
``too large (...)`` before any work that grows with it, and nothing here recurses as deep
as the input is nested.
Only the cells' sources are used: stored outputs are ignored (the grader runs the code
itself), and so is cell metadata (Colab drops it).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .escape import safe_name
from .free_text import free_text_answers

MAX_BYTES = 20 * 2**20
MAX_CELLS = 2000
MAX_CELL_CHARS = 100_000
MAX_CODE_CHARS = 1_000_000
MAX_OUTPUT_CHARS = 16 * 2**20
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 100


class TooLarge(ValueError):
    """A notebook beyond one of the reading limits; ``args[0]`` says which."""


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise TooLarge(f"an integer of {len(text)} digits, limit {MAX_INT_DIGITS}")
    return int(text)


def _depth_within(value: object, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) nests at most ``limit`` deep; iterative."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            stack.extend((child, depth + 1)
                         for child in (item.values() if isinstance(item, dict) else item))
    return True


def parse_notebook_json(data: bytes) -> object:
    """The JSON value of ``data``, within the limits; raises :class:`TooLarge`,
    ``UnicodeDecodeError`` or ``json.JSONDecodeError``."""
    if len(data) > MAX_BYTES:
        raise TooLarge(f"{len(data)} bytes, limit {MAX_BYTES}")
    text = data.decode("utf-8")
    try:
        value = json.loads(text, parse_int=_bounded_int)
    except RecursionError as error:
        raise TooLarge(f"JSON nested deeper than {MAX_JSON_DEPTH}") from error
    if not _depth_within(value, MAX_JSON_DEPTH):
        raise TooLarge(f"JSON nested deeper than {MAX_JSON_DEPTH}")
    return value
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@dataclass
class Submission:
    """One submitted notebook: its code cells, free-text answers and language.

    Attributes:
        name: the file name without ``.ipynb`` (the gradebook's ``submission`` column), or
            a safe alias of it when it holds control characters (:func:`.escape.safe_name`).
        path: where it was read from (``path.stem`` is the original name).
        code_cells: ``(number, source)`` of each code cell; ``number`` counts every cell of the
            notebook from 1, markdown cells included (what messages call "cell N").
        answers: free-text answer by question id; ``None`` where no answer cell was found.
        lang: ``"ja"`` or ``"en"`` (for the feedback file).
        problem: why the notebook could not be graded, or ``None``.
    """

    name: str
    path: Path
    code_cells: list[tuple[int, str]] = field(default_factory=list)
    answers: dict[str, str | None] = field(default_factory=dict)
    lang: str = "en"
    problem: str | None = None

    @property
    def original_name(self) -> str:
        return self.path.stem

    @property
    def run_id(self) -> str:
        """A file-name-safe id for the grader's private files of this submission."""
        return hashlib.sha256(self.path.name.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    if isinstance(source, str):
        return source
    raise ValueError("a cell's source is neither a string nor a list of strings")


def read_submission(path: Path) -> Submission:
    """Read ``path`` strictly but tolerantly: any JSON notebook with a ``cells`` list."""
    submission = Submission(name=safe_name(path.stem), path=path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            submission.problem = f"too large ({size} bytes, limit {MAX_BYTES})"
            return submission
        with open(path, "rb") as file:
            nb = parse_notebook_json(file.read(MAX_BYTES + 1))
    except TooLarge as error:
        submission.problem = f"too large ({error})"
        return submission
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        submission.problem = f"invalid JSON ({type(error).__name__})"
        return submission
    except OSError as error:
        submission.problem = f"cannot read the file ({error.strerror})"
        return submission
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or \
            not isinstance(nb.get("nbformat", 4), int):
        submission.problem = "not a Jupyter notebook"
        return submission
    if nb.get("nbformat", 4) < 4:
        submission.problem = f"notebook format {nb['nbformat']} is too old (need 4)"
        return submission
    if len(nb["cells"]) > MAX_CELLS:
        submission.problem = f"too large ({len(nb['cells'])} cells, limit {MAX_CELLS})"
        return submission
    markdown: list[str] = []
    outputs = 0
    try:
        for index, cell in enumerate(nb["cells"], start=1):  # "cell 3": the third cell
            if not isinstance(cell, dict):
                raise ValueError("a cell is not an object")
            kind = cell.get("cell_type")
            if kind in ("code", "markdown") and len(_source(cell)) > MAX_CELL_CHARS:
                raise TooLarge(f"cell {index} has {len(_source(cell))} characters, "
                               f"limit {MAX_CELL_CHARS}")
            if kind == "code":
                submission.code_cells.append((index, _source(cell)))
                outputs += len(json.dumps(cell.get("outputs", [])))
            elif kind == "markdown":
                markdown.append(_source(cell))
    except TooLarge as error:
        submission.problem = f"too large ({error})"
        return submission
    except ValueError as error:
        submission.problem = f"not a Jupyter notebook ({error})"
        return submission
    code = sum(len(source) for _, source in submission.code_cells)
    if code > MAX_CODE_CHARS or outputs > MAX_OUTPUT_CHARS:
        what = (f"{code} characters of code, limit {MAX_CODE_CHARS}" if code > MAX_CODE_CHARS
                else f"stored outputs of {outputs} characters, limit {MAX_OUTPUT_CHARS}")
        submission.problem = f"too large ({what})"
        return submission
    if not any(source.strip() for _, source in submission.code_cells):
        submission.problem = "empty notebook (no code)"
    submission.answers = free_text_answers(markdown)
    metadata = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    lang = (metadata.get("d2l_tconv") or {}).get("lang") if isinstance(
        metadata.get("d2l_tconv"), dict) else None
    if lang in ("en", "ja"):
        submission.lang = lang
    else:
        japanese = sum(len(_JAPANESE.findall(text)) for text in markdown)
        submission.lang = "ja" if japanese > 20 else "en"
    return submission


def find_submissions(folder: Path) -> list[Path]:
    """The ``.ipynb`` files directly in ``folder``, sorted by name (checkpoints skipped)."""
    return sorted(p for p in folder.iterdir()
                  if p.suffix == ".ipynb" and p.is_file() and not p.name.startswith("."))
