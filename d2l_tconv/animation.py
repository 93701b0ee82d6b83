"""Step-by-step animations of the transposed convolution that play offline.

:func:`animate` returns a :class:`TransConvAnimation`: frame ``k`` is the figure
``plot_trans_conv(X, K, ..., step=k + 1)`` (the ``k + 1``-th intermediate tensor, the sum of
the first ``k + 1`` and that sum cropped). In a notebook it shows as JavaScript-HTML from
:mod:`matplotlib.animation` with the frames embedded as PNG (play, pause, step and a slider;
no server, no network), and ``save("steps.gif")`` writes a GIF.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import re

import numpy as np
import torch
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.figure import Figure
from PIL import Image

from .figures import plot_trans_conv, trans_conv_intermediates

__all__ = ["TransConvAnimation", "animate"]

# matplotlib's player draws its buttons with Font Awesome icons loaded from a CDN, which an
# offline notebook cannot reach: the buttons get plain characters instead.
_FONT_AWESOME_LINK = re.compile(r'<link rel="stylesheet"\s*href="https?://[^"]*font-awesome[^"]*">')
_ICONS = {  # characters that common fonts have (DejaVu Sans, Noto, system UI fonts)
    "fa fa-minus": "−",
    "fa fa-fast-backward": "|◀\ufe0e◀\ufe0e",
    "fa fa-step-backward": "|◀\ufe0e",
    "fa fa-play fa-flip-horizontal": "◀\ufe0e",
    "fa fa-pause": "▮▮",
    "fa fa-play": "▶\ufe0e",
    "fa fa-step-forward": "▶\ufe0e|",
    "fa fa-fast-forward": "▶\ufe0e▶\ufe0e|",
    "fa fa-plus": "+",
}

# The player's own words (button titles, repetition modes) in Japanese.
_JAPANESE = {
    "Decrease speed": "遅く",
    "First frame": "最初のフレーム",
    "Previous frame": "前のフレーム",
    "Play backwards": "逆再生",
    "Pause": "一時停止",
    "Play": "再生",
    "Next frame": "次のフレーム",
    "Last frame": "最後のフレーム",
    "Increase speed": "速く",
    "Repetition mode": "繰り返し方",
    "Once": "1 回",
    "Loop": "繰り返す",
    "Reflect": "往復",
}


def _in_japanese(page: str) -> str:
    """The player's button titles and labels in Japanese."""
    for en, ja in _JAPANESE.items():
        page = page.replace(f'title="{en}" aria-label="{en}"', f'title="{ja}" aria-label="{ja}"')
        page = re.sub(rf'(<label for="_anim_radio\d_\w+">){en}(</label>)', rf"\g<1>{ja}\2", page)
    return page


def _offline(page: str, still: bytes) -> str:
    """``page`` (matplotlib's JS-HTML) with no reference to a network resource, and with
    ``still`` (PNG) as the image shown where no script runs (an untrusted notebook, GitHub)."""
    page = _FONT_AWESOME_LINK.sub("", page)
    for icon, text in _ICONS.items():
        page = page.replace(f'<i class="{icon}"></i>', f'<span aria-hidden="true">{text}</span>')
    source = "data:image/png;base64," + base64.b64encode(still).decode("ascii")
    page, found = re.subn(r'<img id="(_anim_img\w+)">', rf'<img id="\1" src="{source}">', page)
    if found != 1:
        raise RuntimeError("matplotlib's player changed: no <img id=\"_anim_img...\"> found")
    return page


_players = itertools.count()


def _stable_ids(page: str) -> str:
    """``page`` with matplotlib's random player id (``uuid4().hex``) replaced by one made from
    the page's content and a count of players drawn in this process: a rebuilt notebook is
    byte-identical, and two players in one page still get different ids."""
    found = re.search(r'<img id="_anim_img([0-9a-f]{32})"', page)
    if found is None:
        raise RuntimeError("matplotlib's player changed: no <img id=\"_anim_img...\"> found")
    random_id = found.group(1)
    content = page.replace(random_id, "") + str(next(_players))
    return page.replace(random_id, hashlib.sha1(content.encode()).hexdigest()[:32])


