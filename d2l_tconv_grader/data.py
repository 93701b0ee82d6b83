"""The plain data that crosses the sandbox's wall, both ways.

Into the sandbox: the hidden inputs of the function parts (:func:`encode_input`).
Out of it: the student's answers, as written by ``_harness.py``. Everything that comes out is
untrusted; :func:`decode_answer` accepts only ``None``, bools, ints, floats, strings, lists and
tensors in the exact layout the harness writes, within size limits, and raises
:class:`InvalidAnswer` for anything else. Nothing is ever ``eval``-ed or unpickled.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import torch

from d2l_tconv.exercise_checks import PARTS

MAX_ELEMENTS = 1_000_000
MAX_DEPTH = 6
MAX_INT_DIGITS = 40  # the harness writes no int beyond 10**30
MAX_TEXT = 300  # characters kept of any message from the sandbox
MAX_CALLS = 100
CELL_STATUSES = {"ok", "error", "timeout", "memory"}
_PART_IDS = {spec.id for spec in PARTS}
_NAMES = {spec.id: set(spec.names) for spec in PARTS}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
    "float64": torch.float64, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
    "int64": torch.int64, "uint8": torch.uint8, "bool": torch.bool,
}
# NumPy spells some dtypes the same way; these are the ones the harness can write for arrays.
DTYPES.update({"uint16": torch.int64, "uint32": torch.int64, "uint64": torch.int64})


class InvalidAnswer(Exception):
    """An answer from the sandbox that is not plain data of the expected layout."""


class Missing:
    """The student did not define the name."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


def encode_input(value: Any) -> Any:
    """A hidden input as JSON for the harness: tensors, tuples, lists, numbers."""
    if isinstance(value, torch.Tensor):
        return {"__tensor__": {"dtype": str(value.dtype).removeprefix("torch."),
                               "shape": list(value.shape),
                               "data": value.reshape(-1).tolist()}}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_input(v) for v in value]}
    if isinstance(value, list):
        return [encode_input(v) for v in value]
    if value is None or type(value) in (bool, int, float, str):
        return value
    raise TypeError(f"value: cannot send {type(value).__name__} into the sandbox")


def _number(x: Any) -> float | int | bool:
    if type(x) in (bool, int, float):
        return x
    if type(x) is dict and set(x) == {"__float__"} and x["__float__"] in ("nan", "inf", "-inf"):
        return float(x["__float__"])
    raise InvalidAnswer("a tensor holds something that is not a number")


def _tensor(spec: Any) -> torch.Tensor:
    if type(spec) is not dict or set(spec) != {"dtype", "shape", "data"}:
        raise InvalidAnswer("malformed tensor")
    dtype, shape, data = spec["dtype"], spec["shape"], spec["data"]
    if dtype not in DTYPES:
        raise InvalidAnswer(f"tensor of unsupported dtype {str(dtype)[:20]!r}")
    if type(shape) is not list or len(shape) > 8 or any(
            type(n) is not int or n < 0 for n in shape):
        raise InvalidAnswer("malformed tensor shape")
    if type(data) is not list or len(data) != math.prod(shape) or len(data) > MAX_ELEMENTS:
        raise InvalidAnswer("tensor data does not match its shape")
    values = [_number(x) for x in data]
    target = DTYPES[dtype]
    if target.is_floating_point:
        if any(type(v) is bool for v in values):
            raise InvalidAnswer("malformed tensor data")
        try:
            return torch.tensor(values, dtype=torch.float64).reshape(shape).to(target)
        except (RuntimeError, OverflowError, ValueError) as error:
            raise InvalidAnswer("tensor data out of range") from error
    if target == torch.bool:
        if any(type(v) is not bool for v in values):
            raise InvalidAnswer("malformed tensor data")
        return torch.tensor(values, dtype=torch.bool).reshape(shape)
    if any(type(v) is not int for v in values):
        raise InvalidAnswer("malformed tensor data")
    try:
        return torch.tensor(values, dtype=torch.int64).reshape(shape).to(target)
    except (RuntimeError, OverflowError, ValueError) as error:  # e.g. an int beyond int64
        raise InvalidAnswer("tensor data out of range") from error


