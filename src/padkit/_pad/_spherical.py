"""``spherical`` padding of equirectangular maps (height = latitude, width = longitude, the last two dims).

The width wraps around (``circular``). A row beyond the top (bottom) pole is the row at the same distance from that
pole, shifted by half the width (180 degrees of longitude): for the ``i``-th row above the border (``i = 0``
nearest; rows are cell-centred, so the border row itself is the first one mirrored)
``pad_top[i, j] = x[i, (j + W/2) mod W]``, the same at the bottom. The rows are extended first, then every row wraps,
so a corner sample follows the same rule with its column taken modulo ``W``. ``W`` must be even, and at most ``H``
rows are added beyond each pole.

Built from ``narrow``/``flip``/``cat`` and the circular copy (:mod:`._copy`): deterministic backward, twice
differentiable, traceable by ``torch.compile`` and the ONNX exporter.

Example:
    >>> x = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    >>> spherical_pad(x, 1, 1, 1, 0)
    tensor([[2, 3, 4, 1, 2],
            [4, 1, 2, 3, 4],
            [8, 5, 6, 7, 8],
            [6, 7, 8, 5, 6]])
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .._validate import bad_value
from ._copy import copy_pad

__all__ = ["check_spherical", "spherical_pad"]


def check_spherical(shape: Sequence[int], top: int, bottom: int, left: int, right: int, argname: str = "pad") -> None:
    """``spherical`` can pad a map of this shape (its last two dims) by these widths: a ``PadkitValueError`` names
    what does not fit (fewer than 2 dims, a negative width, an odd or empty width, more rows than the height)."""
    widths = (left, right, top, bottom)
    if len(shape) < 2:
        raise bad_value("input.shape", tuple(shape), "at least 2 dims (..., height, width) for mode='spherical'")
    if min(widths) < 0:
        raise bad_value(argname, widths, "non-negative widths (left, right, top, bottom) for mode='spherical'")
    h, w = int(shape[-2]), int(shape[-1])
    if w == 0 or w % 2:
        raise bad_value(
            "input.shape", tuple(shape), f"an even width (longitude) for mode='spherical' (half a turn is W/2); got {w}"
        )
    if top > h or bottom > h:
        raise bad_value(
            argname,
            widths,
            f"at most the height {h} rows beyond each pole for mode='spherical' (top={top}, bottom={bottom})",
        )


def _half_turn(rows: torch.Tensor, dim: int) -> torch.Tensor:
    """``rows`` shifted by half their width along ``dim``: column ``j`` holds column ``(j + W/2) mod W``."""
    half = rows.shape[dim] // 2
    return torch.cat([rows.narrow(dim, half, half), rows.narrow(dim, 0, half)], dim)


def spherical_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Pad the last two dims of ``x`` (height, width) by ``spherical`` (widths checked by :func:`check_spherical`)."""
    h_dim, w_dim = x.dim() - 2, x.dim() - 1
    height = x.shape[h_dim]
    parts = []
    if top:
        parts.append(_half_turn(x.narrow(h_dim, 0, top).flip(h_dim), w_dim))
    parts.append(x)
    if bottom:
        parts.append(_half_turn(x.narrow(h_dim, height - bottom, bottom).flip(h_dim), w_dim))
    y = torch.cat(parts, h_dim) if len(parts) > 1 else x
    if (left or right) and torch.onnx.is_in_onnx_export() and 3 <= y.dim() <= 4 and max(left, right) <= y.shape[-1]:
        return F.pad(y, (left, right, 0, 0), mode="circular")  # exports as ONNX ops; the copy below does not
    if left or right:
        widths = ((0, 0),) * w_dim + ((left, right),)
        y = copy_pad(y, widths, "circular")
    return y
