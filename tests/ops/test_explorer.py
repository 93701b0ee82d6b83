"""d2l_tconv.explore: the explorer driven from Python, checked against PyTorch.

The tests set the widgets' values as a reader would (sliders, drop-down, toggles), then read
what the explorer shows: the figure's pixels are compared with a figure drawn from the same
arguments, whose numbers are read back and compared with ``F.conv_transpose2d``; the
output-shape text, the ✓, the message for impossible combinations and the matrix view are
checked against PyTorch's own operators.
"""

from __future__ import annotations

import base64
import itertools
import re

import pytest
import torch
import torch.nn.functional as F
from test_figures import grid, panels, require_japanese_font

import d2l_tconv
from d2l_tconv import explorer, explorer_view
from d2l_tconv.explorer_view import RANGES, TEXT, Controls

pytest.importorskip("ipywidgets")

BOOK = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
JA_CHAR = re.compile("[\u3040-\u30ff\u3400-\u9fff]")


def conv_t(X, K, s=1, p=0, a=0):
    return F.conv_transpose2d(X.double()[None, None], K.double()[None, None], stride=s,
                              padding=p, output_padding=a)[0, 0]


def set_controls(ex: explorer.Explorer, **values) -> None:
    """Set controls in the order a reader could (the stride before the output padding)."""
    order = ["values", "input_h", "input_w", "kernel_h", "kernel_w", "stride", "padding",
             "output_padding", "mode", "step", "matrix"]
    # the ranges of the output padding and the step follow the other controls: set them last
    later = {"output_padding", "step"}
    for group in ([n for n in order if n not in later], [n for n in order if n in later]):
        group = [name for name in group if name in values]
        if not group:  # nothing to set: no second drawing of the same view
            continue
        with ex.hold():
            for name in group:
                (ex.sliders.get(name) or getattr(ex, name)).value = values[name]
    for name, value in values.items():  # the explorer kept them (all are within range)
        assert (ex.sliders.get(name) or getattr(ex, name)).value == value, name


def shown_output(ex: explorer.Explorer) -> torch.Tensor:
    """The numbers of the output panel of the figure the explorer shows.

    The shown PNG must be exactly the figure ``plot_trans_conv`` draws for the explorer's
    tensors and controls; the numbers are read from that figure.
    """
    c = ex.controls()
    step = c.step
    if step is None and ex.view.X.numel() > explorer_view.MAX_PANELS:
        step = ex.view.X.numel()  # too many panels: the last step, with a note
        assert f"{step} intermediate tensors are too many" in ex.check.value
    fig = d2l_tconv.plot_trans_conv(ex.view.X, ex.view.K, c.stride, ex.lang, padding=c.padding,
                                    output_padding=c.output_padding, step=step)
    assert ex.figure.value == explorer._png(fig)
    return grid(panels(fig)["output"][0])


def shape_numbers(ex: explorer.Explorer) -> tuple[int, int]:
    """The output height and width that the formula lines end with."""
    lines = re.findall(r"<code>(.*?)</code>", ex.shape.value)
    height, width = (int(line.rsplit("=", 1)[1]) for line in lines[:2])
    shape = tuple(int(n) for n in re.findall(r"(\d+) × (\d+)$", lines[2])[0])
    assert shape == (height, width)
    return height, width


@pytest.fixture(scope="module")
def ex_en():
    return d2l_tconv.explore(lang="en")


def test_default_view_is_the_sections_example(ex_en):
    ex_en.values.value = "section"
    set_controls(ex_en, stride=1, padding=0, mode="all", matrix=False)
    torch.testing.assert_close(shown_output(ex_en), conv_t(BOOK, BOOK))
    assert shape_numbers(ex_en) == (3, 3)
    assert ex_en.check.value.count("✓") == 1
    assert ex_en.message.layout.display == "none"
    assert all(ex_en.sliders[n].disabled for n in ("input_h", "input_w", "kernel_h", "kernel_w"))


