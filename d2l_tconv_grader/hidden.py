"""The hidden tests: expected answers, computed here, in the grader's own process.

INSTRUCTOR MATERIAL: this module is never copied into the sandbox nor handed to students.

Every expected value comes from PyTorch's own operators (``F.conv2d``, ``F.conv_transpose2d``,
``torch.linalg``), not from the package's reference implementation and not from typed-in
numbers. Function parts are called on inputs drawn from a seed chosen at grading time, so
knowing this code does not let anyone hard-code answers.

Each scorer takes decoded answers (:mod:`.data`) and returns an :class:`Outcome` whose
``status`` is short and stable (it goes into the gradebook) and whose ``message`` explains it
(it goes into the student's feedback); both are :class:`~.texts.Text`, English with Japanese.

Which forms of an answer are accepted (tensors, arrays, lists, NumPy and 0-d tensor numbers,
pairs of any kind) is decided by the acceptance functions of :mod:`d2l_tconv.exercise_checks`,
the same code the students' public ``check(...)`` runs. The partial-credit policy
(:mod:`.rubric`, "Automatic parts"): value parts score per criterion (each value of a pair
separately); function parts score in proportion to the hidden cases passed (for ``count_W``,
each of the two counts is half a case).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from d2l_tconv.exercise_checks import (
    ATOL,
    RTOL,
    SIZES_2D,
    AnswerError,
    as_bool,
    as_int,
    as_sequence,
    as_tensor,
    as_times,
    bytes_hint,
    compare,
    count_pair,
    dense_bytes_problem,
    dtype_name,
    part,
)

from .data import MISSING, InvalidAnswer, decode_answer
from .measure import timings_problem
from .texts import Text

__all__ = ["ATOL", "RTOL", "CASES", "Outcome", "hidden_inputs", "kernel_2d", "score_calls",
           "score_decoded", "score_values"]


@dataclass(frozen=True)
class Outcome:
    """Points earned by one part, with a short status and a longer message."""

    points: float
    status: str
    message: str


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

#: The hidden cases of each function part, in order: what each one tests, (English, Japanese).
CASES: dict[str, list[tuple[str, str]]] = {
    "1d": [("a random kernel and input", "ランダムなカーネルと入力"),
           ("a non-square kernel and input", "正方形でないカーネルと入力"),
           ("a 1 × 1 kernel", "1 × 1 のカーネル"),
           ("a kernel as large as the input (one output)",
            "入力と同じ大きさのカーネル（出力は 1 つ）")],
    "2a": [("a random kernel and input", "ランダムなカーネルと入力"),
           ("a non-square kernel and input", "正方形でないカーネルと入力"),
           ("a 1 × 1 kernel", "1 × 1 のカーネル"),
           ("a kernel as large as the input (one output)",
            "入力と同じ大きさのカーネル（出力は 1 つ）")],
    "2c": [("a batch of 2 with several channels", "複数チャネルの 2 枚のバッチ"),
           ("N = 1, C = 1, C_out = 1 (a squeeze() would drop these)",
            "N = 1、C = 1、C_out = 1（squeeze() で消える次元）"),
           ("a kernel as large as the input (1 × 1 output)",
            "入力と同じ大きさのカーネル（出力は 1 × 1）")],
}


def _rng(seed: int, part_id: str) -> tuple[random.Random, torch.Generator]:
    mixed = random.Random(f"{seed}/{part_id}").getrandbits(62)
    return random.Random(mixed), torch.Generator().manual_seed(mixed)


def _shapes(r: random.Random, case: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(input shape, kernel shape) of hidden case ``case`` of 1d and 2a (see :data:`CASES`)."""
    if case == 0:
        k = r.randint(2, 4)
        n = k + r.randint(1, 5)
        return (n, n + r.randint(0, 2)), (k, k)
    if case == 1:
        kh, kw = r.sample(range(1, 5), 2)
        h, w = kh + r.randint(0, 5), kw + r.randint(0, 5)
        if h == w:
            w += 1
        return (h, w), (kh, kw)
    if case == 2:
        return (r.randint(2, 8), r.randint(2, 8)), (1, 1)
    h, w = r.randint(2, 5), r.randint(2, 5)
    return (h, w), (h, w)


