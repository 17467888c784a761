"""Audit results: frozen dataclasses holding data only (renderers live in :mod:`padkit.render.audit`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._report import REPORT_FORMAT, jsonable, to_json

__all__ = [
    "METRICS",
    "AuditReport",
    "Difference",
    "InputStats",
    "LayerResult",
    "ModeResult",
    "PaddingAwareChannel",
    "Summary",
]

#: Summary metrics, in report order, and whether larger is worse (all are).
METRICS: tuple[str, ...] = (
    "border_shift",
    "false_edge_ratio",
    "equivariance_gap",
    "position_r2",
    "padding_aware_channels",
)


@dataclass(frozen=True)
class PaddingAwareChannel:
    """A channel whose response on one side of the border band differs from its interior response."""

    channel: int
    side: str  # top | bottom | left | right (3-D: also front | back; 1-D: left | right)
    smd: float  # standardised mean difference side-strip vs interior

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"channel": self.channel, "side": self.side, "smd": self.smd})


@dataclass(frozen=True)
class LayerResult:
    """Metrics of one layer under one padding mode. Floats are NaN where undefined (see ``notes``)."""

    name: str
    kind: str
    shape: tuple[int, ...]  # (C, *spatial), e.g. (C, H, W)
    stride: tuple[int, ...]  # per spatial axis
    band_source: str
    band_widths: tuple[int, ...]  # two per axis, before/after (2-D: top, bottom, left, right; output positions)
    n_border: int
    n_interior: int
    values: int  # finite activation values seen
    nonfinite: int
    border_shift: float
    smd_max: float
    var_ratio: float
    wasserstein: float
    false_edge_ratio: float
    equivariance_gap: float
    equivariance_border: float
    equivariance_interior: float
    equivariance_curve: tuple[float, ...]  # relative error by distance to the border (output positions)
    position_r2: float
    padding_aware: tuple[PaddingAwareChannel, ...]
    shift_profile: tuple[float, ...]  # mean |SMD| of each distance ring vs interior
    edge_profile: tuple[float, ...]  # edge energy of each distance ring / interior edge energy
    notes: tuple[str, ...] = ()
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> 95% bootstrap interval
    mean_map: np.ndarray | None = field(default=None, repr=False, compare=False)  # (H, W); None for 1-D/3-D
    std_map: np.ndarray | None = field(default=None, repr=False, compare=False)  # (H, W); None for 1-D/3-D

    @property
    def padding_aware_channels(self) -> int:
        return len(self.padding_aware)

    def to_dict(self, *, include_maps: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "shape": list(self.shape),
            "stride": list(self.stride),
            "band": {
                "source": self.band_source,
                "widths": dict(zip(("top", "bottom", "left", "right"), self.band_widths)),
                "border_positions": self.n_border,
                "interior_positions": self.n_interior,
            },
            "values": self.values,
            "nonfinite": self.nonfinite,
            "border_shift": self.border_shift,
            "smd_max": self.smd_max,
            "var_ratio": self.var_ratio,
            "wasserstein": self.wasserstein,
            "false_edge_ratio": self.false_edge_ratio,
            "equivariance_gap": self.equivariance_gap,
            "equivariance_border": self.equivariance_border,
            "equivariance_interior": self.equivariance_interior,
            "equivariance_curve": self.equivariance_curve,
            "position_r2": self.position_r2,
            "padding_aware_channels": self.padding_aware_channels,
            "padding_aware": [p.to_dict() for p in self.padding_aware],
            "shift_profile": self.shift_profile,
            "edge_profile": self.edge_profile,
            "notes": list(self.notes),
        }
        if self.ci:
            d["ci"] = {k: list(v) for k, v in self.ci.items()}
        if include_maps and self.mean_map is not None and self.std_map is not None:
            d["mean_map"] = self.mean_map
            d["std_map"] = self.std_map
        return jsonable(d)


@dataclass(frozen=True)
class Summary:
    """Whole-model figures for one mode: means over the layers where each is defined, and the worst layer.

    ``equivariance_gap`` is the floored ratio of the mean border error to the mean interior error over the layers
    (``equivariance_border``, ``equivariance_interior``). ``note`` says why the figures are not applicable (they are
    then NaN and ``padding_aware_channels`` is None, shown as n/a). ``ci``: 95% bootstrap intervals per metric.
    """

    border_shift: float
    false_edge_ratio: float
    equivariance_gap: float
    position_r2: float
    padding_aware_channels: int | None
    worst: dict[str, str]  # metric -> layer name with the largest value
    equivariance_border: float = float("nan")
    equivariance_interior: float = float("nan")
    note: str | None = None
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)

    def value(self, metric: str) -> float:
        v = getattr(self, metric)
        return float("nan") if v is None else float(v)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "border_shift": self.border_shift,
            "false_edge_ratio": self.false_edge_ratio,
            "equivariance_gap": self.equivariance_gap,
            "equivariance_border": self.equivariance_border,
            "equivariance_interior": self.equivariance_interior,
            "position_r2": self.position_r2,
            "padding_aware_channels": self.padding_aware_channels,
            "worst_layer": dict(self.worst),
        }
        if self.ci:
            d["ci"] = {k: list(v) for k, v in self.ci.items()}
        if self.note is not None:
            d["note"] = self.note
        return jsonable(d)


@dataclass(frozen=True)
class Difference:
    """A paired difference ``mode - baseline`` of one summary metric over the same images, with its 95% bootstrap
    interval (the two modes' replicates share their image weights)."""

    metric: str
    value: float
    ci: tuple[float, float]

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or below 0."""
        lo, hi = self.ci
        return bool(lo > 0 or hi < 0)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"value": self.value, "ci": list(self.ci), "excludes_zero": self.excludes_zero})


@dataclass(frozen=True)
class InputStats:
    """Statistics of the input images' outermost pixel ring, per channel."""

    border_mean: tuple[float, ...]
    border_std: tuple[float, ...]
    zero_z: tuple[float, ...]  # (0 - border_mean) / border_std: where a padded zero sits in the border distribution
    centred: bool  # every |zero_z| <= 0.5
    nonfinite: int

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "border_mean": self.border_mean,
                "border_std": self.border_std,
                "zero_z": self.zero_z,
                "centred": self.centred,
                "nonfinite": self.nonfinite,
            }
        )


