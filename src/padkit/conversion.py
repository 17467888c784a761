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
import importlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence, Union

from torch import nn

from ._errors import PadkitTypeError
from .modes import LAYER_MODES, canonical_mode
from .nn import conv as _conv
from .nn import pool as _pool

__all__ = ["ConversionReport", "LayerChange", "SkippedLayer", "convert", "convert_report"]

#: include/exclude filter: fnmatch pattern(s) on qualified names, layer types, or a mix.
Filter = Union[str, type, Sequence[Union[str, type]], None]

_CONV: dict[type, Any] = {nn.Conv1d: _conv.PadConv1d, nn.Conv2d: _conv.PadConv2d, nn.Conv3d: _conv.PadConv3d}
_CONVT: dict[type, Any] = {
    nn.ConvTranspose1d: _conv.PadConvTranspose1d,
    nn.ConvTranspose2d: _conv.PadConvTranspose2d,
    nn.ConvTranspose3d: _conv.PadConvTranspose3d,
}
_MAXP: dict[type, Any] = {
    nn.MaxPool1d: _pool.PadMaxPool1d,
    nn.MaxPool2d: _pool.PadMaxPool2d,
    nn.MaxPool3d: _pool.PadMaxPool3d,
}
_AVGP: dict[type, Any] = {
    nn.AvgPool1d: _pool.PadAvgPool1d,
    nn.AvgPool2d: _pool.PadAvgPool2d,
    nn.AvgPool3d: _pool.PadAvgPool3d,
}
_PADKIT: dict[type, type] = {v: k for k, v in (*_CONV.items(), *_CONVT.items(), *_MAXP.items(), *_AVGP.items())}
_BASES = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)


@dataclass(frozen=True)
class LayerChange:
    """One replaced layer: qualified name, old and new ``Type(mode)``."""

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

    mode: str
    changes: tuple[LayerChange, ...]
    skipped: tuple[SkippedLayer, ...]

    def to_json(self) -> str:
        """JSON text: ``{"format": 1, "mode": ..., "changes": [...], "skipped": [...]}``."""
        data = {"format": 1, **asdict(self)}
        return json.dumps(data, indent=2)

    def format(self) -> str:
        """A plain-text table, one line per change (and per skipped layer)."""
        lines = [f"{c.name or '<root>'}: {c.old} -> {c.new}" for c in self.changes]
        lines += [f"{s.name or '<root>'}: skipped {s.type} ({s.reason})" for s in self.skipped]
        lines.append(f"{len(self.changes)} layer(s) converted to {self.mode}, {len(self.skipped)} skipped")
        return "\n".join(lines)


def _mode_of(module: nn.Module) -> str:
    mode = getattr(module, "padding_mode", None)
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        return mode if isinstance(mode, str) else "constant"
    return mode if isinstance(mode, str) else "zeros"


def _describe(module: nn.Module) -> str:
    return f"{type(module).__name__}({_mode_of(module)})"


def _has_padding(module: nn.Module) -> bool:
    spec = getattr(module, "_padding_spec", None)
    if spec is not None:
        return spec == "same" or any(v for pair in spec for v in pair)
    padding = getattr(module, "padding", 0)
    if isinstance(padding, str):
        return padding == "same"
    if isinstance(padding, int):
        return padding != 0
    return any(padding)


def _timm_same_types() -> dict[type, str]:
    """timm's dynamic 'same' layers, if timm is importable: type -> kind."""
    try:
        conv2d_same = importlib.import_module("timm.layers.conv2d_same")
        pool2d_same = importlib.import_module("timm.layers.pool2d_same")
    except Exception:  # timm is optional
        return {}
    found: dict[type, str] = {}
    for name, kind in (("Conv2dSame", "conv"),):
        cls = getattr(conv2d_same, name, None)
        if isinstance(cls, type):
            found[cls] = kind
    for name, kind in (("MaxPool2dSame", "max"), ("AvgPool2dSame", "avg")):
        cls = getattr(pool2d_same, name, None)
        if isinstance(cls, type):
            found[cls] = kind
    return found


