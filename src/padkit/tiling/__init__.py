"""Tiled inference: run a network on an image of any size, tile by tile, in memory bounded by the tile.

:func:`tiled` splits the image into tiles aligned to the network's total stride, extends each by a halo at least the
network's reach (both read from :func:`padkit.plan`'s trace, see :mod:`.reach`), runs them ``batch`` at a time,
crops the halo and stitches the cores at the network's output scale. Where every op is local the result equals the
whole-image run; where an op mixes all positions (group norm, attention, global pooling) ``exact=True`` refuses and
names it, and ``exact=False`` blends overlapping tiles and measures the seam error it costs.

The package: :mod:`.reach` (total stride, halo, scales, what makes a network global), :mod:`.layout` (cores, crops,
the virtual image a copy mode pads), :mod:`.stitch` (the runner, the canvases, the blend ramps).

Example:
    >>> import torch, padkit
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 5, stride=2, padding=2))
    >>> x = torch.randn(1, 1, 70, 50)
    >>> y = padkit.tiled(net, x, 16, progress=False)
    >>> bool(torch.allclose(y, net(x), atol=1e-6))
    True
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence, Union

import torch
from torch import nn
from torch.utils._pytree import tree_unflatten

from .._errors import PadkitValueError
from .._validate import bad_type, bad_value, check_int, is_int, ntuple
from ..modes import COPY_MODES, canonical_mode
from .layout import Segment, Tile, layout, read_crop
from .reach import Reach, check_scales, meta_outputs, network_reach, round_up
from .stitch import Canvas, relative_error, run_tiles

__all__ = ["MODES", "TiledRun", "tiled", "tiled_run"]

#: What ``mode`` accepts besides None: the copy modes, which fill the halo beyond the image border.
MODES: tuple[str, ...] = tuple(sorted(COPY_MODES))

IntOrSeq = Union[int, Sequence[int]]


@dataclass(frozen=True)
class TiledRun:
    """What :func:`tiled_run` did; every tuple has one entry per spatial dim.

    Attributes:
        output: the stitched output, of the form of ``model(x)``'s.
        tiles: how many tiles ran; ``forwards``: in how many forward calls.
        tile, halo, align: tile core size (rounded up to the total stride), halo per side, total stride.
        scale: the first output map's scale (output samples per input sample).
        exact: whether the result equals the whole-image run (local network, exact tiling).
        mode: the copy mode of the halo beyond the image border, or None (the model's own padding).
        global_at: the layer that makes the network global (blending was needed), or None.
        seam_error: with blending, the largest ``|tiled - whole|`` over a sample region, relative to the largest
            ``|whole|`` there; ``seam_error_abs`` the difference itself; ``sample``: the region's spatial size. None
            for exact tiling.
        seconds: wall time of the tiles (without planning and without the seam measurement).
    """

    output: Any = field(repr=False)
    tiles: int
    forwards: int
    tile: tuple[int, ...]
    halo: tuple[int, ...]
    align: tuple[int, ...]
    scale: tuple[Fraction, ...]
    exact: bool
    mode: str | None
    global_at: str | None
    seam_error: float | None
    seam_error_abs: float | None
    sample: tuple[int, ...] | None
    seconds: float

    def summary(self) -> str:
        """One line: tiles, tile, halo, scale and (blending) the seam error."""

        def dims(values: Sequence[object]) -> str:
            return "x".join(str(v) for v in values)

        line = (
            f"{self.tiles} tiles of {dims(self.tile)} + halo {dims(self.halo)}, total stride {dims(self.align)}, "
            f"scale {dims(self.scale)}, {'exact' if self.exact else 'blended'}"
        )
        if self.seam_error is not None:
            line += (
                f", worst seam error {self.seam_error:.3g} of the output's scale on a {dims(self.sample or ())} sample"
            )
        return line


def _check_mode(mode: object) -> str | None:
    if mode is None:
        return None
    return canonical_mode(mode, argname="mode", allowed=MODES)


def _check_device(device: object, model: nn.Module, x: torch.Tensor) -> torch.device:
    param = next(iter(model.parameters()), None)
    own = param.device if param is not None else None
    if device is None:
        return own if own is not None else x.device
    if not isinstance(device, (str, torch.device)):
        raise bad_type("device", device, "None, a torch.device or a device string such as 'cuda'")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise bad_value("device", device, "a device string such as 'cpu', 'cuda' or 'cuda:1'") from None
    if own is not None and (own.type != dev.type or (dev.index is not None and own.index != dev.index)):
        raise bad_value("device", device, f"the device of the model's parameters ({own}); move the model there first")
    return dev


def _check_args(
    model: object, x: object, tile: object, exact: object, batch: object, progress: object
) -> tuple[int, tuple[int, ...]]:
    if not isinstance(model, nn.Module):
        raise bad_type("model", model, "a torch.nn.Module")
    if not isinstance(x, torch.Tensor):
        raise bad_type("x", x, "a torch.Tensor of shape (N, C, *spatial)")
    if not 3 <= x.dim() <= 5 or x.shape[0] < 1 or x.shape[1] < 1 or min(x.shape[2:]) < 1:
        raise bad_value(
            "x", f"tensor of shape {tuple(x.shape)}", "a non-empty (N, C, L), (N, C, H, W) or (N, C, D, H, W)"
        )
    if not x.is_floating_point():
        raise bad_type("x", f"tensor of dtype {x.dtype}", "a floating-point tensor")
    if not isinstance(exact, bool):
        raise bad_type("exact", exact, "True or False")
    if not isinstance(progress, bool):
        raise bad_type("progress", progress, "True or False")
    check_int(batch, "batch", minimum=1)
    rank = x.dim() - 2
    if not is_int(tile) and not (isinstance(tile, Sequence) and not isinstance(tile, str)):
        raise bad_type("tile", tile, f"an int or {rank} ints (one per spatial dim)")
    return rank, ntuple(tile, rank, "tile", minimum=1)


def _halo(halo: object, rank: int, reach: Reach, exact: bool, tile: tuple[int, ...]) -> tuple[int, ...]:
    align = reach.align
    given = None if halo is None else tuple(round_up(h, a) for h, a in zip(ntuple(halo, rank, "halo"), align))
    if exact:
        if reach.global_at is not None:
            raise PadkitValueError(
                f"tile: exact=True: layer {reach.global_at} mixes all positions (statistics over positions, attention "
                "or global pooling), so no tiling equals the whole-image run; exact=False blends overlapping tiles "
                "and reports the seam error"
            )
        if reach.halo is None:
            raise PadkitValueError(f"tile: exact=True: {reach.unknown}; exact=False blends overlapping tiles")
        if given is not None and any(g < h for g, h in zip(given, reach.halo)):
            raise bad_value("halo", halo, f"at least the network's halo {reach.halo} for exact tiling (or None)")
        return given or reach.halo
    if given is not None:
        return given
    if reach.halo is not None:
        return reach.halo
    return tuple(round_up(max(1, t // 4), a) for t, a in zip(tile, align))


def _virtual(x: torch.Tensor, pad: tuple[int, ...], mode: str | None) -> torch.Tensor:
    """``x`` extended by ``pad`` per side with ``mode`` (the virtual image, materialised: for small inputs)."""
    size = x.shape[2:]
    segs = tuple(Segment(p, p + n, 0, n + 2 * p, True, True) for n, p in zip(size, pad))
    return read_crop(x, Tile(segs), pad, mode)


def _scales(reach: Reach, leaves: list[torch.Tensor], virtual: tuple[int, ...]) -> list[tuple[Fraction, ...]]:
    if len(reach.scales) == len(leaves):
        return list(reach.scales)
    return [tuple(Fraction(int(o), n) for o, n in zip(leaf.shape[2:], virtual)) for leaf in leaves]


def _run(
    model: nn.Module,
    meta_model: nn.Module,
    x: torch.Tensor,
    reach: Reach,
    tile: tuple[int, ...],
    halo: tuple[int, ...],
    exact: bool,
    mode: str | None,
    batch: int,
    device: torch.device,
    progress: bool,
) -> tuple[Any, int, int, list[tuple[Fraction, ...]]]:
    """Tile ``x``: ``(output, tiles, forwards, scales)``."""
    rank = x.dim() - 2
    size = tuple(int(n) for n in x.shape[2:])
    pad = halo if mode is not None else (0,) * rank
    virtual = tuple(n + 2 * p for n, p in zip(size, pad))
    tiles = layout(size, tile, halo, pad)
    if exact:
        check_scales(meta_model, x.shape[1], virtual, reach, "image size" if mode is None else "padded image size")
        for shape in sorted({t.crop_shape for t in tiles}):
            check_scales(meta_model, x.shape[1], shape, reach, "tile crop size")
    leaves, spec = meta_outputs(meta_model, (*x.shape[:2], *virtual), x.dtype)
    maps = [o for o in leaves if isinstance(o, torch.Tensor)]
    if len(maps) != len(leaves) or any(o.dim() != rank + 2 or o.shape[0] != x.shape[0] for o in maps):
        raise PadkitValueError(
            f"tile: the model's output must be (N, C, *spatial) maps (a tensor, or a tuple/list/dict of them); got "
            f"{[tuple(o.shape) if isinstance(o, torch.Tensor) else type(o).__name__ for o in leaves]}"
        )
    scales = _scales(reach, maps, virtual)
    # blend ramps span the part of the overlap both tiles compute exactly (all of it for a global network)
    ramp = tuple(h - min(h, r) for h, r in zip(halo, reach.halo or (0,) * rank))
    canvases = [Canvas(o, s, pad, not exact, ramp, x.device) for o, s in zip(maps, scales)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tiles), desc="padkit tiled", unit="tile", leave=False)
    try:
        forwards = run_tiles(model, x, tiles, pad, mode, batch, device, canvases, None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()
    return tree_unflatten([c.result() for c in canvases], spec), len(tiles), forwards, scales


def tiled_run(
    model: nn.Module,
    x: torch.Tensor,
    tile: IntOrSeq,
    *,
    exact: bool = True,
    mode: str | None = None,
    batch: int = 1,
    device: Union[str, torch.device, None] = None,
    progress: bool = True,
    halo: IntOrSeq | None = None,
) -> TiledRun:
    """:func:`tiled`, returning a :class:`TiledRun` (the output and what the tiling did: tiles, halo, seam error).

    Takes the arguments of :func:`tiled`.
    """
    rank, tile_size = _check_args(model, x, tile, exact, batch, progress)
    mode = _check_mode(mode)
    dev = _check_device(device, model, x)
    from ..analysis.plan import _meta_copy

    meta_model = _meta_copy(model)
    reach = network_reach(meta_model, int(x.shape[1]), tile_size)
    tile_size = tuple(round_up(t, a) for t, a in zip(tile_size, reach.align))
    halo_size = _halo(halo, rank, reach, exact, tile_size)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            start = time.perf_counter()
            output, count, forwards, scales = _run(
                model, meta_model, x, reach, tile_size, halo_size, exact, mode, int(batch), dev, progress
            )
            seconds = time.perf_counter() - start
            seam = None
            sample = None
            if not exact:
                sample = tuple(min(n, 2 * t) for n, t in zip(x.shape[2:], tile_size))
                seam = _seam_error(model, meta_model, x, reach, tile_size, halo_size, mode, dev, sample, scales)
    finally:
        for m, training in modes:
            m.training = training
    run = TiledRun(
        output=output,
        tiles=count,
        forwards=forwards,
        tile=tile_size,
        halo=halo_size,
        align=reach.align,
        scale=scales[0],
        exact=exact,
        mode=mode,
        global_at=reach.global_at,
        seam_error=None if seam is None else seam[0],
        seam_error_abs=None if seam is None else seam[1],
        sample=sample,
        seconds=seconds,
    )
    if seam is not None:
        why = f" ({reach.global_at} mixes all positions)" if reach.global_at else ""
        warnings.warn(
            f"padkit.tiled(exact=False): blended tiles differ from a whole run by up to {seam[0]:.3g} of the "
            f"output's scale (max |difference| {seam[1]:.3g} on a {'x'.join(map(str, sample or ()))} sample "
            f"region){why}",
            UserWarning,
            stacklevel=3,
        )
    return run


def _seam_error(
    model: nn.Module,
    meta_model: nn.Module,
    x: torch.Tensor,
    reach: Reach,
    tile: tuple[int, ...],
    halo: tuple[int, ...],
    mode: str | None,
    device: torch.device,
    sample: tuple[int, ...],
    scales: list[tuple[Fraction, ...]],
) -> tuple[float, float]:
    """Blend ``x``'s leading ``sample`` region tile by tile and run it whole: ``(relative, absolute)`` worst error."""
    region = x[(slice(None), slice(None), *(slice(0, n) for n in sample))]
    got, _, _, _ = _run(model, meta_model, region, reach, tile, halo, False, mode, 1, device, False)
    pad = halo if mode is not None else (0,) * len(sample)
    whole = model(_virtual(region, pad, mode).to(device))
    from torch.utils._pytree import tree_flatten

    got_maps = [o for o in tree_flatten(got)[0] if isinstance(o, torch.Tensor)]
    want_maps = []
    for o, s in zip([o for o in tree_flatten(whole)[0] if isinstance(o, torch.Tensor)], scales):
        off = [int(p * f) for p, f in zip(pad, s)]
        want_maps.append(
            o[(slice(None), slice(None), *(slice(a, n - a) for a, n in zip(off, o.shape[2:])))].to(x.device)
        )
    return relative_error(got_maps, want_maps)


def tiled(
    model: nn.Module,
    x: torch.Tensor,
    tile: IntOrSeq,
    *,
    exact: bool = True,
    mode: str | None = None,
    batch: int = 1,
    device: Union[str, torch.device, None] = None,
    progress: bool = True,
    halo: IntOrSeq | None = None,
) -> Any:
    """Run ``model`` on ``x`` tile by tile, in memory bounded by the tile; exactly ``model(x)`` where it can be.

    The tiles' cores partition the image; they start on multiples of the network's total stride (``tile`` is rounded
    up to one) and the last one along each dim ends at the image's end, so it may be shorter. Each is extended by a
    halo of at least the network's reach (how far an output's receptive field extends beyond the input samples it
    stands for, read from :func:`padkit.plan` on the meta device). The halo is cropped off and the cores are stitched
    at the network's output scale into outputs allocated once; ``batch`` tiles of one crop shape run per forward.

    * Where every op is local (convolutions, pooling, eval-mode batch norm, activations, upsampling, concatenation)
      the result equals ``model(x)`` up to float rounding: tiles of other sizes may choose other convolution
      algorithms, so the two are not always bit-equal (max difference ~1e-6 of the output's scale in float32).
    * Where an op mixes all positions (group norm, attention, global pooling, instance norm, squeeze-excitation),
      ``exact=True`` raises and names the layer; ``exact=False`` overlaps tiles by the halo (``halo``, else a
      quarter of the tile), blends them with linear ramps that sum to 1 across each overlap, and warns with the worst
      seam error against a whole run on a sample region (two tiles wide) of ``x``. On a local network the ramps span
      only the part of the overlap both tiles compute exactly (none with the default halo, the network's), so the
      blend is exact too.
    * Tiles touching the image border read no halo there: they see the border the whole-image run sees (the model's
      own padding). With ``mode`` (``circular``, ``reflect``, ``symmetric``, ``replicate``) every tile gets a halo
      and beyond the border it holds what ``padkit.pad(x, halo, mode)`` puts there: the result is the central part of
      the model's output on that padded image; with ``circular`` and a model converted to circular padding
      (``padkit.convert(model, "circular")``) it equals ``model(x)`` and tiles seamlessly.
    * Outputs that are tuples, lists or dicts of maps are stitched per map, each at its own scale.

    The model runs in eval mode without gradients (its mode is restored afterwards); its outputs land on ``x``'s
    device.

    Args:
        model: an ``nn.Module`` taking ``(N, C, *spatial)`` and returning maps ``(N, C', *spatial')``.
        x: ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``, floating point.
        tile: the tile's core size, an int or one per spatial dim.
        exact: refuse unless the result equals ``model(x)`` (True) or blend overlapping tiles (False).
        mode: None (the image border keeps the model's padding) or a copy mode for the halo beyond the border.
        batch: tiles per forward.
        device: where the tiles run (default: the model's device); the model must be there.
        progress: show a progress bar over the tiles (tqdm, on stderr).
        halo: the halo per side (rounded up to the total stride); default: the network's reach. With ``exact`` it
            must be at least the network's.

    Returns:
        The output, of the form of ``model(x)``'s (a tensor, or a tuple/list/dict of tensors).

    Raises:
        PadkitTypeError, PadkitValueError: a bad argument; ``exact=True`` on a network with a global op or whose
            reach plan cannot follow; a model that is not translation-equivariant at the image's size (one that
            resizes to the input's size on an image that is not a multiple of its total stride).

    Example:
        >>> import torch, padkit
        >>> from torch import nn
        >>> up = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Upsample(scale_factor=2), nn.Conv2d(8, 3, 3))
        >>> x = torch.randn(1, 3, 40, 64)
        >>> y = padkit.tiled(up, x, 16, progress=False)
        >>> tuple(y.shape), bool(torch.allclose(y, up(x), atol=1e-6))
        ((1, 3, 78, 126), True)
    """
    return tiled_run(
        model, x, tile, exact=exact, mode=mode, batch=batch, device=device, progress=progress, halo=halo
    ).output
