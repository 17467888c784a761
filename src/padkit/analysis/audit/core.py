"""``audit()``: stream images through a model (under one or several padding modes) and measure the three harms.

The stream is single pass: forward hooks (:mod:`~padkit.analysis.audit.collect`) feed each audited layer's output
into a :class:`~padkit.analysis.audit.accumulate.LayerAccumulator` and drop it, so memory does not depend on the
number of images. The position probe uses the first ``probe_images`` images of the stream (even global index: fit,
odd: held out) in the same forward pass; the equivariance check runs extra forwards on crops of the first
``equivariance_images`` images. Under ``torch.distributed`` each process streams its share of the batches and the
statistics are reduced (:mod:`~padkit.analysis.audit.distributed`) before the metrics are computed.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import sys
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ..._errors import PadkitValueError
from ..._validate import bad_value
from ...conversion import replace_layers
from ...layers import has_padding, padded_layers, padding_mode, pads_with_zeros
from ...modes import is_zero_fill, mode_name
from .accumulate import distance_map
from .batches import Batches, Prepare, global_batches, image_source
from .bootstrap import (
    AT_MOST,
    BOOTSTRAP_GROUPS,
    DEFAULT_BOOTSTRAP,
    LAYER_INTERVALS,
    POSITIVE,
    bootstrap_weights,
    interval,
    layer_replicates,
    summary_replicates,
)
from .collect import Collector, LayerState, ModeState, equivariance, plan_bands, plan_shifts
from .distributed import all_reduce_count, all_reduce_moments, is_distributed, process_group
from .metrics import PLANAR_ONLY, finalize_layer, input_stats, summarize
from .moments import RunningMoments
from .report import METRICS, AuditReport, Difference, InputStats, ModeResult
from .settings import AS_IS, AuditSettings, audit_settings

__all__ = ["audit"]


def audit(
    model: nn.Module,
    data: Any,
    *,
    modes: Sequence[str | tuple[str, ...]] | None = None,
    layers: Sequence[str] | None = None,
    input_size: int | Sequence[int] | None = None,
    channels: int | None = None,
    images: int | None = None,
    batch_size: int = 16,
    border: str | int = "auto",
    normalize: Any = None,
    probe_images: int = 64,
    equivariance_images: int = 8,
    pa_threshold: float = 1.0,
    hist_bins: int = 64,
    probe_dim: int = 64,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = True,
    model_name: str | None = None,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    bootstrap_groups: int = BOOTSTRAP_GROUPS,
) -> AuditReport:
    """Measure border distribution shift, false edges, spatial bias and padding-aware channels of a model.

    The model is fed what it reads (:mod:`~padkit.analysis.audit.inputs`): the channel count and spatial rank of
    its first convolution in module order. Named sources are built that way: photographs (``"builtin"``, a folder
    of image files) as RGB for 3 channels and as BT.601 luma for 1 channel (other counts: a ``PadkitValueError``;
    use ``"synthetic:KIND"`` or a folder of ``.npy`` arrays); 3-D models get volumes and 1-D models signals
    (``"synthetic:KIND"`` or ``.npy`` files). For 1-D and 3-D outputs, false edges, equivariance and the position
    probe are not applicable (NaN, with a note); border shift, variance ratio, Wasserstein distance, the profiles
    and padding-aware channels use N-D distance-to-border bands. The models run in eval mode; every module's
    ``training`` flag is restored afterwards.

    Args:
        model: any ``nn.Module`` taking one ``(N, C, *spatial)`` tensor (images ``(N, C, H, W)``, volumes
            ``(N, C, D, H, W)``, signals ``(N, C, L)``).
        data: a ``(N, C, *spatial)`` tensor, a map-style ``Dataset`` of ``(C, *spatial)`` items (or ``(item,
            label)`` pairs), a ``DataLoader`` or any iterable of batches / items, or the name of a
            :mod:`padkit.data` source (``"builtin"``, ``"synthetic:KIND"``, a folder of images or ``.npy`` arrays).
            All items must share one size.
        modes: padding modes to audit side by side (layer names: ``"zeros"``, ``"reflect"``, ``"partial"``, ...);
            each is applied with :func:`padkit.conversion.convert` to a copy of ``model``, and its result is keyed
            by the name as given (aliases ``zero``/``edge``/``wrap`` read as ``zeros``/``replicate``/``circular``).
            ``None`` (default) audits the model as it is (reported as mode ``"as-is"``).
        layers: module names to audit (any module returning ``(N, C, H, W)``); default: every conv and pooling layer.
        input_size: side (int, every axis) or one side per spatial axis for a named source; default: the size the
            model declares (timm's ``pretrained_cfg``), else 224 for images, 64 for volumes, 1024 for signals. For
            other data it must match the items when given.
        channels: channels fed to the model; default: its first convolution's ``in_channels`` (3 without one).
        images: number of images to use (default: all; 64 for a named source).
        batch_size: images per forward pass.
        border: ``"auto"`` (exact band from :func:`padkit.analysis.plan.plan`: output positions whose receptive field
            reaches padding; a fixed 16-pixel band where that is unavailable or covers the whole map) or an int
            width in input pixels for a fixed band (``ceil(width / stride)`` output positions).
        normalize: ``None``/``"none"``, ``"imagenet"`` or per-channel ``(means, stds)``, applied to each batch as
            ``(x - mean) / std``.
        probe_images: images for the position probe (even global index: fit, odd: held out); 0 disables it.
        equivariance_images: images for the crop-shift equivariance check; 0 disables it.
        pa_threshold: |standardised mean difference| from which a channel counts as padding-aware.
        hist_bins: histogram bins per channel for the Wasserstein distance.
        probe_dim: features are randomly projected to this many dimensions for the probe (when wider).
        device: where to run (default: the model's device).
        seed: seed of a named source's images and of the probe projections.
        progress: show a tqdm progress bar on stderr (only when stderr is a terminal).
        model_name: name recorded in the report (default: the model's class name).
        bootstrap: bootstrap replicates for the 95% intervals of every figure and of the paired differences
            between modes (:mod:`~padkit.analysis.audit.bootstrap`); 0 computes no intervals. Seeded by ``seed``.
        bootstrap_groups: image ``i`` joins group ``i mod bootstrap_groups`` (even); the bootstrap resamples groups,
            so with more images than groups each group is a cluster of images.

    Returns:
        An :class:`~padkit.analysis.audit.report.AuditReport`. Under ``torch.distributed`` every process
        returns the same, all-reduced report; each process audits its share of the batches.

    Raises:
        PadkitValueError / PadkitTypeError: invalid arguments or data (the message names the argument).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
        >>> rep = audit(net, torch.rand(8, 3, 16, 16), probe_images=8, progress=False)
        >>> summary = rep.to_dict()["results"]["as-is"]["summary"]
        >>> sorted(summary)[:3]
        ['border_shift', 'ci', 'equivariance_border']
        >>> lo, hi = summary["ci"]["border_shift"]  # 95% bootstrap interval over the images
        >>> bool(lo <= summary["border_shift"] <= hi)
        True
    """
    s = audit_settings(
        model,
        modes=modes,
        layers=layers,
        input_size=input_size,
        channels=channels,
        images=images,
        batch_size=batch_size,
        border=border,
        normalize=normalize,
        probe_images=probe_images,
        equivariance_images=equivariance_images,
        pa_threshold=pa_threshold,
        hist_bins=hist_bins,
        probe_dim=probe_dim,
        device=device,
        seed=seed,
        progress=progress,
        bootstrap=bootstrap,
        bootstrap_groups=bootstrap_groups,
    )
    data_label = data if isinstance(data, str) else type(data).__name__
    source, size = image_source(data, s)
    batches = global_batches(source, s.batch_size, s.images, s.rank)
    prepare = Prepare(s.normalize, s.normalize_label, s.device)

    flags = {m: m.training for m in model.modules()}  # training flags of every module, restored in finally
    handles: list[Any] = []
    collector: Collector | None = None
    try:
        mode_models = _mode_models(model, s.modes)
        first = next(batches, None)
        if first is None:
            raise PadkitValueError(f"data={data_label}: expected at least one image, got none")
        x0 = prepare(first[1]())
        size = _image_size(x0, size, input_size)
        collector = Collector(s, size)
        states = [_mode_state(label, mdl, notes, s, size, why) for label, mdl, notes, why in mode_models]
        for st in states:
            collector.attach(st, handles)
        n_images, ring_moments = _stream(collector, states, x0, batches, prepare, data_label)
    finally:
        for h in handles:
            h.remove()
        for mod, flag in flags.items():
            mod.train(flag)
        if collector is not None:
            collector.release()

    istats = input_stats(ring_moments)
    warnings = []
    if istats.nonfinite:
        warnings.append(f"the input images hold {istats.nonfinite} non-finite values")
    if n_images < 2:
        warnings.append("fewer than 2 images: variances and the position probe are degenerate, no intervals")
    if s.rank != 2:
        warnings.append(PLANAR_ONLY.format(rank=s.rank))
    weights = _bootstrap_weights(states, s)
    results = _compare([_mode_result(st, s, istats, weights) for st in states])
    return AuditReport(
        model=model_name or type(model).__name__,
        data=str(data_label),
        input_size=size,
        images=n_images,
        normalize=s.normalize_label,
        border=str(s.border),
        settings=s.recorded(),
        input_stats=istats,
        results=results,
        warnings=tuple(warnings),
        world_size=process_group()[1],
        bootstrap={}
        if weights is None
        else {"replicates": s.bootstrap, "groups": int((weights.sum(0) > 0).sum()), "seed": s.seed, "level": 0.95},
    )


def _mode_models(
    model: nn.Module, modes: Sequence[str | tuple[str, ...]] | None
) -> list[tuple[str, nn.Module, list[str], str | None]]:
    """``(label, model, warnings, not_applicable)`` per mode: the model as it is, or a converted copy per mode; each
    in eval mode. ``not_applicable`` says why the mode's figures would not measure padding (None: they do)."""
    if modes is None:
        model.eval()
        return [(AS_IS, model, _own_padding(model), _no_padding(model))]
    out = []
    for mode in modes:
        converted, report = replace_layers(copy.deepcopy(model), mode)
        converted.eval()
        why = _no_padding(converted)
        if why is None and not report.changes:
            why = (
                f"mode {mode_name(mode)!r} changes no layer of the model (every padded layer keeps its own padding): "
                "its figures would be the unconverted model's, not the mode's"
            )
        by_reason: dict[tuple[str, str], list[str]] = {}
        for sk in report.skipped:
            by_reason.setdefault((sk.type, sk.reason), []).append(sk.name or "<root>")
        notes = [
            f"{_layers_named(names)} ({kind}) {'keeps its' if len(names) == 1 else 'keep their'} original padding "
            f"under mode {mode_name(mode)!r}: {reason}"
            for (kind, reason), names in by_reason.items()
        ]
        out.append((mode_name(mode), converted, notes, why))
    return out


def _no_padding(model: nn.Module) -> str | None:
    """Why a model's figures are not applicable when no layer of it pads (None when some layer does)."""
    if any(has_padding(m) for _, m in padded_layers(model)):
        return None
    return "no layer of the model pads: there is no padding to audit, and the band figures would measure crops only"


def _own_padding(model: nn.Module) -> list[str]:
    """A note when the model pads, but with no zero-padded convolution: the figures are its own padding's."""
    padded = [m for _, m in padded_layers(model) if has_padding(m)]
    if not padded or any(pads_with_zeros(m) for m in padded):
        return []
    kinds = sorted({mode_name(padding_mode(m)) for m in padded})
    return [f"no layer pads with zeros: the figures measure the model's own padding ({', '.join(kinds)})"]


def _layers_named(names: Sequence[str], shown: int = 3) -> str:
    """``layer 'a'``, or ``12 layers ('a', 'b', 'c', ...)`` for repeated notes collapsed into one line."""
    if len(names) == 1:
        return f"layer {names[0]!r}"
    listed = ", ".join(repr(n) for n in names[:shown])
    return f"{len(names)} layers ({listed}{', ...' if len(names) > shown else ''})"


def collapse(notes: Iterable[str]) -> list[str]:
    """``notes`` in first-seen order, each repeated note once with its count: ``"... (x12)"``."""
    counts: dict[str, int] = {}
    for note in notes:
        counts[note] = counts.get(note, 0) + 1
    return [note if k == 1 else f"{note} (x{k})" for note, k in counts.items()]


def _image_size(x0: torch.Tensor, expected: tuple[int, ...] | None, input_size: object) -> tuple[int, ...]:
    size = tuple(int(v) for v in x0.shape[2:])
    if expected is not None and size != expected:
        raise bad_value("input_size", input_size, f"the size of the data's items, {'x'.join(map(str, size))}")
    return size


def _forward_error(exc: Exception, x0: torch.Tensor, s: AuditSettings) -> PadkitValueError:
    """The error for a forward pass that fails on the first batch: what the model reads and declares."""
    reads = s.model_input
    said = [reads.describe()]
    if reads.declared is not None:
        said.append(f"it declares input size {'x'.join(map(str, reads.declared))}")
    if x0.shape[1] != s.channels:
        said.append(f"the data has {x0.shape[1]} channels")
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return PadkitValueError(
        f"model: its forward fails on input of shape {tuple(x0.shape[1:])} (C, *spatial) "
        f"({type(exc).__name__}: {first_line}); {'; '.join(said)}; pass input_size (--input-size), channels "
        "(--channels) or data the model accepts"
    )


def _mode_state(
    label: str,
    model: nn.Module,
    notes: Iterable[str],
    s: AuditSettings,
    size: tuple[int, ...],
    not_applicable: str | None = None,
) -> ModeState:
    model.eval()
    bands, why = plan_bands(model, size, s.layers, s.channels) if s.border == "auto" else (None, None)
    modules = dict(model.named_modules())
    st = ModeState(label, model, {n: LayerState(n, type(modules[n]).__name__) for n in s.layers}, bands)
    st.not_applicable = not_applicable
    if why:
        st.warnings.append(why)
    st.warnings.extend(notes)
    return st


def _stream(
    collector: Collector,
    states: Sequence[ModeState],
    x0: torch.Tensor,
    batches: Batches,
    prepare: Prepare,
    data_label: str,
) -> tuple[int, RunningMoments]:
    """Run every batch through every mode; returns the number of images and the moments of the input's outer ring.

    The first batch ``x0`` calibrates every layer on every process (histogram ranges, bands) and is streamed by
    rank 0; batch ``b >= 1`` belongs to rank ``b % world_size``. Under ``torch.distributed`` the statistics are
    all-reduced at the end.
    """
    s = collector.settings
    dev = s.device
    size = collector.input_size
    rank, world = process_group()

    def probe_codes(start: int, n: int) -> torch.Tensor:
        idx = torch.arange(start, start + n)
        collector.image_index = idx.to(dev)
        codes = torch.where(idx % 2 == 0, 1, 2)
        return torch.where(idx < s.probe_images, codes, torch.zeros_like(codes)).to(dev)

    # the input statistics only need the outermost pixel ring: moments of those pixels, (C, ring)
    ring = distance_map(*size, device=dev) < 1
    ring_moments = RunningMoments((x0.shape[1], int(ring.sum())), device=dev)
    n_images = 0
    with torch.inference_mode():
        for st in states:
            collector.probe_split = probe_codes(0, x0.shape[0])
            collector.calib_streams = rank == 0
            collector.layer_index = 0
            try:
                collector.run(st, x0, "calib")
            except Exception as exc:  # the first forward: data the model does not take, said in the user's terms
                raise _forward_error(exc, x0, s) from exc
            for info in st.infos.values():
                if info.acc is None and info.skip is None:
                    info.skip = "never called in the forward pass"
            plan_shifts(st, size)
        if rank == 0:
            ring_moments.update(x0[:, :, ring])
            n_images += x0.shape[0]
            equivariance(states, collector, x0, 0, s.equivariance_images)

        bar = None
        if s.progress and rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(desc="padkit audit", unit="img", file=sys.stderr, disable=not sys.stderr.isatty())
            bar.update(x0.shape[0])
        for b, (start, load) in enumerate(batches, start=1):
            if b % world != rank:
                continue
            x = prepare(load())
            if tuple(x.shape[2:]) != size:
                raise PadkitValueError(
                    f"data={data_label}: expected items of one size, {'x'.join(map(str, size))}; item {start} is "
                    f"{'x'.join(map(str, x.shape[2:]))}"
                )
            ring_moments.update(x[:, :, ring])
            n_images += x.shape[0]
            for st in states:
                collector.probe_split = probe_codes(start, x.shape[0])
                collector.run(st, x, "stream")
            equivariance(states, collector, x, start, s.equivariance_images)
            if bar is not None:
                bar.update(x.shape[0])
        if bar is not None:
            bar.close()

        if is_distributed():
            for st in states:
                for info in st.infos.values():
                    if info.acc is not None:
                        info.acc.all_reduce()
            all_reduce_moments(ring_moments)
            n_images = all_reduce_count(n_images, dev)
    return n_images, ring_moments


def _pads_with_zeros(st: ModeState) -> bool:
    if st.label == AS_IS:
        return any(pads_with_zeros(m) for m in st.model.modules())
    return is_zero_fill(st.label)


def _bootstrap_weights(states: Sequence[ModeState], s: AuditSettings) -> torch.Tensor | None:
    """The replicates' group weights ``(R, G)``, shared by every layer and mode (None: no bootstrap)."""
    if s.bootstrap == 0:
        return None
    for st in states:
        for info in st.infos.values():
            if info.acc is not None and info.acc.groups is not None:
                images = info.acc.groups.images
                if int((images > 0).sum()) < 2:  # one image (group): nothing to resample
                    return None
                return bootstrap_weights(images, s.bootstrap, s.seed)
    return None


def _interval(replicates: np.ndarray, point: float, metric: str) -> tuple[float, float]:
    return interval(replicates, point, positive=metric in POSITIVE, at_most=AT_MOST.get(metric, math.inf))


def _mode_result(
    st: ModeState, s: AuditSettings, istats: InputStats, weights: torch.Tensor | None
) -> tuple[ModeResult, dict[str, np.ndarray]]:
    """The mode's result (with intervals when ``weights`` are given) and its summary replicates."""
    layer_results = []
    layer_reps = []
    skipped: dict[str, list[str]] = {}
    for name in s.layers:
        info = st.infos[name]
        if info.acc is None:
            skipped.setdefault(str(info.skip), []).append(name)
            continue
        lr = finalize_layer(name, info.kind, info.stride, info.acc, pa_threshold=s.pa_threshold)
        if weights is not None and info.acc.groups is not None and info.acc.groups.shift is not None:
            reps = layer_replicates(info.acc, weights, pa_threshold=s.pa_threshold)
            layer_reps.append(reps)
            ci = {m: _interval(reps[m], float(getattr(lr, m)), m) for m in LAYER_INTERVALS}
            lr = dataclasses.replace(lr, ci=ci)
        layer_results.append(lr)
    if _pads_with_zeros(st) and not istats.centred:
        z = ", ".join(f"{v:+.2f}" for v in istats.zero_z)
        st.warnings.append(
            f"zero padding meets non-centred data: a padded 0 sits at z = {z} (per channel) of the image border's "
            "distribution, so the padding is a dark frame, not 'nothing'; normalise the data (e.g. "
            "normalize='imagenet' for RGB photographs, or (means, stds)) or use a padding mode that copies the border"
        )
    for why, names in skipped.items():
        st.warnings.append(f"{_layers_named(names)} not audited: {why}")
    if st.not_applicable is not None:
        st.warnings.insert(0, f"{st.not_applicable}; summary n/a")
    layers = tuple(layer_results)
    summary = summarize(layers, note=st.not_applicable)
    reps_summary: dict[str, np.ndarray] = {}
    if weights is not None and layer_reps and len(layer_reps) == len(layers):
        reps_summary = summary_replicates(layer_reps)
        if st.not_applicable is not None:
            reps_summary = {k: np.full_like(v, np.nan) for k, v in reps_summary.items()}
        ci = {m: _interval(v, summary.value(m), m) for m, v in reps_summary.items()}
        summary = dataclasses.replace(summary, ci=ci)
    return ModeResult(st.label, summary, layers, tuple(collapse(st.warnings))), reps_summary


def _compare(results: Sequence[tuple[ModeResult, dict[str, np.ndarray]]]) -> tuple[ModeResult, ...]:
    """With several modes: each mode's paired differences against the baseline (``zeros`` when audited, else the
    first mode), per summary metric, from replicates that share their image weights."""
    if len(results) < 2:
        return tuple(r for r, _ in results)
    labels = [r.mode for r, _ in results]
    base = labels.index("zeros") if "zeros" in labels else 0
    base_res, base_reps = results[base]
    out = []
    for k, (res, reps) in enumerate(results):
        if k == base:
            out.append(res)
            continue
        diffs = []
        for metric in (*METRICS[:3], "equivariance_border", "equivariance_interior", *METRICS[3:]):
            value = res.summary.value(metric) - base_res.summary.value(metric)
            if reps and base_reps:
                ci = interval(reps[metric] - base_reps[metric], value)
            else:
                ci = (math.nan, math.nan)
            diffs.append(Difference(metric, value, ci))
        out.append(dataclasses.replace(res, baseline=base_res.mode, differences=tuple(diffs)))
    return tuple(out)
