"""What tiling needs to know about a network, read from :mod:`padkit.analysis.plan`'s trace on the meta device.

* the **total stride** (``align``) per dim: the least common multiple of the denominators of every layer's scale (a
  layer at scale 1/8 samples every 8th input position, so tiles must start on multiples of 8 for their grids to
  coincide with the whole image's; an output at scale 3/2 needs multiples of 2 to land on whole output positions);
* the **halo** per dim: how far, in input samples, an output position's receptive field extends before the start
  of the aligned core that holds it (the largest multiple of ``align`` at or before the input samples it stands for,
  its *block*: ``floor(j / s) .. ceil((j + 1) / s) - 1`` for output ``j`` at scale ``s``) and after its block, over
  the positions whose field the plan size does not clip, the larger side rounded up to a multiple of ``align``;
* each output map's scale, and the layer that makes the network global (``global_at``), if any.

A tile whose crop holds its core plus the halo on each side computes every core output position from exactly the input
samples the whole-image run uses, through intermediate values that never touch the tile's own padding; so the core
equals the whole-image output (up to the float rounding of other conv algorithms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from .._errors import PadkitError, PadkitValueError
from ..analysis.plan.graph import Meta, Span, Trace
from ..analysis.plan.trace import StopTrace, run_trace

__all__ = ["MAX_PLAN_ELEMENTS", "Reach", "check_scales", "meta_outputs", "network_reach", "round_up"]

#: The largest input (in elements of one channel) the reach search plans on the meta device before giving up.
MAX_PLAN_ELEMENTS = 1 << 23


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is ``>= value``."""
    return -(-value // multiple) * multiple


@dataclass(frozen=True)
class Reach:
    """A network's tiling geometry (see the module docstring); every tuple has one entry per spatial dim.

    Attributes:
        align: the total stride: tile origins and halos are multiples of it.
        reach: input samples the receptive field extends before the aligned core start or after an output's block
            (the larger side; see the module docstring); None when the network is global or its reach cannot be
            followed.
        halo: ``reach`` rounded up to a multiple of ``align``; None with ``reach``.
        scales: per output map (in ``tree_flatten`` order), its scale per dim.
        global_at: the first layer that mixes all positions (group norm, attention, global pooling), or None.
        unknown: why the reach cannot be followed (an op plan does not know, an output that is not a map), or None.
        plan_size: the spatial size the reach was read at.
        layer_scales: every spatial layer's name and scale at ``plan_size`` (what :func:`check_scales` compares).
    """

    align: tuple[int, ...]
    reach: tuple[int, ...] | None
    halo: tuple[int, ...] | None
    scales: tuple[tuple[Fraction, ...], ...]
    global_at: str | None
    unknown: str | None
    plan_size: tuple[int, ...]
    layer_scales: tuple[tuple[str, tuple[Fraction, ...]], ...] = ()

    @property
    def local(self) -> bool:
        """The halo is known: every output position depends on a bounded neighbourhood."""
        return self.halo is not None


def _trace(meta_model: nn.Module, size: tuple[int, ...], channels: int, maps: bool) -> tuple[Trace, list[Any]]:
    """The trace of ``meta_model`` on a ``(1, channels, *size)`` meta input and its output leaves."""
    x = torch.empty((1, channels, *size), device="meta")
    try:
        trace, out = run_trace(meta_model, x, maps=maps)
    except StopTrace as done:  # pragma: no cover - no stop callback is given
        return done.trace, []
    except PadkitError:
        raise
    except Exception as exc:
        raise PadkitValueError(
            f"tile: the model's forward failed on the meta device at spatial size {'x'.join(map(str, size))} with "
            f"{channels} channels ({type(exc).__name__}: {exc}); choose a tile size the model accepts"
        ) from exc
    return trace, tree_flatten(out)[0]


def _why_unknown(trace: Trace, leaves: list[Any]) -> str | None:
    tensors = [o for o in leaves if isinstance(o, torch.Tensor)]
    if trace.losses:
        return f"plan cannot follow the spatial structure ({trace.losses[0]})"
    if trace.inexact:
        return f"plan's arithmetic is inexact here ({trace.inexact[0]})"
    unknown = [r.name for r in trace.layers if r.kind == "unknown" or not r.scale]
    if unknown:
        return f"plan cannot check the arithmetic of layer {unknown[0]}"
    corners = [r.name for r in trace.layers if "align_corners" in r.note]
    if corners:
        return (
            f"layer {corners[0]} interpolates with align_corners=True, whose sampling grid depends on the input "
            "size, so no tiling reproduces the whole-image run"
        )
    if not tensors:
        return "the model returns no tensor"
    if len(trace.outputs) != len(tensors) or any(m.rf is None or not m.scale for m in trace.outputs):
        where = trace.ended[-1][0] if trace.ended else "the output"
        return f"an output is not a spatial map (its spatial structure ends at {where})"
    return None


def _align(trace: Trace, ndim: int) -> tuple[int, ...]:
    scales = [r.scale for r in trace.layers if r.scale] + [m.scale for m in trace.outputs if m.scale]
    return tuple(math.lcm(1, *(s[d].denominator for s in scales)) for d in range(ndim))


def _blocks(n_out: int, scale: Fraction) -> tuple[np.ndarray, np.ndarray]:
    """Per output position ``j``, the first and last input sample it stands for (its block)."""
    j = np.arange(n_out, dtype=np.int64)
    p, q = scale.numerator, scale.denominator
    return (j * q) // p, -((-(j + 1) * q) // p) - 1


def _side_reach(span: Span, scale: Fraction, size: int, align: int) -> tuple[int, int, int]:
    """``(before, after, interior)`` along one dim: how far unclipped fields extend before the aligned core start at or
    before their block (cores start on the stride grid) and after their block (the last core ends anywhere), and how
    many positions are unclipped on both sides."""
    lo, hi = span
    block_lo, block_hi = _blocks(len(lo), scale)
    free_lo, free_hi = lo > 0, hi < size - 1
    before = int((block_lo - block_lo % align - lo)[free_lo].max(initial=0))
    after = int((hi - block_hi)[free_hi].max(initial=0))
    return max(before, 0), max(after, 0), int((free_lo & free_hi).sum())


def _measure(trace: Trace, size: tuple[int, ...], align: tuple[int, ...]) -> tuple[int, ...] | None:
    """Per dim, the reach (the larger side) over every output, or None when the plan size clips too much."""
    reach = []
    for d, n in enumerate(size):
        worst = 0
        for meta in trace.outputs:
            assert meta.rf is not None
            before, after, interior = _side_reach(meta.rf[d], meta.scale[d], n, align[d])
            period = max(1, math.ceil(align[d] * meta.scale[d]))
            if interior < 2 * period + 1:
                return None
            worst = max(worst, before, after)
        reach.append(worst)
    return tuple(reach)


def _global_at(outputs: list[Meta]) -> str | None:
    return next((m.global_at for m in outputs if m.global_at is not None), None)


def network_reach(meta_model: nn.Module, channels: int, start: tuple[int, ...]) -> Reach:
    """The tiling geometry of ``meta_model`` (a meta-device copy in eval mode) on ``channels``-channel inputs.

    Plans at ``start`` (rounded up to the total stride), doubling the size while the model's forward fails at it, the
    plan size clips the receptive field or the field covers the whole input (which makes a local network look
    global), up to
    :data:`MAX_PLAN_ELEMENTS`. A network is global when the same layer is global at two sizes.

    Raises:
        PadkitValueError: the model's forward fails at the plan size.
    """
    size = tuple(start)
    previous_global: str | None = None
    first_error: PadkitValueError | None = None
    while True:
        try:
            trace, leaves = _trace(meta_model, size, channels, maps=True)
        except PadkitValueError as exc:  # too small for the model (a tile of 8 through 5 poolings): plan larger
            first_error = first_error or exc
            if math.prod(size) * 2 ** len(size) > MAX_PLAN_ELEMENTS:
                raise first_error from None
            size = tuple(2 * n for n in size)
            continue
        ndim = len(size)
        unknown = _why_unknown(trace, leaves)
        align = _align(trace, ndim)
        scales = tuple(m.scale for m in trace.outputs)
        layer_scales = tuple((r.name, r.scale) for r in trace.layers)
        if unknown is not None:
            return Reach(align, None, None, scales, None, unknown, size, layer_scales)
        if any(n % a for n, a in zip(size, align)):
            size = tuple(round_up(n, a) for n, a in zip(size, align))
            continue
        global_at = _global_at(trace.outputs)
        reach = None if global_at is not None else _measure(trace, size, align)
        bigger = tuple(2 * n for n in size)
        too_big = math.prod(bigger) > MAX_PLAN_ELEMENTS
        if global_at is not None and (global_at == previous_global or too_big):
            return Reach(align, None, None, scales, global_at, None, size, layer_scales)
        if reach is not None:
            halo = tuple(round_up(r, a) for r, a in zip(reach, align))
            return Reach(align, reach, halo, scales, None, None, size, layer_scales)
        if too_big:
            why = (
                f"the receptive field is wider than the largest plan size ({'x'.join(map(str, size))}); "
                "give the halo yourself or use exact=False"
            )
            return Reach(align, None, None, scales, None, why, size, layer_scales)
        previous_global = global_at
        size = bigger


def check_scales(meta_model: nn.Module, channels: int, size: tuple[int, ...], reach: Reach, what: str) -> None:
    """Check that at spatial ``size`` every layer has the scale it has at the plan size (an op that resizes to a
    fixed size, such as interpolating to the input's size, changes its scale with the size and breaks tiling).

    Raises:
        PadkitValueError: naming the first layer whose scale differs, and the total stride.
    """
    trace, _ = _trace(meta_model, size, channels, maps=False)
    got = tuple((r.name, r.scale) for r in trace.layers)
    if got == reach.layer_scales:
        return
    at = "x".join(map(str, size))
    for (name, scale), (ref_name, ref_scale) in zip(got, reach.layer_scales):
        if name != ref_name or scale != ref_scale:
            shown = "x".join(str(s) for s in scale) or "unknown"
            ref = "x".join(str(s) for s in ref_scale)
            raise PadkitValueError(
                f"tile: at {what} {at} layer {name} has scale {shown} where it has {ref} at "
                f"{'x'.join(map(str, reach.plan_size))}, so tiles cannot reproduce the whole-image run exactly; use "
                f"sizes that are multiples of the total stride {'x'.join(map(str, reach.align))}, or exact=False"
            )
    raise PadkitValueError(f"tile: at {what} {at} the model runs other layers than at the plan size; use exact=False")


def meta_outputs(meta_model: nn.Module, x_shape: tuple[int, ...], dtype: torch.dtype) -> tuple[list[Any], Any]:
    """The output leaves (meta tensors) and their tree spec of ``meta_model`` on an input of ``x_shape``."""
    try:
        with torch.no_grad():
            out = meta_model(torch.empty(x_shape, device="meta", dtype=dtype))
    except Exception as exc:
        raise PadkitValueError(
            f"tile: the model's forward failed on the meta device at input shape {tuple(x_shape)} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return tree_flatten(out)
