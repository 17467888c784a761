"""Where the tiles go: cores that partition the image, crops that add the halo, and how a crop is read.

Coordinates are those of the *virtual image*: the image extended by ``pad`` samples on each side (``pad`` is 0 when the
image border keeps the model's own padding, the halo when a copy mode such as ``circular`` fills it). Cores start at
``pad + k * tile`` (``tile`` and ``pad`` are multiples of the total stride, so every core and crop starts on the
stride grid) and the last core ends at the image's end, so it may be shorter. A crop is its core plus ``halo`` on each
side, clipped to the virtual image: a tile at the image border reads no halo there and sees exactly the border the
whole-image run sees.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from ..modes import NUMPY_NAMES, index_map

__all__ = ["Segment", "Tile", "layout", "read_crop", "segments"]


@dataclass(frozen=True)
class Segment:
    """One tile along one dim: core ``[start, stop)`` and crop ``[crop_start, crop_stop)`` in virtual coordinates;
    ``first``/``last``: no tile before / after it."""

    start: int
    stop: int
    crop_start: int
    crop_stop: int
    first: bool
    last: bool


@dataclass(frozen=True)
class Tile:
    """One tile: a :class:`Segment` per spatial dim."""

    segments: tuple[Segment, ...]

    @property
    def crop_shape(self) -> tuple[int, ...]:
        return tuple(s.crop_stop - s.crop_start for s in self.segments)


def segments(size: int, tile: int, halo: int, pad: int) -> list[Segment]:
    """The tiles along one dim of ``size`` image samples (virtual size ``size + 2 * pad``)."""
    end = pad + size
    starts = list(range(pad, end, tile))
    out = []
    for i, start in enumerate(starts):
        stop = min(start + tile, end)
        out.append(
            Segment(start, stop, max(0, start - halo), min(end + pad, stop + halo), i == 0, i == len(starts) - 1)
        )
    return out


def layout(size: tuple[int, ...], tile: tuple[int, ...], halo: tuple[int, ...], pad: tuple[int, ...]) -> list[Tile]:
    """Every tile of an image of spatial ``size``, in row-major order."""
    per_dim = [segments(n, t, h, p) for n, t, h, p in zip(size, tile, halo, pad)]
    return [Tile(tuple(combo)) for combo in itertools.product(*per_dim)]


def read_crop(x: torch.Tensor, tile: Tile, pad: tuple[int, ...], mode: str | None) -> torch.Tensor:
    """The crop of ``tile`` from image ``x`` ``(N, C, *spatial)``: a slice when it lies inside the image, else the
    samples ``mode`` (a copy mode, :data:`padkit.modes.COPY_MODES`) puts there, as ``padkit.pad`` would."""
    out = x
    for d, (seg, p) in enumerate(zip(tile.segments, pad)):
        axis = 2 + d
        lo, hi = seg.crop_start - p, seg.crop_stop - p
        if lo >= 0 and hi <= x.shape[axis]:
            out = out.narrow(axis, lo, hi - lo)
            continue
        assert mode is not None and mode in NUMPY_NAMES
        table = index_map(x.shape[axis], p, p, mode)[seg.crop_start : seg.crop_stop]
        out = out.index_select(axis, torch.tensor(table, dtype=torch.long, device=x.device))
    return out.contiguous()
