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
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "FREE_TEXT",
    "PARTS",
    "SIZES_2D",
    "FreeText",
    "Part",
    "check",
    "part",
    "passes",
    "set_language",
]

#: Input sizes ``n`` (images ``n x n``, kernel ``3 x 3``) of the measurement in part 2d.
SIZES_2D = (8, 16, 32, 64)

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
        "en": "the 9 x 9 matrix W^T W",
        "ja": "9 × 9 行列 W^T W",
    }),
    Part("1c", "value", ("rank_WtW", "WtW_is_identity"), 2, {
        "en": "the rank of W^T W, and whether W^T W is the identity",
        "ja": "W^T W の階数と、W^T W が単位行列かどうか",
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
        "en": "count_W(input_shape, kernel_shape): entries and non-zeros of the dense W",
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
        "ja": "行列の乗算で畳み込みを実装するのは効率的か。なぜか。",
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


class _Fail(Exception):
    """A public check failed; ``args[0]`` is ``{"en": ..., "ja": ...}``."""


def _fail(en: str, ja: str) -> None:
    raise _Fail({"en": en, "ja": ja})


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


# --- form checks ------------------------------------------------------------------------

def _answered(name: str, value: object) -> None:
    if value is None or value is Ellipsis:
        _fail(f"{name} is not answered yet (it is {value!r}).",
              f"{name} はまだ答えられていません（{value!r} のままです）。")


def _tensor(name: str, value: object, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    _answered(name, value)
    if type(value) not in (torch.Tensor, torch.nn.Parameter):
        _fail(f"{name} must be a torch.Tensor, got {type(value).__name__}.",
              f"{name} は torch.Tensor にしてください（今は {type(value).__name__}）。")
    if value.is_complex() or not (value.is_floating_point() or value.dtype == torch.int64):
        _fail(f"{name} must hold real numbers, got dtype {value.dtype}.",
              f"{name} は実数のテンソルにしてください（今は dtype {value.dtype}）。")
    if shape is not None and tuple(value.shape) != shape:
        _fail(f"{name} must have shape {shape}, got {tuple(value.shape)}.",
              f"{name} の形状は {shape} のはずですが、{tuple(value.shape)} です。")
    return value.detach().to("cpu", torch.float64)


def _int(name: str, value: object, low: int, high: int) -> int:
    _answered(name, value)
    if type(value) is not int:
        _fail(f"{name} must be a Python int, got {type(value).__name__}"
              " (use int(...) on a tensor or NumPy number).",
              f"{name} は Python の int にしてください（今は {type(value).__name__}。"
              "テンソルや NumPy の数は int(...) で変換できます）。")
    if not low <= value <= high:
        _fail(f"{name} must be between {low} and {high}, got {value}.",
              f"{name} は {low} 以上 {high} 以下のはずですが、{value} です。")
    return value


def _bool(name: str, value: object) -> bool:
    _answered(name, value)
    if type(value) is not bool:
        _fail(f"{name} must be True or False, got {type(value).__name__}"
              " (use bool(...) on a tensor).",
              f"{name} は True か False にしてください（今は {type(value).__name__}。"
              "テンソルは bool(...) で変換できます）。")
    return value


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


def _close(name: str, got: torch.Tensor, expected: torch.Tensor, what_en: str,
           what_ja: str) -> None:
    if tuple(got.shape) != tuple(expected.shape):
        _fail(f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)} {what_en}.",
              f"{name} の形状が {tuple(got.shape)} です。{what_ja}の形状は "
              f"{tuple(expected.shape)} です。")
    if not torch.allclose(got.double(), expected.double(), rtol=1e-4, atol=1e-4):
        _fail(f"{name} does not match {what_en}.", f"{name} が{what_ja}と一致しません。")


# --- one public check per part ----------------------------------------------------------

def _check_1a(Z) -> None:
    X, K = _section_example()
    Z = _tensor("Z", Z, (3, 3))
    _close("Z", Z, _trans_conv(_conv(X, K), K),
           "PyTorch's conv_transpose2d of Y = conv2d(X, K) with K",
           "PyTorch の conv_transpose2d で Y = conv2d(X, K) を K で転置畳み込みした結果")


def _check_1b(WtW) -> None:
    X, K = _section_example()
    WtW = _tensor("WtW", WtW, (9, 9))
    if not torch.allclose(WtW, WtW.T):
        _fail("WtW must be symmetric: (W^T W)^T = W^T W.",
              "WtW は対称行列のはずです: (W^T W)^T = W^T W。")
    # W^T W x is "convolve, then transposed-convolve" x: check it on the section's X.
    _close("WtW @ X.reshape(-1)", (WtW @ X.reshape(-1).double()).reshape(3, 3),
           _trans_conv(_conv(X, K), K), "Z, the transposed convolution of conv2d(X, K)",
           "Z（conv2d(X, K) の転置畳み込み）")


def _check_1c(rank_WtW, WtW_is_identity) -> None:
    rank = _int("rank_WtW", rank_WtW, 0, 9)
    identity = _bool("WtW_is_identity", WtW_is_identity)
    if identity and rank != 9:
        _fail("a 9 x 9 identity matrix has rank 9: rank_WtW and WtW_is_identity disagree.",
              "9 × 9 の単位行列の階数は 9 です。rank_WtW と WtW_is_identity が矛盾しています。")


def _check_1d(my_kernel2matrix) -> None:
    _function("my_kernel2matrix", my_kernel2matrix)
    X, K = _section_example()
    W = _tensor("my_kernel2matrix(K, (3, 3))",
                _call("my_kernel2matrix", my_kernel2matrix, K.clone(), (3, 3)), (4, 9))
    generator = torch.Generator().manual_seed(0)
    for x in (X, torch.randn(3, 3, generator=generator)):
        _close("W @ x.reshape(-1)", (W @ x.reshape(-1).double()).reshape(2, 2),
               _conv(x, K), "conv2d(x, K) for the section's K",
               "節の K による conv2d(x, K)")


def _check_1e(K_id, stride_id, padding_id, input_shape_id) -> None:
    K = _tensor("K_id", K_id)
    if K.ndim != 2 or min(K.shape) < 2 or max(K.shape) > 7:
        _fail(f"K_id must be a 2-D kernel between 2 x 2 and 7 x 7, got shape {tuple(K.shape)}.",
              f"K_id は 2 × 2 から 7 × 7 までの 2 次元カーネルにしてください"
              f"（今の形状は {tuple(K.shape)}）。")
    stride = _int("stride_id", stride_id, 1, 4)
    padding = _int("padding_id", padding_id, 0, 6)
    _answered("input_shape_id", input_shape_id)
    if type(input_shape_id) not in (tuple, list) or len(input_shape_id) != 2:
        _fail("input_shape_id must be a pair (height, width).",
              "input_shape_id は (高さ, 幅) の組にしてください。")
    h = _int("input_shape_id[0]", input_shape_id[0], 2, 32)
    w = _int("input_shape_id[1]", input_shape_id[1], 2, 32)
    X = torch.arange(float(h * w), dtype=torch.float64).reshape(h, w)
    try:
        Y = _conv(X, K, stride, padding)
        a = [(n + 2 * padding - k) % stride for n, k in zip((h, w), K.shape, strict=True)]
        Z = F.conv_transpose2d(Y[None, None], K[None, None], stride=stride, padding=padding,
                               output_padding=tuple(a))[0, 0]
    except RuntimeError as error:
        _fail(f"PyTorch cannot run this convolution: {error}",
              f"この設定では PyTorch が畳み込みを計算できません: {error}")
    _close("Z", Z, X, "X (for X = arange(h * w).reshape(h, w))",
           "X（X = arange(h * w).reshape(h, w) の場合）")


def _check_2a(count_W) -> None:
    _function("count_W", count_W)
    got = _call("count_W", count_W, (3, 3), (2, 2))
    if type(got) not in (tuple, list) or len(got) != 2 or any(type(v) is not int for v in got):
        _fail("count_W must return a pair of Python ints (entries, non_zeros).",
              "count_W は Python の int の組 (要素数, 非ゼロ要素数) を返してください。")
    # The section's W (4 x 9) written by PyTorch: column j is the convolution of the j-th
    # one-hot image, so every entry of W is computed, none typed in.
    basis = torch.eye(9).reshape(9, 1, 3, 3)
    W = F.conv2d(basis, torch.ones(1, 1, 2, 2)).reshape(9, -1).T
    expected = (W.numel(), int(torch.count_nonzero(W)))
    if tuple(got) != expected:
        _fail(f"count_W((3, 3), (2, 2)) returned {tuple(got)}; it does not match the section's W.",
              f"count_W((3, 3), (2, 2)) が {tuple(got)} を返しました。節の W と一致しません。")


def _check_2b(bytes_dense_224, bytes_kernel_224) -> None:
    dense = _int("bytes_dense_224", bytes_dense_224, 1, 10**15)
    kernel = _int("bytes_kernel_224", bytes_kernel_224, 1, 10**15)
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
        got = _tensor(f"conv_by_matmul{args_text((inputs, kernel))}", got)
        _close("conv_by_matmul(X, K)", got, F.conv2d(inputs, kernel), "F.conv2d(X, K)",
               "F.conv2d(X, K)")


def _check_2d(dense_bytes, dense_ms, conv_ms) -> None:
    n = len(SIZES_2D)
    for name, value in (("dense_bytes", dense_bytes), ("dense_ms", dense_ms),
                        ("conv_ms", conv_ms)):
        _answered(name, value)
        if type(value) not in (list, tuple) or len(value) != n:
            _fail(f"{name} must be a list with one number per size in SIZES_2D ({n} numbers).",
                  f"{name} は SIZES_2D の各サイズに 1 つずつ、{n} 個の数のリストにしてください。")
    for i, value in enumerate(dense_bytes):
        _int(f"dense_bytes[{i}]", value, 1, 10**15)
    if list(dense_bytes) != sorted(dense_bytes) or len(set(dense_bytes)) != n:
        _fail("dense_bytes should grow with the input size.",
              "dense_bytes は入力サイズとともに増えるはずです。")
    for name, values in (("dense_ms", dense_ms), ("conv_ms", conv_ms)):
        for i, value in enumerate(values):
            if type(value) not in (int, float) or not math.isfinite(value) or value <= 0:
                _fail(f"{name}[{i}] must be a positive number of milliseconds, got {value!r}.",
                      f"{name}[{i}] は正のミリ秒数にしてください（今は {value!r}）。")


_CHECKS = {
    "1a": _check_1a, "1b": _check_1b, "1c": _check_1c, "1d": _check_1d, "1e": _check_1e,
    "2a": _check_2a, "2b": _check_2b, "2c": _check_2c, "2d": _check_2d,
}


def _run(part_id: str, answers: tuple) -> str | None:
    """``None`` if part ``part_id`` passes its public check, else the failure by language."""
    spec = part(part_id)
    if len(answers) != len(spec.names):
        raise TypeError(
            f"answers: check({part_id!r}, ...) takes {len(spec.names)} value(s) "
            f"({', '.join(spec.names)}), got {len(answers)}"
        )
    try:
        _CHECKS[part_id](*answers)
    except _Fail as failure:
        return failure.args[0]
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
        passed = {"en": "passes the public check.", "ja": "公開チェックに合格しました。"}[lang]
        names = ", ".join(part(part_id).names)
        print(f"✓ {part_id}: {names} {passed}{_SEP[lang]}{_FOOTER[lang]}")
    else:
        print(f"✗ {part_id}: {failure[lang]}{_SEP[lang]}{_FOOTER[lang]}")
