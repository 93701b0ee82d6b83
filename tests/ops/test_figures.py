"""d2l_tconv.plot_trans_conv: what each figure shows, checked against PyTorch.

nbval does not compare images, so these tests read the figure itself: the panels (axes, by
``gid``), their titles, the numbers written in each cell (text artists) and the outlined
region of each intermediate tensor, and compare them with tensors computed independently
by ``F.conv_transpose2d``.
"""

from __future__ import annotations

import ast
import base64
import functools
import io
import re
import warnings
from pathlib import Path

import matplotlib
import matplotlib.colors as mcolors
import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import skip_or_fail
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from PIL import Image

import d2l_tconv
from d2l_tconv import figures

ROOT = Path(__file__).resolve().parents[2]
BOOK_X = [[0.0, 1.0], [2.0, 3.0]]
BOOK_K = [[0.0, 1.0], [2.0, 3.0]]
JA_CHAR = re.compile("[\u3040-\u30ff\u3400-\u9fff]")


def panels(fig: Figure) -> dict[str, list]:
    found: dict[str, list] = {}
    for ax in fig.axes:
        found.setdefault(ax.get_gid(), []).append(ax)
    return found


def grid(ax) -> torch.Tensor:
    """The numbers written in the cells of one panel, as a tensor (cell (r, c) is at (c+.5, r+.5))."""
    cols, rows = round(ax.get_xlim()[1]), round(ax.get_ylim()[0])
    values = torch.full((rows, cols), float("nan"), dtype=torch.float64)
    for text in ax.texts:
        x, y = text.get_position()
        r, c = int(y), int(x)
        assert (r + 0.5, c + 0.5) == (y, x)
        assert torch.isnan(values[r, c]), "two numbers in one cell"
        values[r, c] = float(text.get_text())
    assert not torch.isnan(values).any(), "a cell without a number"
    return values


def cell_fill(ax, r: int, c: int) -> str:
    """The fill of cell (r, c): the one unit square of the panel's cell grid (the collection
    with gid "cells") that its transform places at (c, r)."""
    (cells,) = [a for a in ax.collections if a.get_gid() == "cells"]
    unit = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    (fill,) = [
        colour
        for transform, colour in zip(cells.get_transforms(), cells.get_facecolor(), strict=True)
        if (unit @ transform.T)[:, :2].tolist() == [[c, r], [c + 1, r + 1]]
    ]
    return mcolors.to_hex(fill)


def expected(X: torch.Tensor, K: torch.Tensor, stride: int):
    """Intermediates (one per input element, row-major) and output, by F.conv_transpose2d."""
    Xd, Kd = X.double()[None, None], K.double()[None, None]
    intermediates = []
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            only_ij = torch.zeros_like(Xd)
            only_ij[0, 0, i, j] = Xd[0, 0, i, j]
            intermediates.append(F.conv_transpose2d(only_ij, Kd, stride=stride)[0, 0])
    return intermediates, F.conv_transpose2d(Xd, Kd, stride=stride)[0, 0]


CASES = [
    (BOOK_X, BOOK_K, 1),
    (BOOK_X, BOOK_K, 2),
    ("random", (3, 2), (2, 3), 1),
    ("random", (2, 3), (3, 2), 2),
    ("random", (2, 2), (2, 2), 3),
]


def case_tensors(case):
    if case[0] == "random":
        _, x_shape, k_shape, stride = case
        gen = torch.Generator().manual_seed(sum(x_shape) * 10 + stride)
        X = torch.randint(-3, 6, x_shape, generator=gen).float()
        K = torch.randint(-2, 5, k_shape, generator=gen).float()
        return X, K, stride
    X, K, stride = case
    return torch.tensor(X), torch.tensor(K), stride


@functools.cache
def figure(case_index: int, lang: str) -> Figure:
    X, K, stride = case_tensors(CASES[case_index])
    return d2l_tconv.plot_trans_conv(X, K, stride=stride, lang=lang)