def hidden_inputs(seed: int) -> dict[str, list[tuple]]:
    """Arguments of each call to each function part, drawn from ``seed``, one per case of
    :data:`CASES`."""
    r, g = _rng(seed, "1d")
    inputs: dict[str, list[tuple]] = {"1d": []}
    for case in range(len(CASES["1d"])):
        shape, kernel = _shapes(r, case)
        inputs["1d"].append((torch.randn(*kernel, generator=g), shape))

    r, _ = _rng(seed, "2a")
    inputs["2a"] = [_shapes(r, case) for case in range(len(CASES["2a"]))]

    r, g = _rng(seed, "2c")
    inputs["2c"] = []
    for case in range(len(CASES["2c"])):
        n, c, c_out = (2, r.randint(2, 3), r.randint(2, 3)) if case != 1 else (1, 1, 1)
        kh, kw = r.randint(1, 3), r.randint(1, 3)
        h, w = (kh, kw) if case == 2 else (kh + r.randint(1, 5), kw + r.randint(1, 5))
        inputs["2c"].append((torch.randn(n, c, h, w, generator=g),
                             torch.randn(c_out, c, kh, kw, generator=g)))
    return inputs


def kernel_2d(seed: int) -> torch.Tensor:
    """The 3 x 3 kernel with which the grader measures part 2d itself (:mod:`.measured`)."""
    _, g = _rng(seed, "2d")
    return torch.randn(3, 3, generator=g)


def hidden_x(seed: int, shape: tuple[int, int], count: int = 3) -> list[torch.Tensor]:
    """Random inputs X for part 1e."""
    _, g = _rng(seed, "1e")
    return [torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(count)]


# --- value parts ----------------------------------------------------------------------------

#: One criterion of a value part: the names it judges, its points, and the test (raises
#: :class:`AnswerError` when the answer is wrong).
Criterion = tuple[str, int, Callable[[], None]]


def _criteria_1a(values: dict, seed: int) -> list[Criterion]:
    X, K = section_example()
    expected = F.conv_transpose2d(F.conv2d(X[None, None], K[None, None]), K[None, None])[0, 0]
    return [("Z", 1, lambda: compare("Z", as_tensor("Z", values["Z"], (3, 3)), expected,
                                     "conv_transpose2d(conv2d(X, K), K)",
                                     "conv_transpose2d(conv2d(X, K), K)",
                                     dtype_name(values["Z"])))]


def _criteria_1b(values: dict, seed: int) -> list[Criterion]:
    X, K = section_example()
    W = conv_matrix(K, (3, 3))
    return [("WtW", 1, lambda: compare("WtW", as_tensor("WtW", values["WtW"], (9, 9)), W.T @ W,
                                       "WᵀW of the section's W", "節の W の WᵀW",
                                       dtype_name(values["WtW"])))]


def _wrong(name: str) -> None:
    raise AnswerError(f"{name} is wrong.", f"{name} が違います。")


def _criteria_1c(values: dict, seed: int) -> list[Criterion]:
    X, K = section_example()
    W = conv_matrix(K, (3, 3))
    WtW = W.T @ W
    rank = int(torch.linalg.matrix_rank(WtW))
    identity = bool(torch.allclose(WtW, torch.eye(9, dtype=torch.float64)))

    def rank_ok() -> None:
        if as_int("rank_WtW", values["rank_WtW"], 0, 10**6) != rank:
            _wrong("rank_WtW")

    def identity_ok() -> None:
        if as_bool("WtW_is_identity", values["WtW_is_identity"]) != identity:
            _wrong("WtW_is_identity")

    return [("rank_WtW", 1, rank_ok), ("WtW_is_identity", 1, identity_ok)]


