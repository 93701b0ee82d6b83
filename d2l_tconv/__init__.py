"""d2l_tconv: the helper package of the d2l-tconv companion to D2L's "Transposed Convolution".

Each operation the section writes by hand has a general, validated twin here, tested
against PyTorch's own operators.

The figure helpers need matplotlib (about 0.7 s to import), so they are imported on first use:
``d2l_tconv.plot_trans_conv`` works as usual, but ``import d2l_tconv`` alone imports only torch and
this package's operations. To add a lazily imported name, add it to ``_LAZY``.
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata

from .correlation import corr2d
from .environment import describe_environment, show_environment
from .matrix import kernel2matrix
from .shapes import conv_output_shape, trans_conv_output_shape
from .transposed import trans_conv, trans_conv_loop

try:  # the version is written once, in pyproject.toml
    __version__ = _metadata.version("d2l-tconv")
except _metadata.PackageNotFoundError:  # a checkout on sys.path that pip never installed
    __version__ = "unknown"

# name -> submodule that defines it, imported when the name is first used (the figures,
# the explorer and the animations import matplotlib and ipywidgets only then)
_LAZY = {
    "plot_trans_conv": ".figures",
    "explore": ".explorer",
    "animate": ".animation",
}

__all__ = [
    "animate",
    "explore",
    "conv_output_shape",
    "corr2d",
    "kernel2matrix",
    "trans_conv",
    "trans_conv_loop",
    "trans_conv_output_shape",
    "describe_environment",
    "plot_trans_conv",
    "show_environment",
]


def __getattr__(name: str):
    """Import a lazily loaded name (see ``_LAZY``) on first use, then keep it in the module."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
