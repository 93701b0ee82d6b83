"""Figures of the section, drawn from the tensors themselves (no remote images).

:func:`plot_trans_conv` draws what the book's figures ``trans_conv.svg`` and
``trans_conv_stride2.svg`` show: the input ``X``, the kernel ``K``, one intermediate
tensor per input element (``X[i, j] * K`` placed at offset ``(i * stride, j * stride)``
in a zero tensor) and their sum, the output. Every number is computed from ``X`` and
``K``, so the figure cannot disagree with the code next to it.

The figure is a plain :class:`matplotlib.figure.Figure`, not registered with pyplot: a
notebook cell that ends with it displays it exactly once, and nothing leaks into later
cells. Its background is opaque white with dark text, so it reads the same in light and
dark notebook themes.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.colors as mcolors
import torch
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import TransformedPatchPath

from ._cell_grid import CellGrid

__all__ = [
    "crop",
    "japanese_font",
    "plot_kernel_matrix",
    "plot_trans_conv",
    "trans_conv_intermediates",
]

# Labels of the figures, per language. Fields in braces are filled in.
LABELS = {
    "en": {
        "input": "Input X",
        "kernel": "Kernel K",
        "intermediate": "Intermediate tensor\nX[{i}, {j}] · K",
        "sum": "Sum before cropping",
        "partial_sum": "Sum of {k} of {n}\nintermediate tensors",
        "output": "Output Y",
        "title": "Transposed convolution with a {kh}×{kw} kernel, stride {stride}{extra}",
        "title_padding": ", padding {padding}",
        "title_output_padding": ", output padding {output_padding}",
        "legend_cropped": "cropped by padding {padding}",
        "legend_added": "added by output padding {output_padding}",
        "legend_kept": "kept: the output Y",
        "matrix": "W ({rows}×{cols}): row = element of X, column = element of Y",
    },
    "ja": {
        "input": "入力 X",
        "kernel": "カーネル K",
        "intermediate": "中間テンソル\nX[{i}, {j}] · K",
        "sum": "切り取る前の和",
        "partial_sum": "中間テンソル {n} 個のうち\n{k} 個の和",
        "output": "出力 Y",
        "title": "{kh}×{kw} カーネル、ストライド {stride}{extra} の転置畳み込み",
        "title_padding": "、パディング {padding}",
        "title_output_padding": "、出力パディング {output_padding}",
        "legend_cropped": "パディング {padding} で切り取る部分",
        "legend_added": "出力パディング {output_padding} で加える行と列",
        "legend_kept": "残る部分：出力 Y",
        "matrix": "W（{rows}×{cols}）：行 = X の要素、列 = Y の要素",
    },
}

# Fonts with Japanese glyphs that matplotlib may find on a machine, best first.
# IPAexGothic is the one that the PyPI package matplotlib-fontja ships.
JAPANESE_FONT_CANDIDATES = (
    "IPAexGothic",
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAGothic",
    "TakaoGothic",
    "VL Gothic",
    "Hiragino Sans",
    "Yu Gothic",
    "Meiryo",
    "MS Gothic",
)

# Light fill colours, one per input element (dark text stays readable on each).
_PALETTE = ("#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fc9272", "#c7e9c0", "#fdd0a2", "#dadaeb")
_TEXT = "#111111"
_MUTED = "#6b6b6b"
_EDGE = "#333333"


def _register_matplotlib_fontja() -> None:
    """Add the font file of ``matplotlib-fontja`` to matplotlib, if that package is installed.

    The module is not imported: importing it changes the global ``rcParams`` (it sets the
    default font family), which a library must not do behind the user's back.
    """
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:
        return
    for location in spec.submodule_search_locations:
        font = Path(location) / "fonts" / "ipaexg.ttf"
        if font.is_file():
            font_manager.fontManager.addfont(str(font))
            return


@functools.cache
def japanese_font() -> str | None:
    """Name of a font family with Japanese glyphs that matplotlib can use, or ``None``.

    Looks at the fonts matplotlib knows (after adding the one ``matplotlib-fontja``
    ships) for one of :data:`JAPANESE_FONT_CANDIDATES`.
    """
    _register_matplotlib_fontja()
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    for name in JAPANESE_FONT_CANDIDATES:
        if name in known:
            return name
    return None


def _as_matrix(name: str, value) -> torch.Tensor:
    tensor = torch.as_tensor(value).detach().to("cpu", torch.float64)
    if tensor.dim() != 2 or tensor.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 2-D tensor, got shape {tuple(tensor.shape)}")
    return tensor


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return value


def trans_conv_intermediates(
    X, K, stride: int = 1, output_padding: int = 0
) -> list[tuple[tuple[int, int], torch.Tensor]]:
    """The intermediate tensors of the 2-D transposed convolution, before any cropping.

    Returns ``[((i, j), T_ij), ...]`` in row-major order of ``X``. Each ``T_ij`` has the
    shape ``((n_h - 1) * s + k_h + a, (n_w - 1) * s + k_w + a)`` (``a`` = ``output_padding``,
    the rows and columns it adds at the bottom and right stay zero) and is zero everywhere
    except ``T_ij[i*s : i*s + k_h, j*s : j*s + k_w] = X[i, j] * K``. Their sum, with
    ``padding`` rows and columns cropped from every side, is the output of
    ``F.conv_transpose2d``. Tensors are float64 on the CPU.
    """
    X, K = _as_matrix("X", X), _as_matrix("K", K)
    s = _check_int("stride", stride, 1)
    a = _check_int("output_padding", output_padding, 0)
    if a >= s:
        raise ValueError(f"output_padding must be smaller than stride, got {a} with stride {s}")
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    canvas = ((n_h - 1) * s + k_h + a, (n_w - 1) * s + k_w + a)
    result = []
    for i in range(n_h):
        for j in range(n_w):
            T = torch.zeros(canvas, dtype=torch.float64)
            T[i * s : i * s + k_h, j * s : j * s + k_w] = X[i, j] * K
            result.append(((i, j), T))
    return result


def crop(T: torch.Tensor, padding: int) -> torch.Tensor:
    """``T`` (..., H, W) without ``padding`` rows and columns on every side."""
    if padding == 0:
        return T
    return T[..., padding : T.shape[-2] - padding, padding : T.shape[-1] - padding]


def _format_value(value: float) -> str:
    value = float(value)
    if value == 0:
        return "0"  # also for -0.0
    return f"{value:g}"


def _blend(colour: str, other: str, weight: float) -> str:
    a, b = mcolors.to_rgb(colour), mcolors.to_rgb(other)
    return mcolors.to_hex(tuple((1 - weight) * x + weight * y for x, y in zip(a, b, strict=True)))


_CROPPED_TINT = "#8c8c8c"  # mixed into the fill of a cell that padding crops
_CROPPED_TEXT = "#333333"
_ADDED = "#ffe98a"  # rows and columns added by output padding
_KEPT_EDGE = "#b00020"


@dataclass
class _Panel:
    """One matrix drawn as a grid: its ``gid``, title, values, cell fills and text colours.

    ``boxes`` are outlines drawn over the grid: ``(gid, (row, col), (height, width), style)``.
    """

    gid: str
    title: str
    values: torch.Tensor
    fills: list[list[str]]
    texts: list[list[str]]
    boxes: list[tuple[str, tuple[int, int], tuple[int, int], dict]] = field(default_factory=list)


def _plain_panel(gid: str, title: str, M: torch.Tensor, fill: str = "#ffffff") -> _Panel:
    rows, cols = M.shape
    return _Panel(gid, title, M, [[fill] * cols for _ in range(rows)],
                  [[_TEXT] * cols for _ in range(rows)])


class _Geometry:
    """Where the canvas rows/columns lie: ``size`` (H, W) before cropping, ``padding``, ``added``
    (output padding) and the canvas ``(H - added, W - added)`` that the kernels cover."""

    def __init__(self, canvas: tuple[int, int], padding: int, added: int):
        self.size, self.padding, self.added = canvas, padding, added
        self.marked = padding > 0 or added > 0

    def cropped(self, r: int, c: int) -> bool:
        (h, w), p = self.size, self.padding
        return r < p or c < p or r >= h - p or c >= w - p

    def is_added(self, r: int, c: int) -> bool:
        (h, w), a = self.size, self.added
        return r >= h - a or c >= w - a

    def kept_box(self):
        (h, w), p = self.size, self.padding
        style = {"edgecolor": _KEPT_EDGE, "linestyle": (0, (4, 2)), "linewidth": 2.0}
        return ("kept", (p, p), (h - 2 * p, w - 2 * p), style)


def _canvas_panel(gid: str, title: str, T: torch.Tensor, geometry: _Geometry,
                  highlight=None, highlight_fill: str = "#ffffff", strong: bool = False) -> _Panel:
    """A tensor of the canvas (an intermediate tensor or a sum) with the crop and the added
    rows marked. ``highlight`` is ``((row, col), (height, width))`` of a region to fill with
    ``highlight_fill`` and outline; ``strong`` writes every value in the dark text colour."""
    rows, cols = T.shape
    fills, texts = [], []
    for r in range(rows):
        fill_row, text_row = [], []
        for c in range(cols):
            inside = highlight is not None and (
                highlight[0][0] <= r < highlight[0][0] + highlight[1][0]
                and highlight[0][1] <= c < highlight[0][1] + highlight[1][1]
            )
            fill = highlight_fill if inside else "#ffffff"
            if not inside and geometry.added and geometry.is_added(r, c):
                fill = _ADDED
            text = _TEXT if (inside or strong) else _MUTED
            if geometry.cropped(r, c):
                fill, text = _blend(fill, _CROPPED_TINT, 0.5), _TEXT if inside else _CROPPED_TEXT
            fill_row.append(fill)
            text_row.append(text)
        fills.append(fill_row)
        texts.append(text_row)
    panel = _Panel(gid, title, T, fills, texts)
    if highlight is not None:
        panel.boxes.append(("region", highlight[0], highlight[1],
                            {"edgecolor": _TEXT, "linewidth": 2.4}))
    if geometry.marked:
        panel.boxes.append(geometry.kept_box())
    return panel


def _output_panel(title: str, Y: torch.Tensor, geometry: _Geometry) -> _Panel:
    """The cropped output; cells that come from rows/columns added by output padding are
    filled as in the canvas."""
    panel = _plain_panel("output", title, Y)
    p = geometry.padding
    for r in range(Y.shape[0]):
        for c in range(Y.shape[1]):
            if geometry.added and geometry.is_added(r + p, c + p):
                panel.fills[r][c] = _ADDED
    return panel


def _inside_panel(text: str, col: int, cols: int, em: float) -> bool:
    """Whether ``text`` (a number), centred in a cell of column ``col`` of ``cols``, surely
    lies inside the panel. ``em`` is the font size in cells. No glyph of a number is wider
    than one em (DejaVu Sans: 0.85, IPAexGothic: 0.68), and matplotlib lays a line out as
    tall as the font's ascent plus descent (1 em for both), far less than 2 em."""
    return 2 * em <= 1 and len(text) * em <= 2 * min(col, cols - 1 - col) + 1


