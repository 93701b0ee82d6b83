"""trans_conv and trans_conv_loop against F.conv_transpose2d, and as the gradient of F.conv2d.

Inputs hold small integers in float tensors, so every sum is exact and results are compared with
``torch.equal``; random real-valued inputs (float64) are compared with ``assert_close``. Each of
trans_conv's strategies (sub-pixel convolution, phases by one matrix product, F.fold) is tested on
its own (forced), whole and in chunks, in float32, float64, bfloat16 and float16; the pathological
shapes of the old code (huge strides, huge kernels) are checked to take a bounded number of
PyTorch operations (counted with torch.profiler, never timed); float16 / bfloat16 results are
compared with PyTorch's own error against a float64 reference.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from benchmarks._timing import aten_operations  # the benchmark's own operation counter
from d2l_tconv import _col2im, _gemm, _phase_gemm, trans_conv, trans_conv_loop, transposed

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def ints(shape, seed, device, dtype=torch.float32, low=-3, high=4):
    """A float tensor of small integers, made on the CPU from ``seed`` and moved to ``device``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, shape, generator=g).to(device=device, dtype=dtype)


def as_given(pair, style):
    """Pass a pair as PyTorch users would: an int when both entries agree, a tuple, or a list."""
    if style == "int" and pair[0] == pair[1]:
        return pair[0]
    return list(pair) if style == "list" else tuple(pair)


def with_layout(x, layout):
    """The same values as ``x`` in another memory layout."""
    if layout == "channels_last" and x.ndim == 4:
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "transposed":
        return x.transpose(-1, -2).contiguous().transpose(-1, -2)
    return x