@pytest.mark.parametrize("case_index", range(len(CASES)))
def test_every_panel_shows_the_computed_tensors(case_index):
    X, K, stride = case_tensors(CASES[case_index])
    fig = figure(case_index, "en")
    p = panels(fig)
    assert sorted(p) == ["input", "intermediate", "kernel", "output"]
    assert len(p["input"]) == len(p["kernel"]) == len(p["output"]) == 1
    torch.testing.assert_close(grid(p["input"][0]), X.double())
    torch.testing.assert_close(grid(p["kernel"][0]), K.double())
    intermediates, output = expected(X, K, stride)
    assert len(p["intermediate"]) == X.numel()
    for ax, want in zip(p["intermediate"], intermediates, strict=True):
        torch.testing.assert_close(grid(ax), want)
    torch.testing.assert_close(grid(p["output"][0]), output)
    # the panels are drawn in reading order (rows top to bottom, each left to right):
    # input, kernel, intermediates, output
    assert reading_order(fig.axes) == list(fig.axes)


def reading_order(axes) -> list:
    """``axes`` sorted by row (the vertical centre, top first), then left to right."""
    rows: list[list] = []
    for ax in sorted(axes, key=lambda a: -(a.get_position().y0 + a.get_position().y1)):
        box = ax.get_position()
        centre = (box.y0 + box.y1) / 2
        if rows and abs(centre - rows[-1][0]) < 0.02:
            rows[-1][1].append(ax)
        else:
            rows.append((centre, [ax]))
    return [ax for _, row in rows for ax in sorted(row, key=lambda a: a.get_position().x0)]


@pytest.mark.parametrize("case_index", range(len(CASES)))
def test_region_marks_where_each_product_lands(case_index):
    X, K, stride = case_tensors(CASES[case_index])
    fig = figure(case_index, "en")
    p = panels(fig)
    k_h, k_w = K.shape
    for n, ax in enumerate(p["intermediate"]):
        i, j = divmod(n, X.shape[1])
        (region,) = [patch for patch in ax.patches if patch.get_gid() == "region"]
        assert tuple(region.get_xy()) == (j * stride, i * stride)
        assert (region.get_width(), region.get_height()) == (k_w, k_h)
        # the region holds X[i, j] * K, and shares its colour with the input element
        values = grid(ax)[i * stride : i * stride + k_h, j * stride : j * stride + k_w]
        torch.testing.assert_close(values, X[i, j].double() * K.double())
        colour = cell_fill(p["input"][0], i, j)
        assert cell_fill(ax, i * stride, j * stride) == colour
        assert cell_fill(ax, i * stride + k_h - 1, j * stride + k_w - 1) == colour
        assert ax.get_title() == f"Intermediate tensor\nX[{i}, {j}] · K"


def test_titles_in_english():
    fig = figure(1, "en")
    p = panels(fig)
    assert p["input"][0].get_title() == "Input X"
    assert p["kernel"][0].get_title() == "Kernel K"
    assert p["output"][0].get_title() == "Output Y"
    assert fig.get_suptitle() == "Transposed convolution with a 2×2 kernel, stride 2"
    assert (
        sorted(t.get_text() for t in fig.texts if t is not fig._suptitle) == ["+"] * 3 + ["="] * 2
    )


def require_japanese_font() -> str:
    font = figures.japanese_font()
    if font is None:
        skip_or_fail("no font with Japanese glyphs (pip install matplotlib-fontja)")
    return font


def all_texts(fig: Figure) -> list[str]:
    texts = [t.get_text() for t in fig.texts] + [fig.get_suptitle()]
    for ax in fig.axes:
        texts += [ax.get_title()] + [t.get_text() for t in ax.texts]
    return texts