def _draw_panel(ax, panel: _Panel, fontfamily, fontsize: float, cell_inches: float) -> None:
    """Draw ``panel`` as a grid of cells (one :class:`CellGrid`, gid ``"cells"``) and one text
    artist per cell (row 0 at the top), with cells ``cell_inches`` wide.

    Values that lie inside the panel are left out of the layout: the tight bounding box that
    the inline backend saves (``bbox_inches="tight"``) need not measure them, the panel's
    box already holds them."""
    rows, cols = panel.values.shape
    em = fontsize / 72 / cell_inches
    values = panel.values.tolist()
    cells = CellGrid(rows, cols, [fill for row in panel.fills for fill in row], edgecolor=_EDGE,
                     linewidth=1.0, zorder=1, clip_on=False, gid="cells")
    ax.add_collection(cells, autolim=False)
    # Text is never clipped (clip_on=False) but ax.text gives each one a clip path of its own,
    # a chain of transforms, unless it has one: all share this one (a third of the building).
    shared_clip_path = TransformedPatchPath(ax.patch)
    for r in range(rows):
        for c in range(cols):
            text = _format_value(values[r][c])
            ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", color=panel.texts[r][c],
                    fontsize=fontsize, fontfamily=fontfamily, zorder=3,
                    clip_path=shared_clip_path, in_layout=not _inside_panel(text, c, cols, em))
    for gid, (r0, c0), (h, w), style in panel.boxes:
        ax.add_patch(Rectangle((c0, r0), w, h, fill=False, zorder=2 if gid == "region" else 4,
                               gid=gid, clip_on=False, **style))
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    for axis in (ax.xaxis, ax.yaxis):  # not drawn: no ticks to compute for the title's place
        axis.set_visible(False)


