"""A grid of unit cells drawn as one matplotlib artist.

:class:`CellGrid` draws the ``rows * cols`` cells of a panel, cell ``(r, c)`` covering
``[c, c + 1] × [r, r + 1]`` in data coordinates, each with its own fill and a common edge.
One collection instead of one :class:`~matplotlib.patches.Rectangle` per cell makes a figure
much cheaper to build and save (no per-cell transform chain, limit update or bounding box),
and the pixels are the same: each cell is the unit square moved by its own affine transform,
composed with the axes' data transform in the same order as a rectangle's patch transform,
and drawn with a rectangle's edge style (mitre joins, butt caps).
"""

from __future__ import annotations

import numpy as np
from matplotlib.collections import Collection
from matplotlib.path import Path

__all__ = ["CellGrid"]


class CellGrid(Collection):
    """``rows * cols`` unit cells, filled row-major with ``fills`` (colours), edged with
    ``edgecolor`` at ``linewidth`` points. Other keyword arguments go to
    :class:`~matplotlib.collections.Collection` (``zorder``, ``clip_on``, ``gid`` ...).

    ``corners()`` is the ``(rows * cols, 2)`` array of the cells' lower data corners
    ``(c, r)``, in the order of ``get_facecolor()``.
    """

    def __init__(self, rows: int, cols: int, fills: list[str], *, edgecolor: str,
                 linewidth: float, **kwargs):
        if len(fills) != rows * cols:
            raise ValueError(f"fills must have rows * cols = {rows * cols} colours, "
                             f"got {len(fills)}")
        super().__init__(facecolors=fills, edgecolors=edgecolor, linewidths=linewidth,
                         joinstyle="miter", capstyle="butt", **kwargs)
        self.set_paths([Path.unit_rectangle()] * (rows * cols))
        corners = np.stack(np.meshgrid(np.arange(cols), np.arange(rows)), axis=-1)
        self._corners = corners.reshape(-1, 2).astype(float)
        self._cell_transforms = np.tile(np.eye(3), (rows * cols, 1, 1))  # translations
        self._cell_transforms[:, :2, 2] = self._corners

    def get_transforms(self) -> np.ndarray:
        """One affine transform per cell, ``(rows * cols, 3, 3)``: the unit square to the cell."""
        return self._cell_transforms

    def corners(self) -> np.ndarray:
        """The cells' lower data corners ``(c, r)``, ``(rows * cols, 2)``, row-major."""
        return self._corners
