"""Running tiles and stitching their outputs: a :class:`Canvas` per output map, allocated once at the whole output's
size, receives either each tile's core (exact tiling) or each tile's whole output weighted by a blend window."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from .._errors import PadkitValueError
from .layout import Segment, Tile, read_crop

__all__ = ["Canvas", "blend_ramp", "run_tiles"]


def _integral(value: Fraction, what: str) -> int:
    if value.denominator != 1:  # pragma: no cover - the total stride makes every position integral
        raise PadkitValueError(f"tile: {what} falls between output positions ({value})")
    return int(value)


def blend_ramp(seg: Segment, halo: int, scale: Fraction, first_out: int, length: int) -> torch.Tensor:
    """The blend weight of ``length`` output positions of one tile along one dim, starting at virtual output position
    ``first_out``: a linear ramp over ``[start - halo, start + halo]`` (input coordinates) where a tile comes before,
    one down over ``[stop - halo, stop + halo]`` where a tile comes after, 1 elsewhere (``halo`` 0: a step at the
    core's edge). Neighbouring ramps sum to 1."""
    v = torch.arange(first_out, first_out + length, dtype=torch.float64)
    u = (v + 0.5) / float(scale)  # output position centre in input coordinates
    w = torch.ones(length, dtype=torch.float64)
    if halo == 0:
        if not seg.first:
            w = w * (u >= seg.start)
        if not seg.last:
            w = w * (u < seg.stop)
        return w
    if not seg.first:
        w = w * ((u - (seg.start - halo)) / (2 * halo)).clamp(0, 1)
    if not seg.last:
        w = w * (((seg.stop + halo) - u) / (2 * halo)).clamp(0, 1)
    return w


class Canvas:
    """The whole output of one output map, and where each tile's output goes.

    Args:
        like: the map's output on the meta device for the virtual image (``(N, C, *virtual_out)``).
        scale: the map's scale per dim.
        pad: the virtual image's extension per side, per dim (input samples).
        blend: accumulate weighted tile outputs (and a weight sum) instead of pasting cores.
        halo: per dim, the half-width of the blend ramps (input samples; at most the tiles' halo).
        device: where the output lives (the input's device).
    """

    def __init__(
        self,
        like: torch.Tensor,
        scale: tuple[Fraction, ...],
        pad: tuple[int, ...],
        blend: bool,
        halo: tuple[int, ...],
        device: torch.device,
    ) -> None:
        self.scale = scale
        self.virtual = tuple(int(n) for n in like.shape[2:])
        self.offset = tuple(_integral(p * s, "the padded border") for p, s in zip(pad, scale))
        real = tuple(n - 2 * o for n, o in zip(self.virtual, self.offset))
        self.out = torch.zeros((*like.shape[:2], *real), dtype=like.dtype, device=device)
        self.blend = blend
        self.halo = halo
        self.weight = torch.zeros(real, dtype=torch.float64, device=device) if blend else None

    def _check(self, got: int, need: int, d: int, tile: Tile) -> None:
        if got < need:
            raise PadkitValueError(
                f"tile: the tile at crop {[(s.crop_start, s.crop_stop) for s in tile.segments]} gives {got} output "
                f"positions along spatial dim {d} where the whole-image run needs {need}; the model is not "
                "translation-equivariant at this size"
            )

    def put(self, y: torch.Tensor, tile: Tile) -> None:
        """Stitch one tile's output ``y`` ``(N, C, *tile_out)``."""
        dst: list[slice] = []
        src: list[slice] = []
        ramps: list[torch.Tensor] = []
        for d, (seg, s) in enumerate(zip(tile.segments, self.scale)):
            origin = _integral(seg.crop_start * s, "a tile's origin")
            length = int(y.shape[2 + d])
            if self.blend:
                lo, hi = origin, origin + length
                if seg.last:
                    self._check(length, self.virtual[d] - self.offset[d] - origin, d, tile)
                ramp = blend_ramp(seg, self.halo[d], s, origin, length)
            else:
                lo = _integral(seg.start * s, "a tile's core")
                hi = self.virtual[d] - self.offset[d] if seg.last else _integral(seg.stop * s, "a tile's core")
                self._check(length, hi - origin, d, tile)
            # clip to the real output (a padded border is computed, not kept)
            a, b = max(lo, self.offset[d]), min(hi, self.virtual[d] - self.offset[d])
            dst.append(slice(a - self.offset[d], b - self.offset[d]))
            src.append(slice(a - origin, b - origin))
            if self.blend:
                ramps.append(ramp[a - origin : b - origin])
        part = y[(slice(None), slice(None), *src)].to(self.out.device)
        if not self.blend:
            self.out[(slice(None), slice(None), *dst)] = part
            return
        w = ramps[0]
        for r in ramps[1:]:
            w = w[..., None] * r
        w = w.to(self.out.device)
        assert self.weight is not None
        self.weight[tuple(dst)] += w
        self.out[(slice(None), slice(None), *dst)] += (part * w.to(part.dtype)).to(self.out.dtype)

    def result(self) -> torch.Tensor:
        """The stitched output (blended outputs divided by their weight sum)."""
        if self.weight is not None:
            self.out /= self.weight.clamp_min(1e-12).to(self.out.dtype)
            self.weight = None
        return self.out


def run_tiles(
    model: nn.Module,
    x: torch.Tensor,
    tiles: Sequence[Tile],
    pad: tuple[int, ...],
    mode: str | None,
    batch: int,
    device: torch.device,
    canvases: Sequence[Canvas],
    step: Callable[[int], Any] | None = None,
) -> int:
    """Run ``tiles`` of ``x`` through ``model``, ``batch`` tiles of one crop shape per forward (tiles grouped by crop
    shape), into ``canvases`` (one per output map). Returns the number of forwards."""
    forwards = 0
    pending: list[Tile] = []

    def flush() -> None:
        nonlocal forwards
        if not pending:
            return
        crops = [read_crop(x, t, pad, mode) for t in pending]
        inp = (crops[0] if len(crops) == 1 else torch.cat(crops)).to(device)
        del crops
        leaves = [o for o in tree_flatten(model(inp))[0] if isinstance(o, torch.Tensor)]
        del inp
        forwards += 1
        if len(leaves) != len(canvases):
            raise PadkitValueError(
                f"tile: the model returned {len(leaves)} tensors on a tile and {len(canvases)} on the whole image"
            )
        n = x.shape[0]
        for i, t in enumerate(pending):
            for leaf, canvas in zip(leaves, canvases):
                canvas.put(leaf[i * n : (i + 1) * n], t)
        if step is not None:
            step(len(pending))
        pending.clear()

    for t in sorted(tiles, key=lambda t: t.crop_shape):  # stable: row-major within one crop shape
        if pending and (len(pending) == batch or pending[0].crop_shape != t.crop_shape):
            flush()
        pending.append(t)
    flush()
    return forwards


def relative_error(got: Sequence[torch.Tensor], want: Sequence[torch.Tensor]) -> tuple[float, float]:
    """``(max |got - want| / max |want|, max |got - want|)`` over every map (the scale of 0 is taken as 1)."""
    worst_rel = worst_abs = 0.0
    for g, w in zip(got, want):
        diff = float((g.double() - w.double()).abs().max()) if g.numel() else 0.0
        scale = float(w.double().abs().max()) if w.numel() else 0.0
        worst_abs = max(worst_abs, diff)
        worst_rel = max(worst_rel, diff / (scale if scale > 0 and math.isfinite(scale) else 1.0))
    return worst_rel, worst_abs