class TransConvAnimation:
    """The frames of one transposed convolution, one per intermediate tensor.

    ``frame_figure(k)`` is frame ``k``'s figure (its panels carry the numbers);
    ``frame_image(k)`` the RGB pixels shown, ``(height, width, 3)`` ``uint8``, all frames
    padded with white to one size. ``to_jshtml()`` / ``_repr_html_`` give the player;
    ``save(path)`` a GIF.
    """

    def __init__(self, X, K, *, stride: int = 1, padding: int = 0, output_padding: int = 0,
                 lang: str = "en", interval: int = 1200, dpi: float = 100):
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"interval must be a positive int (milliseconds), got {interval!r}")
        self._kwargs = {"stride": stride, "lang": lang, "padding": padding,
                        "output_padding": output_padding, "dpi": dpi}
        first = plot_trans_conv(X, K, step=1, **self._kwargs)  # checks the other arguments
        self.X, self.K = X, K
        self.n_frames = len(trans_conv_intermediates(X, K, stride, output_padding))
        self.interval, self.dpi = interval, dpi
        images = [self._pixels(first)]
        images += [self._pixels(self.frame_figure(k)) for k in range(1, self.n_frames)]
        # one size for all frames, even (matplotlib's movie writers round odd sizes down)
        height = max(image.shape[0] for image in images)
        width = max(image.shape[1] for image in images)
        height, width = height + height % 2, width + width % 2
        self._images = []
        for image in images:
            padded = np.full((height, width, 3), 255, dtype=np.uint8)
            padded[: image.shape[0], : image.shape[1]] = image
            self._images.append(padded)

    def frame_figure(self, k: int) -> Figure:
        """Figure of frame ``k`` (``0 <= k < n_frames``): ``plot_trans_conv(..., step=k+1)``."""
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < self.n_frames:
            raise ValueError(f"k must be an int from 0 to {self.n_frames - 1}, got {k!r}")
        return plot_trans_conv(self.X, self.K, step=k + 1, **self._kwargs)

    def _pixels(self, fig: Figure) -> np.ndarray:
        """RGB pixels of a frame's figure, ``(height, width, 3)`` ``uint8``."""
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=self.dpi)
        return np.asarray(Image.open(buffer).convert("RGB"))

    def frame_image(self, k: int) -> np.ndarray:
        """RGB pixels of frame ``k``, ``(height, width, 3)`` ``uint8``."""
        return self._images[k]

    def _animation(self) -> FuncAnimation:
        """A matplotlib animation that shows each frame's pixels unscaled (``figimage``)."""
        height, width, _ = self._images[0].shape
        # (+0.25 px: the canvas size is rounded down to whole pixels)
        fig = Figure(figsize=((width + 0.25) / self.dpi, (height + 0.25) / self.dpi),
                     dpi=self.dpi, facecolor="white")
        image = fig.figimage(self._images[0], xo=0, yo=0, origin="upper", resize=False)

        def show(k):
            image.set_data(self._images[k])
            return (image,)

        return FuncAnimation(fig, show, frames=self.n_frames, interval=self.interval,
                             blit=False, repeat=True)

    def to_jshtml(self) -> str:
        """HTML with JavaScript controls and every frame embedded (plays offline). Where no
        script runs, the last frame (the complete output) is shown."""
        page = _stable_ids(_offline(self._animation().to_jshtml(default_mode="loop"),
                                    self._png(self.n_frames - 1)))
        return _in_japanese(page) if self._kwargs["lang"] == "ja" else page

    def _png(self, k: int) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(self._images[k]).save(buffer, format="png")
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        return self.to_jshtml()

    def save(self, path, fps: float | None = None) -> None:
        """Write the animation as a GIF (``fps`` defaults to one frame per ``interval``)."""
        fps = 1000 / self.interval if fps is None else fps
        self._animation().save(str(path), writer=PillowWriter(fps=fps), dpi=self.dpi)

    def __repr__(self) -> str:
        return (f"TransConvAnimation({self.n_frames} frames, X {tuple(torch.as_tensor(self.X).shape)}, "
                f"K {tuple(torch.as_tensor(self.K).shape)}, {self._kwargs})")


def animate(X, K, *, stride: int = 1, padding: int = 0, output_padding: int = 0,
            lang: str = "en", interval: int = 1200) -> TransConvAnimation:
    """Animate the transposed convolution of ``X`` (2-D) with ``K`` (2-D), one intermediate
    tensor per frame.

    Same arguments as ``F.conv_transpose2d`` (``stride``, ``padding``, ``output_padding``,
    ints) and :func:`d2l_tconv.plot_trans_conv` (``lang``); ``interval`` is the time per
    frame in milliseconds. The last expression of a notebook cell plays it; ``.save(path)``
    writes a GIF.
    """
    return TransConvAnimation(X, K, stride=stride, padding=padding,
                              output_padding=output_padding, lang=lang, interval=interval)
