"""``padkit plan``: what a model does at the border for one input size, computed statically on the meta device.

Per layer it reports the padding *as actually applied* (PyTorch drops the padded samples no window reaches, see
"Mind the Pad", Alsallakh et al. ICLR 2021), the real samples no window reads, and whether the padding is uneven; for
the whole model whether the size is *clean*, the nearest clean sizes, the padding-reach map of every layer and the
foveation map (how many windows of the network use each input pixel). Nothing is sampled or guessed: what cannot be
followed exactly is reported as unknown.

Example:
    >>> import torch, torchvision
    >>> p = plan(torchvision.models.resnet18(), 224)
    >>> p.layers[0].pad_before, p.layers[0].pad_after
    ((3, 3), (2, 2))
    >>> p.clean, p.suggested_sizes
    (False, ((193, 193), (225, 225)))
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np
import torch
from torch import nn

from .._errors import PadkitError, PadkitTypeError, PadkitValueError
from ._plan_trace import LayerRecord, ModelHooks, StopTrace, Trace, run_trace

__all__ = ["FORMAT_VERSION", "LayerPlan", "Plan", "plan"]

#: Version of the JSON written by :meth:`Plan.to_json`.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LayerPlan:
    """One spatial layer at one input size; every tuple has one entry per spatial dim (in dim order).

    Attributes:
        name: qualified module name (``layer2.0.downsample.0``) or ``module:op`` for functional ops.
        kind: ``conv``, ``conv_transpose``, ``max_pool``, ``avg_pool``, ``adaptive_avg_pool``, ``adaptive_max_pool``,
            ``pad``, ``global_mean`` ... or ``unknown`` (a layer whose arithmetic could not be checked).
        in_size, out_size: spatial sizes.
        kernel, stride, dilation: per dim; None for adaptive pooling and pads.
        pad_before, pad_after: padding actually applied (``pad_after`` already excludes the samples PyTorch drops;
            for ``ceil_mode`` pooling it includes the overhang of the last window).
        unread: real input samples at the end that no window reads.
        uneven: True when ``pad_before != pad_after`` along some dim.
        note: padding mode, ``ceil_mode``, ``TF-same``, adaptive windows, or why the layer is unknown.
        reach_known: whether the padding-reach map of this layer's output is known (see :meth:`Plan.border_band`).
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
        }


@dataclass(frozen=True, eq=False)
class Plan:
    """Result of :func:`plan`.

    Attributes:
        model: the model's name (spec string or class name).
        input_size: spatial input size, one entry per dim.
        layers: every spatial layer in execution order.
        clean: no uneven padding, nothing unread, and no unknown layer.
        suggested_sizes: the nearest clean sizes strictly below and above ``input_size`` (each dim searched on its
            own, at most ``search`` away); empty when none was found or the search was switched off.
        foveation: ``input_size``-shaped float64 array, per input position the number of window paths of the network
            that read it (backward counting to where the spatial structure ends), or None when unknown.
        notes: where spatial tracking ended, was lost, or met global context (squeeze-excitation, group norm).
    """

    model: str
    input_size: tuple[int, ...]
    layers: tuple[LayerPlan, ...]
    clean: bool
    suggested_sizes: tuple[tuple[int, ...], ...]
    foveation: np.ndarray | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()
    _reach: Mapping[str, tuple[np.ndarray, ...]] = field(default_factory=dict, repr=False)

    def layer(self, name: str) -> LayerPlan:
        """The layer called ``name`` (PadkitError if there is none)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise PadkitValueError(
            f"name={name!r} is not a layer of this plan; layers: {[x.name for x in self.layers][:20]}..."
        )

    def reach(self, name: str) -> tuple[np.ndarray, ...]:
        """Per spatial dim, a bool array over the output positions of layer ``name``: True where the receptive field
        of that row/column touches padding (the N-D map is the OR over dims, see :meth:`border_band`)."""
        layer = self.layer(name)
        if name not in self._reach:
            raise PadkitValueError(
                f"the padding reach of layer {name!r} ({layer.kind}) is unknown: {self._why_unknown()}"
            )
        return self._reach[name]

    def border_band(self, name: str) -> torch.Tensor:
        """Bool tensor of layer ``name``'s output spatial shape, True where the receptive field reaches padding.

        Example:
            >>> band = p.border_band("conv1")  # (112, 112) for ResNet-18 at 224
        """
        per_dim = self.reach(name)
        band = torch.zeros(tuple(len(r) for r in per_dim), dtype=torch.bool)
        for a, r in enumerate(per_dim):
            shape = [1] * len(per_dim)
            shape[a] = len(r)
            band = band | torch.from_numpy(r.astype(bool)).reshape(shape)
        return band

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
            "notes": list(self.notes),
            "layers": [x.to_dict() | {"border_fraction": self._border_fraction(x.name)} for x in self.layers],
        }

    def _border_fraction(self, name: str) -> float | None:
        if name not in self._reach:
            return None
        return float(self.border_band(name).float().mean())

    def to_json(self, **kwargs: Any) -> str:
        """The plan as JSON (``"format": 1``); keyword arguments go to :func:`json.dumps`."""
        return json.dumps(self.to_dict(), **kwargs)


def _meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers live on the meta device; the original is not touched."""
    memo: dict[int, Any] = {}
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) in memo:
            continue
        m = torch.empty_like(t, device="meta")
        memo[id(t)] = nn.Parameter(m, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else m
    try:
        clone = copy.deepcopy(model, memo)
    except Exception as exc:  # TorchScript and friends: fall back to a full copy moved to meta
        try:
            clone = copy.deepcopy(model).to("meta")
        except Exception:
            raise PadkitValueError(f"model={type(model).__name__} cannot be copied for planning: {exc}") from exc
    with contextlib.suppress(NotImplementedError):  # torch.export modules: frozen as exported
        clone.train(False)
    return clone


def _spatial_rank(model: nn.Module) -> tuple[int, int]:
    for mod in model.modules():
        if isinstance(mod, nn.modules.conv._ConvNd):
            return len(mod.kernel_size), int(mod.in_channels)
    return 2, 3


def _parse_size(input_size: Union[int, Sequence[int]], rank: int) -> tuple[int, ...]:
    if isinstance(input_size, bool) or not isinstance(input_size, (int, Sequence)):
        raise PadkitTypeError(
            f"input_size={input_size!r} ({type(input_size).__name__}): expected an int or a sequence of ints"
        )
    size = (int(input_size),) * rank if isinstance(input_size, int) else tuple(input_size)
    if not 1 <= len(size) <= 3 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size):
        raise PadkitValueError(f"input_size={input_size!r}: expected 1 to 3 positive ints (the spatial size)")
    return size


