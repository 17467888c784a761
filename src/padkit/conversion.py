"""Whole-model conversion: switch the padding of every padded conv, transposed conv and pooling layer in one call.

Modelled on ``nn.SyncBatchNorm.convert_sync_batchnorm``: recurse over children, replace each target layer by its
``padkit.nn`` counterpart that *shares* the same parameter objects, keep train/eval state, device, dtype and
``state_dict`` keys (a strict ``load_state_dict`` from the original works).

Converted: ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d/3d``, ``nn.MaxPool1d/2d/3d``, ``nn.AvgPool1d/2d/3d`` (exact
types, as used by torchvision and timm blocks), timm's ``Conv2dSame`` / ``MaxPool2dSame`` / ``AvgPool2dSame``
(dynamic TF 'same' padding), and padkit's own layers (re-converted to the new mode). Layers without padding are left
alone. Other subclasses of the torch layers (e.g. timm's ``StdConv2d``, whose ``forward`` standardises the weight) are
*not* replaced, because that would silently drop their behaviour; they are listed in ``ConversionReport.skipped``.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from padkit.conversion import convert_report
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1))
    >>> new, report = convert_report(net, "reflect")
    >>> [(c.name, c.old, c.new) for c in report.changes]
    [('0', 'Conv2d(zeros)', 'PadConv2d(reflect)')]
"""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence, Union

from torch import nn

from ._report import REPORT_FORMAT, to_json
from ._validate import bad_type
from .layers import PADDED_BASES, has_padding, layer_kind, padded_subclass, padding_mode
from .modes import MAP_MODES, layer_modes, mode_name

__all__ = ["ConversionReport", "LayerChange", "SkippedLayer", "convert", "convert_report"]

#: include/exclude filter: fnmatch pattern(s) on qualified names, layer types, or a mix.
Filter = Union[str, type, Sequence[Union[str, type]], None]


@dataclass(frozen=True)
class LayerChange:
    """One replaced layer: qualified name, old and new ``Type(mode)`` (layer mode names: zero padding is ``zeros``)."""

    name: str
    old: str
    new: str


@dataclass(frozen=True)
class SkippedLayer:
    """A padded layer that was not replaced, and why."""

    name: str
    type: str
    reason: str


@dataclass(frozen=True)
class ConversionReport:
    """What :func:`convert_report` changed (``changes``) and what padded layers it left alone (``skipped``)."""

    mode: str | tuple[str, ...]
    changes: tuple[LayerChange, ...]
    skipped: tuple[SkippedLayer, ...]

    def to_json(self) -> str:
        """JSON text: ``{"format": 1, "mode": ..., "changes": [...], "skipped": [...]}``."""
        return to_json({"format": REPORT_FORMAT, **asdict(self)}, indent=2)

    def format(self) -> str:
        """A plain-text table, one line per change (and per skipped layer)."""
        lines = [f"{c.name or '<root>'}: {c.old} -> {c.new}" for c in self.changes]
        lines += [f"{s.name or '<root>'}: skipped {s.type} ({s.reason})" for s in self.skipped]
        lines.append(f"{len(self.changes)} layer(s) converted to {mode_name(self.mode)}, {len(self.skipped)} skipped")
        return "\n".join(lines)


def _describe(module: nn.Module, mode: str | tuple[str, ...] | None = None) -> str:
    """``Type(mode)``; the mode is the layer's own (:func:`padkit.layers.padding_mode`) unless given; a per-axis
    mode is written ``zeros+circular`` (:func:`padkit.modes.mode_name`)."""
    return f"{type(module).__name__}({mode_name(padding_mode(module) if mode is None else mode)})"


_FILTER_ITEMS = "fnmatch patterns (str), layer types, or a sequence of them"


def _check_filter(flt: Filter, argname: str) -> None:
    if flt is None or isinstance(flt, (str, type)):
        return
    if not isinstance(flt, (list, tuple)):
        raise bad_type(argname, flt, _FILTER_ITEMS)
    for item in flt:
        if not isinstance(item, (str, type)):
            raise bad_type(argname, item, _FILTER_ITEMS)


def _matches(name: str, module: nn.Module, flt: Filter) -> bool:
    if flt is None:
        return False
    items: Iterable[Union[str, type]] = [flt] if isinstance(flt, (str, type)) else flt
    return any(fnmatch.fnmatchcase(name, item) if isinstance(item, str) else isinstance(module, item) for item in items)


