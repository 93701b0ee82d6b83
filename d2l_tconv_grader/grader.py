"""Grade one submission: read it, scan it, run it in the sandbox, score what came back.

Scores are decided here, in the grader's process, from plain data only (see :mod:`.data`
and :mod:`.hidden`); the student's code never runs in this process.
"""

from __future__ import annotations

import ast
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2l_tconv.exercise_checks import PARTS

from .cells import check_cells, skip_shell_lines
from .data import InvalidAnswer, encode_input, parse_line, validate_event
from .escape import safe_name
from .hidden import Outcome, hidden_inputs, score_calls, score_values
from .measured import failed_cell, job_entry, rescore
from .notebook import Submission, read_submission
from .sandbox import Limits, RunResult, Sandbox, run_harness
from .scan import FORBIDDEN_OPS, Flag, flag_codes, python_source, scan

#: Parts whose function must be the student's own: PyTorch's convolution is checked at run time.
OWN_IMPLEMENTATION = {spec.id for spec in PARTS if spec.names[0] in FORBIDDEN_OPS}
MAX_TRACEBACK = 8000


@dataclass
class PartResult:
    """One row of the gradebook, with the message for the feedback file."""

    part: str
    points: float
    max_points: int
    status: str
    message: str
    points_without_flags: float = 0.0
    #: ``"rule"`` or ``"integrity"`` when a flag of that kind set these points to 0, else None
    flag_kind: str | None = None
    #: what the hidden tests found, flags aside (an instructor's "accept" restores it)
    outcome: Outcome | None = None


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
    #: the grader's own traceback(s) when grading this submission failed inside the grader
    internal_error: str | None = None

    @property
    def name(self) -> str:
        return self.submission.name

    @property
    def points(self) -> float:
        return sum(p.points for p in self.parts)

    @property
    def needs_review(self) -> bool:
        """An integrity flag holds the automatic points at 0 until the instructor decides."""
        return any(flag.kind == "integrity" for flag in self.flags)

    def flags_of(self, kind: str) -> list[Flag]:
        """The flags of one kind: ``"rule"``, ``"integrity"`` or ``"heuristic"`` (notes)."""
        return [flag for flag in self.flags if flag.kind == kind]


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
    checks = check_cells(submission.code_cells)
    for spec in PARTS:
        entry: dict[str, Any] = {"id": spec.id, "kind": spec.kind, "names": list(spec.names),
                                 "check_cells": checks.get(spec.id, [])}
        if spec.kind == "function":
            entry["calls"] = [[encode_input(a) for a in args] for args in context.inputs[spec.id]]
            entry["guard"] = spec.id in OWN_IMPLEMENTATION
        if spec.id == "2d":  # measured by the grader if the student's W breaks the 2d cell
            entry["measure"] = job_entry(context.seed, submission.code_cells)
        parts.append(entry)
    return {
        "cells": [[index, skip_shell_lines(source)[0]]
                  for index, source in submission.code_cells],
        "parts": parts,
        "cell_timeout": context.limits.cell_timeout,
        "part_timeout": context.limits.part_timeout,
        "grace": min(2.0, context.limits.cell_timeout),
    }


def _events(run: RunResult, result: SubmissionResult
            ) -> tuple[dict[str, dict], dict[str, dict], set[str], str]:
    """Last event of each part, last measurement of each part measured by the harness (2d,
    :mod:`.measured`), kinds of control events seen, and a stop reason.

    Every line is untrusted: it is parsed with bounded numbers and checked against the event
    schema (:func:`.data.validate_event`); a line that fails counts as malformed. Run-time
    findings of the harness (a convolution during an own-implementation call, the guard
    switched off) become flags here."""
    parts: dict[str, dict] = {}
    measures: dict[str, dict] = {}
    control: set[str] = set()
    reason = ""
    for line in run.lines:
        try:
            event = validate_event(parse_line(line))
        except InvalidAnswer:
            result.malformed_lines += 1
            continue
        kind = event["event"]
        if kind == "cell":
            result.cells[event["index"]] = {"status": event["status"], "error": event["error"]}
        elif kind == "part":
            parts[event["id"]] = event
            _runtime_flags(event, result)
        elif kind == "measure":
            measures[event["id"]] = event
        else:
            control.add(kind)
            if kind == "stopped":
                reason = event["reason"]
    return parts, measures, control, reason


def _runtime_flags(event: dict, result: SubmissionResult) -> None:
    part_id = event["id"]
    if part_id not in OWN_IMPLEMENTATION:
        return
    ops = sorted({op for call in event.get("calls", []) for op in call.get("forbidden", [])})
    if ops:
        result.flags.append(Flag("forbidden-op", 0, f"ran {', '.join(ops[:5])} during the "
                                 f"hidden calls of {part_id}", "rule", part_id))
    if event.get("guard") == "lost":
        result.flags.append(Flag("tampering", 0, "the forbidden-op guard was switched off "
                                 f"during the hidden calls of {part_id}", "integrity"))


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
    if "invalid" in event and "values" not in event and "calls" not in event:
        return Outcome(0, "invalid answer: malformed record", str(event["invalid"]))
    if "error" in event and "values" not in event and "calls" not in event:
        text = str(event["error"])[:200]
        return Outcome(0, f"error: {text.split(':')[0]}", text)
    if kind == "function":
        return score_calls(part_id, event, context.inputs[part_id])
    return score_values(part_id, event.get("values"), context.seed)