def _run(
    model: nn.Module,
    size: tuple[int, ...],
    channels: int,
    maps: bool,
    stop: Callable[[LayerRecord], bool] | None = None,
    hooks: ModelHooks | None = None,
) -> Trace:
    x = torch.empty((1, channels, *size), device="meta")
    try:
        trace, _ = run_trace(model, x, maps=maps, stop=stop, hooks=hooks)
    except StopTrace as done:
        return done.trace
    except (PadkitError, PadkitTypeError):
        raise
    except Exception as exc:
        raise PadkitValueError(
            f"input_size={size} (channels={channels}): the model's forward failed on the meta device: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return trace


def _layer(rec: LayerRecord) -> LayerPlan:
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
        uneven=rec.kind not in ("unknown",) and any(r.pad_before != r.pad_after for r in d),
        note=rec.note,
        reach_known=rec.reach is not None,
    )


def _mark_unclean(rec: LayerRecord, ok: list[bool]) -> None:
    """Set ``ok[a] = False`` for each spatial dim ``a`` that ``rec`` pads unevenly or leaves unread (all: unknown)."""
    if rec.kind == "unknown":
        ok[:] = [False] * len(ok)
        return
    for a, r in enumerate(rec.dims[: len(ok)]):
        if r.pad_before != r.pad_after or r.unread:
            ok[a] = False


def _cheap_batchnorm(model: nn.Module) -> None:
    """Turn each eval-mode batch norm with running statistics in ``model`` (a private meta copy) into one multiply.

    On the meta device ``batch_norm`` runs a Python decomposition of about twenty ops, most of a candidate's trace
    time in BN-heavy models. In eval mode it is a per-channel affine map: the same sizes, and to the tracer the same
    kind of op (elementwise, broadcasting a per-channel tensor along dim 1), so the search's answers are unchanged.
    """
    stock = nn.modules.batchnorm._BatchNorm.forward
    for mod in model.modules():
        if (
            isinstance(mod, nn.modules.batchnorm._BatchNorm)
            and type(mod).forward is stock  # a subclass's own forward may do more (pool, pad, crop): keep it
            and not mod.training
            and mod.running_mean is not None
            and not isinstance(mod, torch.jit.ScriptModule)
        ):

            def forward(x: torch.Tensor, channels: int = mod.num_features) -> torch.Tensor:
                # the scale takes the input's dtype: batch norm keeps it (bf16 activations with fp32 statistics)
                scale = torch.empty(channels, device=x.device, dtype=x.dtype)
                return x * scale.view(-1, *([1] * (x.dim() - 2)))

            mod.forward = forward  # type: ignore[method-assign, assignment]


