"""Grade one submission: read it, scan it, run it in the sandbox, score what came back.

Scores are decided here, in the grader's process, from plain data only (see :mod:`.data`
and :mod:`.hidden`); the student's code never runs in this process.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exercise_checks import PARTS
from .data import encode_input
from .hidden import Outcome, hidden_inputs, score_calls, score_values
from .notebook import Submission, read_submission
from .sandbox import Limits, RunResult, Sandbox, run_harness
from .scan import Flag, flag_codes, python_source, scan

CELL_STATUSES = {"ok", "error", "timeout", "memory"}


@dataclass
class PartResult:
    """One row of the gradebook, with the message for the feedback file."""

    part: str
    points: float
    max_points: int
    status: str
    message: str
    points_without_flags: float = 0.0


@dataclass
class SubmissionResult:
    """Everything the grader found out about one submission."""

    submission: Submission
    flags: list[Flag] = field(default_factory=list)
    parts: list[PartResult] = field(default_factory=list)
    cells: dict[int, dict] = field(default_factory=dict)
    ended: str = "not run"
    seconds: float = 0.0
    malformed_lines: int = 0

    @property
    def name(self) -> str:
        return self.submission.name

    @property
    def points(self) -> float:
        return sum(p.points for p in self.parts)


@dataclass
class Context:
    """What every submission of one grading run shares."""

    sandbox: Sandbox
    stage: Path
    hidden: list[Path]
    limits: Limits
    seed: int
    private: Path
    inputs: dict[str, list[tuple]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.inputs = hidden_inputs(self.seed)


def _job(submission: Submission, context: Context) -> dict:
    parts = []
    for spec in PARTS:
        entry: dict[str, Any] = {"id": spec.id, "kind": spec.kind, "names": list(spec.names)}
        if spec.kind == "function":
            entry["calls"] = [[encode_input(a) for a in args] for args in context.inputs[spec.id]]
        parts.append(entry)
    return {
        "cells": [[index, source] for index, source in submission.code_cells],
        "parts": parts,
        "cell_timeout": context.limits.cell_timeout,
        "part_timeout": context.limits.part_timeout,
        "grace": min(2.0, context.limits.cell_timeout),
    }


def _events(run: RunResult, result: SubmissionResult) -> tuple[dict[str, dict], set[str], str]:
    """Last event of each part, kinds of control events seen, and a stop reason."""
    parts: dict[str, dict] = {}
    control: set[str] = set()
    reason = ""
    ids = {p.id for p in PARTS}
    for line in run.lines:
        try:
            event = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            result.malformed_lines += 1
            continue
        if type(event) is not dict or type(event.get("event")) is not str:
            result.malformed_lines += 1
            continue
        kind = event["event"]
        if kind == "cell" and type(event.get("index")) is int and \
                event.get("status") in CELL_STATUSES:
            error = event.get("error")
            result.cells[event["index"]] = {
                "status": event["status"],
                "error": error[:300] if isinstance(error, str) else None,
            }
        elif kind == "part" and event.get("id") in ids:
            parts[event["id"]] = event
        elif kind in ("done", "stopped"):
            control.add(kind)
            if kind == "stopped" and isinstance(event.get("reason"), str):
                reason = event["reason"][:200]
        else:
            result.malformed_lines += 1
    return parts, control, reason


def _ended(run: RunResult, control: set[str], reason: str) -> str:
    if run.killed == "timeout":
        return "stopped: time limit of the submission"
    if "stopped" in control:
        return f"stopped: {reason}"
    if "done" in control:
        return "completed"
    if run.returncode is not None and run.returncode < 0:
        return f"stopped: killed by signal {-run.returncode}"
    return f"stopped: harness exited with code {run.returncode}"


def _score(part_id: str, kind: str, event: dict | None, context: Context, ended: str
           ) -> Outcome:
    if event is None:
        if ended == "completed":
            return Outcome(0, "missing: no answer recorded", "No answer was recorded.")
        return Outcome(0, f"not reached: sandbox {ended}",
                       f"The run {ended} before this part was recorded.")
    if "error" in event and "values" not in event and "calls" not in event:
        text = str(event["error"])[:200]
        return Outcome(0, f"error: {text.split(':')[0]}", text)
    if kind == "function":
        return score_calls(part_id, event, context.inputs[part_id])
    return score_values(part_id, event.get("values"), context.seed)


def binding_cells(code_cells: list[tuple[int, str]], name: str) -> list[int]:
    """Cells that define ``name`` at top level (by the AST, or by the text of a cell that does
    not parse)."""
    found = []
    pattern = re.compile(rf"\bdef\s+{re.escape(name)}\b|\b{re.escape(name)}\s*(,[^=\n]*)?=(?!=)")
    for index, source in code_cells:
        try:
            tree = ast.parse(python_source(source))
        except (SyntaxError, ValueError, RecursionError):
            if pattern.search(source):
                found.append(index)
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
                    node.name == name:
                found.append(index)
                break
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For))
                else [])
            if any(isinstance(t, ast.Name) and t.id == name
                   for target in targets for t in ast.walk(target)):
                found.append(index)
                break
    return found


def _explain_missing(outcome: Outcome, names: tuple[str, ...], result: SubmissionResult
                     ) -> Outcome:
    """Say why an answer is missing: the cell that should define it failed, or never ran."""
    if not outcome.status.startswith("missing:"):
        return outcome
    cells = sorted({i for name in names
                    for i in binding_cells(result.submission.code_cells, name)})
    if result.ended != "completed" and (not cells or all(i not in result.cells for i in cells)):
        return Outcome(0, f"not reached: {result.ended.removeprefix('stopped: ')}",
                       f"{outcome.message} The run {result.ended} before it got there.")
    failed = [(i, result.cells[i]) for i in cells if result.cells.get(i, {}).get("status")
              not in (None, "ok")]
    if not failed:
        return outcome
    index, cell = failed[-1]
    kind = (cell["error"] or cell["status"]).split(":")[0]
    why = kind if cell["status"] == "error" else f"{cell['status']}, {kind}"
    return Outcome(0, f"{outcome.status} (cell {index}: {why})",
                   f"{outcome.message} Cell {index} did not run to the end: "
                   f"{cell['error'] or cell['status']}.")


def grade_submission(path: Path, context: Context) -> SubmissionResult:
    """Grade the notebook at ``path``; never raises for anything the notebook contains."""
    submission = read_submission(path)
    result = SubmissionResult(submission)
    if submission.problem:
        result.ended = f"not run: {submission.problem}"
        result.parts = [PartResult(p.id, 0, p.points, f"not graded: {submission.problem}",
                                   f"The notebook could not be graded: {submission.problem}.")
                        for p in PARTS]
        return result
    result.flags = scan(submission.code_cells)
    run = run_harness(_job(submission, context), context.sandbox, context.stage, context.hidden,
                      context.limits, context.private / f"{path.name}.run")
    result.seconds = run.seconds
    events, control, reason = _events(run, result)
    result.ended = _ended(run, control, reason)
    if result.ended.startswith("stopped: harness exited") and run.stderr_tail:
        result.ended += f" ({run.stderr_tail.strip().splitlines()[-1][:200]})"
    codes = flag_codes(result.flags)
    for spec in PARTS:
        outcome = _score(spec.id, spec.kind, events.get(spec.id), context, result.ended)
        outcome = _explain_missing(outcome, spec.names, result)
        if codes:
            result.parts.append(PartResult(
                spec.id, 0, spec.points, f"flagged: {', '.join(codes)}",
                "No credit: the notebook was flagged (see the flags below). Without the flags: "
                f"{outcome.status}.", outcome.points))
        else:
            result.parts.append(PartResult(spec.id, outcome.points, spec.points, outcome.status,
                                           outcome.message, outcome.points))
    return result
