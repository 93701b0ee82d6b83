"""d2l_tconv.animate: every frame's numbers against PyTorch, and what plays and is saved.

Frame ``k`` shows the ``k + 1``-th intermediate tensor, the sum of the first ``k + 1`` and
that sum cropped; each is compared with ``F.conv_transpose2d`` of the input with the later
elements set to zero. The pixels the player embeds and the GIF's frames are compared with
the frames' figures.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import torch
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from PIL import Image
from test_figures import conv_t, grid, only_element, only_first, panels

import d2l_tconv

BOOK = torch.tensor([[0.0, 1.0], [2.0, 3.0]])

CASES = [
    {"X": BOOK, "K": BOOK, "stride": 2},  # the notebooks' first animation
    {"X": BOOK, "K": torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 1.0], [2.0, 0.0, 1.0]]),
     "stride": 2, "padding": 1, "output_padding": 1},  # the notebooks' second animation
    {"X": torch.tensor([[1.0, -2.0, 3.0]]), "K": torch.tensor([[2.0], [1.0]]), "stride": 3,
     "padding": 0, "output_padding": 2},
]


@pytest.fixture(scope="module", params=range(len(CASES)))
def case(request):
    kwargs = dict(CASES[request.param])
    return kwargs, d2l_tconv.animate(**kwargs)


def test_every_frame_shows_the_computed_tensors(case):
    kwargs, anim = case
    X, K = kwargs["X"], kwargs["K"]
    s, p, a = kwargs["stride"], kwargs.get("padding", 0), kwargs.get("output_padding", 0)
    assert anim.n_frames == X.numel()
    for k in range(anim.n_frames):
        found = panels(anim.frame_figure(k))
        torch.testing.assert_close(grid(found["input"][0]), X.double())
        torch.testing.assert_close(grid(found["kernel"][0]), K.double())
        torch.testing.assert_close(grid(found["intermediate"][0]),
                                   conv_t(only_element(X, k), K, s, 0, a))
        torch.testing.assert_close(grid(found["sum"][0]), conv_t(only_first(X, k + 1), K, s, 0, a))
        torch.testing.assert_close(grid(found["output"][0]),
                                   conv_t(only_first(X, k + 1), K, s, p, a))
    torch.testing.assert_close(grid(found["output"][0]), conv_t(X, K, s, p, a))


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_each_frame_shows_its_figure_unscaled(case):
    _, anim = case
    for k in range(anim.n_frames):
        buffer = io.BytesIO()
        anim.frame_figure(k).savefig(buffer, format="png", dpi=anim.dpi)
        drawn = png_pixels(buffer.getvalue())
        h, w, _ = drawn.shape
        shown = anim.frame_image(k)
        assert np.array_equal(shown[:h, :w], drawn)
        assert (shown[h:] == 255).all() and (shown[:, w:] == 255).all()  # white padding only


def test_player_embeds_every_frame_and_plays_offline(case):
    _, anim = case
    page = anim._repr_html_()
    frames = re.findall(r"frames\[\d+\] = \"data:image/png;base64,([^\"]+)\"", page)
    assert len(frames) == anim.n_frames
    for k, frame in enumerate(frames):
        pixels = png_pixels(base64.b64decode(frame.replace("\\n", "")))
        assert np.array_equal(pixels, anim.frame_image(k))
    # where no script runs, the image shows the last frame (the complete output)
    (still,) = re.findall(r'<img id="_anim_img\w+" src="data:image/png;base64,([^"]+)"', page)
    assert np.array_equal(png_pixels(base64.b64decode(still)),
                          anim.frame_image(anim.n_frames - 1))
    # no server, no network: nothing is loaded from elsewhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "http" not in page.replace("http-equiv", "") and 'class="fa ' not in page
    for label in ("Play", "Pause", "First frame", "Last frame"):
        assert f'title="{label}"' in page
    # the buttons' characters exist in a common font (no empty boxes)
    dejavu = FT2Font(font_manager.findfont("DejaVu Sans")).get_charmap()
    buttons = re.findall(r'<span aria-hidden="true">([^<]+)</span>', page)
    assert len(buttons) == 9
    for ch in "".join(buttons).replace("\ufe0e", ""):
        assert ord(ch) in dejavu, f"U+{ord(ch):04X}"
    assert "<script" in page and "anim" in page


def test_saves_a_gif_with_every_frame(case, tmp_path):
    _, anim = case
    path = tmp_path / "steps.gif"
    anim.save(path)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == anim.n_frames
        h, w, _ = anim.frame_image(0).shape
        assert gif.size == (w, h)
        for k in range(gif.n_frames):
            gif.seek(k)
            pixels = np.asarray(gif.convert("RGB"), dtype=np.int16)
            # GIF has a 256-colour palette: the frame matches up to quantisation
            assert np.abs(pixels - anim.frame_image(k)).mean() < 3


def test_japanese_frames():
    from test_figures import require_japanese_font

    require_japanese_font()
    anim = d2l_tconv.animate(BOOK, BOOK, stride=2, lang="ja")
    fig = anim.frame_figure(3)
    assert panels(fig)["sum"][0].get_title() == "中間テンソル 4 個のうち\n4 個の和"
    page = anim.to_jshtml()
    for title in ("再生", "一時停止", "最初のフレーム", "最後のフレーム", "繰り返し方"):
        assert f'title="{title}" aria-label="{title}"' in page
    labels = re.findall(r'<label for="_anim_radio\d_\w+">([^<]+)</label>', page)
    assert labels == ["1 回", "繰り返す", "往復"]
    assert not re.search(r'title="[A-Z]', page)


@pytest.fixture(scope="module")
def book_animation():
    return d2l_tconv.animate(BOOK, BOOK)


def test_repr_is_stable(book_animation):
    assert "0x" not in repr(book_animation)


def test_rejects_a_frame_out_of_range(book_animation):
    with pytest.raises(ValueError, match="k must be an int from 0 to 3"):
        book_animation.frame_figure(4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"padding": 2}, "padding=2 is too large"),
        ({"stride": 2, "output_padding": 2}, "output_padding must be smaller than stride"),
        ({"stride": 0}, "stride must be a positive int"),
        ({"interval": 0}, "interval must be a positive int"),
        ({"lang": "de"}, "lang must be one of"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        d2l_tconv.animate(BOOK, BOOK, **kwargs)