def _suggest(model: nn.Module, size: tuple[int, ...], channels: int, search: int) -> tuple[tuple[int, ...], ...]:
    """Nearest clean size below and above ``size``, per dim.

    Each candidate is one meta forward, abandoned at the first layer that makes every dim still searched for unclean
    (most candidates fail at one of the first strided layers), so the search costs a fraction of full traces.
    ``model`` is the plan's private meta copy; its batch norms are made cheap first (:func:`_cheap_batchnorm`).
    Limitation: an abandoned forward does not run the rest of the model's code, so a forward that sets Python state
    and restores it later without ``try``/``finally`` keeps the set value for the next candidates (as after any
    forward that raises).
    """
    _cheap_batchnorm(model)
    found: list[tuple[int, ...]] = []
    with ModelHooks(model) as hooks:
        for sign in (-1, 1):
            best: list[int | None] = [None] * len(size)
            for delta in range(1, search + 1):
                trial = tuple(s + sign * delta for s in size)
                if min(trial) < 1:
                    break
                ok = [True] * len(size)

                def stop(rec: LayerRecord, ok: list[bool] = ok, best: list[int | None] = best) -> bool:
                    _mark_unclean(rec, ok)
                    return not any(o and b is None for o, b in zip(ok, best))

                try:
                    _run(model, trial, channels, maps=False, stop=stop, hooks=hooks)
                except PadkitError:
                    continue
                for a, clean in enumerate(ok):
                    if clean and best[a] is None:
                        best[a] = trial[a]
                if all(b is not None for b in best):
                    break
            if all(b is not None for b in best):
                found.append(tuple(int(b) for b in best))  # type: ignore[arg-type]
    return tuple(found)


def plan(
    model: nn.Module,
    input_size: Union[int, Sequence[int]],
    *,
    in_channels: int | None = None,
    name: str | None = None,
    suggest: bool = True,
    search: int = 64,
) -> Plan:
    """Analyse the padding of ``model`` for inputs of spatial size ``input_size``, statically (meta device).

    Args:
        model: any ``nn.Module`` taking one ``(N, C, *spatial)`` tensor; not modified, weights never read.
        input_size: spatial size: one int (same along every dim; the rank is taken from the first convolution) or
            1 to 3 ints (``(H, W)``).
        in_channels: channels of the input; default: the first convolution's ``in_channels`` (3 without one).
        name: name stored in the plan (default: the model's class name).
        suggest: search the nearest clean sizes (a few extra meta forwards).
        search: how far (per dim) to search for clean sizes.

    Returns:
        A :class:`Plan`.

    Raises:
        PadkitTypeError: ``model`` is not an ``nn.Module`` or ``input_size`` is not ints.
        PadkitError: bad ``input_size``/``in_channels``/``search``, or the model's forward fails at that size.

    Example:
        >>> plan(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), 8).layers[0].pad_after
        (0, 0)
    """
    if not isinstance(model, nn.Module):
        raise PadkitTypeError(f"model={type(model).__name__}: expected a torch.nn.Module")
    rank, channels = _spatial_rank(model)
    size = _parse_size(input_size, rank)
    if in_channels is not None:
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise PadkitValueError(f"in_channels={in_channels!r}: expected a positive int")
        channels = in_channels
    if isinstance(search, bool) or not isinstance(search, int) or search < 0:
        raise PadkitValueError(f"search={search!r}: expected an int >= 0")
    meta_model = _meta_copy(model)
    trace = _run(meta_model, size, channels, maps=True)
    layers = tuple(_layer(r) for r in trace.layers)
    clean = not any(x.uneven or any(x.unread) or x.kind == "unknown" for x in layers)
    suggested = _suggest(meta_model, size, channels, search) if suggest else ()
    reach = {r.name: r.reach for r in trace.layers if r.reach is not None}
    notes = [f"spatial tracking lost at {w}" for w in dict.fromkeys(trace.losses)]
    notes += [f"spatial structure ends at {w}" for w in dict.fromkeys(trace.endings)]
    notes += [f"global context (not in the maps): {w}" for w in dict.fromkeys(trace.context)]
    notes += [f"inexact: {w}" for w in dict.fromkeys(trace.inexact)]
    return Plan(
        model=name or type(model).__name__,
        input_size=size,
        layers=layers,
        clean=clean,
        suggested_sizes=suggested,
        foveation=trace.foveation,
        notes=tuple(notes),
        _reach=reach,
    )