def _ems(text: str) -> float:
    """Rough width of the longest line of ``text`` in ems (wide glyphs count one em)."""
    return max(sum(1.0 if ord(ch) > 0x2E80 else 0.58 for ch in line) for line in text.split("\n"))


class _Label(str):
    """A label in one language that knows the width of its widest translation, so that a
    figure has the same size in every language (the notebooks print the size)."""

    ems: float


def _label(labels: dict[str, str], build) -> _Label:
    """``build(labels)`` as a :class:`_Label`; ``build`` maps a dict of :data:`LABELS`
    to the text."""
    text = _Label(build(labels))
    text.ems = max(_ems(build(other)) for other in LABELS.values())
    return text


def _text_inches(text: str, points: float) -> float:
    """Width of ``text`` in inches at ``points`` (of its widest translation for a label)."""
    ems = text.ems if isinstance(text, _Label) else _ems(text)
    return ems * points / 72


def _layout(panels: list[_Panel], operators: list[str], title: str, legend: list[tuple[str, dict]],
            lang_family: list[str], cell_inches: float, dpi: float,
            max_width_inches: float) -> Figure:
    """Place ``panels`` left to right, wrapping to a new row before ``max_width_inches``.

    ``operators[k]`` is drawn between panel ``k`` and ``k + 1`` (at the start of the next row
    when the row wraps there).
    """
    margin = 0.2
    widest = max(p.values.shape[1] for p in panels)
    cell = min(cell_inches, (max_width_inches - 2 * margin) / widest)
    fontsize = max(11.0 * cell / 0.42, 5.0)
    title_size = 10.0
    gap = max(cell * 1.15, 0.45)
    slots = [max(p.values.shape[1] * cell, _text_inches(p.title, title_size) + 0.1)
             for p in panels]

    rows: list[list[int]] = [[]]
    x = margin
    for k, w in enumerate(slots):
        needed = w + (gap if rows[-1] else 0)
        if rows[-1] and x + needed > max_width_inches - margin:
            rows.append([])
            x = margin + gap  # the operator starts the new row
        x += w + (gap if rows[-1] else 0)
        rows[-1].append(k)
    row_widths = [sum(slots[k] for k in row) + gap * (len(row) - 1) + (gap if row[0] else 0)
                  for row in rows]
    fig_w = min(max(row_widths) + 2 * margin, max_width_inches)
    fig_w = max(fig_w, _text_inches(title, title_size * 1.15) + 2 * margin)
    row_h = [max(panels[k].values.shape[0] for k in row) * cell for row in rows]
    title_h = [max(p.title.count("\n") + 1 for p in (panels[k] for k in row))
               * title_size * 1.35 / 72 + 0.08 for row in rows]
    suptitle_h, legend_h, row_gap = 0.45, (0.4 if legend else 0.0), 0.15
    fig_h = suptitle_h + sum(row_h) + sum(title_h) + row_gap * (len(rows) - 1) + legend_h + margin
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi, facecolor="white")
    fig.patch.set_alpha(1.0)

    top = fig_h - suptitle_h
    for row, h_row, t_row in zip(rows, row_h, title_h, strict=True):
        top -= t_row
        center_y = top - h_row / 2
        x = margin
        for k in row:
            if k > 0:
                if operators[k - 1]:
                    fig.text((x + gap / 2) / fig_w, center_y / fig_h, operators[k - 1],
                             ha="center", va="center", fontsize=16, color=_TEXT,
                             fontfamily=lang_family)
                x += gap
            panel = panels[k]
            w, h = panel.values.shape[1] * cell, panel.values.shape[0] * cell
            left = x + (slots[k] - w) / 2
            ax = fig.add_axes((left / fig_w, (center_y - h / 2) / fig_h, w / fig_w, h / fig_h),
                              gid=panel.gid)
            _draw_panel(ax, panel, lang_family, fontsize, cell)
            ax.set_title(panel.title, fontsize=title_size, fontfamily=lang_family, color=_TEXT,
                         pad=4)
            x += slots[k]
        top -= h_row + row_gap
    fig.suptitle(title, y=1 - (suptitle_h * 0.5) / fig_h, va="center", fontsize=title_size * 1.15,
                 fontfamily=lang_family, color=_TEXT)
    if legend:
        handles = [Patch(label=label, **style) for label, style in legend]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(0.5, 0.0), prop={"family": lang_family, "size": title_size},
                   labelcolor=_TEXT, handlelength=1.4)
    return fig


