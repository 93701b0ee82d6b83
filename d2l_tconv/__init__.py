"""d2l_tconv: the helper package of the d2l-tconv companion to D2L's "Transposed Convolution".

Each operation the section writes by hand has a general, validated twin here, tested
against PyTorch's own operators.
"""

from importlib import metadata as _metadata

from .correlation import corr2d
from .environment import describe_environment, show_environment
from .figures import plot_trans_conv
from .matrix import kernel2matrix
from .shapes import conv_output_shape, trans_conv_output_shape
from .transposed import trans_conv, trans_conv_loop

try:  # the version is written once, in pyproject.toml
    __version__ = _metadata.version("d2l-tconv")
except _metadata.PackageNotFoundError:  # a checkout on sys.path that pip never installed
    __version__ = "unknown"


# The explorer and the animations import ipywidgets and matplotlib.animation only when used.
def explore(X=None, K=None, *, lang="en"):
    """Interactive explorer of the transposed convolution (see :mod:`d2l_tconv.explorer`)."""
    from .explorer import explore as _explore

    return _explore(X, K, lang=lang)


def animate(X, K, *, stride=1, padding=0, output_padding=0, lang="en", interval=1200):
    """Step-by-step animation, one intermediate tensor per frame (see :mod:`d2l_tconv.animation`)."""
    from .animation import animate as _animate

    return _animate(X, K, stride=stride, padding=padding, output_padding=output_padding,
                    lang=lang, interval=interval)


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
