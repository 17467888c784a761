"""The result of :func:`padkit.plan`: :class:`Plan` (the model at one input size) and :class:`LayerPlan` (one layer),
with their JSON form (``"format": 1``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

import numpy as np
import torch

from ..._report import REPORT_FORMAT, to_json
from ..._validate import bad_value
from .graph import LayerRecord, Span, Trace

__all__ = ["FORMAT_VERSION", "LayerPlan", "Plan", "layer_plan", "output_view"]

#: Version of the JSON written by :meth:`Plan.to_json` (every padkit report's format).
FORMAT_VERSION = REPORT_FORMAT


@dataclass(frozen=True)
class LayerPlan:
    """One spatial layer at one input size; every tuple has one entry per spatial dim (in dim order).

    Attributes:
        name: qualified module name (``layer2.0.downsample.0``) or ``module:op`` for functional ops.
        kind: ``conv``, ``conv_transpose``, ``max_pool``, ``avg_pool``, ``adaptive_avg_pool``, ``adaptive_max_pool``,
            ``pad``, ``interpolate``, ``pixel_shuffle``, ``pixel_unshuffle``, ``global_mean`` ... or ``unknown`` (a
            layer whose arithmetic could not be checked).
        in_size, out_size: spatial sizes.
        kernel, stride, dilation: per dim; None for adaptive pooling and pads.
        pad_before, pad_after: padding actually applied (``pad_after`` already excludes the samples PyTorch drops;
            for ``ceil_mode`` pooling it includes the overhang of the last window).
        unread: real input samples at the end that no window reads.
        uneven: True when ``pad_before != pad_after`` along some dim.
        note: padding mode (layer names: ``reflect``, ``partial``, ...; zero padding, ``zeros``, is not noted on
            layers, only on explicit pads), ``padkit``, ``ceil_mode``, ``TF-same``, adaptive windows, or why the layer
            is unknown.
        reach_known: whether the padding-reach map of this layer's output is known (see :meth:`Plan.border_band`).
        scale: per dim, the output's sampling rate relative to the input (``Fraction(1, 2)`` after a stride-2 conv,
            ``2`` after a 2x upsampling); empty when unknown.
        receptive_field: per dim, how many input samples one output position depends on (the largest receptive
            field over the positions, the input size once the layer is global); None when unknown.
        global_at: the layer after which every position depends on every input position (this one or an earlier
            one: global pooling, statistics over positions, a receptive field covering the input), None if local.
    """

    name: str
    kind: str
    in_size: tuple[int, ...]
    out_size: tuple[int, ...]
    kernel: tuple[int | None, ...]
    stride: tuple[int | None, ...]
    dilation: tuple[int | None, ...]
    pad_before: tuple[int, ...]
    pad_after: tuple[int, ...]
    unread: tuple[int, ...]
    uneven: bool
    note: str = ""
    reach_known: bool = False
    scale: tuple[Fraction, ...] = ()
    receptive_field: tuple[int, ...] | None = None
    global_at: str | None = None

    @property
    def reach(self) -> tuple[float, ...] | None:
        """Per dim, how many input samples an output position sees on each side: ``(receptive_field - 1) / 2``."""
        return None if self.receptive_field is None else tuple((r - 1) / 2 for r in self.receptive_field)

    @property
    def interesting(self) -> bool:
        """Pads, leaves samples unread, or is unknown."""
        return self.kind == "unknown" or self.uneven or any(self.unread) or any(self.pad_before) or any(self.pad_after)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "in_size": list(self.in_size),
            "out_size": list(self.out_size),
            "kernel": list(self.kernel),
            "stride": list(self.stride),
            "dilation": list(self.dilation),
            "pad_before": list(self.pad_before),
            "pad_after": list(self.pad_after),
            "unread": list(self.unread),
            "uneven": self.uneven,
            "note": self.note,
            "scale": [float(x) for x in self.scale] or None,
            "receptive_field": None if self.receptive_field is None else list(self.receptive_field),
            "reach": None if self.reach is None else list(self.reach),
            "global_at": self.global_at,
        }


def field_size(rf: tuple[Span, ...] | None) -> tuple[int, ...] | None:
    """Per axis, the largest receptive field over the positions (in input samples)."""
    if rf is None:
        return None
    return tuple(int(max(0, (hi - lo + 1).max(initial=0))) for lo, hi in rf)


def output_view(trace: Trace) -> tuple[tuple[Fraction, ...], tuple[int, ...] | None, str | None, str | None]:
    """``(scale, receptive_field, global_at, ended_at)`` of the network's output.

    From its first tracked output (``ended_at`` None); when the spatial structure ends by design, from the last map it
    ended at (``ended_at`` names where), with that map's scale. The output is global when that map was, or when the
    op that ended the structure puts all positions together (a global reduction, a flatten of space before a linear
    layer or attention); otherwise (a split into windows or patches) its receptive field is unknown.
    """
    if trace.outputs:
        meta = trace.outputs[0]
        return meta.scale, field_size(meta.rf), meta.global_at, None
    if not trace.ended:
        return (), None, None, None
    where, meta, mixes = trace.ended[-1]
    global_at = meta.global_at or (where if mixes else None)
    receptive_field = tuple(trace.nodes[0].sizes) if global_at is not None else None
    return meta.scale, receptive_field, global_at, where


def layer_plan(rec: LayerRecord) -> LayerPlan:
    """The :class:`LayerPlan` of a traced layer."""
    d = rec.dims
    return LayerPlan(
        name=rec.name,
        kind=rec.kind,
        in_size=tuple(r.in_size for r in d),
        out_size=tuple(r.out_size for r in d) if d else rec.out_spatial,
        kernel=tuple(r.kernel for r in d),
        stride=tuple(r.stride for r in d),
        dilation=tuple(r.dilation for r in d),
        pad_before=tuple(r.pad_before for r in d),
        pad_after=tuple(r.pad_after for r in d),
        unread=tuple(r.unread for r in d),
        uneven=rec.kind != "unknown" and any(r.pad_before != r.pad_after for r in d),
        note=rec.note,
        reach_known=rec.reach is not None,
        scale=rec.scale,
        receptive_field=field_size(rec.rf),
        global_at=rec.global_at,
    )


@dataclass(frozen=True, eq=False)
class Plan:
    """Result of :func:`~padkit.analysis.plan.plan`.

    Attributes:
        model: the model's name (spec string or class name).
        input_size: spatial input size, one entry per dim.
        layers: every spatial layer in execution order.
        clean: no uneven padding, nothing unread, and no unknown layer.
        suggested_sizes: the nearest clean sizes strictly below and above ``input_size`` (each dim searched on its
            own, at most ``search`` away); empty when none was found or the search was switched off.
        foveation: ``input_size``-shaped float64 array, per input position the number of window paths of the network
            that read it (backward counting to where the spatial structure ends), or None when unknown.
        notes: where spatial tracking ended, was lost, or met global context (squeeze-excitation, group norm);
            a note repeated at several places is one line naming them.
        scale: per dim, the output's sampling rate relative to the input (1 for a U-Net, 8 for a VAE decoder
            upsampling 8x); for a model whose spatial structure ends (``ended_at``), that of the last map (1/32 for a
            ResNet: global pooling keeps the scale of the map it pools); empty when unknown.
        receptive_field: per dim, how many input samples one output position depends on (the input size when the
            output is global); None when unknown.
        global_at: the first layer after which every output position depends on every input position (global
            pooling, attention or a reshape flattening space, statistics over positions, a receptive field covering
            the input); None when the output is local.
        ended_at: where the spatial structure ends (the output is not a map), None when the output is a map.
    """

    model: str
    input_size: tuple[int, ...]
    layers: tuple[LayerPlan, ...]
    clean: bool
    suggested_sizes: tuple[tuple[int, ...], ...]
    foveation: np.ndarray | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()
    scale: tuple[Fraction, ...] = ()
    receptive_field: tuple[int, ...] | None = None
    global_at: str | None = None
    ended_at: str | None = None
    _output_rf: tuple[Span, ...] | None = field(default=None, repr=False)
    _reach: Mapping[str, tuple[np.ndarray, ...]] = field(default_factory=dict, repr=False)

    @property
    def output_reach(self) -> tuple[float, ...] | None:
        """Per dim, how many input samples an output position sees on each side: ``(receptive_field - 1) / 2``."""
        return None if self.receptive_field is None else tuple((r - 1) / 2 for r in self.receptive_field)

    def output_field(self, position: tuple[int, ...] | None = None) -> tuple[tuple[int, int], ...] | None:
        """Per dim, the first and last input sample that output ``position`` (default: the central one) depends on;
        None when unknown or when the output is not a map."""
        if self._output_rf is None or self.ended_at is not None:
            return None
        if position is None:
            position = tuple(len(lo) // 2 for lo, _ in self._output_rf)
        return tuple((int(lo[i]), int(hi[i])) for (lo, hi), i in zip(self._output_rf, position))

    def layer(self, name: str) -> LayerPlan:
        """The layer called ``name`` (PadkitValueError if there is none)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise bad_value("name", name, f"a layer of this plan, one of {[x.name for x in self.layers][:20]}...")

    def reach(self, name: str) -> tuple[np.ndarray, ...]:
        """Per spatial dim, a bool array over the output positions of layer ``name``: True where the receptive field
        of that row/column touches padding (the N-D map is the OR over dims, see :meth:`border_band`)."""
        layer = self.layer(name)
        if name not in self._reach:
            raise bad_value(
                "name",
                name,
                f"a layer whose padding reach is known; the reach of this {layer.kind} layer is unknown: "
                f"{self._why_unknown()}",
            )
        return self._reach[name]

    def border_band(self, name: str) -> torch.Tensor:
        """Bool tensor of layer ``name``'s output spatial shape, True where the receptive field reaches padding.

        Example:
            >>> import torchvision, padkit
            >>> p = padkit.plan(torchvision.models.resnet18(), 224, suggest=False)
            >>> band = p.border_band("layer4.1.conv2")
            >>> tuple(band.shape), bool(band.all())  # at 7x7 every position's receptive field reaches the padding
            ((7, 7), True)
        """
        per_dim = self.reach(name)
        band = torch.zeros(tuple(len(r) for r in per_dim), dtype=torch.bool)
        for a, r in enumerate(per_dim):
            shape = [1] * len(per_dim)
            shape[a] = len(r)
            band = band | torch.from_numpy(r.astype(bool)).reshape(shape)
        return band

    def border_fraction(self, name: str) -> float | None:
        """Share of layer ``name``'s output positions whose receptive field reaches padding (None: reach unknown)."""
        if name not in self._reach:
            return None
        return float(self.border_band(name).float().mean())

    def _why_unknown(self) -> str:
        return "; ".join(self.notes) or "the layer's input could not be followed"

    @property
    def uneven_layers(self) -> tuple[LayerPlan, ...]:
        return tuple(x for x in self.layers if x.uneven)

    @property
    def unread_layers(self) -> tuple[LayerPlan, ...]:
        return tuple(x for x in self.layers if any(x.unread))

    @property
    def unknown_layers(self) -> tuple[LayerPlan, ...]:
        return tuple(x for x in self.layers if x.kind == "unknown")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "model": self.model,
            "input_size": list(self.input_size),
            "clean": self.clean,
            "suggested_sizes": [list(s) for s in self.suggested_sizes],
            "uneven": len(self.uneven_layers),
            "unread": len(self.unread_layers),
            "unknown": len(self.unknown_layers),
            "foveation_known": self.foveation is not None,
            "scale": [float(x) for x in self.scale] or None,
            "receptive_field": None if self.receptive_field is None else list(self.receptive_field),
            "reach": None if self.output_reach is None else list(self.output_reach),
            "global_at": self.global_at,
            "ended_at": self.ended_at,
            "notes": list(self.notes),
            "layers": [x.to_dict() | {"border_fraction": self.border_fraction(x.name)} for x in self.layers],
        }

    def to_json(self, **kwargs: Any) -> str:
        """The plan as strict JSON (``"format": 1``); keyword arguments go to :func:`json.dumps`."""
        return to_json(self.to_dict(), **kwargs)
