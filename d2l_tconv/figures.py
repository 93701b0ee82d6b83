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
from pathlib import Path

import torch
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["japanese_font", "plot_trans_conv", "trans_conv_intermediates"]

# Labels of the figure, per language. "{i}", "{j}" and "{stride}" are filled in.
LABELS = {
    "en": {
        "input": "Input X",
        "kernel": "Kernel K",
        "intermediate": "Intermediate tensor\nX[{i}, {j}] · K",
        "output": "Output Y",
        "title": "Transposed convolution with a {kh}×{kw} kernel, stride {stride}",
    },
    "ja": {
        "input": "入力 X",
        "kernel": "カーネル K",
        "intermediate": "中間テンソル\nX[{i}, {j}] · K",
        "output": "出力 Y",
        "title": "{kh}×{kw} カーネル、ストライド {stride} の転置畳み込み",
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


def _check_stride(stride: int) -> int:
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    return stride


def trans_conv_intermediates(X, K, stride: int = 1) -> list[tuple[tuple[int, int], torch.Tensor]]:
    """The intermediate tensors of the basic (2-D, no padding) transposed convolution.

    Returns ``[((i, j), T_ij), ...]`` in row-major order of ``X``, where ``T_ij`` has the
    output's shape ``((n_h - 1) * s + k_h, (n_w - 1) * s + k_w)``, is zero everywhere
    except ``T_ij[i*s : i*s + k_h, j*s : j*s + k_w] = X[i, j] * K``. Their sum is the output.
    Tensors are float64 on the CPU.
    """
    X, K, s = _as_matrix("X", X), _as_matrix("K", K), _check_stride(stride)
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    out_shape = ((n_h - 1) * s + k_h, (n_w - 1) * s + k_w)
    result = []
    for i in range(n_h):
        for j in range(n_w):
            T = torch.zeros(out_shape, dtype=torch.float64)
            T[i * s : i * s + k_h, j * s : j * s + k_w] = X[i, j] * K
            result.append(((i, j), T))
    return result


def _format_value(value: float) -> str:
    value = float(value)
    if value == 0:
        return "0"  # also for -0.0
    return f"{value:g}"


def _draw_matrix(ax, M: torch.Tensor, fills, text_colors, fontfamily, fontsize: float) -> None:
    """Draw ``M`` as a grid of cells, one text artist per cell (row 0 at the top)."""
    rows, cols = M.shape
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(
                Rectangle(
                    (c, r), 1, 1, facecolor=fills[r][c], edgecolor=_EDGE, linewidth=1.0, zorder=1
                )
            )
            ax.text(
                c + 0.5,
                r + 0.5,
                _format_value(M[r, c]),
                ha="center",
                va="center",
                color=text_colors[r][c],
                fontsize=fontsize,
                fontfamily=fontfamily,
                zorder=3,
            )
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.set_axis_off()


def plot_trans_conv(
    X,
    K,
    stride: int = 1,
    lang: str = "en",
    *,
    cell_inches: float = 0.42,
    dpi: float = 100,
) -> Figure:
    """Draw the basic 2-D transposed convolution of ``X`` with ``K`` at ``stride``.

    One row of panels: input ``X``, kernel ``K``, ``=``, the ``n_h * n_w`` intermediate
    tensors joined by ``+``, ``=``, output ``Y``. Input element ``X[i, j]`` and the region
    of its intermediate tensor where ``X[i, j] * K`` lands (offset ``i*stride, j*stride``)
    share a fill colour; that region is also outlined by a rectangle whose ``gid`` is
    ``"region"``. Each panel is an axes with ``gid`` ``"input"``, ``"kernel"``,
    ``"intermediate"`` or ``"output"``; its only text artists are the cell values.

    ``lang`` is ``"en"`` or ``"ja"``. Japanese labels need a font with Japanese glyphs
    (see :func:`japanese_font`; ``pip install matplotlib-fontja`` provides one); without
    one the labels fall back to English, silently, so that no glyph is drawn as a box.

    ``X`` and ``K`` are 2-D tensors (any device, any float or int dtype).
    Returns a :class:`matplotlib.figure.Figure` (not managed by pyplot).
    """
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {sorted(LABELS)}, got {lang!r}")
    X, K, s = _as_matrix("X", X), _as_matrix("K", K), _check_stride(stride)
    family = ["DejaVu Sans"]
    if lang == "ja":
        font = japanese_font()
        if font is None:
            lang = "en"
        else:
            family = [font, "DejaVu Sans"]
    labels = LABELS[lang]

    intermediates = trans_conv_intermediates(X, K, s)
    Y = torch.stack([T for _, T in intermediates]).sum(dim=0)
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    colors = {
        (i, j): _PALETTE[(i * n_w + j) % len(_PALETTE)] for i in range(n_h) for j in range(n_w)
    }

    # Panels: (gid, title, matrix, fills, text colours, region or None).
    panels = []
    x_fills = [[colors[(r, c)] for c in range(n_w)] for r in range(n_h)]
    panels.append(("input", labels["input"], X, x_fills, [[_TEXT] * n_w for _ in range(n_h)], None))
    panels.append(
        (
            "kernel",
            labels["kernel"],
            K,
            [["#f0f0f0"] * k_w for _ in range(k_h)],
            [[_TEXT] * k_w for _ in range(k_h)],
            None,
        )
    )
    out_h, out_w = Y.shape
    for (i, j), T in intermediates:
        inside = [
            [i * s <= r < i * s + k_h and j * s <= c < j * s + k_w for c in range(out_w)]
            for r in range(out_h)
        ]
        fills = [
            [colors[(i, j)] if inside[r][c] else "#ffffff" for c in range(out_w)]
            for r in range(out_h)
        ]
        texts = [[_TEXT if inside[r][c] else _MUTED for c in range(out_w)] for r in range(out_h)]
        title = labels["intermediate"].format(i=i, j=j)
        panels.append(("intermediate", title, T, fills, texts, (i * s, j * s)))
    panels.append(
        (
            "output",
            labels["output"],
            Y,
            [["#ffffff"] * out_w for _ in range(out_h)],
            [[_TEXT] * out_w for _ in range(out_h)],
            None,
        )
    )

    # Layout in inches: panels side by side, a gap (holding an operator) between them.
    cell, gap = cell_inches, cell_inches * 1.15
    margin, title_space, suptitle_space = cell * 0.5, cell * 1.3, cell * 0.9
    widths = [p[2].shape[1] * cell for p in panels]
    heights = [p[2].shape[0] * cell for p in panels]
    max_h = max(heights)
    fig_w = 2 * margin + sum(widths) + gap * (len(panels) - 1)
    fig_h = margin + max_h + title_space + suptitle_space
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi, facecolor="white")
    fig.patch.set_alpha(1.0)
    fontsize = 11.0 * cell_inches / 0.42
    title_size = 9.5 * cell_inches / 0.42

    x = margin
    operator_slots = []
    center_y = margin + max_h / 2
    for index, (gid, title, M, fills, texts, region) in enumerate(panels):
        w, h = widths[index], heights[index]
        bottom = center_y - h / 2
        ax = fig.add_axes((x / fig_w, bottom / fig_h, w / fig_w, h / fig_h), gid=gid)
        _draw_matrix(ax, M, fills, texts, family, fontsize)
        ax.set_title(title, fontsize=title_size, fontfamily=family, color=_TEXT, pad=4)
        if region is not None:
            r0, c0 = region
            ax.add_patch(
                Rectangle(
                    (c0, r0),
                    k_w,
                    k_h,
                    fill=False,
                    edgecolor=_TEXT,
                    linewidth=2.4,
                    zorder=2,
                    gid="region",
                    clip_on=False,
                )
            )
        x += w
        if index < len(panels) - 1:
            operator_slots.append(x + gap / 2)
            x += gap

    # Operators between panels: none between X and K, "=" before the first intermediate
    # and before the output, "+" between intermediates.
    operators = [""] + ["="] + ["+"] * (len(intermediates) - 1) + ["="]
    for slot, op in zip(operator_slots, operators, strict=True):
        if op:
            fig.text(
                slot / fig_w,
                center_y / fig_h,
                op,
                ha="center",
                va="center",
                fontsize=fontsize * 1.6,
                color=_TEXT,
                fontfamily=family,
            )
    fig.suptitle(
        labels["title"].format(kh=k_h, kw=k_w, stride=s),
        y=1 - (suptitle_space * 0.5) / fig_h,
        va="center",
        fontsize=title_size * 1.15,
        fontfamily=family,
        color=_TEXT,
    )
    return fig
