"""The plain data that crosses the sandbox's wall, both ways.

Into the sandbox: the hidden inputs of the function parts (:func:`encode_input`).
Out of it: the student's answers, as written by ``_harness.py``. Everything that comes out is
untrusted; :func:`decode_answer` accepts only ``None``, bools, ints, floats, strings, lists and
tensors in the exact layout the harness writes, within size limits, and raises
:class:`InvalidAnswer` for anything else. Nothing is ever ``eval``-ed or unpickled.
"""

from __future__ import annotations

import math
from typing import Any

import torch

MAX_ELEMENTS = 1_000_000
MAX_DEPTH = 6
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
        return torch.tensor(values, dtype=torch.float64).reshape(shape).to(target)
    if target == torch.bool:
        if any(type(v) is not bool for v in values):
            raise InvalidAnswer("malformed tensor data")
        return torch.tensor(values, dtype=torch.bool).reshape(shape)
    if any(type(v) is not int for v in values):
        raise InvalidAnswer("malformed tensor data")
    try:
        return torch.tensor(values, dtype=torch.int64).reshape(shape).to(target)
    except RuntimeError as error:  # e.g. an int beyond int64
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
