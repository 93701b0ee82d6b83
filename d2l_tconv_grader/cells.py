"""What the grader reads in a notebook's code cells before running them, in linear time.

* :func:`skip_shell_lines`: shell and package lines (``!pip install ...``, ``%pip``,
  ``%conda``, a ``%%bash`` cell) cannot run in the sandbox, which starts no process; they
  are replaced by ``pass`` so that the rest of the cell still runs, and listed for the
  feedback.
* :func:`check_cells`: the cells that call ``check("1a", ...)``, by part: a part's answer is
  its value when its check cell ran.
* :func:`cell_label`: how messages name a cell: its number among the code cells, as Jupyter
  and Colab users count them, and its first line; :func:`name_cells` puts these labels in
  place of the grader's own cell numbers (all cells counted) in any text it writes.
"""

from __future__ import annotations

import re

_CELL_MAGIC = re.compile(r"%%(bash|sh|script|system|!)(\s|$)")
_SHELL_LINE = re.compile(
    r"[ \t]*(!|%(pip|conda|mamba|micromamba|uv|sx|system|sh)\b"
    r"|[A-Za-z_][\w.]*[ \t]*=[ \t]*(!|%(sx|system)\b))")
_CELL_REF = re.compile(r"\b([Cc]ell|セル) (\d+)")
_CHECK_CALL = re.compile(r"""^[^#\n]*\bcheck\(\s*["']([0-9][a-z])["']""", re.MULTILINE)


def skip_shell_lines(source: str) -> tuple[str, list[str]]:
    """``source`` with its shell and package lines replaced by ``pass`` (same indentation,
    so blocks stay valid), and the lines skipped. A ``%%bash``-like cell is skipped whole."""
    lines = source.split("\n")
    first = next((line.strip() for line in lines if line.strip()), "")
    if _CELL_MAGIC.match(first):
        return "", [first]
    skipped: list[str] = []
    out: list[str] = []
    continued = False
    for line in lines:
        if continued or _SHELL_LINE.match(line):
            if not continued:
                skipped.append(line.strip())
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}pass")
            else:
                out.append("")
            continued = line.rstrip().endswith("\\")
            continue
        out.append(line)
    return "\n".join(out), skipped


def check_cells(code_cells: list[tuple[int, str]]) -> dict[str, list[int]]:
    """Part id -> numbers of the cells that call ``check("<id>", ...)`` (not in a comment)."""
    found: dict[str, list[int]] = {}
    for index, source in code_cells:
        for part_id in dict.fromkeys(_CHECK_CALL.findall(source)):
            found.setdefault(part_id, []).append(index)
    return found


def first_line(source: str, width: int = 60) -> str:
    """The first non-empty line of ``source``, shortened to ``width`` characters."""
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def cell_label(code_cells: list[tuple[int, str]], index: int, lang: str = "en") -> str:
    """``code cell 7 (`check("1a", Z)`)``: cell ``index`` (counted among all cells) named by
    its number among the code cells and its first line."""
    for number, (cell_index, source) in enumerate(code_cells, start=1):
        if cell_index == index:
            line = first_line(source).replace("`", "'")
            name = f"code cell {number}" if lang == "en" else f"コードセル {number}"
            return f"{name} (`{line}`)" if line else name
    return f"cell {index}" if lang == "en" else f"セル {index}"


def name_cells(text: str, labels: dict[str, str]) -> str:
    """``text`` with every ``cell N`` / ``セル N`` (``N`` counted among all cells, as the
    grader counts) replaced by ``labels[str(N)]`` (see :func:`cell_label`); numbers without a
    label stay as they are."""
    return _CELL_REF.sub(lambda match: labels.get(match.group(2), match.group(0)), text)
