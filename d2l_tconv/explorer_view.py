"""What the explorer shows for given control values: pure logic, no widgets.

:func:`explorer_view` turns the control values (:class:`Controls`) into an
:class:`ExplorerView`: the tensors, the output-shape formula with the numbers filled in, the
result read off the intermediate tensors and its check against ``F.conv_transpose2d``, the
matrix view (``W`` from :func:`d2l_tconv.kernel2matrix` and ``Wᵀ`` applied to the flattened
input), or, for an impossible combination, a message in the notebook's language. It never
raises for control values inside the controls' ranges. :mod:`d2l_tconv.explorer` wires it to
ipywidgets; the tests drive both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from .figures import crop, plot_kernel_matrix, plot_trans_conv, trans_conv_intermediates
from .matrix import kernel2matrix

__all__ = ["RANGES", "TEXT", "VALUE_CHOICES", "Controls", "ExplorerView", "explorer_view"]

# Inclusive ranges of the integer controls. Output padding runs from 0 to stride - 1.
RANGES = {
    "input_h": (1, 6),
    "input_w": (1, 6),
    "kernel_h": (1, 5),
    "kernel_w": (1, 5),
    "stride": (1, 4),
    "padding": (0, 3),
}
VALUE_CHOICES = ("section", "random", "ones")
# Beyond this many input elements, "all intermediate tensors" would be an unreadable (and
# slow) row of panels: the figure then shows the last step, the complete sum.
MAX_PANELS = 6
SECTION_X = ((0.0, 1.0), (2.0, 3.0))  # the section's X and K (cell In [3])
SECTION_K = ((0.0, 1.0), (2.0, 3.0))

# Every text the explorer shows, in the notebooks' terms.
TEXT = {
    "en": {
        "input_h": "input height",
        "input_w": "input width",
        "kernel_h": "kernel height",
        "kernel_w": "kernel width",
        "stride": "stride",
        "padding": "padding",
        "output_padding": "output padding",
        "values": "values",
        "section": "the section's X and K",
        "given": "your X and K",
        "random": "small random integers",
        "ones": "ones",
        "mode_all": "all intermediate tensors",
        "mode_step": "one at a time",
        "step": "intermediate tensor",
        "matrix": "matrix view",
        "height": "height",
        "width": "width",
        "shape": "output shape",
        "formula": "(n − 1) × s − 2p + k + a",
        "check_ok": "✓ equals F.conv_transpose2d(X, K, stride={s}, padding={p}, "
        "output_padding={a})",
        "check_bad": "✗ differs from F.conv_transpose2d (largest difference {diff:g})",
        "partial": "The output so far adds {k} of the {n} intermediate tensors; the last step "
        "gives the full result.",
        "too_many": "{n} intermediate tensors are too many to draw side by side: the figure "
        "shows the last one and the sum of all {n}. Choose “one at a time” to see each.",
        "crops_all": "Impossible: padding {p} crops the whole output. Before cropping the "
        "result is {h}×{w}, and padding {p} removes {p} rows and columns from every side. "
        "Use a padding of at most {max_p} here.",
        "output_padding_too_large": "Impossible: the output padding must be smaller than the "
        "stride (PyTorch's rule); here output padding {a}, stride {s}.",
        "matrix_title": "W = kernel2matrix(K, ({oh}, {ow}), stride={s}, padding={p}): the "
        "convolution from the output's shape back to X's shape, {rows}×{cols}, "
        "{nonzero} entries hold a kernel value (coloured)",
        "matrix_product": "Wᵀ @ X.reshape(-1), reshaped to {oh}×{ow}",
        "matrix_ok": "✓ equals the output of the transposed convolution",
        "matrix_bad": "✗ differs from the output of the transposed convolution",
    },
    "ja": {
        "input_h": "入力の高さ",
        "input_w": "入力の幅",
        "kernel_h": "カーネルの高さ",
        "kernel_w": "カーネルの幅",
        "stride": "ストライド",
        "padding": "パディング",
        "output_padding": "出力パディング",
        "values": "値",
        "section": "節の X と K",
        "given": "渡した X と K",
        "random": "小さな乱数の整数",
        "ones": "すべて 1",
        "mode_all": "中間テンソルをすべて表示",
        "mode_step": "1 つずつ表示",
        "step": "中間テンソル",
        "matrix": "行列で見る",
        "height": "高さ",
        "width": "幅",
        "shape": "出力の形状",
        "formula": "(n − 1) × s − 2p + k + a",
        "check_ok": "✓ F.conv_transpose2d(X, K, stride={s}, padding={p}, output_padding={a}) "
        "と一致します",
        "check_bad": "✗ F.conv_transpose2d と一致しません（最大の差 {diff:g}）",
        "partial": "ここまでの出力は中間テンソル {n} 個のうち {k} 個の和です。最後のステップで"
        "結果がそろいます。",
        "too_many": "中間テンソル {n} 個は多すぎて並べて描けないため、図には最後の 1 つと {n} 個"
        "すべての和を示します。1 つずつ見るには「1 つずつ表示」を選んでください。",
        "crops_all": "この組み合わせはできません：パディング {p} では出力がすべて切り取られます。"
        "切り取る前の結果は {h}×{w} で、パディング {p} は上下左右から {p} 行・列ずつ取り除きます。"
        "ここではパディングを {max_p} 以下にしてください。",
        "output_padding_too_large": "この組み合わせはできません：出力パディングはストライドより"
        "小さくなければなりません（PyTorch の規則）。いまは出力パディング {a}、ストライド {s} です。",
        "matrix_title": "W = kernel2matrix(K, ({oh}, {ow}), stride={s}, padding={p})：出力の形状から"
        " X の形状に戻す畳み込みの行列、{rows}×{cols}、カーネルの値が入る要素 {nonzero} 個（色付き）",
        "matrix_product": "Wᵀ @ X.reshape(-1) を {oh}×{ow} に整形したもの",
        "matrix_ok": "✓ 転置畳み込みの出力と一致します",
        "matrix_bad": "✗ 転置畳み込みの出力と一致しません",
    },
}


@dataclass(frozen=True)
class Controls:
    """The explorer's control values. ``step`` is ``None`` for all intermediate tensors at
    once, or ``k`` (1 to ``input_h * input_w``) for the first ``k``."""

    input_h: int = 2
    input_w: int = 2
    kernel_h: int = 2
    kernel_w: int = 2
    stride: int = 1
    padding: int = 0
    output_padding: int = 0
    values: str = "section"
    step: int | None = None
    matrix: bool = False
    seed: int = 0


@dataclass
class ExplorerView:
    """Everything the explorer shows for one set of control values.

    ``message`` is ``None`` when the combination is possible; otherwise it is the text shown
    instead of the figure and every other field but ``controls``, ``lang``, ``X`` and ``K`` is
    ``None``. ``result`` is the sum of the first ``step`` intermediate tensors, cropped (the
    figure's output panel); ``expected`` is ``F.conv_transpose2d(X, K, ...)``, both float64
    ``(oh, ow)``; ``matches`` compares the complete sum with ``expected``.
    """

    controls: Controls
    lang: str
    X: torch.Tensor
    K: torch.Tensor
    message: str | None = None
    shape_lines: list[str] | None = None
    output_shape: tuple[int, int] | None = None
    steps: int | None = None
    result: torch.Tensor | None = None
    expected: torch.Tensor | None = None
    matches: bool | None = None
    check_text: str | None = None
    note: str | None = None
    W: torch.Tensor | None = None
    W_pattern: torch.Tensor | None = None
    matrix_lines: list[str] | None = None
    matrix_product: torch.Tensor | None = None

    @property
    def ok(self) -> bool:
        return self.message is None

    @property
    def figure_step(self) -> int | None:
        """The ``step`` argument of the figure: the control's, or the last step when "all
        intermediate tensors" are too many to draw (more than :data:`MAX_PANELS`)."""
        if self.controls.step is None and self.steps > MAX_PANELS:
            return self.steps
        return self.controls.step

    def figure(self):
        """The figure of :func:`d2l_tconv.plot_trans_conv` for these controls."""
        c = self.controls
        return plot_trans_conv(self.X, self.K, c.stride, self.lang, padding=c.padding,
                               output_padding=c.output_padding, step=self.figure_step)

    def matrix_figure(self):
        """``W`` with its pattern of kernel entries (``None`` without the matrix view)."""
        if self.W is None:
            return None
        return plot_kernel_matrix(self.W, self.W_pattern, self.lang)


def _values(controls: Controls, X, K) -> tuple[torch.Tensor, torch.Tensor]:
    c = controls
    if c.values == "section":
        X = torch.tensor(SECTION_X) if X is None else X
        K = torch.tensor(SECTION_K) if K is None else K
        return X.to("cpu", torch.float64), K.to("cpu", torch.float64)
    x_shape, k_shape = (c.input_h, c.input_w), (c.kernel_h, c.kernel_w)
    if c.values == "ones":
        return torch.ones(x_shape, dtype=torch.float64), torch.ones(k_shape, dtype=torch.float64)
    gen = torch.Generator().manual_seed(c.seed)
    X = torch.randint(-2, 5, x_shape, generator=gen).double()
    K = torch.randint(-2, 4, k_shape, generator=gen).double()
    return X, K


def check_controls(controls: Controls) -> None:
    """Raise ``ValueError`` naming the control when a value lies outside its range.

    (An impossible *combination* of values in range is not an error: the view says why.)
    """
    for name, (low, high) in RANGES.items():
        value = getattr(controls, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be an int from {low} to {high}, got {value!r}")
    a = controls.output_padding
    if isinstance(a, bool) or not isinstance(a, int) or a < 0:
        raise ValueError(f"output_padding must be an int >= 0, got {a!r}")
    if controls.values not in VALUE_CHOICES:
        raise ValueError(f"values must be one of {VALUE_CHOICES}, got {controls.values!r}")


def explorer_view(controls: Controls, lang: str = "en", X=None, K=None) -> ExplorerView:
    """What the explorer shows for ``controls`` (see :class:`ExplorerView`).

    ``X`` and ``K`` (2-D tensors) replace the section's tensors for ``values="section"``;
    then the size controls are not used.
    """
    if lang not in TEXT:
        raise ValueError(f"lang must be one of {sorted(TEXT)}, got {lang!r}")
    check_controls(controls)
    text = TEXT[lang]
    X, K = _values(controls, X, K)
    c = controls
    s, p, a = c.stride, c.padding, c.output_padding
    view = ExplorerView(controls=c, lang=lang, X=X, K=K)
    if a >= s:
        view.message = text["output_padding_too_large"].format(a=a, s=s)
        return view
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    canvas = ((n_h - 1) * s + k_h + a, (n_w - 1) * s + k_w + a)
    out = (canvas[0] - 2 * p, canvas[1] - 2 * p)
    if min(out) < 1:
        view.message = text["crops_all"].format(p=p, h=canvas[0], w=canvas[1],
                                                max_p=(min(canvas) - 1) // 2)
        return view
    n = n_h * n_w
    if c.step is not None and not 1 <= c.step <= n:
        view.controls = c = replace(c, step=max(1, min(c.step, n)))
    view.steps, view.output_shape = n, out
    view.shape_lines = [
        f"{text[dim]}: {text['formula']} = ({size} − 1) × {s} − 2 × {p} + {k} + {a} = {o}"
        for dim, size, k, o in (("height", n_h, k_h, out[0]), ("width", n_w, k_w, out[1]))
    ] + [f"{text['shape']}: {out[0]} × {out[1]}"]

    intermediates = [T for _, T in trans_conv_intermediates(X, K, s, a)]
    used = intermediates if c.step is None else intermediates[: c.step]
    view.result = crop(torch.stack(used).sum(dim=0), p)
    complete = crop(torch.stack(intermediates).sum(dim=0), p)
    view.expected = F.conv_transpose2d(X[None, None], K[None, None], stride=s, padding=p,
                                       output_padding=a)[0, 0]
    view.matches = complete.shape == view.expected.shape and torch.allclose(
        complete, view.expected)
    if view.matches:
        view.check_text = text["check_ok"].format(s=s, p=p, a=a)
    else:
        diff = (complete - view.expected).abs().max().item() if (
            complete.shape == view.expected.shape) else float("inf")
        view.check_text = text["check_bad"].format(diff=diff)
    if c.step is not None and c.step < n:
        view.note = text["partial"].format(k=c.step, n=n)
    elif c.step is None and n > MAX_PANELS:
        view.note = text["too_many"].format(n=n)

    if c.matrix:
        # The convolution from Y's shape (oh, ow) to X's shape: its transpose is ours.
        W = kernel2matrix(K, out, stride=s, padding=p)
        view.W = W
        view.W_pattern = kernel2matrix(torch.ones_like(K), out, stride=s, padding=p) != 0
        view.matrix_product = (W.T @ X.reshape(-1)).reshape(out)
        same = torch.allclose(view.matrix_product, view.expected)
        view.matrix_lines = [
            text["matrix_title"].format(oh=out[0], ow=out[1], s=s, p=p, rows=W.shape[0],
                                        cols=W.shape[1], nonzero=int(view.W_pattern.sum())),
            text["matrix_product"].format(oh=out[0], ow=out[1]),
            text["matrix_ok"] if same else text["matrix_bad"],
        ]
    return view