@st.composite
def tconv_cases(draw, batched=True):
    """Shapes and hyper-parameters for which F.conv_transpose2d gives a non-empty output."""
    n = draw(st.integers(1, 3)) if batched else None
    c_in, c_out = (draw(st.integers(1, 4)), draw(st.integers(1, 4))) if batched else (None, None)
    size = [draw(st.integers(1, 6)) for _ in range(2)]
    kernel = [draw(st.integers(1, 5)) for _ in range(2)]
    stride = [draw(st.integers(1, 4)) for _ in range(2)]
    out_pad = [draw(st.integers(0, s - 1)) for s in stride]
    # keep (i - 1) s + k + a - 2p >= 1
    padding = [draw(st.integers(0, ((i - 1) * s + k + a - 1) // 2))
               for i, s, k, a in zip(size, stride, kernel, out_pad, strict=True)]
    style = draw(st.sampled_from(["int", "tuple", "list"]))
    return {
        "x_shape": (n, c_in, *size) if batched else tuple(size),
        "k_shape": (c_in, c_out, *kernel) if batched else tuple(kernel),
        "stride": as_given(stride, style),
        "padding": as_given(padding, style),
        "output_padding": as_given(out_pad, style),
        "layout": draw(st.sampled_from(["contiguous", "channels_last", "transposed"])),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def hyper(case):
    return {k: case[k] for k in ("stride", "padding", "output_padding")}


@SETTINGS
@given(case=tconv_cases(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_matches_conv_transpose2d_batched(device, case, dtype):
    X = with_layout(ints(case["x_shape"], case["seed"], device, dtype), case["layout"])
    K = with_layout(ints(case["k_shape"], case["seed"] + 1, device, dtype), case["layout"])
    Y = trans_conv(X, K, **hyper(case))
    expected = F.conv_transpose2d(X, K, **hyper(case))
    assert Y.device == X.device and Y.dtype == X.dtype
    assert torch.equal(Y, expected)


@SETTINGS
@given(case=tconv_cases(batched=False))
def test_matches_conv_transpose2d_2d(device, case):
    X = with_layout(ints(case["x_shape"], case["seed"], device), case["layout"])
    K = with_layout(ints(case["k_shape"], case["seed"] + 1, device), case["layout"])
    Y = trans_conv(X, K, **hyper(case))
    expected = F.conv_transpose2d(X[None, None], K[None, None], **hyper(case))[0, 0]
    assert Y.shape == expected.shape and Y.device == X.device
    assert torch.equal(Y, expected)


@SETTINGS
@given(case=tconv_cases())
def test_real_valued_inputs(device, case):
    g = torch.Generator().manual_seed(case["seed"])
    X = torch.randn(case["x_shape"], generator=g, dtype=torch.float64).to(device)
    K = torch.randn(case["k_shape"], generator=g, dtype=torch.float64).to(device)
    assert_close(trans_conv(X, K, **hyper(case)), F.conv_transpose2d(X, K, **hyper(case)))


def assert_pytorchs_gradients(device, case) -> None:
    """trans_conv's gradients for X and K equal F.conv_transpose2d's (integer values, float64)."""
    X = ints(case["x_shape"], case["seed"], device, torch.float64).requires_grad_()
    K = ints(case["k_shape"], case["seed"] + 1, device, torch.float64).requires_grad_()
    expected = F.conv_transpose2d(X, K, **hyper(case))
    G = ints(expected.shape, case["seed"] + 2, device, torch.float64)
    ours = torch.autograd.grad(trans_conv(X, K, **hyper(case)), (X, K), G)
    theirs = torch.autograd.grad(expected, (X, K), G)
    assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])


@SETTINGS
@given(case=tconv_cases())
def test_gradients_match_conv_transpose2d(device, case):
    assert_pytorchs_gradients(device, case)


@st.composite
def conv_cases(draw):
    """A convolution F.conv2d accepts: the kernel fits in the padded input."""
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kernel = [draw(st.integers(1, 5)) for _ in range(2)]
    padding = [draw(st.integers(0, 2)) for _ in range(2)]
    size = [draw(st.integers(max(1, k - 2 * p), 9)) for k, p in zip(kernel, padding, strict=True)]
    stride = [draw(st.integers(1, 4)) for _ in range(2)]
    return {"x_shape": (n, c_in, *size), "k_shape": (c_out, c_in, *kernel), "stride": stride,
            "padding": padding, "seed": draw(st.integers(0, 2**31 - 1))}


@SETTINGS
@given(case=conv_cases())
def test_is_the_gradient_of_conv2d(device, case):
    """trans_conv(y) is the vector-Jacobian product of conv2d: <W x, y> = <x, W^T y>.

    With ``a = (h + 2p - kh) mod s`` as output padding, trans_conv's output has x's shape.
    """
    s, p = case["stride"], case["padding"]
    x = ints(case["x_shape"], case["seed"], device, torch.float64).requires_grad_()
    K = ints(case["k_shape"], case["seed"] + 1, device, torch.float64)  # (C_out, C_in, kh, kw)
    y = F.conv2d(x, K, stride=s, padding=p)
    g = ints(y.shape, case["seed"] + 2, device, torch.float64)
    sizes = zip(x.shape[-2:], p, K.shape[-2:], s, strict=True)
    a = [(h + 2 * pp - k) % ss for h, pp, k, ss in sizes]
    # conv2d's weight (C_out, C_in, kh, kw) read as a transposed convolution's (C_in', C_out', ..)
    Wt_g = trans_conv(g, K, stride=s, padding=p, output_padding=a)
    (grad_x,) = torch.autograd.grad(y, x, g)
    assert torch.equal(Wt_g, grad_x)
    assert torch.equal((y * g).sum(), (x * Wt_g).sum())


@SETTINGS
@given(h=st.integers(1, 6), w=st.integers(1, 6), kh=st.integers(1, 4), kw=st.integers(1, 4),
       seed=st.integers(0, 2**31 - 1))
def test_trans_conv_loop_matches_conv_transpose2d(device, h, w, kh, kw, seed):
    X, K = ints((h, w), seed, device), ints((kh, kw), seed + 1, device)
    Y = trans_conv_loop(X, K)
    assert Y.device == X.device
    assert torch.equal(Y, F.conv_transpose2d(X[None, None], K[None, None])[0, 0])


def test_low_precision_dtypes(device):
    """float16 / bfloat16 in, same dtype out (small integers: every partial sum is exact)."""
    X = ints((2, 3, 5, 4), 0, device, low=-2, high=3)
    K = ints((3, 2, 3, 2), 1, device, low=-2, high=3)
    expected = F.conv_transpose2d(X, K, stride=2, padding=1, output_padding=1)
    for dtype in (torch.float16, torch.bfloat16):
        Y = trans_conv(X.to(dtype), K.to(dtype), stride=2, padding=1, output_padding=1)
        assert Y.dtype == dtype
        assert torch.equal(Y.float(), expected)


def test_empty_batch(device):
    X, K = torch.zeros(0, 3, 4, 5, device=device), torch.ones(3, 2, 3, 3, device=device)
    Y = trans_conv(X, K, stride=2, padding=1)
    assert Y.shape == F.conv_transpose2d(X, K, stride=2, padding=1).shape


def test_meta_tensors_stay_on_meta():
    """Nothing is moved or computed on another device: meta in, meta out, PyTorch's shape."""
    X, K = torch.empty(2, 3, 5, 7, device="meta"), torch.empty(3, 4, 3, 2, device="meta")
    hyper = {"stride": (2, 3), "padding": 1, "output_padding": (1, 0)}
    Y = trans_conv(X, K, **hyper)
    assert Y.device.type == "meta"
    assert Y.shape == F.conv_transpose2d(X, K, **hyper).shape


# --- both strategies, chunked or not -------------------------------------------------------------

STRATEGY_SETTINGS = settings(SETTINGS, max_examples=25)
# the sub-pixel convolution split into one F.conv2d per phase group, whatever it saves (into at
# most SUBPIXEL_MAX_CONVOLUTIONS convolutions), and however many groups there are
SUBPIXEL_SPLIT = {"FORCE_STRATEGY": "subpixel", "SUBPIXEL_MIN_SAVED_MULTIPLY_ADDS": 0,
                  "SUBPIXEL_COST_PER_COPY": 0, "SUBPIXEL_COST_PER_CONVOLUTION": 0,
                  "SUBPIXEL_MAX_SPLIT_FRACTION": 1.0}
SUBPIXEL_ALWAYS_SPLIT = {**SUBPIXEL_SPLIT, "SUBPIXEL_MAX_CONVOLUTIONS": 10**6}
STRATEGIES = {  # name: settings of d2l_tconv.transposed (module "transposed") or _phase_gemm
    "subpixel": {"FORCE_STRATEGY": "subpixel"},
    "subpixel, one convolution per phase group": SUBPIXEL_ALWAYS_SPLIT,
    # at most 3 convolutions: the split along one dimension only (the other one whole)
    "subpixel, one convolution per phase group along one dimension": {
        **SUBPIXEL_SPLIT, "SUBPIXEL_MAX_CONVOLUTIONS": 3},
    # copies cost nothing: F.pad's one-sided padding wherever the two sides differ
    "subpixel, one convolution, one-sided padding": {
        "FORCE_STRATEGY": "subpixel", "SUBPIXEL_COST_PER_COPY": 0, "SUBPIXEL_MAX_CONVOLUTIONS": 1},
    # copies cost more than any saving: F.conv2d's symmetric padding, split all the same
    "subpixel, one convolution per phase group, symmetric padding": {
        **SUBPIXEL_ALWAYS_SPLIT, "SUBPIXEL_COST_PER_COPY": 10**9,
        "SUBPIXEL_MIN_SAVED_MULTIPLY_ADDS": -(10**30)},
    "subpixel, one convolution per phase group, one grid row per step, phases in pieces": {
        **SUBPIXEL_ALWAYS_SPLIT, "WORKSPACE_PER_OUTPUT": 0, "WORKSPACE_FLOOR": 1,
        "_phase_gemm.PHASE_BY_PHASE_MAX": 0},
    "subpixel, one convolution per phase group, output channels in chunks": {
        **SUBPIXEL_ALWAYS_SPLIT, "FORCE_CHANNEL_CHUNKS": 3},
    "subpixel, output channels in chunks": {"FORCE_STRATEGY": "subpixel",
                                            "FORCE_CHANNEL_CHUNKS": 2},
    "subpixel, one image per step, phases in pieces": {
        "FORCE_STRATEGY": "subpixel", "WORKSPACE_PER_OUTPUT": 0, "WORKSPACE_FLOOR": 1,
        "_phase_gemm.PHASE_BY_PHASE_MAX": 0},
    "phase": {"FORCE_STRATEGY": "phase"},
    "phase, one product per phase group": {"FORCE_STRATEGY": "phase",
                                           "_phase_gemm.MIN_SAVED_MULTIPLY_ADDS": 0},
    "phase, one grid row per step, phases in pieces": {
        "FORCE_STRATEGY": "phase", "WORKSPACE_PER_OUTPUT": 0, "WORKSPACE_FLOOR": 1,
        "_phase_gemm.PHASE_BY_PHASE_MAX": 0},
    "fold": {"FORCE_STRATEGY": "fold"},
    "fold, one image per step": {"FORCE_STRATEGY": "fold", "WORKSPACE_PER_OUTPUT": 0,
                                 "WORKSPACE_FLOOR": 1, "FOLD_MAX_CHUNKS": 1},
    # col2im into the output: one output channel and a band of kernel rows at a time (8
    # chunks), or two chunks (uneven ones with 3 channels; with one channel, two bands)
    "fold, one output channel and band of kernel rows at a time": {
        "FORCE_STRATEGY": "fold", "WORKSPACE_PER_OUTPUT": 0, "WORKSPACE_FLOOR": 1},
    "fold, output channels in two chunks": {"FORCE_STRATEGY": "fold", "WORKSPACE_PER_OUTPUT": 0,
                                            "WORKSPACE_FLOOR": 1, "FOLD_MAX_CHUNKS": 2},
    # the columns added by F.fold, however few kernel entries each phase meets
    "fold, by F.fold": {"FORCE_STRATEGY": "fold", "_col2im.ADD_BY_PHASE_MAX_ENTRIES": 0},
}
MODULES = {"_phase_gemm": _phase_gemm, "_col2im": _col2im, "": transposed}


@pytest.fixture(params=list(STRATEGIES))
def strategy(request, monkeypatch):
    """Run the test with one strategy of trans_conv forced (and its workspace limited)."""
    for name, value in STRATEGIES[request.param].items():
        module, _, attribute = name.rpartition(".")
        monkeypatch.setattr(MODULES[module], attribute, value)
    return request.param


@STRATEGY_SETTINGS
@given(case=tconv_cases(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_each_strategy_matches_conv_transpose2d(device, strategy, case, dtype):
    X = with_layout(ints(case["x_shape"], case["seed"], device, dtype), case["layout"])
    K = with_layout(ints(case["k_shape"], case["seed"] + 1, device, dtype), case["layout"])
    assert torch.equal(trans_conv(X, K, **hyper(case)), F.conv_transpose2d(X, K, **hyper(case)))


@STRATEGY_SETTINGS
@given(case=tconv_cases())
def test_each_strategy_has_pytorchs_gradients(device, strategy, case):
    assert_pytorchs_gradients(device, case)


@STRATEGY_SETTINGS
@given(case=tconv_cases(), dtype=st.sampled_from([torch.bfloat16, torch.float16]))
def test_each_strategy_rounds_once_in_low_precision(device, strategy, case, dtype):
    """Sums of small integers are exact in float32: the result is the float32 one rounded once."""
    X = with_layout(ints(case["x_shape"], case["seed"], device, dtype, -2, 3), case["layout"])
    K = with_layout(ints(case["k_shape"], case["seed"] + 1, device, dtype, -2, 3), case["layout"])
    Y = trans_conv(X, K, **hyper(case))
    assert Y.dtype == dtype
    assert torch.equal(Y, F.conv_transpose2d(X.float(), K.float(), **hyper(case)).to(dtype))


# Real decoder layers (some of make bench's, and k3 s2 ones of other sizes), each computed the way
# the cost model chooses: one or several convolutions, F.pad's or F.conv2d's padding, the batch or
# the output channels in chunks
REAL_LAYERS = [  # X shape, K shape, stride, padding, output_padding
    ((16, 256, 8, 8), (256, 128, 4, 4), 2, 1, 0),  # DCGAN, N=16: output channels in chunks
    ((1, 128, 16, 16), (128, 64, 4, 4), 2, 1, 0),  # DCGAN: one convolution
    ((4, 64, 32, 32), (64, 32, 3, 3), 2, 1, 1),  # ResNet: split along one dimension
    ((4, 128, 16, 16), (128, 64, 3, 3), 2, 1, 1),  # split along both
    ((1, 256, 8, 8), (256, 128, 3, 3), 2, 1, 1),  # one convolution, one-sided padding
    ((8, 64, 32, 32), (64, 64, 3, 3), 1, 1, 0),  # stride 1, in one step: the output's room
    ((8, 128, 32, 32), (128, 64, 3, 3), 1, 1, 0),  # stride 1, the batch in chunks
    ((2, 64, 16, 16), (64, 32, 2, 2), 2, 0, 0),  # U-Net: phases by one matrix product, K as is
]


@pytest.mark.parametrize("case", REAL_LAYERS, ids=lambda c: f"{c[0]}x{c[1]}s{c[2]}")
def test_real_decoder_layers(device, case):
    x_shape, k_shape, s, p, a = case
    g = torch.Generator().manual_seed(0)
    X = torch.randn(x_shape, generator=g, dtype=torch.float64).to(device)
    K = torch.randn(k_shape, generator=g, dtype=torch.float64).to(device)
    hyper = {"stride": s, "padding": p, "output_padding": a}
    assert_close(trans_conv(X, K, **hyper), F.conv_transpose2d(X, K, **hyper))


def real_layer_plans(device_type: str = "cpu") -> list:
    plans = []
    for x_shape, k_shape, s, p, a in REAL_LAYERS:
        out_hw = transposed.trans_conv_output_shape(x_shape[-2:], k_shape[-2:], (s, s), (p, p),
                                                    (a, a))
        plans.append(transposed._plan(x_shape, k_shape, (s, s), (p, p), out_hw, device_type))
    return plans


def test_real_decoder_layers_cover_every_path(monkeypatch):
    """The layers above take each of the phase strategies' ways (else update the list), on a
    CPU that is not Intel's (on Intel's, the two whose K is larger than the output go by columns:
    the next test)."""
    monkeypatch.setattr(_gemm, "mkl_is_fast", lambda: False)
    plans = real_layer_plans()
    assert [plan.strategy for plan in plans] == ["subpixel"] * (len(plans) - 1) + ["phase"]
    assert plans[-1].cpu_gathers == ((None, False),)  # the matrix is K transposed, no gather
    plans = plans[:-1]
    assert {len(plan.pairs) for plan in plans} == {1, 2, 4}
    assert {len(plan.channel_ranges) > 1 for plan in plans} == {True, False}
    assert [len(plan.steps) for plan in plans[5:7]] == [1, 2]  # the stride-1 layers
    assert {option["one_sided"] for plan in plans for option in plan.product_options} == {
        True, False}


def test_kernels_larger_than_the_output_go_by_columns_on_intel_cpus(monkeypatch):
    """On an Intel CPU, a layer whose K has more values than its output (DCGAN 128->64 on 16x16,
    N=1: 2x; 256->128 k3 s2 on 8x8: 9x) goes by columns, which read K as it is; every other
    layer goes as elsewhere; on other CPUs and on other devices nothing changes."""
    monkeypatch.setattr(_gemm, "mkl_is_fast", lambda: False)
    elsewhere = [plan.strategy for plan in real_layer_plans()]
    monkeypatch.setattr(_gemm, "mkl_is_fast", lambda: True)
    intel = [plan.strategy for plan in real_layer_plans()]
    heavy = [i for i, (x, k, s, p, a) in enumerate(REAL_LAYERS)
             if k[0] * k[1] * k[2] * k[3] > x[0] * k[1] * ((x[2] - 1) * s - 2 * p + k[2] + a) ** 2]
    assert heavy == [1, 4]  # the DCGAN layer and the one-sided padding one, both N=1
    assert intel == ["fold" if i in heavy else name for i, name in enumerate(elsewhere)]
    assert [plan.strategy for plan in real_layer_plans("cuda")] == elsewhere
    X = torch.randn(1, 8, 4, 4, dtype=torch.float64)
    K = torch.randn(8, 16, 4, 4, dtype=torch.float64, requires_grad=True)
    assert transposed.strategy_name(X.shape, K.shape, 2, 1) == "fold"
    assert transposed.strategy_name(X.shape, K.shape, 2, 1, device="meta") == "subpixel"
    assert_close(trans_conv(X, K, stride=2, padding=1), F.conv_transpose2d(X, K, stride=2,
                                                                           padding=1))
    assert torch.autograd.gradcheck(lambda K: trans_conv(X, K, stride=2, padding=1), (K,))


def test_cpu_vendor_chooses_the_matrix_product(monkeypatch):
    """USE_ONEDNN None: oneDNN's product except on Intel CPUs; True or False forces it."""
    for fast, forced, expected in [(True, None, False), (False, None, True), (True, True, True),
                                   (False, False, False)]:
        monkeypatch.setattr(_gemm, "mkl_is_fast", lambda fast=fast: fast)
        monkeypatch.setattr(_gemm, "USE_ONEDNN", forced)
        assert _gemm.use_onednn() is expected
    monkeypatch.undo()
    assert isinstance(_gemm.mkl_is_fast(), bool)  # this machine's answer


# X shape, K shape, keyword arguments: a gathered phase kernel; K itself, transposed, with the
# windows channels last (a narrow grid: the windows are the product's rows) and channels first
MATRIX_PRODUCT_CASES = [
    ((3, 16, 7, 9), (16, 8, 4, 3), {"stride": (2, 3), "padding": 1, "output_padding": (1, 0)}),
    ((2, 24, 6, 5), (24, 8, 2, 2), {"stride": 2}),
    ((1, 8, 5, 40), (8, 4, 2, 2), {"stride": 2}),
]


@pytest.mark.parametrize("case", MATRIX_PRODUCT_CASES, ids=["gathered", "K-narrow", "K-wide"])
@pytest.mark.parametrize("use_onednn", [True, False])
def test_cpu_matrix_product_backends_agree(monkeypatch, use_onednn, case):
    """trans_conv's CPU float32 product runs on oneDNN where it exists, else torch.matmul."""
    monkeypatch.setattr(_gemm, "USE_ONEDNN", use_onednn)
    x_shape, k_shape, hyper = case
    g = torch.Generator().manual_seed(0)
    X, K = torch.randn(x_shape, generator=g), torch.randn(k_shape, generator=g)
    assert transposed.strategy_name(x_shape, k_shape, **hyper) == "phase"
    with torch.no_grad():
        Y = trans_conv(X, K, **hyper)
    assert_close(Y, F.conv_transpose2d(X, K, **hyper))


# --- no pathological shapes: the number of PyTorch operations does not grow ----------------------

MAX_OPERATIONS = 1000  # aten operations of one call, nested included (about 30 to 800 now)


KERNEL_SIZES = {"1": lambda stride: 1, "3": lambda stride: 3,
                "stride + 1": lambda stride: min(128, stride + 1)}


FORCED = {"chosen": {}, "subpixel": {"FORCE_STRATEGY": "subpixel"},
          "subpixel split": SUBPIXEL_SPLIT, "phase": {"FORCE_STRATEGY": "phase"}}


@pytest.mark.parametrize("forced", list(FORCED))
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("kernel", list(KERNEL_SIZES))
def test_large_strides_take_a_bounded_number_of_operations(monkeypatch, kernel, padding, forced):
    """The old code looped over stride**2 phases: stride 512 took 12.6 s (PyTorch: 0.5 ms).

    Also with each phase strategy forced (their interleave must not copy phase by phase there,
    and the split sub-pixel convolution must have a bounded number of phase groups).
    """
    for name, value in FORCED[forced].items():
        monkeypatch.setattr(transposed, name, value)
    X = torch.randn(1, 2, 2, 2)
    counts = {}
    for stride in (2, 32, 512):
        k = KERNEL_SIZES[kernel](stride)
        K = torch.randn(2, 3, k, k)
        counts[stride] = aten_operations(lambda K=K, s=stride: trans_conv(X, K, stride=s,
                                                                          padding=padding))
    assert max(counts.values()) <= MAX_OPERATIONS, counts
    assert counts[512] <= counts[32] + 40, counts  # no growth with the stride


@pytest.mark.parametrize("stride", [1, 2])
def test_large_kernels_take_a_bounded_number_of_operations(stride):
    """The old code looped over the kernel entries: 128 x 128 took 1.8 s (PyTorch: 25 ms)."""
    X = torch.randn(1, 2, 6, 5)
    counts = {k: aten_operations(lambda k=k: trans_conv(X, torch.randn(2, 3, k, k), stride=stride))
              for k in (4, 32, 128, 256, 512)}
    assert max(counts.values()) <= MAX_OPERATIONS, counts
    # from 128 x 128 the columns exceed the workspace budget: chunks of output channels, then of
    # kernel rows too, at most transposed.FOLD_MAX_CHUNKS of them
    assert counts[512] <= counts[256] + 40, counts


def test_chunks_of_output_channels_by_columns_are_bounded():
    """By columns, one image's output channels come in chunks whose columns fit the budget, but
    never more than FOLD_MAX_CHUNKS of them, however large the kernel (so the operations stay
    bounded); the result is still F.conv_transpose2d's."""
    X, K = torch.randn(1, 64, 8, 8), torch.randn(64, 64, 64, 64)  # columns: 52x the output
    plan = transposed._plan(tuple(X.shape), tuple(K.shape), (1, 1), (0, 0), (71, 71))
    assert plan.strategy == "fold"
    assert len(plan.channel_ranges) == transposed.FOLD_MAX_CHUNKS
    assert [c for r in plan.channel_ranges for c in range(*r)] == list(range(64))
    assert aten_operations(lambda: trans_conv(X, K)) <= MAX_OPERATIONS
    assert_close(trans_conv(X, K), F.conv_transpose2d(X, K))


# --- float16 / bfloat16: sums accumulate in float32 ----------------------------------------------

LOW_PRECISION_CASES = [
    # X shape, K shape, stride, padding: many input channels, so long sums per output pixel
    ((2, 512, 6, 6), (512, 8, 4, 4), 2, 1),  # sub-pixel convolution
    ((2, 256, 9, 9), (256, 8, 3, 3), 1, 1),  # stride 1 (sub-pixel convolution)
    ((2, 512, 6, 6), (512, 8, 2, 2), 2, 0),  # phases by one matrix product (one tap)
    ((1, 64, 3, 4), (64, 4, 40, 40), 1, 0),  # F.fold (kernel large next to the input)
    ((1, 21, 5, 6), (21, 21, 64, 64), 32, 16),  # the book's FCN layer, smaller
]


def relative_error(Y: torch.Tensor, reference: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(Y.double() - reference) /
                 torch.linalg.vector_norm(reference))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("case", LOW_PRECISION_CASES, ids=lambda c: f"{c[0]}x{c[1]}s{c[2]}")
def test_low_precision_error_is_within_twice_pytorchs(device, dtype, case):
    """Error against float64 (same rounded inputs) at most twice F.conv_transpose2d's own."""
    x_shape, k_shape, s, p = case
    g = torch.Generator().manual_seed(0)
    X = torch.randn(x_shape, generator=g).to(device, dtype)
    K = (torch.randn(k_shape, generator=g) / k_shape[0] ** 0.5).to(device, dtype)
    reference = F.conv_transpose2d(X.double(), K.double(), stride=s, padding=p)
    ours = trans_conv(X, K, stride=s, padding=p)
    theirs = F.conv_transpose2d(X, K, stride=s, padding=p)
    assert ours.dtype == dtype
    assert relative_error(ours, reference) <= 2 * relative_error(theirs, reference) + 1e-7


# --- memory: make bench's decoder layers, measured as make bench measures them -----------------

@pytest.fixture
def bench(monkeypatch):
    """make bench's script, whose peak_bytes and layers the memory tests use (a script: it
    imports _timing as its own)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    return importlib.import_module("bench_trans_conv")


@pytest.mark.parametrize("channels, kernel, chunks, bands", [(8, 48, 8, 1), (1, 128, 1, 8)])
def test_by_columns_in_chunks_holds_one_chunk_of_columns(bench, channels, kernel, chunks, bands):
    """Kernels far larger than the input (columns 148x and 205x the output): by columns, one
    output channel at a time, col2im adding into the output itself, or, with one channel, one
    band of kernel rows at a time, added into the output. The peak is the output plus one chunk's
    columns and band (the old single step held all the columns, and F.fold's copy of them)."""
    X, K = torch.randn(1, channels, 16, 16), torch.randn(channels, channels, kernel, kernel)
    out = 15 + kernel
    plan = transposed._plan(tuple(X.shape), tuple(K.shape), (1, 1), (0, 0), (out, out))
    assert plan.strategy == "fold"
    assert (len(plan.channel_ranges), len(plan.kernel_row_ranges)) == (chunks, bands)
    rows = kernel // bands
    out_bytes, chunk_bytes = channels * out * out * 4, rows * kernel * 16 * 16 * 4
    band_bytes = 0 if bands == 1 else (15 + rows) * out * 4
    peak = min(bench.peak_bytes(lambda: trans_conv(X, K), torch.device("cpu")) for _ in range(2))
    assert peak <= out_bytes + chunk_bytes + band_bytes + 4096, (peak, out_bytes, chunk_bytes)


@pytest.mark.parametrize("intel", [False, True], ids=["other-cpu", "intel-cpu"])
def test_peak_memory_of_the_benchmark_layers(monkeypatch, bench, intel):
    """Peak memory of one call (CPU, float32, output included): at most 3x the output, the goal
    of ``make bench``; where ``K`` alone is larger than the output (DCGAN 128->64 on 16x16: 2x),
    twice K's size comes on top: elsewhere its two copies (the phase kernels, and PyTorch's CPU
    convolution's copy of them in oneDNN's layout), on Intel CPUs the columns and phase grid of
    the strategy by columns (4x and 1.13x the output there, the columns freed before the output
    is allocated). Allocation sizes do not depend on timing: this can be asserted."""
    monkeypatch.setattr(_gemm, "mkl_is_fast", lambda: intel)

    cpu, over = torch.device("cpu"), []
    for name, x_shape, k_shape, s, p, a in bench.DECODER_LAYERS:
        X, K = bench.layer_inputs(x_shape, k_shape, cpu)
        call = functools.partial(trans_conv, X, K, stride=s, padding=p, output_padding=a)
        out_bytes = call().numel() * X.element_size()  # the first call also plans (cached)
        k_bytes = K.numel() * K.element_size()
        allowed = bench.MEMORY_GOAL * out_bytes + (2 * k_bytes if k_bytes > out_bytes else 0)
        peak = min(bench.peak_bytes(call, cpu) for _ in range(2))
        if peak > allowed:
            over.append(f"{name}: {peak / out_bytes:.2f}x the output, allowed "
                        f"{allowed / out_bytes:.2f}x")
    assert not over, over