def test_titles_in_japanese():
    require_japanese_font()
    fig = figure(0, "ja")
    p = panels(fig)
    assert p["input"][0].get_title() == "入力 X"
    assert p["kernel"][0].get_title() == "カーネル K"
    assert p["output"][0].get_title() == "出力 Y"
    assert p["intermediate"][3].get_title() == "中間テンソル\nX[1, 1] · K"
    assert fig.get_suptitle() == "2×2 カーネル、ストライド 1 の転置畳み込み"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_glyph_renders(lang):
    """No glyph is missing (matplotlib would warn and draw boxes) and the font has them all."""
    if lang == "ja":
        require_japanese_font()
    fig = figure(0, lang)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png")
    title = fig.axes[0].title
    font_path = font_manager.findfont(title.get_fontproperties(), fallback_to_default=False)
    charmap = FT2Font(font_path).get_charmap()
    used = {ch for text in all_texts(fig) for ch in text if not ch.isspace()}
    assert used <= {chr(code) for code in charmap}
    assert any(JA_CHAR.match(ch) for ch in used) == (lang == "ja")


def test_falls_back_to_english_labels_without_a_japanese_font(monkeypatch):
    monkeypatch.setattr(figures, "japanese_font", lambda: None)
    X, K, _ = case_tensors(CASES[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = d2l_tconv.plot_trans_conv(X, K, lang="ja")
        fig.savefig(io.BytesIO(), format="png")
    assert panels(fig)["input"][0].get_title() == "Input X"
    assert not any(JA_CHAR.search(text) for text in all_texts(fig))


def contrast(a, b) -> float:
    """WCAG contrast ratio of two colours."""

    def luminance(colour):
        rgb = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in mcolors.to_rgb(colour)
        ]
        return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]

    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("case_index", [1, 2])
