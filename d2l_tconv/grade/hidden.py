"""The hidden tests: expected answers, computed here, in the grader's own process.

INSTRUCTOR MATERIAL: this module is never copied into the sandbox nor handed to students.

Every expected value comes from PyTorch's own operators (``F.conv2d``, ``F.conv_transpose2d``,
``torch.linalg``), not from the package's reference implementation and not from typed-in
numbers. Function parts are called on inputs drawn from a seed chosen at grading time, so
knowing this code does not let anyone hard-code answers.

Each scorer takes decoded answers (:mod:`.data`) and returns an :class:`Outcome` whose
``status`` is short and stable (it goes into the gradebook) and whose ``message`` explains it
(it goes into the student's feedback).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..exercise_checks import SIZES_2D, part
from .data import MISSING, InvalidAnswer, decode_answer

RTOL, ATOL = 1e-4, 1e-4


@dataclass(frozen=True)
class Outcome:
    """Points earned by one part, with a short status and a longer message."""

    points: float
    status: str
    message: str


class _Wrong(Exception):
    """An answer of the wrong form or value; ``args[0]`` names it for the status."""


# --- references, all by PyTorch -----------------------------------------------------------

def section_example() -> tuple[torch.Tensor, torch.Tensor]:
    """The section's X (3 x 3) and K (2 x 2) in float64."""
    return (torch.arange(9, dtype=torch.float64).reshape(3, 3),
            torch.tensor([[1, 2], [3, 4]], dtype=torch.float64))


def conv_matrix(K: torch.Tensor, input_shape: tuple[int, int]) -> torch.Tensor:
    """W (oh * ow, h * w) of the convolution with K (kh, kw), column by column: column j is
    ``F.conv2d`` of the j-th one-hot image (stride 1, no padding)."""
    h, w = input_shape
    basis = torch.eye(h * w, dtype=K.dtype).reshape(h * w, 1, h, w)
    return F.conv2d(basis, K[None, None]).reshape(h * w, -1).T


def conv_output_numel(input_shape: tuple[int, int], kernel_shape: tuple[int, int]) -> int:
    """Number of outputs of a convolution, as PyTorch computes it (on a zero image)."""
    return F.conv2d(torch.zeros(1, 1, *input_shape), torch.zeros(1, 1, *kernel_shape)).numel()


def dense_bytes(input_shape: tuple[int, int], kernel_shape: tuple[int, int]) -> int:
    """Bytes of the dense float32 W: outputs x inputs x bytes per float32."""
    per_entry = torch.empty((), dtype=torch.float32).element_size()
    return conv_output_numel(input_shape, kernel_shape) * math.prod(input_shape) * per_entry


# --- hidden inputs --------------------------------------------------------------------------

def _rng(seed: int, part_id: str) -> tuple[random.Random, torch.Generator]:
    mixed = random.Random(f"{seed}/{part_id}").getrandbits(62)
    return random.Random(mixed), torch.Generator().manual_seed(mixed)


def hidden_inputs(seed: int) -> dict[str, list[tuple]]:
    """Arguments of each call to each function part, drawn from ``seed``."""
    inputs: dict[str, list[tuple]] = {}

    r, g = _rng(seed, "1d")
    cases: list[tuple] = []
    while len(cases) < 4 or not any(k.shape[0] != k.shape[1] and s[0] != s[1]
                                    for k, s in cases):
        if len(cases) == 4:
            cases.pop(0)
        kh, kw = r.randint(1, 4), r.randint(1, 4)
        shape = (kh + r.randint(0, 5), kw + r.randint(0, 5))
        cases.append((torch.randn(kh, kw, generator=g), shape))
    inputs["1d"] = cases

    r, _ = _rng(seed, "2a")
    cases = []
    for _ in range(4):
        h, w = r.randint(2, 12), r.randint(2, 12)
        cases.append(((h, w), (r.randint(1, min(h, 5)), r.randint(1, min(w, 5)))))
    inputs["2a"] = cases

    r, g = _rng(seed, "2c")
    cases = []
    for _ in range(3):
        n, c, c_out = r.randint(1, 2), r.randint(1, 3), r.randint(1, 3)
        kh, kw = r.randint(1, 3), r.randint(1, 3)
        h, w = kh + r.randint(0, 5), kw + r.randint(0, 5)
        cases.append((torch.randn(n, c, h, w, generator=g),
                      torch.randn(c_out, c, kh, kw, generator=g)))
    inputs["2c"] = cases
    return inputs


