"""The hidden tests of the nbgrader route: score one part in the notebook's own kernel.

INSTRUCTOR MATERIAL. ``export-nbgrader`` writes, for every automatic part, an autograder
test cell whose hidden region calls :func:`score`; nbgrader strips that region from the
released notebook and puts it back when it autogrades. The points come from the same code as
the sandboxed grader's: the answers are encoded and decoded as the harness does
(``_harness.encode``/``decode``), the hidden inputs are drawn from the same seed
(:func:`.hidden.hidden_inputs`), and :func:`.hidden.score_values` / :func:`.hidden.score_calls`
decide. The cell's value is the points earned, which nbgrader takes as partial credit.

What differs from the sandboxed grader (exercises/README says so): the student's code and
these tests share one kernel, so a student can tamper with them; the run-time guard against
convolution routines in 1d and 2c and the static scan do not run; an answer is the value
when the test cell runs, not when the part's check cell ran. Under the sandboxed kernel
(:mod:`.nbgrader_kernel`) this module and the ones it imports are copied into the kernel's
private stage inside bubblewrap: that keeps the student's code away from the machine, the
gradebook and the other submissions, not away from these tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
from typing import Any

from d2l_tconv.exercise_checks import PARTS

from ._harness import Unencodable, decode, describe, encode
from .data import encode_input
from .hidden import hidden_inputs, score_calls, score_values
from .texts import local

#: Seconds per call of a student function on a hidden input (the sandboxed grader's default).
PART_TIMEOUT = 10.0


class _Timeout(Exception):
    pass


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _encoded(value: Any) -> Any:
    try:
        return _json(encode(value))
    except Unencodable as error:
        return {"__invalid__": str(error)}
    except Exception as error:  # noqa: BLE001 - the student's object
        return {"__invalid__": describe(error)}


def _call(function: Any, args: tuple) -> dict:
    def alarm(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, PART_TIMEOUT)
    try:
        value = function(*[decode(_json(encode_input(a))) for a in args])
        signal.setitimer(signal.ITIMER_REAL, 0)
        return {"value": _json(encode(value))}
    except _Timeout:
        return {"timeout": True}
    except Unencodable as error:
        return {"invalid": str(error)}
    except BaseException as error:  # noqa: BLE001 - the student's code
        return {"error": describe(error)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(part_id: str, namespace: dict, seed: int):
    """The :class:`.hidden.Outcome` of part ``part_id`` for the names in ``namespace``."""
    spec = next((p for p in PARTS if p.id == part_id), None)
    if spec is None:
        raise ValueError(f"part_id: expected one of {[p.id for p in PARTS]}, got {part_id!r}")
    if spec.kind == "value":
        raw = {name: _encoded(namespace[name]) if name in namespace else {"__missing__": True}
               for name in spec.names}
        return score_values(part_id, raw, seed)
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