def test_readable_in_light_and_dark_themes(case_index):
    """Opaque white background (a dark theme does not show through), dark readable text."""
    fig = figure(case_index, "en")
    assert mcolors.to_rgba(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    for ax in fig.axes:
        assert contrast(ax.title.get_color(), "white") >= 7
        for text in ax.texts:
            x, y = text.get_position()
            fill = cell_fill(ax, int(y), int(x))
            assert contrast(text.get_color(), fill) >= 4.5, (ax.get_gid(), text.get_text())
    for text in fig.texts:
        assert contrast(text.get_color(), "white") >= 7


def test_not_managed_by_pyplot():
    """A figure from pyplot would be shown a second time by the inline backend."""
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = d2l_tconv.plot_trans_conv(torch.ones(2, 2), torch.ones(2, 2))
    assert plt.get_fignums() == before
    assert isinstance(fig, Figure) and fig.canvas.manager is None
    assert matplotlib.rcParams["font.family"] == matplotlib.rcParamsDefault["font.family"]


def test_accepts_tensors_on_any_device_and_dtype(device):
    X = torch.tensor(BOOK_X, device=device)
    K = torch.tensor(BOOK_K, device=device, dtype=torch.float64)
    p = panels(d2l_tconv.plot_trans_conv(X.int(), K, stride=2))
    torch.testing.assert_close(grid(p["output"][0]), expected(X.cpu(), K.cpu(), 2)[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"X": torch.ones(1, 2, 2), "K": torch.ones(2, 2)}, "X must be a non-empty 2-D"),
        ({"X": torch.ones(2, 2), "K": torch.ones(0, 2)}, "K must be a non-empty 2-D"),
        ({"X": torch.ones(2, 2), "K": torch.ones(2, 2), "stride": 0}, "stride"),
        ({"X": torch.ones(2, 2), "K": torch.ones(2, 2), "stride": 1.5}, "stride"),
        ({"X": torch.ones(2, 2), "K": torch.ones(2, 2), "lang": "fr"}, "lang"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        d2l_tconv.plot_trans_conv(**kwargs)


# --- the figures of the notebooks -------------------------------------------------------------

FIGURE_CELLS = {"fig-trans-conv": 1, "fig-trans-conv-stride2": 2}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_notebook_figure_cells_draw_the_sections_tensors(lang, monkeypatch):
    """Figure 1 and 2 draw X and K of the section's cell In [3], at stride 1 and 2."""
    nb = nbformat.read(ROOT / "notebooks" / lang / "transposed_conv.ipynb", as_version=4)
    sources = {c.id: c.source for c in nb.cells}
    section = {"torch": torch, "device": torch.device("cpu")}
    exec(sources["in03-trans-conv-check"].rsplit("\n", 1)[0], section)  # defines X and K
    calls = []
    monkeypatch.setattr(d2l_tconv, "plot_trans_conv", lambda *a, **k: calls.append((a, k)))
    for cell_id, stride in FIGURE_CELLS.items():
        tree = ast.parse(sources[cell_id])
        exec(compile(tree, cell_id, "exec"), {"torch": torch, "d2l_tconv": d2l_tconv})
        (args, kwargs) = calls.pop()
        assert kwargs == {"stride": stride, "lang": lang}
        torch.testing.assert_close(args[0], section["X"])
        torch.testing.assert_close(args[1], section["K"])


# --- padding, output padding and the step view ------------------------------------------------

PADDED_CASES = [
    (BOOK_X, BOOK_K, 2, 1, 1),
    (BOOK_X, BOOK_K, 2, 0, 1),
    (BOOK_X, BOOK_K, 1, 1, 0),
    ("random", (3, 2), (3, 3), 3, 1, 2),
    ("random", (2, 3), (2, 2), 2, 2, 1),
]


def padded_case(case):
    if case[0] == "random":
        _, x_shape, k_shape, stride, padding, output_padding = case
        X, K, _ = case_tensors(("random", x_shape, k_shape, stride))
        return X, K, stride, padding, output_padding
    X, K, stride, padding, output_padding = case
    return torch.tensor(X), torch.tensor(K), stride, padding, output_padding


def conv_t(X, K, stride, padding=0, output_padding=0):
    """F.conv_transpose2d of 2-D tensors, float64."""
    return F.conv_transpose2d(X.double()[None, None], K.double()[None, None], stride=stride,
                              padding=padding, output_padding=output_padding)[0, 0]


def only_first(X: torch.Tensor, k: int) -> torch.Tensor:
    """``X`` with every element after the first ``k`` (row-major) set to zero."""
    flat = X.double().reshape(-1).clone()
    flat[k:] = 0
    return flat.reshape(X.shape)


def only_element(X: torch.Tensor, n: int) -> torch.Tensor:
    return only_first(X, n + 1) - only_first(X, n)


@pytest.mark.parametrize("case", PADDED_CASES)
def test_padding_and_output_padding_panels_show_the_computed_tensors(case):
    X, K, s, p, a = padded_case(case)
    fig = d2l_tconv.plot_trans_conv(X, K, stride=s, padding=p, output_padding=a)
    found = panels(fig)
    assert sorted(found) == ["input", "intermediate", "kernel", "output", "sum"]
    assert reading_order(fig.axes) == list(fig.axes)
    # before cropping: F.conv_transpose2d without padding, with the output padding's rows
    for n, ax in enumerate(found["intermediate"]):
        torch.testing.assert_close(grid(ax), conv_t(only_element(X, n), K, s, 0, a))
    torch.testing.assert_close(grid(found["sum"][0]), conv_t(X, K, s, 0, a))
    torch.testing.assert_close(grid(found["output"][0]), conv_t(X, K, s, p, a))
    operators = [t.get_text() for t in fig.texts if t is not fig._suptitle]
    assert operators == ["="] + ["+"] * (X.numel() - 1) + ["=", "→"]


@pytest.mark.parametrize("case", PADDED_CASES)
def test_cropped_border_and_added_rows_are_marked(case):
    X, K, s, p, a = padded_case(case)
    fig = d2l_tconv.plot_trans_conv(X, K, stride=s, padding=p, output_padding=a)
    (total,) = panels(fig)["sum"]
    H, W = grid(total).shape
    (kept,) = [patch for patch in total.patches if patch.get_gid() == "kept"]
    assert tuple(kept.get_xy()) == (p, p)
    assert (kept.get_height(), kept.get_width()) == (H - 2 * p, W - 2 * p)
    assert (H - 2 * p, W - 2 * p) == tuple(conv_t(X, K, s, p, a).shape)
    grey = figures._blend("#ffffff", figures._CROPPED_TINT, 0.5)
    for r in range(H):
        for c in range(W):
            cropped = min(r, c) < p or r >= H - p or c >= W - p
            added = r >= H - a or c >= W - a
            want = "#ffffff"
            if added:
                want = figures._ADDED
            if cropped:
                want = figures._blend(want, figures._CROPPED_TINT, 0.5)
            assert cell_fill(total, r, c) == want, (r, c)
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert (f"cropped by padding {p}" in labels) == bool(p)
    assert (f"added by output padding {a}" in labels) == bool(a)
    assert "kept: the output Y" in labels
    assert grey != "#ffffff"


@pytest.mark.parametrize("case", PADDED_CASES + [(BOOK_X, BOOK_K, 1, 0, 0)])
def test_step_view_adds_one_intermediate_tensor_at_a_time(case):
    X, K, s, p, a = padded_case(case)
    for k in range(1, X.numel() + 1):
        fig = d2l_tconv.plot_trans_conv(X, K, stride=s, padding=p, output_padding=a, step=k)
        found = panels(fig)
        assert [ax.get_gid() for ax in fig.axes] == [
            "input", "kernel", "intermediate", "sum", "output"]
        i, j = divmod(k - 1, X.shape[1])
        (current,) = [q for q in found["input"][0].patches if q.get_gid() == "current"]
        assert tuple(current.get_xy()) == (j, i)
        torch.testing.assert_close(grid(found["intermediate"][0]),
                                   conv_t(only_element(X, k - 1), K, s, 0, a))
        torch.testing.assert_close(grid(found["sum"][0]), conv_t(only_first(X, k), K, s, 0, a))
        torch.testing.assert_close(grid(found["output"][0]), conv_t(only_first(X, k), K, s, p, a))
        assert found["sum"][0].get_title() == f"Sum of {k} of {X.numel()}\nintermediate tensors"
    torch.testing.assert_close(grid(found["output"][0]), conv_t(X, K, s, p, a))


def test_step_view_titles_in_japanese():
    require_japanese_font()
    X, K = torch.tensor(BOOK_X), torch.tensor(BOOK_K)
    fig = d2l_tconv.plot_trans_conv(X, K, stride=2, lang="ja", padding=1, output_padding=1,
                                    step=2)
    found = panels(fig)
    assert found["sum"][0].get_title() == "中間テンソル 4 個のうち\n2 個の和"
    assert fig.get_suptitle() == "2×2 カーネル、ストライド 2、パディング 1、出力パディング 1 の転置畳み込み"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["パディング 1 で切り取る部分", "出力パディング 1 で加える行と列", "残る部分：出力 Y"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"padding": -1}, "padding must be an int >= 0"),
        ({"padding": 2}, "padding=2 is too large"),
        ({"output_padding": 2, "stride": 2}, "output_padding must be smaller than stride"),
        ({"step": 0}, "step must be None or an int from 1 to 4"),
        ({"step": 5}, "step must be None or an int from 1 to 4"),
    ],
)
def test_rejects_bad_padding_and_step(kwargs, message):
    with pytest.raises(ValueError, match=message):
        d2l_tconv.plot_trans_conv(torch.ones(2, 2), torch.ones(2, 2), **kwargs)