def _matches(name: str, module: nn.Module, flt: Filter) -> bool:
    items: Iterable[Union[str, type]]
    if flt is None:
        return False
    items = [flt] if isinstance(flt, (str, type)) else flt
    for item in items:
        if isinstance(item, str):
            if fnmatch.fnmatchcase(name, item):
                return True
        elif isinstance(item, type):
            if isinstance(module, item):
                return True
        else:
            raise PadkitTypeError(f"include/exclude entries must be str patterns or types, got {item!r}")
    return False


def _replacement(module: nn.Module, mode: str, timm_same: dict[type, str]) -> tuple[nn.Module | None, str]:
    """The padkit layer replacing ``module`` (or None and the reason it is not replaced)."""
    cls = type(module)
    if cls in timm_same:
        kind = timm_same[cls]
        if kind == "conv":
            return _conv.PadConv2d.from_conv(module, mode, padding="same"), ""
        pool_cls = _pool.PadMaxPool2d if kind == "max" else _pool.PadAvgPool2d
        # timm pads -inf (max) / zeros counted (avg) explicitly: that is padkit's "constant" with explicit padding
        return pool_cls.from_pool(module, mode, padding="same"), ""
    base = _PADKIT.get(cls, cls)
    if not _has_padding(module):
        return None, "no padding"
    if base in _CONV:
        return _CONV[base].from_conv(module, mode), ""
    if base in _CONVT:
        if mode == "partial":
            return None, "partial padding is not defined for transposed convolution"
        return _CONVT[base].from_conv(module, mode), ""
    if base in _MAXP:
        if getattr(module, "return_indices", False):
            return None, "return_indices=True"
        return _MAXP[base].from_pool(module, mode), ""
    if base in _AVGP:
        return _AVGP[base].from_pool(module, mode), ""
    return None, f"{cls.__module__}.{cls.__qualname__} subclasses a torch layer with its own forward"


def convert_report(
    model: nn.Module,
    mode: str,
    *,
    inplace: bool = False,
    include: Filter = None,
    exclude: Filter = None,
) -> tuple[nn.Module, ConversionReport]:
    """Convert every padded conv / transposed conv / pool of ``model`` to ``mode`` and report what changed.

    Args:
        model: any ``nn.Module`` (the root itself may be a target layer).
        mode: a ``padkit.modes.LAYER_MODES`` name or alias (``"zeros"``, ``"reflect"``, ``"partial"``, ...).
            For pooling, ``zeros``/``constant`` means PyTorch's own pooling padding (see ``padkit.nn.pool``).
        inplace: modify ``model`` itself; otherwise a deep copy is converted and ``model`` is untouched.
        include: only layers whose qualified name matches one of these fnmatch patterns, or that are instances
            of one of these types (None: all).
        exclude: skip layers matching (name pattern or type); applied after ``include``.

    Returns:
        ``(converted_model, report)``. The converted model's parameters are the (copied or original) model's own
        parameter objects, so ``state_dict`` keys and values are unchanged.
    """
    mode = canonical_mode(mode, allowed=LAYER_MODES, argname="mode")
    if not isinstance(model, nn.Module):
        raise PadkitTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    timm_same = _timm_same_types()
    changes: list[LayerChange] = []
    skipped: list[SkippedLayer] = []

    def visit(module: nn.Module, name: str) -> nn.Module:
        is_target = type(module) in timm_same or isinstance(module, _BASES)
        if is_target:
            if include is not None and not _matches(name, module, include):
                return module
            if _matches(name, module, exclude):
                return module
            new, reason = _replacement(module, mode, timm_same)
            if new is None:
                if reason != "no padding":
                    skipped.append(SkippedLayer(name, type(module).__name__, reason))
                return module
            _copy_hooks(module, new)
            changes.append(LayerChange(name, _describe(module), _describe(new)))
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
    mode: str,
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
