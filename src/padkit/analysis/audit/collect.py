"""The forward hooks of an audit: they route each audited layer's output to its accumulator, phase by phase.

One :class:`Collector` serves every mode. For each forward pass it is told which mode's model runs (``state``) and
which phase it is in:

* ``calib``: the first batch; each layer's accumulator is created from its first output (shape, border band,
  histogram range, probe projection), then the batch is streamed (on rank 0 only);
* ``stream``: the statistics of a batch;
* ``equiv_a`` / ``equiv_b``: the two crops of the equivariance check (outputs of the first crop are kept until the
  second crop's arrive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn

from .accumulate import Band, LayerAccumulator, Workspace, fixed_band, histogram_range, side_widths
from .settings import AuditSettings

__all__ = ["DEFAULT_BORDER_PX", "Collector", "LayerState", "ModeState", "equivariance", "plan_bands", "plan_shifts"]

#: Width of the fixed border band, in input pixels, when ``border`` is an int or the exact band is unavailable.
DEFAULT_BORDER_PX = 16


@dataclass
class LayerState:
    """One audited layer of one mode's model."""

    name: str
    kind: str
    stride: tuple[int, ...] = (1, 1)
    acc: LayerAccumulator | None = None
    skip: str | None = None
    shift: tuple[int, int] | None = None  # equivariance shift in input pixels (dh, dw)


@dataclass
class ModeState:
    """One mode's model, its audited layers and the warnings of its result."""

    label: str
    model: nn.Module
    infos: dict[str, LayerState]
    bands: dict[str, torch.Tensor] | None
    warnings: list[str] = field(default_factory=list)
    not_applicable: str | None = None  # why the mode's figures would not measure padding


