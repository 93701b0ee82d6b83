"""Part 2d measured by the grader when the student's W of part 1d broke their 2d cell.

Part 2d asks for the bytes of the student's own dense ``W`` and the times of ``W @ x`` and
``F.conv2d``. A ``W`` of part 1d with the wrong number of columns, a transposed one above all,
makes ``W @ x`` fail, so the 2d cell itself fails and 2d would score 0 for 1d's mistake. The
partial-credit policy says one mistake is not charged twice (:mod:`.rubric`), so:

* the job asks the harness to measure 2d itself (:func:`job_entry`) when a cell that uses 2d's
  names fails with an error. It does so in the sandbox, in the student's process, after the
  last cell (``_harness.measure_part``): the student's own ``W`` from their
  ``my_kernel2matrix`` for each size of ``SIZES_2D``, its bytes as built (dtype and layout
  included) and the time of ``W @ x``, or ``Wᵀ @ x`` for a transposed ``W``, beside
  ``F.conv2d``'s. The nbgrader route's 2d test cell measures with the same function, in the
  notebook's kernel, when the kernel's last error came from a cell using 2d's names
  (:mod:`.nbgrader_tests`);
* :func:`rescore` uses that measurement only when the student's ``W`` is the cause: for some
  size it does not have the ``n * n`` columns that ``W @ x`` needs, or ``my_kernel2matrix``
  fails. It scores it with the same acceptance code as the student's own values
  (:func:`.hidden.score_decoded`: ``dense_bytes_problem`` and ``timings_problem`` of
  :mod:`d2l_tconv.exercise_checks`), and keeps the student's own score when that is higher.
  A 2d cell that failed with a ``W`` of the right shape failed for its own reasons: it is not
  measured for the student, so crashing the 2d cell on purpose never earns more than running
  it. The feedback says that the grader measured, and why (the shape of the student's ``W``).
"""

from __future__ import annotations

import re

from d2l_tconv.exercise_checks import SIZES_2D, part

from .data import encode_input
from .hidden import Outcome, conv_output_numel, kernel_2d, score_decoded
from .texts import Text, local

PART = part("2d")
FUNCTION = part("1d").names[0]
_USES_NAMES = re.compile(r"\b(" + "|".join(map(re.escape, PART.names)) + r")\b")


def cells_using(code_cells: list[tuple[int, str]]) -> list[int]:
    """The cells whose source uses one of 2d's names (``dense_bytes``, ``dense_ms``,
    ``conv_ms``)."""
    return [index for index, source in code_cells if _USES_NAMES.search(source)]


def job_entry(seed: int, code_cells: list[tuple[int, str]]) -> dict:
    """The ``measure`` entry of 2d in the harness's job: the student's function, the sizes,
    the kernel (drawn from ``seed``) and the cells whose failure asks for the measurement."""
    return {"function": FUNCTION, "sizes": list(SIZES_2D), "kernel": encode_input(kernel_2d(seed)),
            "cells": cells_using(code_cells)}


def failed_cell(code_cells: list[tuple[int, str]], cells: dict[int, dict]
                ) -> tuple[int, str] | None:
    """(index, error) of the last cell using 2d's names that failed with an error."""
    failed = [(index, cells[index]["error"] or "") for index in cells_using(code_cells)
              if cells.get(index, {}).get("status") == "error"]
    return failed[-1] if failed else None


def _code(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("`", "'")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cause(rows: list[dict]) -> tuple[str, str] | None:
    """Why the student's ``W`` breaks ``W @ x`` (English, Japanese), or ``None`` when every
    measured ``W`` has the ``n * n`` columns it needs."""
    for row in rows:
        n = row["n"]
        call = f"{FUNCTION}(K, ({n}, {n}))"
        if "error" in row:
            return (f"The cause is your function of part 1d: {call} failed "
                    f"(`{_code(row['error'])}`).",
                    f"原因は小問 1d の関数です: {call} が失敗しました（`{_code(row['error'])}`）。")
        want = (conv_output_numel((n, n), (3, 3)), n * n)
        shape = tuple(row["shape"])
        if len(shape) == 2 and shape[1] == want[1]:
            continue
        if shape == want[::-1]:
            return (f"The cause is your W of part 1d: {call} has shape {shape}, the transpose "
                    f"of the {want} that W @ x needs (one row per output, one column per "
                    "input pixel).",
                    f"原因は小問 1d の W です: {call} の形状は {shape} で、W @ x に必要な "
                    f"{want}（出力ごとに 1 行、入力の画素ごとに 1 列）の転置です。")
        return (f"The cause is your W of part 1d: {call} has shape {shape}, not the {want} "
                "that W @ x needs (one row per output, one column per input pixel).",
                f"原因は小問 1d の W です: {call} の形状は {shape} で、W @ x に必要な {want}"
                "（出力ごとに 1 行、入力の画素ごとに 1 列）ではありません。")
    return None


def _numbers(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"


def rescore(own: Outcome, event: dict | None, failed: tuple[int, str] | None,
            seed: int) -> Outcome:
    """2d's outcome: the student's own (``own``), or, when their 2d cell ``failed`` (index,
    error) because of their ``W``, the grader's measurement (``event``, the harness's
    ``measure`` event) scored like their own values, whichever earns more."""
    if event is None or "rows" not in event or failed is None or own.points >= PART.points:
        return own
    rows = event["rows"]
    cause = _cause(rows)
    if cause is None:
        return own  # W @ x works with this W: the 2d cell failed for its own reasons
    index, error = failed
    first = (f"Your 2d cell (cell {index}) failed: `{_code(error)}`.",
             f"2d のセル（セル {index}）が失敗しました: `{_code(error)}`。")
    usable = len(rows) == len(SIZES_2D) and all(r.get("product") for r in rows)
    if not usable:
        why = Text("The grader could not measure 2d with your W: fix part 1d first.",
                   "採点プログラムはあなたの W で 2d を測定できませんでした。まず小問 1d を"
                   "直してください。")
        return Outcome(own.points, own.status,
                       Text("\n".join([str(own.message), first[0], cause[0], why]),
                            "\n".join([local(own.message, "ja"), first[1], cause[1], why.ja])))
    measured = score_decoded("2d", {"dense_bytes": [r["bytes"] for r in rows],
                                    "dense_ms": [r["dense_ms"] for r in rows],
                                    "conv_ms": [r["conv_ms"] for r in rows]}, seed)
    if measured.points < own.points:
        return own
    w = rows[0]
    kind = f"`{w['dtype']}`" + (f", `{w['layout']}`" if w["layout"] != "strided" else "")
    values = (f"dense_bytes = {[r['bytes'] for r in rows]}",
              f"dense_ms = {_numbers([r['dense_ms'] for r in rows])}",
              f"conv_ms = {_numbers([r['conv_ms'] for r in rows])}")
    how = (f"Part 2d judges your own W, so the grader measured it in the sandbox with "
           f"{w['product']}: {values[0]} ({kind}), {values[1]}, {values[2]}.",
           f"2d は自分の W で判定するので、採点プログラムがサンドボックスの中で {w['product']} "
           f"により測定しました: {values[0]}（{kind.replace(', ', '、')}）、{values[1]}、"
           f"{values[2]}。")
    status = Text(f"{measured.status} (measured by the grader: the 2d cell failed)",
                  f"{local(measured.status, 'ja')}（2d のセルが失敗したため採点プログラムが測定）")
    message = Text("\n".join([first[0], cause[0], how[0], str(measured.message)]),
                   "\n".join([first[1], cause[1], how[1], local(measured.message, "ja")]))
    return Outcome(measured.points, status, message)
