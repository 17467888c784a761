"""``spherical`` padding of equirectangular maps (height = latitude, width = longitude, the last two dims).

The width wraps around (``circular``). A row beyond the top (bottom) pole is the row at the same distance from that
pole, shifted by half the width (180 degrees of longitude): for the ``i``-th row above the border (``i = 0``
nearest; rows are cell-centred, so the border row itself is the first one mirrored)
``pad_top[i, j] = x[i, (j + W/2) mod W]``, the same at the bottom. The rows are extended first, then every row wraps,
so a corner sample follows the same rule with its column taken modulo ``W``. ``W`` must be even, and at most ``H``
rows are added beyond each pole.

One output allocation filled with ``narrow``/``flip``/``copy_`` (the circular runs of :mod:`._copy`); the backward
(:class:`SphericalFold`) adds every border gradient back onto the sample it copies with ``narrow``/``flip``/``add``:
deterministic by construction, twice differentiable (the fold's backward is the pad), traceable by
``torch.compile``. The ONNX exporter records ``narrow``/``flip``/``cat`` and ``F.pad``'s circular mode instead.

Example:
    >>> x = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    >>> spherical_pad(x, 1, 1, 1, 0)
    tensor([[2, 3, 4, 1, 2],
            [4, 1, 2, 3, 4],
            [8, 5, 6, 7, 8],
            [6, 7, 8, 5, 6]])
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .._validate import bad_value
from ._copy import _runs, copy_pad

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


def _pole_rows(dst: torch.Tensor, src: torch.Tensor, h_dim: int, w_dim: int, accumulate: bool) -> None:
    """``dst`` (rows beyond a pole, nearest first) <- ``src`` (the rows they mirror, flipped), half a turn apart;
    with ``accumulate`` the adjoint: ``dst`` += the rows of ``src`` turned back."""
    half = src.shape[w_dim] // 2
    for d0, s0 in ((0, half), (half, 0)):
        piece = src.narrow(w_dim, s0, half).flip(h_dim)
        target = dst.narrow(w_dim, d0, half)
        if accumulate:
            target.add_(piece)
        else:
            target.copy_(piece)


def _forward(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """One output allocation: the map, the rows beyond each pole, then every row wrapped around."""
    h_dim, w_dim = x.dim() - 2, x.dim() - 1
    height, width = x.shape[h_dim], x.shape[w_dim]
    shape = (*x.shape[:h_dim], top + height + bottom, left + width + right)
    out = torch.empty(shape, dtype=x.dtype, device=x.device)
    rows = out.narrow(w_dim, left, width)  # every row, the map's columns
    rows.narrow(h_dim, top, height).copy_(x)
    if top:
        _pole_rows(rows.narrow(h_dim, 0, top), x.narrow(h_dim, 0, top), h_dim, w_dim, False)
    if bottom:
        _pole_rows(
            rows.narrow(h_dim, top + height, bottom), x.narrow(h_dim, height - bottom, bottom), h_dim, w_dim, False
        )
    for out_start, length, src, step in _runs(width, left, right, "circular"):
        piece = rows.narrow(w_dim, src, length)
        out.narrow(w_dim, out_start, length).copy_(piece.flip(w_dim) if step < 0 else piece)
    return out


def _fold(g: torch.Tensor, top: int, bottom: int, left: int, right: int, in_shape: tuple[int, ...]) -> torch.Tensor:
    """Adjoint of :func:`_forward`: every border gradient added onto the map sample it copies."""
    h_dim, w_dim = g.dim() - 2, g.dim() - 1
    height, width = in_shape[h_dim], in_shape[w_dim]
    rows = g.narrow(w_dim, left, width).clone()
    for out_start, length, src, step in _runs(width, left, right, "circular"):
        piece = g.narrow(w_dim, out_start, length)
        rows.narrow(w_dim, src, length).add_(piece.flip(w_dim) if step < 0 else piece)
    acc = rows.narrow(h_dim, top, height).clone()
    if top:
        _pole_rows(acc.narrow(h_dim, 0, top), rows.narrow(h_dim, 0, top), h_dim, w_dim, True)
    if bottom:
        _pole_rows(
            acc.narrow(h_dim, height - bottom, bottom), rows.narrow(h_dim, top + height, bottom), h_dim, w_dim, True
        )
    return acc


class SphericalPad(torch.autograd.Function):
    """``spherical`` padding whose backward is :class:`SphericalFold`: ``SphericalPad.apply(x, t, b, l, r)``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
        ctx.widths, ctx.in_shape = (top, bottom, left, right), tuple(x.shape)
        return _forward(x, top, bottom, left, right)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        return SphericalFold.apply(grad, *ctx.widths, ctx.in_shape), None, None, None, None


class SphericalFold(torch.autograd.Function):
    """The fold of a padded gradient onto the map; its backward is :class:`SphericalPad` (double backward)."""

    @staticmethod
    def forward(
        ctx: Any, g: torch.Tensor, top: int, bottom: int, left: int, right: int, in_shape: tuple[int, ...]
    ) -> torch.Tensor:
        ctx.widths = (top, bottom, left, right)
        return _fold(g, top, bottom, left, right, in_shape)

    @staticmethod
    def backward(ctx: Any, gg: torch.Tensor) -> tuple[Any, ...]:
        return SphericalPad.apply(gg, *ctx.widths), None, None, None, None, None


def spherical_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Pad the last two dims of ``x`` (height, width) by ``spherical`` (widths checked by :func:`check_spherical`)."""
    if torch.onnx.is_in_onnx_export():
        return _traceable(x, top, bottom, left, right)
    if x.requires_grad and torch.is_grad_enabled():
        return SphericalPad.apply(x, top, bottom, left, right)
    return _forward(x, top, bottom, left, right)


def _traceable(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """The same values from ``narrow``/``flip``/``cat`` and ``F.pad``: what the ONNX exporter records."""
    h_dim, w_dim = x.dim() - 2, x.dim() - 1
    height = x.shape[h_dim]
    parts = []
    if top:
        parts.append(_half_turn(x.narrow(h_dim, 0, top).flip(h_dim), w_dim))
    parts.append(x)
    if bottom:
        parts.append(_half_turn(x.narrow(h_dim, height - bottom, bottom).flip(h_dim), w_dim))
    y = torch.cat(parts, h_dim) if len(parts) > 1 else x
    if (left or right) and 3 <= y.dim() <= 4 and max(left, right) <= y.shape[-1]:
        return F.pad(y, (left, right, 0, 0), mode="circular")
    if left or right:
        widths = ((0, 0),) * w_dim + ((left, right),)
        y = copy_pad(y, widths, "circular")
    return y
