"""Shared argument checks for the public functions of :mod:`d2l_tconv`.

Every check raises a ``TypeError`` (wrong kind of value) or a ``ValueError`` (right kind, wrong
value) whose message starts with the argument's name and says what was expected, so that bad input
never reaches PyTorch and never produces a deep traceback or a silently wrong answer.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import torch

Pair = tuple[int, int]


def _describe(value: object) -> str:
    """A short description of ``value`` for error messages: its type and its repr."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def as_int(value: object, name: str, *, minimum: int) -> int:
    """``value`` as a Python int ``>= minimum``; bools, floats and strings are rejected."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {_describe(value)}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {_describe(value)}") from None
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def as_pair(value: object, name: str, *, minimum: int) -> Pair:
    """``value`` (an int, or a pair of ints for height and width) as a ``(h, w)`` tuple.

    Each entry must be an int ``>= minimum`` (bools are rejected even though ``bool`` is a
    subclass of ``int``).
    """
    if type(value) is int and value >= minimum:  # the common cases, checked fast
        return (value, value)
    if (type(value) is tuple and len(value) == 2 and type(value[0]) is int
            and type(value[1]) is int and min(value) >= minimum):
        return value
    expected = f"an int or a pair of ints >= {minimum}"
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if len(value) != 2:
            raise ValueError(
                f"{name} must be {expected}, got a sequence of length {len(value)}: {value!r}"
            )
        entries = tuple(value)
    elif isinstance(value, torch.Tensor) and value.ndim != 0:
        raise TypeError(f"{name} must be {expected}, got a tensor of shape {tuple(value.shape)}")
    else:
        entries = (value, value)
    for entry in entries:
        if isinstance(entry, bool):
            raise TypeError(f"{name} must be {expected}, got {_describe(value)}")
        try:
            operator.index(entry)
        except TypeError:
            raise TypeError(f"{name} must be {expected}, got {_describe(value)}") from None
    pair = (operator.index(entries[0]), operator.index(entries[1]))
    if min(pair) < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return pair


def check_output_padding(output_padding: Pair, stride: Pair, dilation: Pair = (1, 1)) -> None:
    """PyTorch's rule: each ``output_padding`` entry is smaller than the stride or the dilation."""
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)):
        if dilation == (1, 1):
            limit, got = "stride", f"stride={stride}"
        else:
            limit, got = "stride or dilation", f"stride={stride}, dilation={dilation}"
        raise ValueError(
            f"output_padding must be smaller than {limit} in each dimension, got "
            f"output_padding={output_padding}, {got}"
        )


def check_tensor(x: object, name: str, layouts: dict[int, str]) -> torch.Tensor:
    """Check that ``x`` is a floating-point tensor whose number of dimensions is in ``layouts``.

    ``layouts`` maps each allowed number of dimensions to its description for the message, e.g.
    ``{2: "(H, W)", 4: "(N, C_in, H, W)"}``. Every size must be positive (a batch of 0 is allowed
    for a 4-D input). Returns ``x``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {x.layout}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating-point dtype (e.g. torch.float32), got {x.dtype}; "
            f"convert it with {name}.float()"
        )
    if x.ndim not in layouts:
        wanted = " or ".join(f"{n}-D {shape}" for n, shape in layouts.items())
        raise ValueError(f"{name} must be {wanted}, got a {x.ndim}-D tensor of shape "
                         f"{tuple(x.shape)}")
    sizes = x.shape[1:] if x.ndim == 4 else x.shape
    if min(sizes) < 1:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    return x


def check_same_device_and_dtype(X: torch.Tensor, K: torch.Tensor, x_name: str = "X",
                                k_name: str = "K") -> None:
    """Input and kernel must live on one device (nothing is moved) and share one dtype."""
    if X.device != K.device:
        raise ValueError(
            f"{k_name} is on device {K.device} but {x_name} is on {X.device}; move both to one "
            f"device first (e.g. {k_name}.to({x_name}.device))"
        )
    if X.dtype != K.dtype:
        raise TypeError(
            f"{k_name} has dtype {K.dtype} but {x_name} has {X.dtype}; they must match "
            f"(e.g. {k_name}.to({x_name}.dtype))"
        )


def check_kernel_fits(input_hw: Pair, kernel_hw: Pair, padding: Pair = (0, 0),
                      dilation: Pair = (1, 1), kernel_name: str = "K") -> None:
    """A convolution needs the (dilated) kernel to fit in the zero-padded input."""
    for i, k, p, d in zip(input_hw, kernel_hw, padding, dilation, strict=True):
        if d * (k - 1) + 1 > i + 2 * p:
            extra = "" if dilation == (1, 1) else f" with dilation {dilation}"
            raise ValueError(
                f"{kernel_name} is larger than the padded input: kernel {kernel_hw}{extra} does "
                f"not fit in input {input_hw} padded by {padding}"
            )


def check_output_size(size: Pair, padding: Pair) -> None:
    """A transposed convolution's output (after cropping ``padding``) must not be empty."""
    if min(size) < 1:
        raise ValueError(
            f"padding={padding} is too large: it crops the whole output (the output size would "
            f"be {size}); use a smaller padding"
        )