def hidden_x(seed: int, shape: tuple[int, int], count: int = 3) -> list[torch.Tensor]:
    """Random inputs X for part 1e."""
    _, g = _rng(seed, "1e")
    return [torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(count)]


# --- form checks ----------------------------------------------------------------------------

def _tensor(name: str, value: Any, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise _Wrong(f"{name} is not a tensor")
    if value.dtype == torch.bool:
        raise _Wrong(f"{name} is a bool tensor")
    if shape is not None and tuple(value.shape) != shape:
        raise _Wrong(f"{name} has shape {tuple(value.shape)}, expected {shape}")
    return value.to(torch.float64)


def _int(name: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int:
        raise _Wrong(f"{name} is not an int")
    if not low <= value <= high:
        raise _Wrong(f"{name} is out of range [{low}, {high}]")
    return value


def _close(name: str, got: torch.Tensor, expected: torch.Tensor) -> None:
    if tuple(got.shape) != tuple(expected.shape):
        raise _Wrong(f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    if not torch.allclose(got.double(), expected.double(), rtol=RTOL, atol=ATOL):
        raise _Wrong(f"{name} has wrong values")


# --- value parts ----------------------------------------------------------------------------

def _score_1a(values: dict, seed: int) -> list[tuple[int, str | None]]:
    X, K = section_example()
    expected = F.conv_transpose2d(F.conv2d(X[None, None], K[None, None]), K[None, None])[0, 0]
    return [_criterion(1, lambda: _close("Z", _tensor("Z", values["Z"], (3, 3)), expected))]


def _score_1b(values: dict, seed: int) -> list[tuple[int, str | None]]:
    X, K = section_example()
    W = conv_matrix(K, (3, 3))
    return [_criterion(1, lambda: _close("WtW", _tensor("WtW", values["WtW"], (9, 9)),
                                         W.T @ W))]


def _score_1c(values: dict, seed: int) -> list[tuple[int, str | None]]:
    X, K = section_example()
    W = conv_matrix(K, (3, 3))
    WtW = W.T @ W
    rank = int(torch.linalg.matrix_rank(WtW))
    identity = bool(torch.allclose(WtW, torch.eye(9, dtype=torch.float64)))

    def rank_ok() -> None:
        if _int("rank_WtW", values["rank_WtW"], 0, 10**6) != rank:
            raise _Wrong("rank_WtW is wrong")

    def identity_ok() -> None:
        value = values["WtW_is_identity"]
        if type(value) is not bool:
            raise _Wrong("WtW_is_identity is not a bool")
        if value != identity:
            raise _Wrong("WtW_is_identity is wrong")

    return [_criterion(1, rank_ok), _criterion(1, identity_ok)]


def _score_1e(values: dict, seed: int) -> list[tuple[int, str | None]]:
    def recovers() -> None:
        K = _tensor("K_id", values["K_id"])
        if K.ndim != 2 or min(K.shape) < 2 or max(K.shape) > 7:
            raise _Wrong("K_id is not a kernel between 2 x 2 and 7 x 7")
        stride = _int("stride_id", values["stride_id"], 1, 4)
        padding = _int("padding_id", values["padding_id"], 0, 6)
        shape = values["input_shape_id"]
        if type(shape) is not list or len(shape) != 2:
            raise _Wrong("input_shape_id is not a pair")
        h, w = (_int("input_shape_id", n, 2, 32) for n in shape)
        if not torch.isfinite(K).all():
            raise _Wrong("K_id is not finite")
        a = tuple((n + 2 * padding - k) % stride for n, k in zip((h, w), K.shape, strict=True))
        for X in hidden_x(seed, (h, w)):
            try:
                Y = F.conv2d(X[None, None], K[None, None], stride=stride, padding=padding)
                Z = F.conv_transpose2d(Y, K[None, None], stride=stride, padding=padding,
                                       output_padding=a)[0, 0]
            except RuntimeError as error:
                raise _Wrong("PyTorch cannot run this convolution") from error
            if Z.shape != X.shape or not torch.allclose(Z, X, rtol=1e-6, atol=1e-6):
                raise _Wrong("Z differs from X")

    return [_criterion(2, recovers)]


def _score_2b(values: dict, seed: int) -> list[tuple[int, str | None]]:
    def dense_ok() -> None:
        if _int("bytes_dense_224", values["bytes_dense_224"], 0, 10**18) != dense_bytes(
                (224, 224), (3, 3)):
            raise _Wrong("bytes_dense_224 is wrong")

    def kernel_ok() -> None:
        per_entry = torch.empty((), dtype=torch.float32).element_size()
        if _int("bytes_kernel_224", values["bytes_kernel_224"], 0, 10**18) != 9 * per_entry:
            raise _Wrong("bytes_kernel_224 is wrong")

    return [_criterion(1, dense_ok), _criterion(1, kernel_ok)]


def _score_2d(values: dict, seed: int) -> list[tuple[int, str | None]]:
    n = len(SIZES_2D)

    def memory_ok() -> None:
        got = values["dense_bytes"]
        if type(got) is not list or len(got) != n or any(type(v) is not int for v in got):
            raise _Wrong(f"dense_bytes is not a list of {n} ints")
        if got != [dense_bytes((s, s), (3, 3)) for s in SIZES_2D]:
            raise _Wrong("dense_bytes is wrong")

    def times_ok() -> None:
        for name in ("dense_ms", "conv_ms"):
            got = values[name]
            if type(got) is not list or len(got) != n or any(
                    type(v) not in (int, float) or not math.isfinite(v) or v <= 0 for v in got):
                raise _Wrong(f"{name} is not a list of {n} positive times")

    return [_criterion(1, memory_ok), _criterion(1, times_ok)]


def _criterion(points: int, test: Callable[[], None]) -> tuple[int, str | None]:
    """``(points, None)`` if ``test`` passes, else ``(0, why)``."""
    try:
        test()
    except _Wrong as wrong:
        return 0, str(wrong)
    except InvalidAnswer as invalid:
        return 0, f"invalid: {invalid}"
    return points, None


_VALUE_SCORERS = {"1a": _score_1a, "1b": _score_1b, "1c": _score_1c, "1e": _score_1e,
                  "2b": _score_2b, "2d": _score_2d}


def score_values(part_id: str, raw: Any, seed: int) -> Outcome:
    """Score a value part from the harness's ``values`` object (name -> encoded answer)."""
    spec = part(part_id)
    if type(raw) is not dict or set(raw) != set(spec.names):
        return Outcome(0, "invalid answer: malformed result", "The answer could not be read.")
    values: dict[str, Any] = {}
    missing, none, invalid = [], [], []
    for name in spec.names:
        try:
            values[name] = decode_answer(raw[name])
        except InvalidAnswer as error:
            invalid.append(f"{name} ({error})")
            continue
        if values[name] is MISSING:
            missing.append(name)
        elif values[name] is None:
            none.append(name)
    if invalid:
        text = "; ".join(invalid)
        return Outcome(0, f"invalid answer: {text}",
                       f"Not plain data (numbers, lists, tensors): {text}.")
    if missing or none:
        text = "; ".join(([f"{', '.join(missing)} not defined"] if missing else [])
                         + ([f"{', '.join(none)} still None"] if none else []))
        return Outcome(0, f"missing: {text}", f"No answer: {text}.")
    results = _VALUE_SCORERS[part_id](values, seed)
    points = sum(p for p, _ in results)
    problems = [why for _, why in results if why]
    if not problems:
        return Outcome(points, "ok", "Correct.")
    label = "partial" if points else "wrong"
    return Outcome(points, f"{label}: {'; '.join(problems)}", "; ".join(problems) + ".")


# --- function parts -------------------------------------------------------------------------

def _describe(args: tuple) -> str:
    return ", ".join(f"tensor of shape {tuple(a.shape)}" if isinstance(a, torch.Tensor)
                     else repr(a) for a in args)


def _expected(part_id: str, args: tuple) -> Any:
    if part_id == "1d":
        K, shape = args
        return conv_matrix(K.double(), shape)
    if part_id == "2a":
        shape, kernel_shape = args
        W = conv_matrix(torch.ones(kernel_shape, dtype=torch.float64), shape)
        return [W.numel(), int(torch.count_nonzero(W))]
    if part_id == "2c":
        X, K = args
        return F.conv2d(X.double(), K.double())
    raise ValueError(f"part_id: {part_id!r} is not a function part")


def _compare(part_id: str, got: Any, expected: Any) -> None:
    if part_id == "2a":
        if type(got) is not list or len(got) != 2 or any(type(v) is not int for v in got):
            raise _Wrong("the result is not a pair of ints")
        if got != expected:
            raise _Wrong("wrong counts")
        return
    _close("the result", _tensor("the result", got), expected)


def score_calls(part_id: str, event: dict, cases: list[tuple]) -> Outcome:
    """Score a function part from the harness's event (``calls``, ``missing``, ``invalid``)."""
    name = part(part_id).names[0]
    if event.get("missing") is True:
        return Outcome(0, f"missing: {name} not defined", f"No function {name} was defined.")
    if "invalid" in event:
        reason = str(event["invalid"])[:120]
        return Outcome(0, f"invalid answer: {reason}", reason)
    calls = event.get("calls")
    if type(calls) is not list or len(calls) != len(cases) or any(type(c) is not dict
                                                                   for c in calls):
        return Outcome(0, "invalid answer: malformed result", "The results could not be read.")
    failures: list[str] = []
    first_error = first_timeout = first_invalid = None
    for number, (call, args) in enumerate(zip(calls, cases, strict=True), start=1):
        where = f"hidden input {number} ({_describe(args)})"
        if call.get("timeout") is True:
            first_timeout = first_timeout or number
            failures.append(f"{where}: time limit exceeded")
        elif call.get("skipped") is True:
            failures.append(f"{where}: not run (an earlier hidden input timed out)")
        elif "error" in call:
            error = str(call["error"])[:200]
            first_error = first_error or (number, error.split(":")[0])
            failures.append(f"{where}: raised {error}")
        elif "invalid" in call or "value" not in call:
            first_invalid = first_invalid or (number, str(call.get("invalid", "malformed"))[:80])
            failures.append(f"{where}: the result is not plain data")
        else:
            try:
                _compare(part_id, decode_answer(call["value"]), _expected(part_id, args))
            except _Wrong as wrong:
                failures.append(f"{where}: {wrong}")
            except InvalidAnswer as invalid:
                first_invalid = first_invalid or (number, str(invalid)[:80])
                failures.append(f"{where}: {invalid}")
    if not failures:
        return Outcome(part(part_id).points, "ok", f"Correct on all {len(cases)} hidden inputs.")
    message = "\n".join([f"Failed on {len(failures)} of {len(cases)} hidden inputs:", *failures])
    if first_timeout:
        return Outcome(0, f"timeout: hidden input {first_timeout}", message)
    if first_error:
        return Outcome(0, f"error: {first_error[1]} on hidden input {first_error[0]}", message)
    if first_invalid:
        return Outcome(0, f"invalid answer: {first_invalid[1]}", message)
    return Outcome(0, f"wrong: {len(failures)} of {len(cases)} hidden inputs", message)
