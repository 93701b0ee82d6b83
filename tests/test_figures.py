"""d2l_tconv.plot_trans_conv: what each figure shows, checked against PyTorch.

nbval does not compare images, so these tests read the figure itself: the panels (axes, by
``gid``), their titles, the numbers written in each cell (text artists) and the outlined
region of each intermediate tensor, and compare them with tensors computed independently
by ``F.conv_transpose2d``.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import warnings
from pathlib import Path

import matplotlib
import matplotlib.colors as mcolors
import nbformat
import pytest
import torch
import torch.nn.functional as F
from conftest import skip_or_fail
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

import d2l_tconv
from d2l_tconv import figures

ROOT = Path(__file__).resolve().parents[1]
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
    (fill,) = [
        p.get_facecolor()
        for p in ax.patches
        if p.get_gid() != "region" and tuple(p.get_xy()) == (c, r) and p.get_width() == 1
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
