"""Convolution arithmetic: output sizes of a convolution and of a transposed convolution.

The formulas of Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016),
which are also PyTorch's (``nn.Conv2d`` and ``nn.ConvTranspose2d``). Per spatial dimension, with
input size ``i``, kernel size ``k``, stride ``s``, padding ``p``, dilation ``d`` and output
padding ``a``:

* convolution:            ``o  = floor((i + 2p - d(k - 1) - 1) / s) + 1``
* transposed convolution: ``o' = (i - 1) s - 2p + d(k - 1) + a + 1``

With stride ``s > 1`` a convolution maps ``s`` different input sizes to the same ``o``; the
output padding ``a = (i + 2p - d(k - 1) - 1) mod s`` selects which one the transposed convolution
returns, so that it recovers exactly ``i``.
"""

from __future__ import annotations

from ._validation import Pair, as_pair, check_kernel_fits, check_output_padding, check_output_size


def conv_output_shape(input_shape, kernel_shape, stride=1, padding=0, dilation=1) -> Pair:
    """Output ``(height, width)`` of a 2-D convolution (``F.conv2d``, ``d2l.corr2d``).

    Args:
        input_shape: ``(h, w)`` of the input, or one int for a square input.
        kernel_shape: ``(kh, kw)`` of the kernel, or one int for a square kernel.
        stride, padding, dilation: an int or a pair ``(for height, for width)``.

    Returns:
        ``(oh, ow)`` with ``o = floor((i + 2p - d(k - 1) - 1) / s) + 1`` per dimension.

    Raises:
        ValueError: if the (dilated) kernel is larger than the padded input, or a size is not
            positive / a padding is negative.

    >>> conv_output_shape((3, 3), (2, 2))
    (2, 2)
    >>> conv_output_shape((16, 16), 5, stride=3, padding=2)
    (6, 6)
    """
    i = as_pair(input_shape, "input_shape", minimum=1)
    k = as_pair(kernel_shape, "kernel_shape", minimum=1)
    s = as_pair(stride, "stride", minimum=1)
    p = as_pair(padding, "padding", minimum=0)
    d = as_pair(dilation, "dilation", minimum=1)
    check_kernel_fits(i, k, p, d, kernel_name="kernel_shape")
    h, w = ((i[n] + 2 * p[n] - d[n] * (k[n] - 1) - 1) // s[n] + 1 for n in range(2))
    return (h, w)


def trans_conv_output_shape(input_shape, kernel_shape, stride=1, padding=0, output_padding=0,
                            dilation=1) -> Pair:
    """Output ``(height, width)`` of a 2-D transposed convolution (``F.conv_transpose2d``).

    Args:
        input_shape: ``(h, w)`` of the input, or one int for a square input.
        kernel_shape: ``(kh, kw)`` of the kernel, or one int for a square kernel.
        stride, padding, output_padding, dilation: an int or a pair ``(for height, for width)``;
            ``output_padding`` must be smaller than ``stride`` or ``dilation`` (PyTorch's rule).

    Returns:
        ``(oh, ow)`` with ``o = (i - 1) s - 2p + d(k - 1) + a + 1`` per dimension.

    Raises:
        ValueError: if ``padding`` would crop the whole output, ``output_padding`` is too large,
            or a size is not positive / a padding is negative.

    >>> trans_conv_output_shape((2, 2), (2, 2), stride=2)
    (4, 4)
    >>> trans_conv_output_shape((6, 6), 5, stride=3, padding=2)
    (16, 16)
    """
    i = as_pair(input_shape, "input_shape", minimum=1)
    k = as_pair(kernel_shape, "kernel_shape", minimum=1)
    s = as_pair(stride, "stride", minimum=1)
    p = as_pair(padding, "padding", minimum=0)
    a = as_pair(output_padding, "output_padding", minimum=0)
    d = as_pair(dilation, "dilation", minimum=1)
    check_output_padding(a, s, d)
    size = tuple((i[n] - 1) * s[n] - 2 * p[n] + d[n] * (k[n] - 1) + a[n] + 1 for n in range(2))
    check_output_size(size, p)
    return size