def _criteria_1e(values: dict, seed: int) -> list[Criterion]:
    def recovers() -> None:
        K = as_tensor("K_id", values["K_id"])
        if K.ndim != 2 or min(K.shape) < 2 or max(K.shape) > 7:
            raise AnswerError(f"K_id has shape {tuple(K.shape)}: it is not a kernel between "
                              "2 x 2 and 7 x 7.",
                              f"K_id の形状 {tuple(K.shape)} は 2 × 2 から 7 × 7 までの"
                              "カーネルではありません。")
        if not torch.isfinite(K).all():
            raise AnswerError("K_id is not finite.", "K_id に有限でない値があります。")
        stride = as_int("stride_id", values["stride_id"], 1, 4)
        padding = as_int("padding_id", values["padding_id"], 0, 6)
        h, w = (as_int(f"input_shape_id[{i}]", n, 2, 32) for i, n in
                enumerate(as_sequence("input_shape_id", values["input_shape_id"], 2)))
        a = tuple((n + 2 * padding - k) % stride for n, k in zip((h, w), K.shape, strict=True))
        for X in hidden_x(seed, (h, w)):
            try:
                Y = F.conv2d(X[None, None], K[None, None], stride=stride, padding=padding)
                Z = F.conv_transpose2d(Y, K[None, None], stride=stride, padding=padding,
                                       output_padding=a)[0, 0]
            except RuntimeError as error:
                raise AnswerError("PyTorch cannot run this convolution.",
                                  "この設定では PyTorch が畳み込みを計算できません。") from error
            if Z.shape != X.shape or not torch.allclose(Z, X, rtol=1e-6, atol=1e-6):
                raise AnswerError("Z differs from X for a random X of that size.",
                                  "その大きさのランダムな X で Z が X と一致しません。")

    return [("K_id, stride_id, padding_id, input_shape_id", 2, recovers)]


def _bytes(name: str, value: Any, expected: int) -> None:
    got = as_int(name, value, 0, 10**18)
    if got != expected:
        hint_en, hint_ja = bytes_hint(got, expected, "matrix", "行列")
        raise AnswerError(f"{name} is wrong{hint_en}.", f"{name} が違います{hint_ja}。")


def _criteria_2b(values: dict, seed: int) -> list[Criterion]:
    per_entry = torch.empty((), dtype=torch.float32).element_size()
    return [
        ("bytes_dense_224", 1, lambda: _bytes("bytes_dense_224", values["bytes_dense_224"],
                                              dense_bytes((224, 224), (3, 3)))),
        ("bytes_kernel_224", 1, lambda: _bytes("bytes_kernel_224", values["bytes_kernel_224"],
                                               9 * per_entry)),
    ]


def _criteria_2d(values: dict, seed: int) -> list[Criterion]:
    n = len(SIZES_2D)

    def times_ok() -> None:
        problem = timings_problem(as_times("dense_ms", values["dense_ms"], n),
                                  as_times("conv_ms", values["conv_ms"], n))
        if problem:  # G1 (issue 8): typed-in timings do not earn the point
            raise AnswerError(*problem)

    return [("dense_bytes", 1, lambda: dense_bytes_problem(values["dense_bytes"])),
            ("dense_ms, conv_ms", 1, times_ok)]


_VALUE_CRITERIA = {"1a": _criteria_1a, "1b": _criteria_1b, "1c": _criteria_1c,
                   "1e": _criteria_1e, "2b": _criteria_2b, "2d": _criteria_2d}


def _lines(en: list[str], ja: list[str]) -> Text:
    return Text("\n".join(en), "\n".join(ja))


def score_values(part_id: str, raw: Any, seed: int) -> Outcome:
    """Score a value part from the harness's ``values`` object (name -> encoded answer)."""
    spec = part(part_id)
    if type(raw) is not dict or set(raw) != set(spec.names):
        return Outcome(0, Text("invalid answer: malformed result", "読み取れない答え: 形式の誤り"),
                       Text("The answer could not be read.", "答えを読み取れませんでした。"))
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
        elif values[name] is None or values[name] is Ellipsis:
            none.append(name)
    if invalid:
        text = "; ".join(invalid)
        return Outcome(0, Text(f"invalid answer: {text}", f"読み取れない答え: {text}"),
                       Text(f"Not plain data (numbers, lists, tensors, arrays): {text}.",
                            f"単純なデータ（数、リスト、テンソル、配列）ではありません: {text}。"))
    if len(none) == len(spec.names):
        return Outcome(0, Text("not attempted", "未着手"),
                       Text(f"{', '.join(none)}: still None.",
                            f"{', '.join(none)} は None のままです。"))
    if missing or none:
        text = "; ".join(([f"{', '.join(missing)} not defined"] if missing else [])
                         + ([f"{', '.join(none)} still None"] if none else []))
        text_ja = "; ".join(([f"{', '.join(missing)} が定義されていません"] if missing else [])
                            + ([f"{', '.join(none)} は None のままです"] if none else []))
        return Outcome(0, Text(f"missing: {text}", f"未回答: {text_ja}"),
                       Text(f"No answer: {text}.", f"答えがありません: {text_ja}。"))
    return score_decoded(part_id, values, seed)