def _replacement(module: nn.Module, mode: str | tuple[str, ...]) -> tuple[nn.Module | None, str]:
    """The padkit layer replacing ``module`` (or None and the reason it is not replaced)."""
    spec = layer_kind(module)
    if spec is not None and isinstance(mode, tuple) and len(mode) != spec.nd:
        return None, f"the per-axis mode {mode_name(mode)} names {len(mode)} dims, the layer has {spec.nd}"
    if spec is not None and mode in MAP_MODES and spec.nd != 2:
        return None, f"{mode} pads 2-D maps, the layer has {spec.nd} spatial dim(s)"
    if spec is not None and spec.tf_same:  # pads per input size: padkit's padding="same" is the same split
        if spec.kind == "conv":
            return spec.padkit_type.from_conv(module, mode, padding="same"), ""  # type: ignore[union-attr]
        # timm pads -inf (max) / zeros counted (avg) explicitly: padkit's zero mode with explicit padding
        return spec.padkit_type.from_pool(module, mode, padding="same"), ""  # type: ignore[union-attr]
    if not has_padding(module):
        return None, "no padding"
    if padded_subclass(module):
        cls = type(module)
        return None, f"{cls.__module__}.{cls.__qualname__} subclasses a torch layer with its own forward"
    assert spec is not None and spec.padkit_type is not None  # every other layer that pads is in the registry
    new_type: Any = spec.padkit_type
    if spec.kind == "conv":
        return new_type.from_conv(module, mode), ""
    if spec.kind == "conv_transpose":
        if mode == "partial":
            return None, "partial padding is not defined for transposed convolution"
        return new_type.from_conv(module, mode), ""
    if spec.kind == "max_pool" and getattr(module, "return_indices", False):
        return None, "return_indices=True"
    return new_type.from_pool(module, mode), ""


def convert_report(
    model: nn.Module,
    mode: str | Sequence[str],
    *,
    inplace: bool = False,
    include: Filter = None,
    exclude: Filter = None,
) -> tuple[nn.Module, ConversionReport]:
    """Convert every padded conv / transposed conv / pool of ``model`` to ``mode`` and report what changed.

    Args:
        model: any ``nn.Module`` (the root itself may be a target layer).
        mode: a ``padkit.modes.LAYER_MODES`` name or alias (``"zeros"``, ``"reflect"``, ``"partial"``, ...), or a
            per-axis mode, one mode per spatial dim in dim order (``("zeros", "circular")``: height zeros, width
            circular; layers with another number of spatial dims are skipped), read with
            :func:`padkit.modes.layer_modes`; the report names it so (``zeros`` for zero padding). For pooling,
            ``zeros``/``constant`` means PyTorch's own pooling padding (see ``padkit.nn.pool``).
        inplace: modify ``model`` itself; otherwise a deep copy is converted and ``model`` is untouched.
        include: only layers whose qualified name matches one of these fnmatch patterns, or that are instances
            of one of these types (None: all).
        exclude: skip layers matching (name pattern or type); applied after ``include``.

    Returns:
        ``(converted_model, report)``. The converted model's parameters are the (copied or original) model's own
        parameter objects, so ``state_dict`` keys and values are unchanged.
    """
    mode = layer_modes(mode, argname="mode")
    if not isinstance(model, nn.Module):
        raise bad_type("model", model, "a torch.nn.Module")
    _check_filter(include, "include")
    _check_filter(exclude, "exclude")
    return replace_layers(model if inplace else copy.deepcopy(model), mode, include=include, exclude=exclude)


def replace_layers(
    model: nn.Module, mode: str | tuple[str, ...], *, include: Filter = None, exclude: Filter = None
) -> tuple[nn.Module, ConversionReport]:
    """:func:`convert_report`'s implementation, for callers whose arguments are canonical: ``mode`` a layer-mode
    name or per-axis tuple (:func:`padkit.modes.layer_modes`), filters checked; ``model`` is converted in place."""
    changes: list[LayerChange] = []
    skipped: list[SkippedLayer] = []

    def visit(module: nn.Module, name: str) -> nn.Module:
        spec = layer_kind(module)
        if isinstance(module, PADDED_BASES) or (spec is not None and spec.pads):
            if include is not None and not _matches(name, module, include):
                return module
            if _matches(name, module, exclude):
                return module
            new, reason = _replacement(module, mode)
            if new is None:
                if reason != "no padding":
                    skipped.append(SkippedLayer(name, type(module).__name__, reason))
                return module
            _copy_hooks(module, new)
            changes.append(LayerChange(name, _describe(module), _describe(new, mode)))
            return new
        for child_name, child in list(module.named_children()):
            new_child = visit(child, f"{name}.{child_name}" if name else child_name)
            if new_child is not child:
                setattr(module, child_name, new_child)
        return module

    model = visit(model, "")
    return model, ConversionReport(mode, tuple(changes), tuple(skipped))


def convert(
    model: nn.Module,
    mode: str | Sequence[str],
    *,
    inplace: bool = False,
    include: Filter = None,
    exclude: Filter = None,
) -> nn.Module:
    """Convert every padded conv, transposed conv and pooling layer of ``model`` to padding ``mode``.

    Same arguments as :func:`convert_report`, which also returns the list of changes.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
        >>> convert(net, "circular")[0].padding_mode
        'circular'
    """
    return convert_report(model, mode, inplace=inplace, include=include, exclude=exclude)[0]


def _copy_hooks(old: nn.Module, new: nn.Module) -> None:
    for attr in (
        "_forward_hooks",
        "_forward_pre_hooks",
        "_backward_hooks",
        "_state_dict_hooks",
        "_load_state_dict_pre_hooks",
    ):
        src = getattr(old, attr, None)
        if src:
            getattr(new, attr).update(src)
