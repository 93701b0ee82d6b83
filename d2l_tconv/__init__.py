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

__all__ = [
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