def test_kernel_matrix_figure_shows_w_and_its_pattern():
    K = torch.tensor(BOOK_K)
    W = d2l_tconv.kernel2matrix(K, (3, 3))
    pattern = d2l_tconv.kernel2matrix(torch.ones(2, 2), (3, 3)) != 0
    fig = figures.plot_kernel_matrix(W, pattern)
    (ax,) = fig.axes
    torch.testing.assert_close(grid(ax), W.double())
    for r in range(W.shape[0]):
        for c in range(W.shape[1]):
            assert (cell_fill(ax, r, c) != "#ffffff") == bool(pattern[r, c])


# --- what the tight bounding box measures ------------------------------------------------------

WIDE_X = [[1234.5, -0.125], [3.0, 100000.0]]  # numbers wider than their cells
WIDE_K = [[1.5, -2.0], [0.25, 7.0]]


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("X, K, kwargs", [
    (BOOK_X, BOOK_K, {"stride": 2, "padding": 1}),
    (WIDE_X, WIDE_K, {}),
    # cells so small (0.16 inches) that the font stops shrinking at 5 pt
    (torch.arange(6.0).reshape(2, 3) - 2, torch.ones(2, 2), {"stride": 4, "step": 6,
                                                             "max_width_inches": 2.0}),
])
def test_values_left_out_of_the_layout_lie_inside_their_panel(lang, X, K, kwargs):
    """Values inside their panel are not measured for the tight bounding box (what the inline
    backend saves): each lies inside its panel's box, and measuring every value as well gives
    the same box."""
    if lang == "ja":
        require_japanese_font()
    fig = d2l_tconv.plot_trans_conv(torch.as_tensor(X), torch.as_tensor(K), lang=lang, **kwargs)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    values = [text for ax in fig.axes for text in ax.texts]
    left_out = [text for text in values if not text.get_in_layout()]
    assert left_out
    if X is WIDE_X:
        assert len(left_out) < len(values)
    for text in left_out:
        inner, outer = text.get_window_extent(renderer), text.axes.get_window_extent(renderer)
        assert outer.x0 <= inner.x0 and inner.x1 <= outer.x1, text.get_text()
        assert outer.y0 <= inner.y0 and inner.y1 <= outer.y1, text.get_text()
    fast = fig.get_tightbbox(renderer).bounds
    for text in left_out:
        text.set_in_layout(True)
    assert fig.get_tightbbox(renderer).bounds == fast


