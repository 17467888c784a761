"""``audit()``: stream images through a model (under one or several padding modes) and measure the three harms.

The stream is single pass: forward hooks feed each audited layer's output into a
:class:`~padkit.analysis.audit.accumulate.LayerAccumulator` and drop it, so memory does not depend on the number
of images. The position probe uses the first ``probe_images`` images of the stream (even global index: fit, odd:
held out) in the same forward pass; the equivariance check runs extra forwards on crops of the first
``equivariance_images`` images.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..._errors import PadkitTypeError, PadkitValueError
from ...modes import LAYER_MODES, canonical_mode
from .accumulate import Band, LayerAccumulator, Workspace, distance_map, fixed_band, histogram_range, side_widths
from .metrics import finalize_layer, summarize
from .moments import RunningMoments, pool_moments
from .report import AuditReport, InputStats, ModeResult

__all__ = ["DEFAULT_BORDER_PX", "audit", "default_layers"]

#: Width of the fixed border band, in input pixels, when ``border`` is an int or the exact band is unavailable.
DEFAULT_BORDER_PX = 16
#: Input ring whose statistics decide whether a padded zero is "mean" or "black".
_CENTRED_Z = 0.5
_AUDITED_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.conv._ConvNd,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
)


def default_layers(model: nn.Module) -> list[str]:
    """Names of the modules audited by default: every convolution and (max/avg) pooling layer."""
    return [name for name, mod in model.named_modules() if name and isinstance(mod, _AUDITED_TYPES)]


# --------------------------------------------------------------------------------------------- data handling
def _first_tensor(item: Any, what: str) -> torch.Tensor:
    if isinstance(item, torch.Tensor):
        return item
    if isinstance(item, (tuple, list)) and item and isinstance(item[0], torch.Tensor):
        return item[0]
    if isinstance(item, dict):
        for key in ("image", "images", "input", "pixel_values", "x"):
            if isinstance(item.get(key), torch.Tensor):
                return item[key]
    raise PadkitTypeError(
        f"data {what} must be a tensor, a (tensor, ...) tuple or a dict with an 'image' tensor, "
        f"got {type(item).__name__}"
    )


def _slice(data: torch.Tensor, a: int, b: int) -> torch.Tensor:
    return data[a:b]


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def _global_batches(data: Any, batch_size: int, limit: int | None) -> Iterator[tuple[int, Callable[[], torch.Tensor]]]:
    """Yield ``(first_global_index, load)`` per batch; ``load()`` materialises the ``(N, C, H, W)`` batch."""
    if isinstance(data, torch.Tensor):
        if data.ndim != 4:
            raise PadkitValueError(f"data tensor must be (N, C, H, W), got shape {tuple(data.shape)}")
        n = data.shape[0] if limit is None else min(limit, data.shape[0])
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            yield start, functools.partial(_slice, data, start, stop)
        return
    if (
        isinstance(data, Dataset)
        and not isinstance(data, torch.utils.data.IterableDataset)
        and hasattr(data, "__len__")
    ):
        n = len(data)
        n = n if limit is None else min(limit, n)

        def load(a: int, b: int) -> torch.Tensor:
            items = [_first_tensor(data[i], "items") for i in range(a, b)]
            if any(t.ndim != 3 for t in items):
                raise PadkitValueError(f"dataset items must be (C, H, W) images, got shape {tuple(items[0].shape)}")
            return torch.stack(items)

        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            yield start, functools.partial(load, start, stop)
        return
    if not isinstance(data, (Iterable, DataLoader)):
        raise PadkitTypeError(
            f"data must be a str spec, a (N, C, H, W) tensor, a Dataset, a DataLoader or an iterable of tensors, "
            f"got {type(data).__name__}"
        )
    seen = 0
    pending: list[torch.Tensor] = []

    def flush() -> torch.Tensor:
        out = torch.stack(pending)
        pending.clear()
        return out

    for item in data:
        t = _first_tensor(item, "batches")
        if t.ndim == 3:
            pending.append(t)
            if len(pending) < batch_size and (limit is None or seen + len(pending) < limit):
                continue
            t = flush()
        elif t.ndim != 4:
            raise PadkitValueError(f"data batches must be (N, C, H, W) or (C, H, W) images, got shape {tuple(t.shape)}")
        if limit is not None:
            t = t[: max(limit - seen, 0)]
        if t.shape[0] == 0:
            break
        yield seen, functools.partial(_identity, t)
        seen += t.shape[0]
        if limit is not None and seen >= limit:
            return
    if pending:
        t = flush()
        if limit is not None:
            t = t[: max(limit - seen, 0)]
        if t.shape[0]:
            yield seen, functools.partial(_identity, t)


# ---------------------------------------------------------------------------------------------- per mode state
@dataclass
class _LayerInfo:
    name: str
    kind: str
    stride: tuple[int, int] = (1, 1)
    acc: LayerAccumulator | None = None
    skip: str | None = None
    shift: tuple[int, int] | None = None  # equivariance shift in input pixels (dh, dw)


@dataclass
class _ModeState:
    label: str
    model: nn.Module
    infos: dict[str, _LayerInfo]
    bands: dict[str, torch.Tensor] | None
    warnings: list[str] = field(default_factory=list)


class _Collector:
    """Routes hook outputs to accumulators according to the current phase."""

    def __init__(self, settings: dict[str, Any], device: torch.device, input_size: tuple[int, int]) -> None:
        self.phase = "idle"
        self.state: _ModeState | None = None
        self.settings = settings
        self.device = device
        self.input_size = input_size
        self.probe_split: torch.Tensor | None = None
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
            info.acc.update_equivariance(self.stored[name], out.detach(), info.shift[0] // sh, info.shift[1] // sw)

    def phase_stream(self, info: _LayerInfo, out: torch.Tensor) -> None:
        assert info.acc is not None  # internal invariant, not validation
        split = self.probe_split if self.settings["probe_images"] > 0 else None
        info.acc.update(out, split, self.workspace)

    def _calibrate(self, info: _LayerInfo, module: nn.Module, out: Any) -> None:
        if info.acc is not None or info.skip is not None:
            return
        if not isinstance(out, torch.Tensor) or out.ndim != 4:
            info.skip = "output is not a (N, C, H, W) tensor"
            return
        c, h, w = (int(s) for s in out.shape[1:])
        if min(h, w) < 3:
            info.skip = f"output {h}x{w} is too small to split into border and interior"
            return
        s_in_h, s_in_w = self.input_size
        info.stride = (max(1, round(s_in_h / h)), max(1, round(s_in_w / w)))
        band, note = self._band(info, h, w)
        lo, width = histogram_range(out, self.settings["hist_bins"])
        proj = None
        p = self.settings["probe_dim"]
        if c > p:
            gen = torch.Generator().manual_seed(self.settings["seed"] * 1000003 + self.layer_index)
            proj = torch.randn(c, p, generator=gen, dtype=torch.float64) / math.sqrt(p)
        self.layer_index += 1
        info.acc = LayerAccumulator((c, h, w), band, lo, width, self.settings["hist_bins"], proj, self.device)
        if note is not None:
            info.acc.notes.append(note)

    def _band(self, info: _LayerInfo, h: int, w: int) -> tuple[Band, str | None]:
        st = self.state
        assert st is not None
        border = self.settings["border"]
        note: str | None
        if border == "auto" and st.bands is not None and info.name in st.bands:
            mask = st.bands[info.name].to(torch.bool).cpu()
            if tuple(mask.shape) == (h, w) and bool(mask.any()) and not bool(mask.all()):
                return Band(mask, "receptive-field", side_widths(mask)), None
            why = "covers the whole map" if tuple(mask.shape) == (h, w) and bool(mask.all()) else "is unusable"
            px = DEFAULT_BORDER_PX
            note = f"receptive-field band {why}: fixed {px}px band used"
        else:
            px = DEFAULT_BORDER_PX if border == "auto" else int(border)
            note = (
                "no receptive-field band from padkit.plan for this layer: fixed band used" if border == "auto" else None
            )
        width = max(1, min(math.ceil(px / max(info.stride)), (min(h, w) - 1) // 2))
        mask = fixed_band(h, w, width)
        return Band(mask, "fixed", (width,) * 4), note


def _plan_bands(model: nn.Module, input_size: tuple[int, int], names: Sequence[str]) -> tuple[dict | None, str | None]:
    """Exact border bands from :func:`padkit.analysis.plan.plan`, or ``(None, reason)`` when unavailable."""
    try:
        from ..plan import plan  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        return None, f"padkit.analysis.plan is not available ({exc}): fixed border bands used"
    try:
        p = plan(model, input_size, suggest=False)
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


def _convert(model: nn.Module, mode: str) -> tuple[nn.Module, list[str]]:
    """``model`` converted to ``mode``, and one warning per padded layer the conversion had to leave as it was."""
    try:
        from ...conversion import convert_report  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise PadkitValueError(f"modes={mode!r} needs padkit.conversion, which is not available ({exc})") from exc
    converted, report = convert_report(model, mode)
    notes = [
        f"layer {s.name or '<root>'!r} ({s.type}) keeps its original padding under mode {mode!r}: {s.reason}"
        for s in report.skipped
    ]
    return converted, notes


# -------------------------------------------------------------------------------------------------- main API
def audit(
    model: nn.Module,
    data: Any,
    *,
    modes: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    input_size: int | tuple[int, int] | None = None,
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
) -> AuditReport:
    """Measure border distribution shift, false edges, spatial bias and padding-aware channels of a model.

    Args:
        model: any ``nn.Module`` taking ``(N, C, H, W)`` images.
        data: ``"builtin"``, ``"synthetic:KIND"`` or a folder path (see :mod:`padkit.data`), a ``(N, C, H, W)``
            tensor, a map-style ``Dataset`` of ``(C, H, W)`` images (or ``(image, label)`` pairs), a ``DataLoader``
            or any iterable of batches ``(N, C, H, W)`` / images ``(C, H, W)``. All images must share one size.
        modes: padding modes to audit side by side; each is applied with :func:`padkit.conversion.convert` to a
            copy of ``model``. ``None`` (default) audits the model as it is (reported as mode ``"as-is"``).
        layers: module names to audit (any module returning ``(N, C, H, W)``); default: every conv and pooling layer.
        input_size: image side (int or ``(H, W)``) for string data specs (default 224); for other data it must
            match the images when given.
        images: number of images to use (default: all; 64 for string data specs).
        batch_size: images per forward pass.
        border: ``"auto"`` (exact band from :func:`padkit.analysis.plan.plan`: output positions whose receptive field
            reaches padding; a fixed 16-pixel band where that is unavailable or covers the whole map) or an int
            width in input pixels for a fixed band (``ceil(width / stride)`` output positions).
        normalize: ``None``/``"none"``, ``"imagenet"``, ``"MEAN,STD"`` or ``(means, stds)``, applied to each batch.
        probe_images: images for the position probe (even global index: fit, odd: held out); 0 disables it.
        equivariance_images: images for the crop-shift equivariance check; 0 disables it.
        pa_threshold: |standardised mean difference| from which a channel counts as padding-aware.
        hist_bins: histogram bins per channel for the Wasserstein distance.
        probe_dim: features are randomly projected to this many dimensions for the probe (when wider).
        device: where to run (default: the model's device).
        seed: seed of string data specs and of the probe projections.
        progress: show a tqdm progress bar on stderr (only when stderr is a terminal).
        model_name: name recorded in the report (default: the model's class name).

    Returns:
        An :class:`~padkit.analysis.audit.report.AuditReport`. Under ``torch.distributed`` every process
        returns the same, all-reduced report; each process audits its share of the batches.

    Raises:
        PadkitError / PadkitTypeError: invalid arguments or data (the message names the argument).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
        >>> rep = audit(net, torch.rand(8, 3, 16, 16), probe_images=8, progress=False)
        >>> sorted(rep.to_dict()["results"]["as-is"]["summary"])[:2]
        ['border_shift', 'equivariance_gap']
    """
    from ...data import load_data, parse_normalize

    if not isinstance(model, nn.Module):
        raise PadkitTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, torch.jit.ScriptModule):
        raise PadkitTypeError("model is a TorchScript module: audit needs an nn.Module whose layers accept hooks")
    for argname, value, lo in (
        ("batch_size", batch_size, 1),
        ("probe_images", probe_images, 0),
        ("equivariance_images", equivariance_images, 0),
        ("hist_bins", hist_bins, 2),
        ("probe_dim", probe_dim, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise PadkitValueError(f"{argname} must be an int >= {lo}, got {value!r}")
    if images is not None and (isinstance(images, bool) or not isinstance(images, int) or images < 1):
        raise PadkitValueError(f"images must be a positive int or None, got {images!r}")
    if not (isinstance(pa_threshold, (int, float)) and pa_threshold > 0 and math.isfinite(pa_threshold)):
        raise PadkitValueError(f"pa_threshold must be a positive number, got {pa_threshold!r}")
    if border != "auto" and (isinstance(border, bool) or not isinstance(border, int) or border < 1):
        raise PadkitValueError(f"border must be 'auto' or a positive int (pixels), got {border!r}")
    norm = parse_normalize(normalize)
    if isinstance(normalize, str):
        norm_label = normalize
    else:
        norm_label = "none" if norm is None else f"{list(norm[0])},{list(norm[1])}"

    size: tuple[int, int] | None
    if input_size is None:
        size = None
    elif isinstance(input_size, int) and not isinstance(input_size, bool) and input_size > 0:
        size = (input_size, input_size)
    elif (
        isinstance(input_size, (tuple, list))
        and len(input_size) == 2
        and all(isinstance(v, int) and v > 0 for v in input_size)
    ):
        size = (int(input_size[0]), int(input_size[1]))
    else:
        raise PadkitValueError(f"input_size must be a positive int or (H, W), got {input_size!r}")

    data_label = data if isinstance(data, str) else type(data).__name__
    if isinstance(data, str):
        if size is not None and size[0] != size[1]:
            raise PadkitValueError(f"input_size={input_size!r}: string data specs give square images")
        side = 224 if size is None else size[0]
        size = (side, side)
        data = load_data(data, 64 if images is None else images, side, seed=seed)

    mode_labels: list[str] = []
    if modes is not None:
        if isinstance(modes, str):
            modes = [m for m in modes.split(",") if m.strip()]
        for m in modes:
            label = canonical_mode(m, argname="modes", allowed=LAYER_MODES)
            if label in mode_labels:
                raise PadkitValueError(f"modes={list(modes)!r} lists {label!r} twice")
            mode_labels.append(label)
        if not mode_labels:
            raise PadkitValueError("modes must name at least one padding mode (or be None to audit the model as it is)")

    if device is None:
        p0 = next(iter(model.parameters()), None)
        dev = p0.device if p0 is not None else torch.device("cpu")
    else:
        dev = torch.device(device)

    import torch.distributed as dist

    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1

    names = list(layers) if layers is not None else default_layers(model)
    all_names = dict(model.named_modules())
    unknown = [n for n in names if n not in all_names or n == ""]
    if unknown:
        sample = ", ".join(default_layers(model)[:8]) or ", ".join(list(all_names)[1:9])
        raise PadkitValueError(f"layers={unknown!r} are not submodules of the model; e.g. {sample}")
    if not names:
        raise PadkitValueError(
            "the model has no convolution or pooling layer to audit; pass layers=[...] to choose modules"
        )

    settings: dict[str, Any] = {
        "batch_size": batch_size,
        "probe_images": probe_images,
        "equivariance_images": equivariance_images,
        "pa_threshold": float(pa_threshold),
        "hist_bins": hist_bins,
        "probe_dim": probe_dim,
        "border": border,
        "seed": seed,
    }

    batches = _global_batches(data, batch_size, images)
    mean_t = std_t = None
    if norm is not None:
        mean_t = torch.tensor(norm[0], dtype=torch.float32, device=dev)[None, :, None, None]
        std_t = torch.tensor(norm[1], dtype=torch.float32, device=dev)[None, :, None, None]

    def prepare(x: torch.Tensor) -> torch.Tensor:
        x = x.to(dev)
        if not x.is_floating_point():
            x = x.float()
        if mean_t is not None and std_t is not None:
            if mean_t.shape[1] not in (1, x.shape[1]):
                raise PadkitValueError(f"normalize has {mean_t.shape[1]} channels but the images have {x.shape[1]}")
            x = (x - mean_t.to(x.dtype)) / std_t.to(x.dtype)
        return x

    # training flags of every module, restored in finally
    flags = {m: m.training for m in model.modules()}
    handles: list[Any] = []
    report_warnings: list[str] = []
    states: list[_ModeState] = []
    collector: _Collector | None = None
    input_moments: RunningMoments | None = None
    n_images = 0
    try:
        models: list[tuple[str, nn.Module]]
        skipped_notes: dict[str, list[str]] = {}
        if modes is None:
            models = [("as-is", model)]
        else:
            models = []
            for label in mode_labels:
                converted, notes = _convert(model, label)
                models.append((label, converted))
                skipped_notes[label] = notes
        first = next(batches, None)
        if first is None:
            raise PadkitValueError("data yielded no images")
        x0 = prepare(first[1]())
        img_size = (int(x0.shape[2]), int(x0.shape[3]))
        if size is not None and img_size != size:
            raise PadkitValueError(f"input_size={input_size!r} but the data's images are {img_size[0]}x{img_size[1]}")
        size = img_size
        collector = _Collector(settings, dev, size)
        for label, mdl in models:
            mdl.eval()
            bands, why = (None, None)
            if border == "auto":
                bands, why = _plan_bands(mdl, size, names)
            st = _ModeState(
                label, mdl, {n: _LayerInfo(n, type(dict(mdl.named_modules())[n]).__name__) for n in names}, bands
            )
            if why:
                st.warnings.append(why)
            st.warnings.extend(skipped_notes.get(label, []))
            states.append(st)
            mods = dict(mdl.named_modules())
            for n in names:
                handles.append(mods[n].register_forward_hook(collector.hook(n)))

        def run(st: _ModeState, x: torch.Tensor, phase: str) -> None:
            assert collector is not None
            collector.state = st
            collector.phase = phase
            collector.seen = set()
            try:
                st.model(x)
            finally:
                collector.phase = "idle"

        def probe_codes(start: int, n: int) -> torch.Tensor:
            idx = torch.arange(start, start + n)
            codes = torch.where(idx % 2 == 0, 1, 2)
            return torch.where(idx < probe_images, codes, torch.zeros_like(codes)).to(dev)

        # the input statistics only need the outermost pixel ring: moments of those pixels, (C, ring)
        ring = distance_map(size[0], size[1], device=dev) < 1
        input_moments = RunningMoments((x0.shape[1], int(ring.sum())), device=dev)

        with torch.inference_mode():
            # calibration batch: every rank runs it (histogram ranges, bands); rank 0 also streams it
            for st in states:
                collector.probe_split = probe_codes(0, x0.shape[0])
                collector.calib_streams = rank == 0
                collector.layer_index = 0
                run(st, x0, "calib")
                for info in st.infos.values():
                    if info.acc is None and info.skip is None:
                        info.skip = "never called in the forward pass"
                _plan_shifts(st, size)
            if rank == 0:
                input_moments.update(x0[:, :, ring])
                n_images += x0.shape[0]
                _equivariance(states, collector, x0, 0, equivariance_images, run)

            bar = None
            if progress and rank == 0:
                from tqdm.auto import tqdm

                bar = tqdm(desc="padkit audit", unit="img", file=sys.stderr, disable=not sys.stderr.isatty())
                bar.update(x0.shape[0])
            b = 0
            for start, load in batches:
                b += 1
                if b % world != rank:
                    continue
                x = prepare(load())
                if tuple(x.shape[2:]) != size:
                    raise PadkitValueError(
                        f"all images must have one size: got {tuple(x.shape[2:])} after {size} (image {start})"
                    )
                input_moments.update(x[:, :, ring])
                n_images += x.shape[0]
                for st in states:
                    collector.probe_split = probe_codes(start, x.shape[0])
                    run(st, x, "stream")
                _equivariance(states, collector, x, start, equivariance_images, run)
                if bar is not None:
                    bar.update(x.shape[0])
            if bar is not None:
                bar.close()

            if distributed:
                for st in states:
                    for info in st.infos.values():
                        if info.acc is not None:
                            info.acc.all_reduce()
                _all_reduce_moments(input_moments)
                t = torch.tensor([float(n_images)], dtype=torch.float64, device=dev)
                dist.all_reduce(t)
                n_images = int(t.item())
    finally:
        for h in handles:
            h.remove()
        for mod, flag in flags.items():
            mod.train(flag)
        if collector is not None:
            collector.state = None
            collector.stored = {}
            collector.workspace = Workspace()

    # ---------------------------------------------------------------------------------------------- results
    assert input_moments is not None and collector is not None and size is not None
    istats = _input_stats(input_moments)
    results = []
    for st in states:
        layer_results = []
        for name in names:
            info = st.infos[name]
            if info.acc is None:
                st.warnings.append(f"layer {name!r} not audited: {info.skip}")
                continue
            layer_results.append(
                finalize_layer(name, info.kind, info.stride, info.acc, pa_threshold=float(pa_threshold))
            )
        zero_padded = st.label == "constant" or (st.label == "as-is" and _has_zero_padding(st.model))
        if zero_padded and not istats.centred:
            z = ", ".join(f"{v:+.2f}" for v in istats.zero_z)
            st.warnings.append(
                f"zero padding meets non-centred data: a padded 0 sits at z = {z} (per channel) of the image border's "
                "distribution, so the padding is a dark frame, not 'nothing'; normalise the data (e.g. "
                "normalize='imagenet') or use a padding mode that copies the border"
            )
        layer_tuple = tuple(layer_results)
        results.append(ModeResult(st.label, summarize(layer_tuple), layer_tuple, tuple(st.warnings)))
    if istats.nonfinite:
        report_warnings.append(f"the input images hold {istats.nonfinite} non-finite values")
    if n_images < 2:
        report_warnings.append("fewer than 2 images: variances and the position probe are degenerate")

    return AuditReport(
        model=model_name or type(model).__name__,
        data=str(data_label),
        input_size=size,
        images=n_images,
        normalize=norm_label if norm_label else "none",
        border=str(border),
        settings=settings,
        input_stats=istats,
        results=tuple(results),
        warnings=tuple(report_warnings),
        world_size=world,
    )


def _has_zero_padding(model: nn.Module) -> bool:
    for m in model.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            pad = m.padding
            padded = pad == "same" or (isinstance(pad, tuple) and any(int(p) > 0 for p in pad))
            if padded and getattr(m, "padding_mode", "zeros") in ("zeros", "constant"):
                return True
    return False


def _plan_shifts(st: _ModeState, size: tuple[int, int]) -> None:
    """Equivariance shift per layer: the smallest multiple of the layer's stride >= the largest audited stride."""
    strides = [info.stride for info in st.infos.values() if info.acc is not None]
    if not strides:
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


def _equivariance(
    states: list[_ModeState],
    collector: _Collector,
    x: torch.Tensor,
    start: int,
    limit: int,
    run: Callable[[_ModeState, torch.Tensor, str], None],
) -> None:
    """Crop-shift equivariance on the images of ``x`` whose global index is below ``limit``."""
    k = min(x.shape[0], limit - start)
    if k <= 0:
        return
    x = x[:k]
    h, w = x.shape[2:]
    for st in states:
        groups = sorted({info.shift for info in st.infos.values() if info.shift is not None and info.acc is not None})
        for dh, dw in groups:
            xa = x[:, :, : h - dh, : w - dw]
            xb = x[:, :, dh:, dw:]
            collector.stored = {}
            run(st, xa, "equiv_a")
            collector.group = (dh, dw)
            run(st, xb, "equiv_b")
            collector.group = None
            collector.stored = {}


def _all_reduce_moments(m: RunningMoments) -> None:
    import torch.distributed as dist

    total = m.count.clone()
    dist.all_reduce(total)
    weighted = m.count * m.mean
    dist.all_reduce(weighted)
    gmean = weighted / total.clamp(min=1.0)
    m2 = m.m2 + m.count * (m.mean - gmean).square()
    dist.all_reduce(m2)
    m.count, m.mean, m.m2 = total, gmean, m2
    nf = torch.tensor([float(m.nonfinite)], dtype=torch.float64, device=m.count.device)
    dist.all_reduce(nf)
    m.nonfinite = int(nf.item())


def _input_stats(m: RunningMoments) -> InputStats:
    """Statistics of the input's outermost pixel ring from its moments ``(C, ring positions)``."""
    _, mu, var = pool_moments(m.count, m.mean, m.m2, torch.ones(m.shape[1:], dtype=torch.bool, device=m.count.device))
    sd = var.sqrt()
    z = torch.where(sd > 0, -mu / sd.clamp(min=1e-300), torch.where(mu == 0, 0.0, -math.inf * torch.sign(mu)))
    zl = [float(v) for v in z]
    return InputStats(
        border_mean=tuple(float(v) for v in mu),
        border_std=tuple(float(v) for v in sd),
        zero_z=tuple(zl),
        centred=all(abs(v) <= _CENTRED_Z for v in zl),
        nonfinite=m.nonfinite,
    )
