"""Public self-checks for the exercises of "Transposed Convolution" (D2L 14.10).

Students call :func:`check` in their notebook, for example ``check("1a", Z)``, and get a
✓/✗ message at once, in the notebook's language (``set_language("ja")``). The checks use
only the section's public example (``X = arange(9).reshape(3, 3)``, ``K = [[1, 2], [3, 4]]``)
or check the *form* of an answer; the grade is decided by the instructor's hidden tests,
which run other inputs, chosen at random when grading, outside the student's Python process.

This module is also the single definition of the automatically graded parts (:data:`PARTS`)
and of the free-text questions (:data:`FREE_TEXT`), shared by the notebook builder and the
grader. It holds no solutions and no hidden tests, and it needs nothing but PyTorch, so it
works in Colab with only the notebook's setup cell.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "ATOL",
    "FREE_TEXT",
    "RTOL",
    "AnswerError",
    "as_bool",
    "as_int",
    "as_sequence",
    "as_tensor",
    "as_times",
    "bytes_hint",
    "compare",
    "dense_bytes_problem",
    "PARTS",
    "SIZES_2D",
    "FreeText",
    "Part",
    "check",
    "part",
    "passes",
    "set_language",
    "timings_problem",
]

#: Input sizes ``n`` (images ``n x n``, kernel ``3 x 3``) of the measurement in part 2d.
SIZES_2D = (8, 16, 32, 64)
#: Tolerances of every comparison with an expected tensor, here and in the hidden tests.
RTOL, ATOL = 1e-4, 1e-4

@dataclass(frozen=True)
class Part:
    """One automatically graded part of an exercise.

    Attributes:
        id: ``"1a"``, ``"1b"``, ... (exercise number, then a letter).
        kind: ``"value"`` (the names hold plain values) or ``"function"`` (one name, a function
            the grader calls on hidden inputs).
        names: the variables or the function the student defines, in the order ``check`` takes.
        points: the most points the part can earn.
        title: a one-line description, by language (``"en"``, ``"ja"``).
    """

    id: str
    kind: str
    names: tuple[str, ...]
    points: int
    title: dict[str, str]

    @property
    def exercise(self) -> int:
        return int(self.id[0])


@dataclass(frozen=True)
class FreeText:
    """A free-text ("why") answer, marked by hand by the instructor."""

    id: str
    title: dict[str, str]

    @property
    def marker(self) -> str:
        """First line of the answer cell; the grader finds the answer by it."""
        return f"<!-- d2l-tconv:answer {self.id} -->"


PARTS: tuple[Part, ...] = (
    Part("1a", "value", ("Z",), 1, {
        "en": "Z = transposed convolution of Y with K, for the section's X and K",
        "ja": "節の X と K について、Y を K で転置畳み込みした Z",
    }),
    Part("1b", "value", ("WtW",), 1, {
        "en": "the 9 × 9 matrix WᵀW",
        "ja": "9 × 9 行列 WᵀW",
    }),
    Part("1c", "value", ("rank_WtW", "WtW_is_identity"), 2, {
        "en": "the rank of WᵀW, and whether WᵀW is the identity",
        "ja": "WᵀW の階数と、WᵀW が単位行列かどうか",
    }),
    Part("1d", "function", ("my_kernel2matrix",), 3, {
        "en": "my_kernel2matrix(K, input_shape): the weight matrix W of any kernel and input size",
        "ja": "my_kernel2matrix(K, input_shape): 任意のカーネルと入力サイズの重み行列 W",
    }),
    Part("1e", "value", ("K_id", "stride_id", "padding_id", "input_shape_id"), 2, {
        "en": "a kernel (at least 2 x 2), stride, padding and input size for which Z equals X",
        "ja": "Z が X に一致するカーネル（2 × 2 以上）、ストライド、パディング、入力サイズ",
    }),
    Part("2a", "function", ("count_W",), 2, {
        "en": "count_W(input_shape, kernel_shape): entries and nonzeros of the dense W",
        "ja": "count_W(input_shape, kernel_shape): 密な W の要素数と非ゼロ要素数",
    }),
    Part("2b", "value", ("bytes_dense_224", "bytes_kernel_224"), 2, {
        "en": "bytes of the dense float32 W and of the kernel, 224 x 224 image, 3 x 3 kernel",
        "ja": "224 × 224 画像・3 × 3 カーネルでの密な float32 の W とカーネルのバイト数",
    }),
    Part("2c", "function", ("conv_by_matmul",), 3, {
        "en": "conv_by_matmul(X, K): a multi-channel convolution as unfold (im2col) + matmul",
        "ja": "conv_by_matmul(X, K): unfold (im2col) と行列積による複数チャネルの畳み込み",
    }),
    Part("2d", "value", ("dense_bytes", "dense_ms", "conv_ms"), 2, {
        "en": "memory of the dense W, and times of W @ x and F.conv2d, for n in SIZES_2D",
        "ja": "SIZES_2D の各 n について、密な W のメモリと W @ x・F.conv2d の実行時間",
    }),
)

FREE_TEXT: tuple[FreeText, ...] = (
    FreeText("1", {
        "en": "Do X and Z have the same values? Why?",
        "ja": "X と Z は同じ値を持つか。なぜか。",
    }),
    FreeText("2", {
        "en": "Is it efficient to implement convolutions by matrix multiplication? Why?",
        "ja": "行列積で畳み込みを実装するのは効率的か。なぜか。",
    }),
)

_BY_ID = {p.id: p for p in PARTS}
_LANG = {"value": "en"}

_SEP = {"en": " ", "ja": ""}
_FOOTER = {
    "en": "(public check only: the hidden tests decide your grade)",
    "ja": "（公開チェックのみ。成績は非公開テストで決まります）",
}


def set_language(lang: str) -> None:
    """Language of :func:`check`'s messages: ``"en"`` (default) or ``"ja"``."""
    if lang not in _FOOTER:
        raise ValueError(f"lang must be 'en' or 'ja', got {lang!r}")
    _LANG["value"] = lang