def score_decoded(part_id: str, values: dict[str, Any], seed: int) -> Outcome:
    """Score a value part from its decoded values (name -> value), each criterion apart."""
    points, wrong, en, ja = 0, [], [], []
    for names, worth, test in _VALUE_CRITERIA[part_id](values, seed):
        try:
            test()
        except AnswerError as error:
            wrong.append(names)
            en.append(error.en)
            ja.append(error.ja)
        else:
            points += worth
    if not wrong:
        return Outcome(points, Text("ok", "正解"), Text("Correct.", "正解です。"))
    label, label_ja = ("partial", "一部正解") if points else ("wrong", "不正解")
    return Outcome(points, Text(f"{label}: {'; '.join(wrong)}", f"{label_ja}: {'; '.join(wrong)}"),
                   _lines(en, ja))


# --- function parts -------------------------------------------------------------------------

def _describe(args: tuple, lang: str = "en") -> str:
    shape = "tensor of shape {}" if lang == "en" else "形状 {} のテンソル"
    return ", ".join(shape.format(tuple(a.shape)) if isinstance(a, torch.Tensor) else repr(a)
                     for a in args)


def _expected(part_id: str, args: tuple) -> Any:
    if part_id == "1d":
        K, shape = args
        return conv_matrix(K.double(), shape)
    if part_id == "2a":
        shape, kernel_shape = args
        W = conv_matrix(torch.ones(kernel_shape, dtype=torch.float64), shape)
        return (W.numel(), int(torch.count_nonzero(W)))
    if part_id == "2c":
        X, K = args
        return F.conv2d(X.double(), K.double())
    raise ValueError(f"part_id: {part_id!r} is not a function part")


def _case_score(part_id: str, got: Any, expected: Any) -> float:
    """Share of one hidden case earned (1, or for ``count_W`` 0.5 per right count); raises
    :class:`AnswerError` with the reason when it is not 1."""
    name = f"{part(part_id).names[0]}(...)"
    if part_id == "2a":
        pair = count_pair(name, got)
        right = [g == e for g, e in zip(pair, expected, strict=True)]
        if all(right):
            return 1.0
        names = [n for n, ok in zip(("entries", "non_zeros"), right, strict=True) if not ok]
        raise _Partial(0.5 * sum(right),
                       AnswerError(f"returned {pair}: {', '.join(names)} wrong.",
                                   f"{pair} を返しました。{', '.join(names)} が違います。"))
    compare(name, as_tensor(name, got), expected, "PyTorch's result", "PyTorch の結果",
            dtype_name(got))
    return 1.0


class _Partial(Exception):
    """Part of a hidden case earned: ``args`` = (share, AnswerError)."""