class Collector:
    """Routes hook outputs to accumulators according to the current phase."""

    def __init__(self, settings: AuditSettings, input_size: tuple[int, ...]) -> None:
        self.phase = "idle"
        self.state: ModeState | None = None
        self.settings = settings
        self.device = settings.device
        self.input_size = input_size
        self.probe_split: torch.Tensor | None = None
        self.image_index: torch.Tensor | None = None  # global indices of the streamed batch's images
        self.equiv_index: torch.Tensor | None = None  # global indices of the equivariance crops' images
        self.stored: dict[str, torch.Tensor] = {}
        self.group: tuple[int, int] | None = None
        self.seen: set[str] = set()
        self.layer_index = 0
        self.calib_streams = True
        self.workspace = Workspace()  # scratch buffers shared by all layers' statistics

    def hook(self, name: str) -> Callable[..., None]:
        def fn(module: nn.Module, args: Any, output: Any) -> None:
            self.on_output(name, module, output)

        return fn

    def attach(self, st: ModeState, handles: list[Any]) -> None:
        """Register the hooks of ``st``'s audited layers (the handles are appended to ``handles``)."""
        modules = dict(st.model.named_modules())
        for name in st.infos:
            handles.append(modules[name].register_forward_hook(self.hook(name)))

    def run(self, st: ModeState, x: torch.Tensor, phase: str) -> None:
        """One forward pass of ``st``'s model on ``x`` in ``phase``."""
        self.state = st
        self.phase = phase
        self.seen = set()
        try:
            st.model(x)
        finally:
            self.phase = "idle"

    def release(self) -> None:
        """Drop the references to models, stored outputs and scratch buffers."""
        self.state = None
        self.stored = {}
        self.workspace = Workspace()

    def on_output(self, name: str, module: nn.Module, out: Any) -> None:
        st = self.state
        if st is None or self.phase == "idle":
            return
        info = st.infos[name]
        if name in self.seen:
            note = "module called more than once per forward: only its first call is audited"
            if info.acc is not None and note not in info.acc.notes:
                info.acc.notes.append(note)
            return
        self.seen.add(name)
        if info.skip is not None and self.phase != "calib":
            return
        if self.phase == "calib":
            self._calibrate(info, module, out)
            if info.acc is None:
                return
            if not self.calib_streams:  # this rank does not own the calibration batch
                return
            self.phase_stream(info, out)
            return
        if self.phase == "stream":
            self.phase_stream(info, out)
        elif self.phase == "equiv_a" and info.acc is not None and info.shift is not None:
            self.stored[name] = out.detach()
        elif self.phase == "equiv_b" and info.acc is not None and info.shift == self.group and name in self.stored:
            assert info.shift is not None  # narrowing for mypy
            sh, sw = info.stride
            info.acc.update_equivariance(
                self.stored[name], out.detach(), info.shift[0] // sh, info.shift[1] // sw, self.equiv_index
            )

    def phase_stream(self, info: LayerState, out: torch.Tensor) -> None:
        assert info.acc is not None  # internal invariant, not validation
        split = self.probe_split if self.settings.probe_images > 0 else None
        info.acc.update(out, split, self.workspace, self.image_index)

    def _calibrate(self, info: LayerState, module: nn.Module, out: Any) -> None:
        if info.acc is not None or info.skip is not None:
            return
        rank = len(self.input_size)
        if not isinstance(out, torch.Tensor) or out.ndim != rank + 2:
            layout = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[rank]
            info.skip = f"output is not a {layout} tensor"
            return
        c, *spatial = (int(s) for s in out.shape[1:])
        if min(spatial) < 3:
            info.skip = f"output {'x'.join(map(str, spatial))} is too small to split into border and interior"
            return
        info.stride = tuple(max(1, round(n_in / n)) for n_in, n in zip(self.input_size, spatial))
        band, note = self._band(info, tuple(spatial))
        bins = self.settings.hist_bins
        lo, width = histogram_range(out, bins)
        proj = None
        p = self.settings.probe_dim
        if c > p:
            gen = torch.Generator().manual_seed(self.settings.seed * 1000003 + self.layer_index)
            proj = torch.randn(c, p, generator=gen, dtype=torch.float64) / math.sqrt(p)
        self.layer_index += 1
        groups = self.settings.bootstrap_groups if self.settings.bootstrap > 0 else 0
        info.acc = LayerAccumulator((c, *spatial), band, lo, width, bins, proj, self.device, groups)
        if info.acc.groups is not None:
            info.acc.groups.calibrate(out)
        if note is not None:
            info.acc.notes.append(note)

    def _band(self, info: LayerState, spatial: tuple[int, ...]) -> tuple[Band, str | None]:
        st = self.state
        assert st is not None
        border = self.settings.border
        note: str | None
        if border == "auto" and st.bands is not None and info.name in st.bands:
            mask = st.bands[info.name].to(torch.bool).cpu()
            if tuple(mask.shape) == spatial and bool(mask.any()) and not bool(mask.all()):
                return Band(mask, "receptive-field", side_widths(mask)), None
            why = "covers the whole map" if tuple(mask.shape) == spatial and bool(mask.all()) else "is unusable"
            px = DEFAULT_BORDER_PX
            note = f"receptive-field band {why}: fixed {px}px band used"
        else:
            px = DEFAULT_BORDER_PX if border == "auto" else int(border)
            note = (
                "no receptive-field band from padkit.plan for this layer: fixed band used" if border == "auto" else None
            )
        width = max(1, min(math.ceil(px / max(info.stride)), (min(spatial) - 1) // 2))
        mask = fixed_band(*spatial, width)
        return Band(mask, "fixed", (width,) * (2 * len(spatial))), note


def plan_bands(
    model: nn.Module, input_size: tuple[int, ...], names: Sequence[str], channels: int
) -> tuple[dict | None, str | None]:
    """Exact border bands from :func:`padkit.analysis.plan.plan`, or ``(None, reason)`` when unavailable."""
    from ..plan import plan

    try:
        p = plan(model, input_size, in_channels=channels, suggest=False)
    except Exception as exc:  # a model the planner cannot trace: fall back, and say so in the report
        return None, f"padkit.plan could not analyse the model ({type(exc).__name__}: {exc}): fixed border bands used"
    out = {}
    known = {lp.name for lp in p.layers}
    for name in names:
        if name in known:
            try:
                out[name] = p.border_band(name)
            except Exception:  # unknown reach for this layer: it gets the fixed band, noted per layer
                continue
    return out, None


def plan_shifts(st: ModeState, size: tuple[int, ...]) -> None:
    """Equivariance shift per layer: the smallest multiple of the layer's stride >= the largest audited stride.

    The crop-shift check is defined for 2-D maps: for other ranks no layer gets a shift.
    """
    strides = [info.stride for info in st.infos.values() if info.acc is not None]
    if not strides or len(size) != 2:
        return
    smax = (max(s[0] for s in strides), max(s[1] for s in strides))
    for info in st.infos.values():
        if info.acc is None:
            continue
        shift = []
        for dim in (0, 1):
            s = info.stride[dim]
            d = s * math.ceil(smax[dim] / s)
            if d > size[dim] // 2:
                d = s if s <= size[dim] // 2 else 0
            shift.append(d)
        info.shift = (shift[0], shift[1]) if all(shift) else None
        if info.shift is None:
            info.acc.notes.append("equivariance: stride too large for a crop shift at this input size")


def equivariance(states: Sequence[ModeState], collector: Collector, x: torch.Tensor, start: int, limit: int) -> None:
    """Crop-shift equivariance on the images of ``x`` whose global index is below ``limit``."""
    k = min(x.shape[0], limit - start)
    if k <= 0 or x.ndim != 4:  # the crop-shift check is defined for 2-D maps
        return
    x = x[:k]
    h, w = x.shape[2:]
    collector.equiv_index = torch.arange(start, start + k, device=x.device)
    for st in states:
        groups = sorted({info.shift for info in st.infos.values() if info.shift is not None and info.acc is not None})
        for dh, dw in groups:
            xa = x[:, :, : h - dh, : w - dw]
            xb = x[:, :, dh:, dw:]
            collector.stored = {}
            try:
                collector.run(st, xa, "equiv_a")
                collector.group = (dh, dw)
                collector.run(st, xb, "equiv_b")
            except Exception as exc:  # a model that takes only some sizes: no equivariance for this shift, noted
                note = (
                    f"equivariance: the model's forward fails on the {h - dh}x{w - dw} crops "
                    f"({type(exc).__name__}): not measured"
                )
                for info in st.infos.values():
                    if info.shift == (dh, dw) and info.acc is not None:
                        info.shift = None
                        info.acc.equiv_err.zero_()
                        info.acc.equiv_count.zero_()
                        if info.acc.groups is not None:
                            info.acc.groups.equiv.zero_()
                            info.acc.groups.equiv_n.zero_()
                        info.acc.notes.append(note)
            finally:
                collector.group = None
                collector.stored = {}
