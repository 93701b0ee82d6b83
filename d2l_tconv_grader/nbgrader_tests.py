"""The hidden tests of the nbgrader route: score one part in the notebook's own kernel.

INSTRUCTOR MATERIAL. ``export-nbgrader`` writes, for every automatic part, an autograder
test cell whose hidden region calls :func:`score`; nbgrader strips that region from the
released notebook and puts it back when it autogrades. The points come from the same code as
the sandboxed grader's: the answers are encoded and decoded as the harness does
(``_harness.encode``/``decode``), the hidden inputs are drawn from the same seed
(:func:`.hidden.hidden_inputs`), and :func:`.hidden.score_values` / :func:`.hidden.score_calls`
decide. The cell's value is the points earned, which nbgrader takes as partial credit.

Part 2d follows the same rule as in the sandbox (one mistake is not charged twice,
:mod:`.measured`): when the student's 2d cell failed, this test measures 2d with the student's
own function by the harness's code (``_harness.measure_part``) and :func:`.measured.rescore`
decides whether that measurement counts. The failed cell is the last one that raised in this
kernel (IPython's ``sys.last_value``, its cell found in ``In``), when it uses 2d's names.

What differs from the sandboxed grader (exercises/README says so): the student's code and
these tests share one kernel, so a student can tamper with them; the run-time guard against
convolution routines in 1d and 2c and the static scan do not run; an answer is the value
when the test cell runs, not when the part's check cell ran; for 2d, a cell that failed
before the 2d cell and not after it is not seen (only the last error of the kernel is). Under the sandboxed kernel
(:mod:`.nbgrader_kernel`) this module and the ones it imports are copied into the kernel's
private stage inside bubblewrap: that keeps the student's code away from the machine, the
gradebook and the other submissions, not away from these tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sys
from typing import Any

from d2l_tconv.exercise_checks import PARTS

from . import measured
from ._harness import PartTimeout, Unencodable, decode, describe, encode, measure_part
from .data import encode_input, validate_event
from .hidden import Outcome, hidden_inputs, score_calls, score_values
from .texts import local

#: Seconds per call of a student function on a hidden input (the sandboxed grader's default).
PART_TIMEOUT = 10.0


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _encoded(value: Any) -> Any:
    try:
        return _json(encode(value))
    except Unencodable as error:
        return {"__invalid__": str(error)}
    except Exception as error:  # noqa: BLE001 - the student's object
        return {"__invalid__": describe(error)}


def _within(call: Any) -> Any:
    """``call()`` under :data:`PART_TIMEOUT` seconds; raises ``PartTimeout`` past it."""
    def alarm(signum, frame):
        raise PartTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, PART_TIMEOUT)
    try:
        return call()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call(function: Any, args: tuple) -> dict:
    try:
        value = _within(lambda: function(*[decode(_json(encode_input(a))) for a in args]))
        return {"value": _json(encode(value))}
    except PartTimeout:
        return {"timeout": True}
    except Unencodable as error:
        return {"invalid": str(error)}
    except BaseException as error:  # noqa: BLE001 - the student's code
        return {"error": describe(error)}


def _failed_cell(namespace: dict) -> tuple[int, str] | None:
    """(execution count, error) of the last cell that raised in this kernel, when that cell
    uses 2d's names (:func:`.measured.failed_cell`'s rule); ``None`` otherwise."""
    error = getattr(sys, "last_value", None)
    history = namespace.get("In")
    try:
        from IPython import get_ipython

        numbers = get_ipython().compile._filename_map  # cell file -> execution count
    except Exception:  # noqa: BLE001 - not in an IPython kernel
        return None
    if not isinstance(error, BaseException) or not isinstance(history, list):
        return None
    frame = error.__traceback__
    while frame is not None and frame.tb_frame.f_code.co_filename not in numbers:
        frame = frame.tb_next
    number = numbers.get(frame.tb_frame.f_code.co_filename) if frame is not None else None
    if not isinstance(number, int) or not 0 < number < len(history):
        return None
    cells = {number: {"status": "error", "error": describe(error)}}
    return measured.failed_cell([(number, str(history[number]))], cells)


def _measured_2d(own: Outcome, namespace: dict, seed: int) -> Outcome:
    """2d as the sandboxed grader scores it: ``own``, or the harness's measurement of the
    student's own ``W`` when their 2d cell failed because of it (:func:`.measured.rescore`)."""
    failed = _failed_cell(namespace) if own.points < measured.PART.points else None
    if failed is None:
        return own
    part = {"id": measured.PART.id, "measure": measured.job_entry(seed, [])}
    try:
        event = validate_event(_json(measure_part(part, namespace, PART_TIMEOUT, _within)))
    except Exception:  # noqa: BLE001 - the student's code broke the measurement
        return own
    return measured.rescore(own, event, failed, seed)


def outcome(part_id: str, namespace: dict, seed: int):
    """The :class:`.hidden.Outcome` of part ``part_id`` for the names in ``namespace``."""
    spec = next((p for p in PARTS if p.id == part_id), None)
    if spec is None:
        raise ValueError(f"part_id: expected one of {[p.id for p in PARTS]}, got {part_id!r}")
    if spec.kind == "value":
        raw = {name: _encoded(namespace[name]) if name in namespace else {"__missing__": True}
               for name in spec.names}
        own = score_values(part_id, raw, seed)
        return _measured_2d(own, namespace, seed) if part_id == measured.PART.id else own
    cases = hidden_inputs(seed)[part_id]
    function = namespace.get(spec.names[0])
    if function is None:
        return score_calls(part_id, {"missing": True}, cases)
    if not callable(function):
        return score_calls(part_id, {"invalid": f"{spec.names[0]} is not a function"}, cases)
    calls = []
    for args in cases:
        calls.append({"skipped": True} if any(c.get("timeout") for c in calls)
                     else _call(function, args))
    return score_calls(part_id, {"calls": calls}, cases)


def score(part_id: str, namespace: dict, seed: int, lang: str = "en") -> float:
    """Print the part's status and message; return its points (nbgrader's partial credit).
    Nothing is written to stderr, which nbgrader would count as a failed test."""
    with contextlib.redirect_stderr(io.StringIO()):
        result = outcome(part_id, namespace, seed)
    print(f"{part_id}: {local(result.status, lang)}")
    if str(result.message):
        print(local(result.message, lang))
    return float(result.points)
