"""``padkit plan``: what a model does at the border for one input size, computed statically on the meta device.

Per layer it reports the padding *as actually applied* (PyTorch drops the padded samples no window reaches, see
"Mind the Pad", Alsallakh et al. ICLR 2021), the real samples no window reads, and whether the padding is uneven; for
the whole model whether the size is *clean*, the nearest clean sizes, the padding-reach map of every layer and the
foveation map (how many windows of the network use each input pixel). For every layer and for the output it reports
the scale (sampling rate relative to the input), the receptive field and reach, or the layer that makes the network
global. Nothing is sampled or guessed: what cannot be followed exactly is reported as unknown.

The package: :mod:`.report` (the :class:`Plan` / :class:`LayerPlan` results and their JSON), :mod:`.trace` (the
dispatch-mode tracer and its module hooks), :mod:`.ops` (how each aten op moves the spatial axes, a table keyed by op
name), :mod:`.modules` (layer modules analysed from their parameters), :mod:`.arith` (per-dimension window matrices),
:mod:`.interp` (read matrices of interpolation and pixel shuffle),
:mod:`.graph` (the dataflow graph and the foveation count) and :mod:`.search` (the clean-size search).

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
from typing import Any, Sequence, Union

import torch
from torch import nn

from ..._errors import PadkitValueError
from ..._validate import bad_type, bad_value, check_int, is_int
from ...models import declared_input_size
from .report import FORMAT_VERSION, LayerPlan, Plan, layer_plan, output_view
from .search import suggest_sizes
from .trace import trace_at

__all__ = ["DEFAULT_SIZE", "FORMAT_VERSION", "LayerPlan", "Plan", "plan"]


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
            raise PadkitValueError(
                f"model={type(model).__name__}: expected a model that copy.deepcopy can copy for planning ({exc})"
            ) from exc
    with contextlib.suppress(NotImplementedError):  # torch.export modules: frozen as exported
        clone.train(False)
    return clone


def _spatial_rank(model: nn.Module) -> tuple[int, int]:
    """Spatial rank and input channels of the first convolution (2-D, 3 channels without one)."""
    for mod in model.modules():
        if isinstance(mod, nn.modules.conv._ConvNd):
            return len(mod.kernel_size), int(mod.in_channels)
    return 2, 3


def _parse_size(input_size: object, rank: int) -> tuple[int, ...]:
    if is_int(input_size):
        size: tuple[Any, ...] = (int(input_size),) * rank  # type: ignore[call-overload]
    elif isinstance(input_size, Sequence) and not isinstance(input_size, str):
        size = tuple(input_size)
    else:
        raise bad_type("input_size", input_size, "an int or a sequence of ints")
    if not 1 <= len(size) <= 3 or not all(is_int(s) and s >= 1 for s in size):
        raise bad_value("input_size", input_size, "1 to 3 positive ints (the spatial size)")
    return tuple(int(s) for s in size)


def _grouped(prefix: str, items: list[str], shown: int = 3) -> list[str]:
    """One note per message: ``where: message`` items with the same message become one line naming the places."""
    by_msg: dict[str, list[str]] = {}
    for item in dict.fromkeys(items):
        where, sep, msg = item.partition(": ")
        key, place = (msg, where) if sep else (item, "")
        by_msg.setdefault(key, []).append(place)
    notes = []
    for msg, places in by_msg.items():
        if len(places) == 1:
            notes.append(f"{prefix}{places[0]}: {msg}" if places[0] else f"{prefix}{msg}")
            continue
        more = f" and {len(places) - shown} more" if len(places) > shown else ""
        notes.append(f"{prefix}{', '.join(places[:shown])}{more}: {msg}")
    return notes


def _plan(model: nn.Module, size: tuple[int, ...], channels: int, name: str, suggest: bool, search: int) -> Plan:
    """:func:`plan` on checked, canonical arguments."""
    meta_model = _meta_copy(model)
    try:
        trace = trace_at(meta_model, size, channels, maps=True)
    except PadkitValueError as exc:
        hints = []
        declared = declared_input_size(model)
        if declared is not None and tuple(declared) != size:
            hints.append(f"the model declares input size {'x'.join(map(str, declared))}")
        if "data-dependent" in str(exc) or "nonzero" in str(exc):
            hints.append(
                "its forward has data-dependent shapes (detection post-processing, ...), which the meta device cannot "
                "run: plan the part that maps images to feature maps (torchvision detection: model.backbone)"
            )
        if not hints:
            raise
        raise PadkitValueError(f"{str(exc).rstrip('. ')}; " + "; ".join(hints)) from exc
    layers = tuple(layer_plan(r) for r in trace.layers)
    clean = not any(x.uneven or any(x.unread) or x.kind == "unknown" for x in layers)
    suggested = suggest_sizes(meta_model, size, channels, search) if suggest else ()
    reach = {r.name: r.reach for r in trace.layers if r.reach is not None}
    notes = _grouped("spatial tracking lost at ", trace.losses)
    notes += _grouped("spatial structure ends at ", trace.endings)
    notes += _grouped("global context (not in the maps): ", trace.context)
    notes += _grouped("inexact: ", trace.inexact)
    scale, receptive_field, global_at, ended_at = output_view(trace)
    return Plan(
        model=name,
        input_size=size,
        layers=layers,
        clean=clean,
        suggested_sizes=suggested,
        foveation=trace.foveation,
        notes=tuple(notes),
        scale=scale,
        receptive_field=receptive_field,
        global_at=global_at,
        ended_at=ended_at,
        _output_rf=trace.outputs[0].rf if trace.outputs else None,
        _reach=reach,
    )


#: The input size of a model that declares none.
DEFAULT_SIZE = 224


def plan(
    model: nn.Module,
    input_size: Union[int, Sequence[int], None] = None,
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
            1 to 3 ints (``(H, W)``); default: the size the model declares (timm's ``pretrained_cfg``), else 224.
        in_channels: channels of the input; default: the first convolution's ``in_channels`` (3 without one).
        name: name stored in the plan (default: the model's class name).
        suggest: search the nearest clean sizes (a few extra meta forwards).
        search: how far (per dim) to search for clean sizes.

    Returns:
        A :class:`Plan`.

    Raises:
        PadkitTypeError: ``model`` is not an ``nn.Module``, or ``input_size``/``in_channels``/``search`` not ints.
        PadkitValueError: bad ``input_size``/``in_channels``/``search``, or the model's forward fails at that size
            (the message names the size the model declares, if any).

    Example:
        >>> plan(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), 8).layers[0].pad_after
        (0, 0)
    """
    if not isinstance(model, nn.Module):
        raise bad_type("model", model, "a torch.nn.Module")
    rank, channels = _spatial_rank(model)
    if input_size is None:
        input_size = declared_input_size(model) or DEFAULT_SIZE
    size = _parse_size(input_size, rank)
    in_channels = check_int(in_channels, "in_channels", minimum=1, allow_none=True)
    search = check_int(search, "search", minimum=0)
    return _plan(
        model,
        size,
        channels if in_channels is None else in_channels,
        name or type(model).__name__,
        bool(suggest),
        search,
    )
