"""d2l_tconv: the helper package of the d2l-tconv companion to D2L's "Transposed Convolution".

Each operation the section writes by hand has a general, validated twin here, tested
against PyTorch's own operators.
"""

from .environment import describe_environment, show_environment
from .project import REPO_URL, colab_badge, colab_setup_source, colab_url

__version__ = "0.1.0"

__all__ = [
    "REPO_URL",
    "colab_badge",
    "colab_setup_source",
    "colab_url",
    "describe_environment",
    "show_environment",
]