def _language(lang: str) -> tuple[dict[str, str], list[str]]:
    """Labels and font family for ``lang`` (English labels when no Japanese font is found)."""
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {sorted(LABELS)}, got {lang!r}")
    if lang == "ja":
        font = japanese_font()
        if font is not None:
            return LABELS["ja"], [font, "DejaVu Sans"]
    return LABELS["en"], ["DejaVu Sans"]


def plot_trans_conv(
    X,
    K,
    stride: int = 1,
    lang: str = "en",
    *,
    padding: int = 0,
    output_padding: int = 0,
    step: int | None = None,
    cell_inches: float = 0.42,
    dpi: float = 100,
    max_width_inches: float = 7.8,
) -> Figure:
    """Draw the 2-D transposed convolution of ``X`` with ``K``, one intermediate tensor per
    input element.

    With ``step=None`` (the book's figures): input ``X``, kernel ``K``, ``=``, the
    ``n_h * n_w`` intermediate tensors joined by ``+``, ``=``, output ``Y``. Input element
    ``X[i, j]`` and the region of its intermediate tensor where ``X[i, j] * K`` lands (offset
    ``i*stride, j*stride``) share a fill colour; that region is also outlined by a rectangle
    whose ``gid`` is ``"region"``.

    With ``padding`` or ``output_padding``, the intermediate tensors are drawn before cropping
    (shape ``((n_h - 1) * s + k_h + a, (n_w - 1) * s + k_w + a)``): the border of width
    ``padding`` that is cropped is greyed, the ``output_padding`` rows and columns added at the
    bottom and right are yellow, and a dashed rectangle (``gid`` ``"kept"``) outlines what
    remains. Their sum is a panel ``"sum"``, followed by ``→`` and the cropped output ``Y``.

    With ``step=k`` (``1 <= k <= n_h * n_w``; the explorer's and the animation's frames):
    input ``X`` (elements already used are coloured, the ``k``-th is outlined, ``gid``
    ``"current"``), kernel ``K``, the ``k``-th intermediate tensor, the sum of the first
    ``k`` (panel ``"sum"``) and that sum cropped (panel ``"output"``), which for
    ``k = n_h * n_w`` is the output of ``F.conv_transpose2d``.

    Each panel is an axes with ``gid`` ``"input"``, ``"kernel"``, ``"intermediate"``,
    ``"sum"`` or ``"output"``; its only text artists are the cell values, and its cells are
    one collection with ``gid`` ``"cells"`` (a :class:`d2l_tconv._cell_grid.CellGrid`: cell
    ``(r, c)`` is the unit square moved to ``(c, r)``, row 0 at the top). Panels wrap to a
    new row so that the figure is at most ``max_width_inches`` wide (at ``dpi`` 100 and
    the default 7.8 inches, 780 px: it fits an 800 px notebook column without shrinking,
    and its labels are 10 pt, about 14 px).

    ``lang`` is ``"en"`` or ``"ja"``. Japanese labels need a font with Japanese glyphs
    (see :func:`japanese_font`; ``pip install matplotlib-fontja`` provides one); without
    one the labels fall back to English, silently, so that no glyph is drawn as a box.

    ``X`` and ``K`` are 2-D tensors (any device, any float or int dtype).
    Returns a :class:`matplotlib.figure.Figure` (not managed by pyplot).
    """
    labels, family = _language(lang)
    X, K = _as_matrix("X", X), _as_matrix("K", K)
    s = _check_int("stride", stride, 1)
    p = _check_int("padding", padding, 0)
    intermediates = trans_conv_intermediates(X, K, s, output_padding)
    a = output_padding
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    n = n_h * n_w
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)
                             or not 1 <= step <= n):
        raise ValueError(f"step must be None or an int from 1 to {n} (X.numel()), got {step!r}")
    canvas = tuple(intermediates[0][1].shape)
    if min(canvas) - 2 * p < 1:
        raise ValueError(
            f"padding={p} is too large: it crops the whole output (the canvas before cropping "
            f"is {canvas[0]}×{canvas[1]}); use a smaller padding"
        )
    geometry = _Geometry(canvas, p, a)
    colors = {(i, j): _PALETTE[(i * n_w + j) % len(_PALETTE)]
              for i in range(n_h) for j in range(n_w)}
    used = intermediates if step is None else intermediates[:step]

    x_panel = _plain_panel("input", _label(labels, lambda L: L["input"]), X)
    for r in range(n_h):
        for c in range(n_w):
            if step is None or r * n_w + c < step:
                x_panel.fills[r][c] = colors[(r, c)]
    panels = [x_panel,
              _plain_panel("kernel", _label(labels, lambda L: L["kernel"]), K, fill="#f0f0f0")]
    total = torch.stack([T for _, T in used]).sum(dim=0)

    def intermediate_panel(i, j, T):
        title = _label(labels, lambda L: L["intermediate"].format(i=i, j=j))
        return _canvas_panel("intermediate", title, T, geometry,
                             highlight=((i * s, j * s), (k_h, k_w)), highlight_fill=colors[(i, j)])

    if step is None:
        panels += [intermediate_panel(i, j, T) for (i, j), T in intermediates]
        operators = ["", "="] + ["+"] * (n - 1)
        if geometry.marked:
            panels.append(_canvas_panel("sum", _label(labels, lambda L: L["sum"]), total,
                                        geometry, strong=True))
            operators += ["=", "→"]
        else:
            operators += ["="]
    else:
        (i, j), T = used[-1]
        x_panel.boxes.append(("current", (i, j), (1, 1), {"edgecolor": _TEXT, "linewidth": 2.4}))
        panels.append(intermediate_panel(i, j, T))
        sum_title = _label(labels, lambda L: L["partial_sum"].format(k=step, n=n))
        panels.append(_canvas_panel("sum", sum_title, total, geometry, strong=True,
                                    highlight=((i * s, j * s), (k_h, k_w)),
                                    highlight_fill=colors[(i, j)]))
        operators = ["", "→", "→", "→"]
    output_title = _label(labels, lambda L: L["output"])
    panels.append(_output_panel(output_title, crop(total, p), geometry)
                  if geometry.marked or step is not None
                  else _plain_panel("output", output_title, total))

    def suptitle(L):
        extra = (L["title_padding"].format(padding=p) if p else "") + (
            L["title_output_padding"].format(output_padding=a) if a else "")
        return L["title"].format(kh=k_h, kw=k_w, stride=s, extra=extra)

    title = _label(labels, suptitle)
    legend = []
    if p:
        legend.append((labels["legend_cropped"].format(padding=p),
                       {"facecolor": _blend("#ffffff", _CROPPED_TINT, 0.5), "edgecolor": _EDGE}))
    if a:
        legend.append((labels["legend_added"].format(output_padding=a),
                       {"facecolor": _ADDED, "edgecolor": _EDGE}))
    if geometry.marked:
        legend.append((labels["legend_kept"], {"facecolor": "none", "edgecolor": _KEPT_EDGE,
                                               "linestyle": "--", "linewidth": 2.0}))
    return _layout(panels, operators, title, legend, family, cell_inches, dpi, max_width_inches)


