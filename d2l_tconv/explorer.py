"""The interactive explorer: ipywidgets controls wired to :func:`explorer_view`.

``d2l_tconv.explore(lang="ja")`` in a notebook cell shows sliders for the input and kernel
sizes, the stride, the padding and the output padding, a choice of input values, a step
control with a play button, the figure, the output-shape formula with the numbers filled in,
a ✓ against ``F.conv_transpose2d`` and, on a toggle, the matrix view. It uses only the
widgets that ipywidgets itself ships (Colab has them; no other front-end extension).

What is shown for given control values is decided by :mod:`d2l_tconv.explorer_view`; this
module only builds the widgets and copies the view into them.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
from dataclasses import replace

import ipywidgets as widgets
import torch

from .explorer_view import RANGES, TEXT, Controls, ExplorerView, explorer_view

__all__ = ["Explorer", "explore"]

# PNGs of figures kept per explorer (up to about 0.3 MB each): one round of the play
# button's steps (at most 36) and a few settings to move back to.
_KEPT_FIGURES = 48
_MESSAGE_STYLE = (
    "border-left: 4px solid #b00020; background: #fff0f0; color: #5c0011; padding: 6px 10px;"
)


def _png(fig) -> bytes:
    """PNG bytes of ``fig`` as the notebook's inline backend would show it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _check_matrix(name: str, value, limits: tuple[int, int], what: str) -> torch.Tensor | None:
    if value is None:
        return None
    if not isinstance(value, torch.Tensor) or value.dim() != 2:
        raise ValueError(f"{name} must be a 2-D torch.Tensor {what}, got {value!r:.80}")
    low, high = limits
    if not all(low <= size <= high for size in value.shape):
        raise ValueError(f"{name} must have a height and a width from {low} to {high} (the "
                         f"explorer's range), got shape {tuple(value.shape)}")
    return value.detach().to("cpu", torch.float64)