_ASSIGN = re.compile(r"(?<![=<>!])=(?!=)")


def _binds_in_text(source: str, name: str) -> bool:
    """Whether a line of ``source`` (a cell that does not parse) defines ``name``: ``def name``
    or ``name = ...``, ``a, name = ...``. One pass over each line: linear in the cell's
    length (a regular expression with ``(,[^=\n]*)?`` was quadratic on ``Z,Z,Z,...``)."""
    definition = re.compile(rf"\bdef\s+{re.escape(name)}\b")
    for line in source.splitlines():
        if definition.search(line):
            return True
        assign = _ASSIGN.search(line)
        if assign and name in (target.strip(" \t()[]*")
                               for target in line[:assign.start()].split(",")):
            return True
    return False


def binding_cells(code_cells: list[tuple[int, str]], name: str) -> list[int]:
    """Cells that define ``name`` at top level (by the AST, or by the text of a cell that does
    not parse)."""
    found = []
    for index, source in code_cells:
        try:
            tree = ast.parse(python_source(source))
        except (SyntaxError, ValueError, RecursionError):
            if _binds_in_text(source, name):
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
    if cell["status"] == "memory":
        return Outcome(0, f"error: memory limit (cell {index})",
                       f"{outcome.message} Cell {index} ran out of memory (the memory limit of "
                       "the sandbox) before it defined this answer.")
    kind = (cell["error"] or cell["status"]).split(":")[0]
    why = kind if cell["status"] == "error" else f"{cell['status']}, {kind}"
    return Outcome(0, f"{outcome.status} (cell {index}: {why})",
                   f"{outcome.message} Cell {index} did not run to the end: "
                   f"{cell['error'] or cell['status']}.")


def grade_submission(path: Path, context: Context) -> SubmissionResult:
    """Grade the notebook at ``path``; never raises, whatever the notebook contains.

    A failure inside the grader itself (a bug, or input it was not built for) stays with this
    submission: its parts become ``not graded: internal error (<ExceptionType>)`` and the
    traceback is kept in ``internal_error`` for report.md and details/."""
    try:
        return _grade(path, context)
    except Exception as error:  # noqa: BLE001 - the run must go on for the other students
        submission = Submission(name=safe_name(path.stem), path=path)
        result = SubmissionResult(submission)
        result.internal_error = traceback.format_exc()[-MAX_TRACEBACK:]
        status = f"not graded: internal error ({type(error).__name__})"
        result.ended = status
        result.parts = [PartResult(p.id, 0, p.points, status,
                                   "The grader failed on this notebook; your instructor has "
                                   "the details and will grade it by hand.") for p in PARTS]
        return result


def _not_graded(result: SubmissionResult, problem: str) -> SubmissionResult:
    result.ended = f"not run: {problem}"
    result.parts = [PartResult(p.id, 0, p.points, f"not graded: {problem}",
                               f"The notebook could not be graded: {problem}.")
                    for p in PARTS]
    return result


def _grade(path: Path, context: Context) -> SubmissionResult:
    submission = read_submission(path)
    result = SubmissionResult(submission)
    if submission.problem:
        return _not_graded(result, submission.problem)
    result.flags = scan(submission.code_cells)
    run = run_harness(_job(submission, context), context.sandbox, context.stage, context.hidden,
                      context.limits, context.private / f"{submission.run_id}.run")
    result.seconds = run.seconds
    events, measures, control, reason = _events(run, result)
    result.ended = _ended(run, control, reason)
    if result.ended.startswith("stopped: harness exited") and run.stderr_tail:
        result.ended += f" ({run.stderr_tail.strip().splitlines()[-1][:200]})"
    integrity = flag_codes(result.flags, "integrity")
    for spec in PARTS:
        try:
            outcome = _score(spec.id, spec.kind, events.get(spec.id), context, result.ended)
            outcome = _explain_missing(outcome, spec.names, result)
            if spec.id == "2d":
                outcome = rescore(outcome, measures.get(spec.id), failed_cell(
                    submission.code_cells, result.cells), context.seed)
        except Exception as error:  # noqa: BLE001 - one part's failure stays with that part
            trace = traceback.format_exc()[-MAX_TRACEBACK:]
            result.internal_error = (result.internal_error or "") + f"part {spec.id}:\n{trace}"
            outcome = Outcome(0, f"not graded: internal error ({type(error).__name__})",
                              "The grader failed on this part; your instructor will grade it "
                              "by hand.")
        rule = [f for f in result.flags if f.kind == "rule" and f.part == spec.id]
        if integrity:
            result.parts.append(PartResult(
                spec.id, 0, spec.points, f"flagged: {', '.join(integrity)}",
                "No credit until your instructor has reviewed the notebook (see the flags "
                f"below). Without the flags: {outcome.status}.", outcome.points, "integrity"))
        elif rule:
            result.parts.append(PartResult(
                spec.id, 0, spec.points, "flagged: forbidden-op",
                f"No credit for this part: {rule[0].detail}. The exercise asks for your own "
                f"implementation. Without the flag: {outcome.status}.", outcome.points, "rule"))
        else:
            result.parts.append(PartResult(spec.id, outcome.points, spec.points, outcome.status,
                                           outcome.message, outcome.points))
        result.parts[-1].outcome = outcome
    return result