def plot_kernel_matrix(W, pattern=None, lang: str = "en", *, max_width_inches: float = 7.8,
                       dpi: float = 100) -> Figure:
    """Draw the matrix ``W`` (``(rows, cols)``) of :func:`d2l_tconv.kernel2matrix` as a grid.

    Cells where ``pattern`` (a boolean ``(rows, cols)`` tensor; default ``W != 0``) is true
    are coloured; they hold kernel entries. Values are written in the cells while they are
    at least 0.2 inches wide. One axes with ``gid`` ``"matrix"``.
    """
    labels, family = _language(lang)
    W = _as_matrix("W", W)
    pattern = (W != 0) if pattern is None else torch.as_tensor(pattern, dtype=torch.bool)
    if pattern.shape != W.shape:
        raise ValueError(f"pattern must have W's shape {tuple(W.shape)}, got "
                         f"{tuple(pattern.shape)}")
    rows, cols = W.shape
    cell = min(0.42, (max_width_inches - 0.4) / cols)
    fills = [["#9ecae1" if pattern[r, c] else "#ffffff" for c in range(cols)] for r in range(rows)]
    show_values = cell >= 0.2
    panel = _Panel("matrix", labels["matrix"].format(rows=rows, cols=cols), W, fills,
                   [[_TEXT] * cols for _ in range(rows)])
    fig = Figure(figsize=(cols * cell + 0.4, rows * cell + 0.75), dpi=dpi, facecolor="white")
    ax = fig.add_axes((0.2 / (cols * cell + 0.4), 0.15 / (rows * cell + 0.75),
                       cols * cell / (cols * cell + 0.4), rows * cell / (rows * cell + 0.75)),
                      gid="matrix")
    _draw_panel(ax, panel, family, 11.0 * cell / 0.42 if show_values else 0.0, cell)
    if not show_values:
        for text in list(ax.texts):
            text.remove()
    ax.set_title(panel.title, fontsize=10.0, fontfamily=family, color=_TEXT, pad=6, loc="left")
    return fig
