"""Read a submitted notebook in the grader's process, without running any of it.

A submission that cannot be read (invalid JSON, not a notebook, too large, no cells) gets a
:class:`Submission` with ``problem`` set; its parts are then "not graded" with that reason.
Only the cells' sources are used: stored outputs are ignored (the grader runs the code
itself), and so is cell metadata (Colab drops it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..exercise_checks import FREE_TEXT

MAX_BYTES = 20 * 2**20
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@dataclass
class Submission:
    """One submitted notebook: its code cells, free-text answers and language.

    Attributes:
        name: the file name without ``.ipynb`` (the gradebook's ``submission`` column).
        path: where it was read from.
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


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    if isinstance(source, str):
        return source
    raise ValueError("a cell's source is neither a string nor a list of strings")


def read_submission(path: Path) -> Submission:
    """Read ``path`` strictly but tolerantly: any JSON notebook with a ``cells`` list."""
    submission = Submission(name=path.stem, path=path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            submission.problem = f"file too large ({size} bytes)"
            return submission
        text = path.read_bytes().decode("utf-8")
        nb = json.loads(text)
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
    markdown: list[str] = []
    try:
        for index, cell in enumerate(nb["cells"], start=1):  # "cell 3": the third cell
            if not isinstance(cell, dict):
                raise ValueError("a cell is not an object")
            kind = cell.get("cell_type")
            if kind == "code":
                submission.code_cells.append((index, _source(cell)))
            elif kind == "markdown":
                markdown.append(_source(cell))
    except ValueError as error:
        submission.problem = f"not a Jupyter notebook ({error})"
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


def free_text_answers(markdown: list[str]) -> dict[str, str | None]:
    """The answer to each free-text question: the text of the markdown cell that starts with
    the question's marker, without the marker; ``None`` if there is no such cell."""
    answers: dict[str, str | None] = {}
    for question in FREE_TEXT:
        found = [text for text in markdown if text.lstrip().startswith(question.marker)]
        answers[question.id] = (
            "\n\n".join(text.lstrip()[len(question.marker):].strip() for text in found)
            if found else None
        )
    return answers


def find_submissions(folder: Path) -> list[Path]:
    """The ``.ipynb`` files directly in ``folder``, sorted by name (checkpoints skipped)."""
    return sorted(p for p in folder.iterdir()
                  if p.suffix == ".ipynb" and p.is_file() and not p.name.startswith("."))