def score_calls(part_id: str, event: dict, cases: list[tuple]) -> Outcome:
    """Score a function part from the harness's event (``calls``, ``missing``, ``invalid``):
    points in proportion to the hidden cases passed."""
    spec = part(part_id)
    name = spec.names[0]
    if event.get("missing") is True:
        return Outcome(0, Text(f"missing: {name} not defined",
                               f"未回答: {name} が定義されていません"),
                       Text(f"No function {name} was defined.",
                            f"関数 {name} が定義されていません。"))
    if "invalid" in event:
        reason = str(event["invalid"])[:120]
        return Outcome(0, Text(f"invalid answer: {reason}", f"読み取れない答え: {reason}"),
                       Text(reason, reason))
    calls = event.get("calls")
    if type(calls) is not list or len(calls) != len(cases) or any(type(c) is not dict
                                                                   for c in calls):
        return Outcome(0, Text("invalid answer: malformed result", "読み取れない答え: 形式の誤り"),
                       Text("The results could not be read.", "結果を読み取れませんでした。"))
    names = CASES.get(part_id) or [(f"case {i}", f"ケース {i}") for i in range(1, len(cases) + 1)]
    earned = 0.0
    en: list[str] = []
    ja: list[str] = []
    causes: list[tuple[str, str, str]] = []  # (kind, en, ja) of each failed case
    not_implemented = 0
    for number, (call, args, (what, what_ja)) in enumerate(
            zip(calls, cases, names, strict=False), start=1):
        where = f"hidden input {number}, {what} ({_describe(args)})"
        where_ja = f"非公開の入力 {number}、{what_ja}（{_describe(args, 'ja')}）"
        if call.get("timeout") is True:
            causes.append(("timeout", f"hidden input {number}", f"非公開の入力 {number}"))
            en.append(f"{where}: took longer than the time limit per call.")
            ja.append(f"{where_ja}: 1 回の呼び出しの制限時間を超えました。")
        elif call.get("skipped") is True:
            causes.append(("skipped", "", ""))
            en.append(f"{where}: not run (an earlier hidden input timed out).")
            ja.append(f"{where_ja}: 実行しませんでした（前の入力が時間切れになったため）。")
        elif "error" in call:
            error = str(call["error"])[:200]
            kind = error.split(":")[0]
            not_implemented += kind == "NotImplementedError"
            causes.append(("error", f"{kind} on hidden input {number}",
                           f"非公開の入力 {number} で {kind}"))
            en.append(f"{where}: raised {error}")
            ja.append(f"{where_ja}: {error} が発生しました。")
        elif "invalid" in call or "value" not in call:
            reason = str(call.get("invalid", "malformed"))[:80]
            causes.append(("invalid", reason, reason))
            en.append(f"{where}: the result is not plain data ({reason}).")
            ja.append(f"{where_ja}: 結果が単純なデータではありません（{reason}）。")
        else:
            try:
                earned += _case_score(part_id, decode_answer(call["value"]),
                                      _expected(part_id, args))
                continue
            except _Partial as partial:
                share, error = partial.args
                earned += share
            except AnswerError as wrong:
                error = wrong
            except InvalidAnswer as invalid:
                error = AnswerError(str(invalid), str(invalid))
            causes.append(("wrong", "", ""))
            en.append(f"{where}: {error.en}")
            ja.append(f"{where_ja}: {error.ja}")
    total = len(cases)
    points = round(spec.points * earned / total, 2)
    if not causes:
        return Outcome(spec.points, Text("ok", "正解"),
                       Text(f"Correct on all {total} hidden inputs.",
                            f"非公開の入力 {total} 個すべてで正解です。"))
    if not_implemented == total:
        return Outcome(0, Text("not attempted", "未着手"),
                       Text(f"{name} still raises NotImplementedError.",
                            f"{name} はまだ NotImplementedError を送出します。"))
    passed = total - len(causes)
    message = Text("\n".join([f"Passed {passed} of {total} hidden inputs "
                              f"({_number(points)} of {spec.points} points):", *en]),
                   "\n".join([f"非公開の入力 {total} 個のうち {passed} 個に正解しました"
                              f"（{spec.points} 点中 {_number(points)} 点）:", *ja]))
    if points:
        return Outcome(points, Text(f"partial: {passed} of {total} hidden inputs",
                                    f"一部正解: 非公開の入力 {total} 個中 {passed} 個"), message)
    first = {kind: (text, text_ja) for kind, text, text_ja in reversed(causes)}
    if "timeout" in first:
        return Outcome(0, Text(f"timeout: {first['timeout'][0]}",
                               f"時間切れ: {first['timeout'][1]}"), message)
    if "error" in first:
        return Outcome(0, Text(f"error: {first['error'][0]}", f"エラー: {first['error'][1]}"),
                       message)
    if "invalid" in first:
        return Outcome(0, Text(f"invalid answer: {first['invalid'][0]}",
                               f"読み取れない答え: {first['invalid'][1]}"), message)
    return Outcome(0, Text(f"wrong: {len(causes)} of {total} hidden inputs",
                           f"不正解: 非公開の入力 {total} 個中 {len(causes)} 個"), message)


def _number(points: float) -> str:
    return str(int(points)) if float(points).is_integer() else f"{points:g}"