def part(part_id: str) -> Part:
    """The :class:`Part` with id ``part_id`` (``"1a"``, ...)."""
    try:
        return _BY_ID[part_id]
    except KeyError:
        raise ValueError(
            f"part_id must be one of {', '.join(_BY_ID)}, got {part_id!r}"
        ) from None


class AnswerError(Exception):
    """An answer of the wrong form or value, explained in both languages.

    Raised by the acceptance functions below, which the public checks and the grader's hidden
    tests share, so that both accept and refuse exactly the same forms.
    """

    def __init__(self, en: str, ja: str) -> None:
        super().__init__(en)
        self.en, self.ja = en, ja

    def text(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


def _fail(en: str, ja: str) -> None:
    raise AnswerError(en, ja)


# --- acceptance: every reasonable form of a right value, shared with the grader ---------

_LOW_PRECISION = ("float16", "bfloat16")


def _numpy():
    """NumPy if the student's code (or anyone) imported it; the checks never import it."""
    return sys.modules.get("numpy")


def _is_array(value: object) -> bool:
    numpy = _numpy()
    return numpy is not None and isinstance(value, numpy.ndarray)


def _scalar(value: object) -> object:
    """A NumPy scalar or a one-number (0-d) tensor or array as a Python number or bool."""
    numpy = _numpy()
    if numpy is not None and isinstance(value, numpy.generic):
        return value.item()
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_complex():
        return value.item()
    if _is_array(value) and value.ndim == 0 and value.dtype.kind in "biuf":
        return value.item()
    return value


def _answered(name: str, value: object) -> None:
    if value is None or value is Ellipsis:
        _fail(f"{name} is not answered yet (it is {value!r}).",
              f"{name} はまだ答えられていません（{value!r} のままです）。")


def dtype_name(value: object) -> str | None:
    """``"float32"``, ``"float64"``, ... for a tensor or array, else ``None``."""
    if isinstance(value, torch.Tensor):
        return str(value.dtype).removeprefix("torch.")
    if _is_array(value):
        return str(value.dtype)
    return None


def as_tensor(name: str, value: object, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """A matrix (or any real array) as a float64 CPU tensor.

    Accepts a tensor, a NumPy array or nested lists/tuples of numbers; refuses bool and
    complex data and, with ``shape``, any other shape.
    """
    _answered(name, value)
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        if tensor.layout != torch.strided:
            tensor = tensor.to_dense()
    elif _is_array(value):
        if value.dtype.kind not in "iuf":
            _fail(f"{name} must hold real numbers, got an array of dtype {value.dtype}.",
                  f"{name} は実数の配列にしてください（今は dtype {value.dtype}）。")
        tensor = torch.from_numpy(value.astype("float64"))
    elif isinstance(value, (list, tuple)):
        try:
            tensor = torch.tensor(_plain_numbers(value), dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            _fail(f"{name} must be a tensor, an array or nested lists of numbers of one shape.",
                  f"{name} はテンソル、配列、または同じ長さの数のリストを入れ子にしたものに"
                  "してください。")
    else:
        _fail(f"{name} must be a tensor (or a NumPy array, or nested lists), got "
              f"{type(value).__name__}.",
              f"{name} はテンソル（または NumPy の配列、入れ子のリスト）にしてください"
              f"（今は {type(value).__name__}）。")
    if tensor.is_complex() or tensor.dtype == torch.bool:
        _fail(f"{name} must hold real numbers, got dtype {tensor.dtype}.",
              f"{name} は実数のテンソルにしてください（今は dtype {tensor.dtype}）。")
    if shape is not None and tuple(tensor.shape) != shape:
        _fail(f"{name} must have shape {shape}, got {tuple(tensor.shape)}.",
              f"{name} の形状は {shape} のはずですが、{tuple(tensor.shape)} です。")
    return tensor.to("cpu", torch.float64)


def _plain_numbers(value: object) -> object:
    """Nested lists/tuples of numbers (NumPy scalars included) as nested lists of floats."""
    if isinstance(value, (list, tuple)):
        return [_plain_numbers(v) for v in value]
    value = _scalar(value)
    if type(value) not in (int, float):
        raise TypeError("not a number")
    return float(value)


def as_int(name: str, value: object, low: int, high: int) -> int:
    """An integer: a Python, NumPy or one-number tensor integer, or a whole float."""
    _answered(name, value)
    number = _scalar(value)
    if type(number) is float and math.isfinite(number) and number.is_integer() and \
            abs(number) < 2**53:
        number = int(number)
    if type(number) is not int:
        _fail(f"{name} must be an integer, got {type(value).__name__} {_short(value)}.",
              f"{name} は整数にしてください（今は {type(value).__name__} {_short(value)}）。")
    if not low <= number <= high:
        _fail(f"{name} must be between {low} and {high}, got {number}.",
              f"{name} は {low} 以上 {high} 以下のはずですが、{number} です。")
    return number


def as_bool(name: str, value: object) -> bool:
    """A truth value: a Python or NumPy bool, or a one-element bool tensor."""
    _answered(name, value)
    flag = _scalar(value)
    if type(flag) is not bool:
        _fail(f"{name} must be True or False, got {type(value).__name__} {_short(value)}.",
              f"{name} は True か False にしてください（今は {type(value).__name__} "
              f"{_short(value)}）。")
    return flag


def as_sequence(name: str, value: object, length: int | None = None) -> list:
    """The items of a tuple, list, ``torch.Size``, namedtuple, 1-D tensor or 1-D array."""
    _answered(name, value)
    if isinstance(value, (tuple, list)):
        items = list(value)
    elif (isinstance(value, torch.Tensor) or _is_array(value)) and value.ndim == 1:
        items = [_scalar(v) for v in value]
    else:
        _fail(f"{name} must be a sequence (tuple, list, 1-D tensor or array), got "
              f"{type(value).__name__}.",
              f"{name} は列（タプル、リスト、1 次元のテンソルや配列）にしてください"
              f"（今は {type(value).__name__}）。")
    if length is not None and len(items) != length:
        _fail(f"{name} must have {length} items, got {len(items)}.",
              f"{name} の要素数は {length} のはずですが、{len(items)} です。")
    return items


def as_times(name: str, value: object, length: int) -> list[float]:
    """``length`` positive, finite times (any real sequence: list, tuple, tensor, array)."""
    times = []
    for i, item in enumerate(as_sequence(name, value, length)):
        number = _scalar(item)
        if type(number) not in (int, float) or not math.isfinite(number) or number <= 0:
            _fail(f"{name}[{i}] must be a positive number of milliseconds, got {_short(item)}.",
                  f"{name}[{i}] は正のミリ秒数にしてください（今は {_short(item)}）。")
        times.append(float(number))
    return times


#: Bounds of any plausible time of part 2d, in milliseconds (1 ns to 60 s).
MIN_MS, MAX_MS = 1e-6, 60_000.0


def timings_problem(dense_ms: list[float], conv_ms: list[float]) -> tuple[str, str] | None:
    """Why the timings cannot be real measurements (English, Japanese), or ``None``.

    What holds on any machine for the sizes of ``SIZES_2D`` (8 to 64, a 3 x 3 kernel): the
    dense time grows with n (W has about n⁴ entries) and, at the largest n, exceeds
    ``F.conv2d``'s; every time lies between 1 ns and 60 s. Shared by the public check and the
    hidden tests, so typed-in numbers (``[1, 1, 1, 1]``) fail both.

    Args:
        dense_ms: times of ``W @ x`` in milliseconds, one per size of ``SIZES_2D``.
        conv_ms: times of ``F.conv2d`` on the same inputs, same length.
    """
    if not dense_ms or len(dense_ms) != len(conv_ms):
        return ("dense_ms and conv_ms must have one time per size.",
                "dense_ms と conv_ms にはサイズごとに 1 つずつ時間が必要です。")
    if any(not MIN_MS <= t <= MAX_MS for t in [*dense_ms, *conv_ms]):
        return ("a time outside 1 ns to 60 s is not a measurement of these operations.",
                "1 ns から 60 s の範囲外の時間は、これらの演算の測定値ではありません。")
    if len(set(dense_ms)) == 1 or dense_ms[-1] <= dense_ms[0]:
        return ("dense_ms does not grow with n: W has about n⁴ entries, so W @ x takes longer "
                "for larger n. Measure it with time_ms.",
                "dense_ms が n とともに増えていません。W の要素数は約 n⁴ なので、n が大きいほど "
                "W @ x は遅くなります。time_ms で測ってください。")
    if dense_ms[-1] <= conv_ms[-1]:
        return ("at the largest n, W @ x should be slower than F.conv2d (it does hundreds of "
                "times more work). Measure both with time_ms.",
                "最大の n では W @ x は F.conv2d より遅いはずです（計算量が数百倍）。"
                "両方を time_ms で測ってください。")
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def compare(name: str, got: torch.Tensor, expected: torch.Tensor, what_en: str, what_ja: str,
            dtype: str | None = None, name_ja: str | None = None) -> None:
    """Fail unless ``got`` matches ``expected`` within ``RTOL``/``ATOL``; the message gives the
    largest error and, for a float16/bfloat16 answer, says to compute in float32.
    ``name_ja``: the name in the Japanese message, if it is not ``name`` (code)."""
    name_ja = name_ja or name
    if tuple(got.shape) != tuple(expected.shape):
        _fail(f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)} "
              f"({what_en}).",
              f"{name_ja} の形状が {tuple(got.shape)} です。{what_ja.rstrip()}"
              f"{' ' if what_ja[-1:].isascii() else ''}の形状は {tuple(expected.shape)} です。")
    got, expected = got.double(), expected.double()
    if torch.allclose(got, expected, rtol=RTOL, atol=ATOL):
        return
    error = float((got - expected).abs().nan_to_num(nan=math.inf).max())
    hint_en = hint_ja = ""
    if dtype in _LOW_PRECISION:
        hint_en = f": your result is {dtype}, compute in float32"
        hint_ja = f"。結果が {dtype} なので、float32 で計算してください"
    _fail(f"{name} does not match {what_en} (largest error {error:.1e}{hint_en}).",
          f"{name_ja} が{_spaced(what_ja)}と一致しません（最大誤差 {error:.1e}{hint_ja}）。")


def bytes_hint(got: int, expected: int, what_en: str = "W", what_ja: str = "W"
               ) -> tuple[str, str]:
    """Why a byte count is off, when the ratio tells: ``("", "")`` otherwise."""
    if expected and got == 2 * expected:
        return (f": your {what_en} is float64, 2x the bytes of float32",
                f"。{what_ja}が float64 なので float32 の 2 倍です")
    if got and expected == 2 * got:
        return (f": your {what_en} is float16, half the bytes of float32",
                f"。{what_ja}が float16 なので float32 の半分です")
    if got and expected == 4 * got:
        return (": that is the number of entries; bytes are 4 per float32 entry",
                "。これは要素数です。バイト数は float32 の要素 1 つにつき 4 です")
    return "", ""


# --- the section's public example -------------------------------------------------------

def _section_example() -> tuple[torch.Tensor, torch.Tensor]:
    """The section's ``X`` (3 x 3) and ``K`` (2 x 2), float32."""
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    return X, K


def _conv(X: torch.Tensor, K: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """2-D cross-correlation of ``X`` (h, w) with ``K`` (kh, kw), by PyTorch."""
    return F.conv2d(X[None, None], K[None, None], stride=stride, padding=padding)[0, 0]


def _trans_conv(Y: torch.Tensor, K: torch.Tensor, stride: int = 1, padding: int = 0,
                output_padding: int = 0) -> torch.Tensor:
    """2-D transposed convolution of ``Y`` (h, w) with ``K`` (kh, kw), by PyTorch."""
    return F.conv_transpose2d(Y[None, None], K[None, None], stride=stride, padding=padding,
                              output_padding=output_padding)[0, 0]


# --- the public checks' helpers -------------------------------------------------------

def _function(name: str, value: object) -> None:
    _answered(name, value)
    if not callable(value):
        _fail(f"{name} must be a function, got {type(value).__name__}.",
              f"{name} は関数にしてください（今は {type(value).__name__}）。")


def _call(name: str, func, *args):
    try:
        return func(*args)
    except NotImplementedError:
        _fail(f"{name} is not implemented yet (it raises NotImplementedError).",
              f"{name} はまだ実装されていません（NotImplementedError を送出します）。")
    except Exception as error:  # the student's code: report, do not crash the check
        _fail(f"{name}{args_text(args)} raised {type(error).__name__}: {error}",
              f"{name}{args_text(args)} で {type(error).__name__} が発生しました: {error}")


def args_text(args) -> str:
    """``(K of shape (2, 2), (3, 3))``: the arguments of a call, shortly."""
    parts = [f"tensor of shape {tuple(a.shape)}" if isinstance(a, torch.Tensor) else repr(a)
             for a in args]
    return "(" + ", ".join(parts) + ")"


def _result(name: str, value: object, what_en: str, what_ja: str, expected: torch.Tensor
            ) -> None:
    """Compare a function's result (any matrix form) with ``expected``."""
    compare(name, as_tensor(name, value), expected, what_en, what_ja, dtype_name(value))


def dense_bytes_problem(values: object) -> None:
    """Part 2d's memory criterion, shared by the public check and the hidden tests.

    ``dense_bytes[i]`` must be the bytes of a float32 W for an ``n x n`` input and a 3 x 3
    kernel: 4 bytes times rows times ``n * n`` columns. The rows are those of the student's
    own W, ``(n + a) * (n + b)`` with the same small offsets ``a``, ``b`` (-4 to 2) for every
    ``n``: the right ``(n - 2) ** 2``, or one of part 1d's off-by-one mistakes, so that such a
    mistake (or a transposed W) is not charged again here. The number of entries instead of
    bytes, or float64 bytes, fits no such W.
    """
    items = as_sequence("dense_bytes", values, len(SIZES_2D))
    got = [as_int(f"dense_bytes[{i}]", item, 1, 10**15) for i, item in enumerate(items)]
    offsets = [(a, b) for a in range(-4, 3) for b in range(a, 3)]
    if any(all(g == 4 * (n + a) * (n + b) * n * n for g, n in zip(got, SIZES_2D, strict=True))
           for a, b in offsets):
        return
    for i, (value, n) in enumerate(zip(got, SIZES_2D, strict=True)):
        right = 4 * (n - 2) ** 2 * n * n
        if value != right:
            hint_en, hint_ja = bytes_hint(value, right)
            _fail(f"dense_bytes[{i}] = {value} is not the bytes of a float32 W for n = {n} "
                  f"(rows x n * n columns x 4 bytes){hint_en}.",
                  f"dense_bytes[{i}] = {value} は、n = {n} の float32 の W のバイト数"
                  f"（行数 × 列数 n * n × 4 バイト）ではありません{hint_ja}。")
    _fail("dense_bytes do not belong to one W of the same form for every n.",
          "dense_bytes が、すべての n で同じ形の W のバイト数になっていません。")


def _spaced(text: str) -> str:
    """``text`` with a space on each side that touches Latin text (Japanese style rule)."""
    left = " " if text[:1].isascii() else ""
    right = " " if text[-1:].isascii() else ""
    return f"{left}{text}{right}"


# --- one public check per part ----------------------------------------------------------

def _check_1a(Z) -> None:
    X, K = _section_example()
    compare("Z", as_tensor("Z", Z, (3, 3)), _trans_conv(_conv(X, K), K),
            "PyTorch's conv_transpose2d of Y = conv2d(X, K) with K",
            "PyTorch の conv_transpose2d で Y = conv2d(X, K) を K で転置畳み込みした結果",
            dtype_name(Z))


def _check_1b(WtW) -> None:
    X, K = _section_example()
    matrix = as_tensor("WtW", WtW, (9, 9))
    if not torch.allclose(matrix, matrix.T):
        _fail("WtW must be symmetric: (WᵀW)ᵀ = WᵀW.",
              "WtW は対称行列のはずです: (WᵀW)ᵀ = WᵀW。")
    # W^T W x is "convolve, then transposed-convolve" x: check it on the section's X.
    compare("WtW @ X.reshape(-1)", (matrix @ X.reshape(-1).double()).reshape(3, 3),
            _trans_conv(_conv(X, K), K), "Z, the transposed convolution of conv2d(X, K)",
            "Z（conv2d(X, K) の転置畳み込み）", dtype_name(WtW))


def _check_1c(rank_WtW, WtW_is_identity) -> None:
    rank = as_int("rank_WtW", rank_WtW, 0, 9)
    identity = as_bool("WtW_is_identity", WtW_is_identity)
    if identity and rank != 9:
        _fail("a 9 x 9 identity matrix has rank 9: rank_WtW and WtW_is_identity disagree.",
              "9 × 9 の単位行列の階数は 9 です。rank_WtW と WtW_is_identity が矛盾しています。")


def _check_1d(my_kernel2matrix) -> None:
    _function("my_kernel2matrix", my_kernel2matrix)
    X, K = _section_example()
    generator = torch.Generator().manual_seed(0)
    # The section's K, then a random non-square one (as the hidden tests use).
    for kernel, (h, w) in ((K, (3, 3)), (torch.randn(2, 3, generator=generator), (4, 5))):
        call = f"my_kernel2matrix(K, {(h, w)})"
        got = _call("my_kernel2matrix", my_kernel2matrix, kernel.clone(), (h, w))
        oh, ow = h - kernel.shape[0] + 1, w - kernel.shape[1] + 1
        W = as_tensor(call, got, (oh * ow, h * w))
        inputs = [X] if (h, w) == (3, 3) else []
        for x in [*inputs, torch.randn(h, w, generator=generator)]:
            compare(f"{call} @ x.reshape(-1)", (W @ x.reshape(-1).double()).reshape(oh, ow),
                    _conv(x, kernel), f"conv2d(x, K) for a {tuple(kernel.shape)} kernel",
                    f"{tuple(kernel.shape)} のカーネルによる conv2d(x, K)", dtype_name(got))


def _check_1e(K_id, stride_id, padding_id, input_shape_id) -> None:
    K = as_tensor("K_id", K_id)
    if K.ndim != 2 or min(K.shape) < 2 or max(K.shape) > 7:
        _fail(f"K_id must be a 2-D kernel between 2 x 2 and 7 x 7, got shape {tuple(K.shape)}.",
              f"K_id は 2 × 2 から 7 × 7 までの 2 次元カーネルにしてください"
              f"（今の形状は {tuple(K.shape)}）。")
    stride = as_int("stride_id", stride_id, 1, 4)
    padding = as_int("padding_id", padding_id, 0, 6)
    h, w = (as_int(f"input_shape_id[{i}]", n, 2, 32)
            for i, n in enumerate(as_sequence("input_shape_id", input_shape_id, 2)))
    X = torch.arange(float(h * w), dtype=torch.float64).reshape(h, w)
    try:
        Y = _conv(X, K, stride, padding)
        a = [(n + 2 * padding - k) % stride for n, k in zip((h, w), K.shape, strict=True)]
        Z = F.conv_transpose2d(Y[None, None], K[None, None], stride=stride, padding=padding,
                               output_padding=tuple(a))[0, 0]
    except RuntimeError as error:
        _fail(f"PyTorch cannot run this convolution: {error}",
              f"この設定では PyTorch が畳み込みを計算できません: {error}")
    compare("Z", Z, X, "X (for X = arange(h * w).reshape(h, w))",
            "X（X = arange(h * w).reshape(h, w) の場合）")


def count_pair(name: str, value: object) -> tuple[int, int]:
    """Part 2a's result: a pair (tuple, list, namedtuple, tensor...) of integers."""
    entries, non_zeros = as_sequence(name, value, 2)
    return (as_int(f"{name}[0]", entries, 0, 10**15),
            as_int(f"{name}[1]", non_zeros, 0, 10**15))


def _check_2a(count_W) -> None:
    _function("count_W", count_W)
    got = count_pair("count_W((3, 3), (2, 2))",
                     _call("count_W", count_W, (3, 3), (2, 2)))
    # The section's W (4 x 9) written by PyTorch: column j is the convolution of the j-th
    # one-hot image, so every entry of W is computed, none typed in.
    basis = torch.eye(9).reshape(9, 1, 3, 3)
    W = F.conv2d(basis, torch.ones(1, 1, 2, 2)).reshape(9, -1).T
    expected = (W.numel(), int(torch.count_nonzero(W)))
    if got != expected:
        _fail(f"count_W((3, 3), (2, 2)) returned {got}; it does not match the section's W.",
              f"count_W((3, 3), (2, 2)) が {got} を返しました。節の W と一致しません。")


def _check_2b(bytes_dense_224, bytes_kernel_224) -> None:
    dense = as_int("bytes_dense_224", bytes_dense_224, 1, 10**15)
    kernel = as_int("bytes_kernel_224", bytes_kernel_224, 1, 10**15)
    if kernel >= dense:
        _fail("the kernel should need far fewer bytes than the dense W.",
              "カーネルに必要なバイト数は密な W よりずっと少ないはずです。")


def _check_2c(conv_by_matmul) -> None:
    _function("conv_by_matmul", conv_by_matmul)
    X, K = _section_example()
    generator = torch.Generator().manual_seed(0)
    cases = [
        (X.reshape(1, 1, 3, 3), K.reshape(1, 1, 2, 2)),
        (torch.randn(2, 3, 5, 4, generator=generator), torch.randn(4, 3, 2, 3, generator=generator)),
    ]
    for inputs, kernel in cases:
        got = _call("conv_by_matmul", conv_by_matmul, inputs.clone(), kernel.clone())
        _result(f"conv_by_matmul{args_text((inputs, kernel))}", got, "F.conv2d(X, K)",
                "F.conv2d(X, K)", F.conv2d(inputs, kernel))


def _check_2d(dense_bytes, dense_ms, conv_ms) -> None:
    dense_bytes_problem(dense_bytes)
    problem = timings_problem(as_times("dense_ms", dense_ms, len(SIZES_2D)),
                              as_times("conv_ms", conv_ms, len(SIZES_2D)))
    if problem:
        _fail(*problem)


_CHECKS = {
    "1a": _check_1a, "1b": _check_1b, "1c": _check_1c, "1d": _check_1d, "1e": _check_1e,
    "2a": _check_2a, "2b": _check_2b, "2c": _check_2c, "2d": _check_2d,
}


def _run(part_id: str, answers: tuple) -> AnswerError | None:
    """``None`` if part ``part_id`` passes its public check, else why not."""
    spec = part(part_id)
    if len(answers) != len(spec.names):
        raise TypeError(
            f"answers: check({part_id!r}, ...) takes {len(spec.names)} value(s) "
            f"({', '.join(spec.names)}), got {len(answers)}"
        )
    try:
        _CHECKS[part_id](*answers)
    except AnswerError as failure:
        return failure
    return None


def passes(part_id: str, *answers) -> bool:
    """``True`` if the answers pass part ``part_id``'s public check (prints nothing)."""
    return _run(part_id, answers) is None


def check(part_id: str, *answers, lang: str | None = None) -> None:
    """Check one part on the section's public example and print ✓ or ✗ with a message.

    Args:
        part_id: ``"1a"`` ... ``"2d"`` (see :data:`PARTS`).
        *answers: the part's values in the order of ``part(part_id).names``, e.g.
            ``check("1c", rank_WtW, WtW_is_identity)`` or ``check("1d", my_kernel2matrix)``.
        lang: ``"en"`` or ``"ja"``; default: the language set by :func:`set_language`.

    A ✓ does not mean full marks: the hidden tests use other inputs.
    """
    lang = lang or _LANG["value"]
    if lang not in _FOOTER:
        raise ValueError(f"lang must be 'en' or 'ja', got {lang!r}")
    failure = _run(part_id, answers)
    if failure is None:
        names = part(part_id).names
        if lang == "ja":
            passed = f"{', '.join(names)} は公開チェックに合格しました。"
        else:
            verb = "passes" if len(names) == 1 else "pass"
            passed = f"{', '.join(names)} {verb} the public check."
        print(f"✓ {part_id}: {passed}{_SEP[lang]}{_FOOTER[lang]}")
    else:
        print(f"✗ {part_id}: {failure.text(lang)}{_SEP[lang]}{_FOOTER[lang]}")