SETTINGS = [
    {"values": "section", "stride": 2},
    {"values": "section", "stride": 2, "padding": 1, "output_padding": 1},
    {"values": "random", "input_h": 3, "input_w": 2, "kernel_h": 3, "kernel_w": 2, "stride": 3,
     "padding": 1, "output_padding": 2},
    {"values": "ones", "input_h": 1, "input_w": 4, "kernel_h": 5, "kernel_w": 1, "stride": 4,
     "padding": 2, "output_padding": 3},
    {"values": "random", "input_h": 6, "input_w": 6, "kernel_h": 5, "kernel_w": 5, "stride": 4,
     "padding": 3, "output_padding": 0},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_shown_result_and_shape_equal_pytorch(ex_en, settings):
    set_controls(ex_en, mode="all", matrix=False, **settings)
    c = ex_en.controls()
    X, K = ex_en.view.X, ex_en.view.K
    if settings["values"] == "section":
        torch.testing.assert_close(X, BOOK.double())
    elif settings["values"] == "ones":
        assert bool((X == 1).all()) and bool((K == 1).all())
    else:
        assert X.shape == (c.input_h, c.input_w) and K.shape == (c.kernel_h, c.kernel_w)
        assert bool((X == X.round()).all()) and X.abs().max() <= 4
    want = conv_t(X, K, c.stride, c.padding, c.output_padding)
    torch.testing.assert_close(shown_output(ex_en), want)
    assert shape_numbers(ex_en) == tuple(want.shape)
    assert "✓ equals F.conv_transpose2d" in ex_en.check.value


def test_step_control_adds_one_intermediate_tensor_at_a_time(ex_en):
    set_controls(ex_en, values="random", input_h=2, input_w=3, kernel_h=2, kernel_w=3, stride=2,
                 padding=1, output_padding=1, mode="step")
    assert not ex_en.step.disabled and not ex_en.play.disabled
    assert ex_en.step.max == ex_en.play.max == 6
    X, K = ex_en.view.X, ex_en.view.K
    for k in range(1, 7):
        ex_en.step.value = k
        first_k = X.reshape(-1).clone()
        first_k[k:] = 0
        torch.testing.assert_close(shown_output(ex_en), conv_t(first_k.reshape(X.shape), K, 2, 1, 1))
        assert ("adds 6 of the 6" not in ex_en.check.value) and (
            (f"adds {k} of the 6" in ex_en.check.value) == (k < 6))
    # fewer input elements: the step stays within range
    ex_en.sliders["input_w"].value = 1
    assert ex_en.step.max == 2 and ex_en.step.value == 2
    ex_en.mode.value = "all"
    assert ex_en.step.disabled and ex_en.play.disabled


def test_output_padding_stays_below_the_stride(ex_en):
    set_controls(ex_en, values="ones", stride=4, padding=0, output_padding=3)
    assert ex_en.sliders["output_padding"].max == 3
    ex_en.sliders["stride"].value = 2
    assert ex_en.sliders["output_padding"].max == 1
    assert ex_en.sliders["output_padding"].value == 1
    ex_en.sliders["stride"].value = 1
    assert ex_en.sliders["output_padding"].value == 0 and ex_en.sliders["output_padding"].disabled


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_padding_that_crops_everything_shows_a_message(lang):
    ex = d2l_tconv.explore(lang=lang)
    set_controls(ex, values="ones", input_h=1, input_w=1, kernel_h=2, kernel_w=2, stride=1,
                 padding=1)  # before cropping 2×2: padding 1 leaves nothing
    assert ex.message.layout.display != "none"
    assert 'role="alert"' in ex.message.value
    for widget in (ex.figure, ex.shape, ex.check, ex.matrix_box):
        assert widget.layout.display == "none"
    if lang == "en":
        assert "Impossible: padding 1 crops the whole output" in ex.message.value
        assert "at most 0" in ex.message.value
    else:
        assert "パディング 1 では出力がすべて切り取られます" in ex.message.value
    with pytest.raises(RuntimeError):  # PyTorch refuses the same combination
        conv_t(torch.ones(1, 1), torch.ones(2, 2), 1, 1)
    ex.sliders["padding"].value = 0  # back to a possible one: the figure returns
    assert ex.message.layout.display == "none" and ex.figure.layout.display is None
    torch.testing.assert_close(shown_output(ex), conv_t(torch.ones(1, 1), torch.ones(2, 2)))


def test_impossible_exactly_when_pytorch_refuses():
    """Over every stride, padding and output padding and many sizes, the view shows a
    message exactly when F.conv_transpose2d raises, and otherwise its result."""
    for n, k, s, p in itertools.product((1, 2, 6), (1, 3, 5), range(1, 5), range(4)):
        for a in range(s):
            controls = Controls(input_h=n, input_w=n, kernel_h=k, kernel_w=k, stride=s,
                                padding=p, output_padding=a, values="ones")
            view = explorer_view.explorer_view(controls)
            try:
                want = conv_t(torch.ones(n, n), torch.ones(k, k), s, p, a)
            except RuntimeError:
                assert not view.ok, controls
                assert "crops the whole output" in view.message
                continue
            assert view.ok, (controls, view.message)
            torch.testing.assert_close(view.result, want)
            assert view.matches


def test_output_padding_not_below_stride_is_a_message_not_a_traceback():
    view = explorer_view.explorer_view(Controls(stride=2, output_padding=2), "ja")
    assert "出力パディングはストライドより小さくなければなりません" in view.message
    with pytest.raises(RuntimeError):
        conv_t(BOOK, BOOK, 2, 0, 2)


def test_matrix_view_is_the_convolution_whose_transpose_we_apply(ex_en):
    set_controls(ex_en, values="random", input_h=2, input_w=3, kernel_h=3, kernel_w=2, stride=2,
                 padding=1, output_padding=1, mode="all", matrix=True)
    view = ex_en.view
    assert ex_en.matrix_box.layout.display is None
    X, K, W = view.X, view.K, view.W
    Y = conv_t(X, K, 2, 1, 1)
    # W is the matrix of the convolution from Y's shape to X's shape ...
    Z = torch.randn(Y.shape, dtype=torch.float64)
    conv = F.conv2d(Z[None, None], K[None, None], stride=2, padding=1)[0, 0]
    torch.testing.assert_close(W @ Z.reshape(-1), conv.reshape(-1))
    # ... and Wᵀ applied to the flattened input is the transposed convolution.
    torch.testing.assert_close(view.matrix_product, Y)
    torch.testing.assert_close((W.T @ X.reshape(-1)).reshape(Y.shape), Y)
    assert f"{W.shape[0]}×{W.shape[1]}" in ex_en.matrix_text.value
    assert "✓ equals the output of the transposed convolution" in ex_en.matrix_text.value
    # the pattern marks where kernel entries sit, whatever their value
    ones = d2l_tconv.kernel2matrix(torch.ones_like(K), Y.shape, stride=2, padding=1)
    assert torch.equal(view.W_pattern, ones != 0)
    fig = view.matrix_figure()
    assert ex_en.matrix_figure.value == explorer._png(fig)
    torch.testing.assert_close(grid(fig.axes[0]), W)
    ex_en.matrix.value = False
    assert ex_en.matrix_box.layout.display == "none"


def test_your_own_x_and_k():
    X, K = torch.arange(6.0).reshape(2, 3), torch.tensor([[1.0, -1.0]])
    ex = d2l_tconv.explore(X, K)
    assert ex.values.options[0] == ("your X and K", "section")
    assert (ex.sliders["input_h"].value, ex.sliders["input_w"].value) == (2, 3)
    assert (ex.sliders["kernel_h"].value, ex.sliders["kernel_w"].value) == (1, 2)
    ex.sliders["stride"].value = 3
    torch.testing.assert_close(shown_output(ex), conv_t(X, K, 3))


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((torch.ones(7, 2),), {}, "X must have a height and a width from 1 to 6"),
        ((None, torch.ones(2, 6)), {}, "K must have a height and a width from 1 to 5"),
        (([[1.0]],), {}, "X must be a 2-D torch.Tensor"),
        ((), {"lang": "fr"}, "lang must be one of"),
    ],
)
def test_bad_arguments_name_the_argument(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        d2l_tconv.explore(*args, **kwargs)


def test_bad_controls_name_the_control():
    with pytest.raises(ValueError, match="stride must be an int from 1 to 4"):
        explorer_view.explorer_view(Controls(stride=5))
    with pytest.raises(ValueError, match="values must be one of"):
        explorer_view.explorer_view(Controls(values="zeros"))


def test_every_text_in_both_languages():
    assert TEXT["ja"].keys() == TEXT["en"].keys()
    fields = re.compile(r"{(\w+)")
    for key in TEXT["en"]:
        assert set(fields.findall(TEXT["ja"][key])) == set(fields.findall(TEXT["en"][key])), key
    ja = " ".join(TEXT["ja"].values())
    for term in ("ストライド", "パディング", "出力パディング", "中間テンソル", "カーネル", "転置畳み込み"):
        assert term in ja
    # a space between Japanese text and Latin letters or digits (the notebooks' rule)
    for key, value in TEXT["ja"].items():
        assert not re.search(r"[\u3040-\u30ff\u3400-\u9fff][A-Za-z0-9{]", value), (key, value)
        assert not re.search(r"[A-Za-z0-9}][\u3040-\u30ff\u3400-\u9fff]", value), (key, value)


def test_japanese_ui_shows_only_japanese_labels():
    require_japanese_font()
    ex = d2l_tconv.explore(lang="ja")
    labels = [s.description for s in ex.sliders.values()] + [ex.values.description,
                                                              ex.step.description]
    labels += [label for label, _ in ex.values.options + ex.mode.options]
    labels += [ex.matrix.description]
    assert all(JA_CHAR.search(label) for label in labels), labels
    assert "出力の形状" in ex.shape.value and "と一致します" in ex.check.value


def test_the_stored_fallback_is_the_current_figure(ex_en):
    set_controls(ex_en, values="section", stride=2, padding=0, mode="all", matrix=False)
    bundle = ex_en._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == ex_en.figure.value
    assert "0x" not in bundle["text/plain"]  # no object address: stored outputs stay stable


def test_every_control_value_in_range_shows_something():
    """No control value in range raises: a figure or a message, for each step too."""
    for s, p in itertools.product(range(1, 5), range(4)):
        for a in range(s):
            for step in (None, 1, 4):
                view = explorer_view.explorer_view(
                    Controls(values="random", stride=s, padding=p, output_padding=a, step=step,
                             input_h=2, input_w=2, kernel_h=RANGES["kernel_h"][0], kernel_w=3,
                             matrix=True))
                assert view.ok or view.message


def test_each_figure_is_drawn_once(monkeypatch):
    """Setting controls to the values they have draws nothing; a figure shown before (the
    play button's next round, a slider moved back) is shown again without drawing it, and is
    the same picture; the matrix view leaves the figure alone."""
    drawn = []
    draw = explorer_view.plot_trans_conv
    monkeypatch.setattr(explorer_view, "plot_trans_conv",
                        lambda *args, **kwargs: drawn.append(kwargs) or draw(*args, **kwargs))
    ex = d2l_tconv.explore()
    first = ex.figure.value
    assert len(drawn) == 1
    with ex.hold():
        pass
    set_controls(ex, stride=1, padding=0, output_padding=0, mode="all")
    assert len(drawn) == 1
    ex.sliders["stride"].value = 2
    assert len(drawn) == 2 and ex.figure.value != first
    torch.testing.assert_close(shown_output(ex), conv_t(BOOK, BOOK, 2))
    ex.sliders["stride"].value = 1
    assert len(drawn) == 2 and ex.figure.value == first
    torch.testing.assert_close(shown_output(ex), conv_t(BOOK, BOOK))
    ex.matrix.value = True
    assert len(drawn) == 2 and ex.figure.value == first