class Explorer(widgets.VBox):
    """The explorer's widgets. ``sliders`` maps each integer control to its slider; the other
    controls are ``values``, ``mode``, ``step``, ``play`` and ``matrix``. ``view`` is the
    :class:`ExplorerView` currently shown."""

    def __init__(self, X: torch.Tensor | None = None, K: torch.Tensor | None = None,
                 lang: str = "en"):
        if lang not in TEXT:
            raise ValueError(f"lang must be one of {sorted(TEXT)}, got {lang!r}")
        self.lang, text = lang, TEXT[lang]
        self._X = _check_matrix("X", X, RANGES["input_h"], "(the input)")
        self._K = _check_matrix("K", K, RANGES["kernel_h"], "(the kernel)")
        style = {"description_width": "initial"}
        self.sliders = {
            name: widgets.IntSlider(value=1 if name == "stride" else (0 if name == "padding"
                                                                        else 2),
                                    min=low, max=high, description=text[name], style=style,
                                    continuous_update=False)
            for name, (low, high) in RANGES.items()
        }
        self.sliders["output_padding"] = widgets.IntSlider(
            value=0, min=0, max=0, description=text["output_padding"], style=style,
            continuous_update=False)
        section_label = text["given"] if (X is not None or K is not None) else text["section"]
        self.values = widgets.Dropdown(
            options=[(section_label, "section"), (text["random"], "random"),
                     (text["ones"], "ones")],
            value="section", description=text["values"], style=style)
        self.mode = widgets.ToggleButtons(
            options=[(text["mode_all"], "all"), (text["mode_step"], "step")], value="all",
            style={"button_width": "auto"})
        self.step = widgets.IntSlider(value=1, min=1, max=4, description=text["step"],
                                      style=style, disabled=True)
        self.play = widgets.Play(value=1, min=1, max=4, interval=900, disabled=True)
        widgets.jslink((self.play, "value"), (self.step, "value"))
        self.matrix = widgets.ToggleButton(value=False, description=text["matrix"])

        # shown at its own size (never stretched to the output's width), shrunk if needed
        natural = {"max_width": "100%", "width": "auto", "align_self": "flex-start"}
        self.figure = widgets.Image(format="png", layout=widgets.Layout(**natural))
        self.shape = widgets.HTML()
        self.check = widgets.HTML()
        self.message = widgets.HTML()
        self.matrix_text = widgets.HTML()
        self.matrix_figure = widgets.Image(format="png", layout=widgets.Layout(**natural))
        self.matrix_box = widgets.VBox([self.matrix_text, self.matrix_figure])
        self.view: ExplorerView | None = None

        s = self.sliders
        controls = widgets.HBox([
            widgets.VBox([s["input_h"], s["input_w"], s["kernel_h"], s["kernel_w"]]),
            widgets.VBox([s["stride"], s["padding"], s["output_padding"], self.values]),
        ])
        stepper = widgets.HBox([self.mode, self.play, self.step])
        super().__init__([controls, stepper, self.matrix, self.message, self.figure, self.shape,
                          self.check, self.matrix_box])
        # CSS classes name the parts for a browser (tests/notebooks/test_browser.py)
        self.add_class("d2l-tconv-explorer")
        for name in ("figure", "shape", "check", "message", "matrix_box"):
            getattr(self, name).add_class(f"d2l-tconv-{name.replace('_', '-')}")
        self.sliders["stride"].add_class("d2l-tconv-stride")

        self._updating = self._changes_held = False
        self._pngs: dict[Controls, bytes] = {}
        for widget in [*self.sliders.values(), self.values, self.mode, self.step, self.matrix]:
            widget.observe(self._changed, names="value")
        self._changed()

    def controls(self) -> Controls:
        """The current control values."""
        values = {name: slider.value for name, slider in self.sliders.items()}
        step = self.step.value if self.mode.value == "step" else None
        return Controls(**values, values=self.values.value, step=step,
                        matrix=self.matrix.value)

    @contextlib.contextmanager
    def hold(self):
        """Change several controls at once: the view is computed once, on leaving (not at all
        when no control changed)."""
        held, self._updating = self._updating, True
        try:
            yield self
        finally:
            self._updating = held
        if self._changes_held:
            self._changed()

    def _changed(self, change=None) -> None:
        if self._updating:
            self._changes_held = True
            return
        self._updating = True
        try:
            self._sync_controls()
            self.refresh()
        finally:
            self._updating = self._changes_held = False

    def _sync_controls(self) -> None:
        """Keep the controls consistent: output padding below the stride, the sizes of the
        section's tensors, the step within the number of intermediate tensors."""
        s = self.sliders
        op = s["output_padding"]
        op.max = s["stride"].value - 1
        op.value = min(op.value, op.max)
        op.disabled = op.max == 0
        fixed = self.values.value == "section"
        if fixed:
            X = self._X if self._X is not None else torch.zeros(2, 2)
            K = self._K if self._K is not None else torch.zeros(2, 2)
            s["input_h"].value, s["input_w"].value = X.shape
            s["kernel_h"].value, s["kernel_w"].value = K.shape
        for name in ("input_h", "input_w", "kernel_h", "kernel_w"):
            s[name].disabled = fixed
        n = s["input_h"].value * s["input_w"].value
        stepping = self.mode.value == "step"
        self.step.max = self.play.max = n
        self.step.value = min(self.step.value, n)
        self.step.disabled = self.play.disabled = not stepping

    def refresh(self) -> ExplorerView:
        """Compute the view for the current controls and show it."""
        view = explorer_view(self.controls(), self.lang, self._X, self._K)
        self.view = view
        if not view.ok:
            self.message.value = f'<div role="alert" style="{_MESSAGE_STYLE}">' \
                                 f"{html.escape(view.message)}</div>"
            self.message.layout.display = None
            for widget in (self.figure, self.shape, self.check, self.matrix_box):
                widget.layout.display = "none"
            return view
        self.message.value = ""
        self.message.layout.display = "none"
        self.figure.value = self._figure_png(view)
        self.figure.layout.display = None
        self.shape.value = "<br>".join(f"<code>{html.escape(line)}</code>"
                                       for line in view.shape_lines)
        self.shape.layout.display = None
        check = html.escape(view.check_text)
        colour = "#0a6b2a" if view.matches else "#b00020"
        note = f"<br>{html.escape(view.note)}" if view.note else ""
        self.check.value = f'<span style="color: {colour}; font-weight: bold;">{check}</span>' \
                           f"{note}"
        self.check.layout.display = None
        if view.W is not None:
            self.matrix_text.value = "<br>".join(html.escape(line)
                                                 for line in view.matrix_lines[:1])
            product = html.escape(view.matrix_lines[1]) + "<pre>" + html.escape(
                _format_tensor(view.matrix_product)) + "</pre>" + html.escape(
                view.matrix_lines[2])
            self.matrix_text.value += "<br>" + product
            self.matrix_figure.value = _png(view.matrix_figure())
            self.matrix_box.layout.display = None
        else:
            self.matrix_box.layout.display = "none"
        return view

    def _figure_png(self, view: ExplorerView) -> bytes:
        """PNG of ``view``'s figure, drawn once per figure: the last :data:`_KEPT_FIGURES`
        are kept, so that moving a control back, or the play button's next round of steps,
        shows them without drawing them again. (The tensors, the language and the seed of
        the random values are fixed per explorer: the controls that the figure depends on
        name it.)"""
        key = replace(view.controls, matrix=False, step=view.figure_step)
        png = self._pngs.pop(key, None) or _png(view.figure())
        self._pngs[key] = png  # the most recently shown last
        if len(self._pngs) > _KEPT_FIGURES:
            del self._pngs[next(iter(self._pngs))]
        return png

    def _repr_mimebundle_(self, **kwargs):
        """The widget, plus the current figure as a still image for viewers without widgets."""
        data = super()._repr_mimebundle_(**kwargs)
        if self.figure.value:
            data["image/png"] = base64.b64encode(self.figure.value).decode("ascii")
        data["text/plain"] = "d2l_tconv.explore(): " + (
            "run the cell in JupyterLab or Colab to use the controls" if self.lang == "en"
            else "JupyterLab か Colab でセルを実行すると操作できます")
        return data


def _format_tensor(T: torch.Tensor) -> str:
    """Rows of ``T`` with integer-looking values written without decimals."""
    cells = [["0" if float(v) == 0 else f"{float(v):g}" for v in row] for row in T]
    width = max(len(c) for row in cells for c in row)
    return "\n".join(" ".join(c.rjust(width) for c in row) for row in cells)


def explore(X: torch.Tensor | None = None, K: torch.Tensor | None = None, *,
            lang: str = "en") -> Explorer:
    """An interactive explorer of the transposed convolution (an ipywidgets ``VBox``).

    Args:
        X: optional 2-D input, at most 6×6, used for the value choice "your X and K"
            instead of the section's ``X``.
        K: optional 2-D kernel, at most 5×5, likewise.
        lang: ``"en"`` or ``"ja"``: the language of every label and message.

    Returns:
        An :class:`Explorer`; the last expression of a cell displays it.
    """
    return Explorer(X, K, lang)