# --- readable in an 800 px notebook column (issue 11) ----------------------------------------

COLUMN_PX = 800
MIN_LABEL_PX = 10


def png_size(b64: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(b64))).size


def text_artists(fig: Figure):
    found = list(fig.texts) + [fig._suptitle]
    for legend in fig.legends:
        found += legend.get_texts()
    for ax in fig.axes:
        found += [ax.title] + list(ax.texts)
    return [t for t in found if t is not None and t.get_text()]


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("cell_id, stride", FIGURE_CELLS.items())
def test_stored_figures_fit_an_800px_column_with_10px_labels(lang, cell_id, stride):
    """The stored PNG is shown at its own width (<= 800 px, so never shrunk), and every label
    of the figure drawn by that cell is at least 10 px tall at that width."""
    nb = nbformat.read(ROOT / "notebooks" / lang / "transposed_conv.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.id == cell_id]
    (output,) = [o for o in cell.outputs if "image/png" in o.get("data", {})]
    width, _ = png_size(output.data["image/png"])
    displayed = min(width, output.get("metadata", {}).get("image/png", {}).get("width", width),
                    COLUMN_PX)
    assert width <= COLUMN_PX, f"{cell_id} ({lang}) is {width} px wide"
    fig = d2l_tconv.plot_trans_conv(torch.tensor(BOOK_X), torch.tensor(BOOK_K), stride=stride,
                                    lang=lang)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")  # as the inline backend does
    redrawn, _ = Image.open(buffer).size
    assert abs(redrawn - width) <= 2, "the stored image is not this figure"
    scale = displayed / width
    for text in text_artists(fig):
        px = text.get_fontsize() * fig.dpi / 72 * scale
        assert px >= MIN_LABEL_PX, (text.get_text(), px)


@pytest.mark.parametrize("case", PADDED_CASES)
@pytest.mark.parametrize("step", [None, 1])
def test_same_size_in_both_languages(case, step):
    """The notebooks print each figure's size; it must not depend on the language."""
    require_japanese_font()
    X, K, s, p, a = padded_case(case)
    sizes = {
        lang: tuple(d2l_tconv.plot_trans_conv(X, K, stride=s, lang=lang, padding=p,
                                              output_padding=a, step=step).get_size_inches())
        for lang in ("ja", "en")
    }
    assert sizes["ja"] == sizes["en"]