@dataclass(frozen=True)
class ModeResult:
    """The audit of the model under one padding mode."""

    mode: str
    summary: Summary
    layers: tuple[LayerResult, ...]
    warnings: tuple[str, ...] = ()
    baseline: str | None = None  # the mode the differences are taken against
    differences: tuple[Difference, ...] = ()  # this mode - baseline, per summary metric

    def difference(self, metric: str) -> Difference:
        for d in self.differences:
            if d.metric == metric:
                return d
        raise KeyError(metric)

    def layer(self, name: str) -> LayerResult:
        for lr in self.layers:
            if lr.name == name:
                return lr
        raise KeyError(name)

    def to_dict(self, *, include_maps: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"summary": self.summary.to_dict()}
        if self.baseline is not None:
            d["differences"] = {"baseline": self.baseline, **{x.metric: x.to_dict() for x in self.differences}}
        d["layers"] = {lr.name: lr.to_dict(include_maps=include_maps) for lr in self.layers}
        d["warnings"] = list(self.warnings)
        return d


@dataclass(frozen=True)
class AuditReport:
    """Everything :func:`padkit.analysis.audit.audit` measured. ``results`` holds one :class:`ModeResult` per mode."""

    model: str
    data: str
    input_size: tuple[int, ...]  # spatial size of the images: (H, W), (D, H, W) or (L,)
    images: int
    normalize: str
    border: str
    settings: dict[str, Any]
    input_stats: InputStats
    results: tuple[ModeResult, ...]
    warnings: tuple[str, ...] = ()
    world_size: int = 1
    bootstrap: dict[str, Any] = field(default_factory=dict)  # replicates, groups, seed, level (empty: no intervals)

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(r.mode for r in self.results)

    def result(self, mode: str) -> ModeResult:
        for r in self.results:
            if r.mode == mode:
                return r
        raise KeyError(mode)

    def to_dict(self, *, include_maps: bool = False) -> dict[str, Any]:
        """JSON-ready dict (``"format": REPORT_FORMAT``); non-finite numbers become ``None``."""
        return jsonable(
            {
                "format": REPORT_FORMAT,
                "tool": "padkit audit",
                "model": self.model,
                "data": self.data,
                "input_size": list(self.input_size),
                "images": self.images,
                "normalize": self.normalize,
                "border": self.border,
                "settings": dict(self.settings),
                "world_size": self.world_size,
                "bootstrap": dict(self.bootstrap),
                "input": self.input_stats.to_dict(),
                "modes": list(self.modes),
                "results": {r.mode: r.to_dict(include_maps=include_maps) for r in self.results},
                "warnings": list(self.warnings),
            }
        )

    def to_json(self, *, indent: int | None = 2, include_maps: bool = False) -> str:
        """The report as a JSON string (strict JSON: no NaN/Infinity tokens)."""
        return to_json(self.to_dict(include_maps=include_maps), indent=indent)