def decode_answer(value: Any, depth: int = 0) -> Any:
    """One answer written by the harness, as ``None``/bool/int/float/str/list/tensor,
    or :data:`MISSING`; raises :class:`InvalidAnswer` for anything else."""
    if depth > MAX_DEPTH:
        raise InvalidAnswer("answer nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        return [decode_answer(v, depth + 1) for v in value]
    if kind is dict:
        if set(value) == {"__missing__"} and value["__missing__"] is True:
            return MISSING
        if set(value) == {"__invalid__"}:
            raise InvalidAnswer(str(value["__invalid__"])[:200])
        if set(value) == {"__float__"}:
            return _number(value)
        if set(value) == {"__tensor__"}:
            return _tensor(value["__tensor__"])
    raise InvalidAnswer("malformed answer")


def is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


# --- the harness's event lines --------------------------------------------------------------

def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InvalidAnswer(f"an integer of {len(text)} digits")
    return int(text)


def parse_line(line: str) -> Any:
    """One line the harness wrote, as JSON with bounded integers; raises
    :class:`InvalidAnswer` for anything that is not such JSON."""
    try:
        return json.loads(line, parse_int=_bounded_int)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise InvalidAnswer("not a JSON line") from error


def _text(value: Any, what: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if type(value) is not str:
        raise InvalidAnswer(f"{what} is not a string")
    value = _CONTROL.sub(" ", value)  # one line: no forged headings in any report
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 3] + "..."


def _call(call: Any) -> dict:
    if type(call) is not dict or len(call) > 2:
        raise InvalidAnswer("malformed call record")
    clean: dict[str, Any] = {}
    if "forbidden" in call:
        ops = call["forbidden"]
        if type(ops) is not list or len(ops) > 50 or any(type(op) is not str for op in ops):
            raise InvalidAnswer("malformed forbidden-op record")
        clean["forbidden"] = [op[:100] for op in ops]
    rest = set(call) - {"forbidden"}
    if len(rest) != 1:
        raise InvalidAnswer("malformed call record")
    key = rest.pop()
    if key == "value":
        clean["value"] = call["value"]  # decoded, strictly, when it is scored
    elif key in ("timeout", "skipped"):
        if call[key] is not True:
            raise InvalidAnswer("malformed call record")
        clean[key] = True
    elif key in ("invalid", "error"):
        clean[key] = _text(call[key], key)
    else:
        raise InvalidAnswer("malformed call record")
    return clean


MAX_MEASURE_ROWS = 10
_MEASURE_ROW = {"n", "shape", "dtype", "layout", "bytes", "product", "dense_ms", "conv_ms",
                "error"}


def _measure_row(row: Any) -> dict:
    """One size of a ``measure`` event: ``n`` and either ``error`` or the student's W's
    ``shape``, ``dtype``, ``layout``, ``bytes``, ``product`` (or ``None``), the times
    ``dense_ms`` (with a product) and ``conv_ms`` (finite, non-negative milliseconds)."""
    if type(row) is not dict or set(row) - _MEASURE_ROW or type(row.get("n")) is not int:
        raise InvalidAnswer("malformed measurement")
    if "error" in row:
        if set(row) != {"n", "error"}:
            raise InvalidAnswer("malformed measurement")
        return {"n": row["n"], "error": _text(row["error"], "error")}
    shape, size = row.get("shape"), row.get("bytes")
    if type(shape) is not list or len(shape) > 4 or any(type(d) is not int or d < 0
                                                         for d in shape) \
            or type(size) is not int or size < 0 or row.get("product") not in (
                None, "W @ x", "Wᵀ @ x") or ("dense_ms" in row) != (row["product"] is not None):
        raise InvalidAnswer("malformed measurement")
    clean = {"n": row["n"], "shape": shape, "bytes": size, "product": row["product"],
             "dtype": _text(row.get("dtype"), "dtype")[:30],
             "layout": _text(row.get("layout"), "layout")[:30]}
    for name in ("dense_ms", "conv_ms"):
        if name in row or name == "conv_ms":
            value = row.get(name)
            if type(value) not in (int, float) or not 0 <= value < 1e9:
                raise InvalidAnswer("malformed measurement")
            clean[name] = float(value)
    return clean


def _measure(event: dict) -> dict:
    if event.get("id") not in _PART_IDS or set(event) not in (
            {"event", "id", "rows"}, {"event", "id", "error"}):
        raise InvalidAnswer("malformed measure event")
    if "error" in event:
        return {"event": "measure", "id": event["id"], "error": _text(event["error"], "error")}
    rows = event["rows"]
    if type(rows) is not list or len(rows) > MAX_MEASURE_ROWS:
        raise InvalidAnswer("malformed measure event")
    return {"event": "measure", "id": event["id"], "rows": [_measure_row(r) for r in rows]}


def validate_event(event: Any) -> dict:
    """One event of the harness, checked against its schema and cleaned (texts cut to
    :data:`MAX_TEXT`); raises :class:`InvalidAnswer` for anything else. Answers inside
    ``values`` and ``calls`` are decoded by :func:`decode_answer` when they are scored.

    The events: ``cell`` (``index``, ``status``, ``error``), ``part`` (``id``, ``stage`` and
    one of ``values``, ``calls``, ``missing``, ``invalid``, ``error``; optionally ``guard``),
    ``measure`` (``id``, and ``rows`` or ``error``: part 2d measured by the harness, see
    :func:`_measure`), ``done`` and ``stopped`` (``reason``)."""
    if type(event) is not dict or type(event.get("event")) is not str:
        raise InvalidAnswer("not an event")
    kind = event["event"]
    if kind == "cell":
        index = event.get("index")
        if type(index) is not int or not 0 <= index <= 10**6 or \
                event.get("status") not in CELL_STATUSES or set(event) - {
                    "event", "index", "status", "error"}:
            raise InvalidAnswer("malformed cell event")
        return {"event": kind, "index": index, "status": event["status"],
                "error": _text(event.get("error"), "error", optional=True)}
    if kind == "part":
        part_id = event.get("id")
        if part_id not in _PART_IDS or set(event) - {
                "event", "id", "stage", "values", "calls", "missing", "invalid", "error",
                "guard"}:
            raise InvalidAnswer("malformed part event")
        clean: dict[str, Any] = {"event": kind, "id": part_id,
                                 "stage": _text(event.get("stage", ""), "stage")}
        if "guard" in event:
            if event["guard"] not in ("ok", "lost"):
                raise InvalidAnswer("malformed guard record")
            clean["guard"] = event["guard"]
        payload = set(event) & {"values", "calls", "missing", "invalid", "error"}
        if len(payload) != 1:
            raise InvalidAnswer("malformed part event")
        key = payload.pop()
        value = event[key]
        if key == "values":
            if type(value) is not dict or not set(value) <= _NAMES[part_id]:
                raise InvalidAnswer("malformed answer record")
            clean["values"] = value
        elif key == "calls":
            if type(value) is not list or len(value) > MAX_CALLS:
                raise InvalidAnswer("malformed call list")
            clean["calls"] = [_call(call) for call in value]
        elif key == "missing":
            if value is not True:
                raise InvalidAnswer("malformed part event")
            clean["missing"] = True
        else:
            clean[key] = _text(value, key)
        return clean
    if kind == "measure":
        return _measure(event)
    if kind == "done" and set(event) == {"event"}:
        return {"event": kind}
    if kind == "stopped" and set(event) == {"event", "reason"}:
        return {"event": kind, "reason": _text(event["reason"], "reason")}
    raise InvalidAnswer("unknown event")
