"""The registry of layer kinds padkit knows: which modules pad, how, and what replaces them.

One table serves :func:`padkit.convert` (what to replace and with what), :func:`padkit.plan` (how a module's windows
and padding read its input) and :func:`padkit.audit` (which layers to audit, whether a model pads with zeros).

Three sources of layers are recognised by exact type:

* **torch**: ``nn.Conv1/2/3d``, ``nn.ConvTranspose1/2/3d``, ``nn.MaxPool1/2/3d``, ``nn.AvgPool1/2/3d`` and the
  adaptive pools (which never pad);
* **timm**: ``Conv2dSame``, ``MaxPool2dSame``, ``AvgPool2dSame`` (TF 'same' padding computed per input size), when
  timm is importable;
* **padkit**: every layer of :mod:`padkit.nn`.

Subclasses of the torch layers with a ``forward`` of their own (timm's ``StdConv2d``, say) are *not* in the table:
replacing them would drop their behaviour. :func:`padded_subclass` tells them apart.

Example:
    >>> from torch import nn
    >>> spec = layer_kind(nn.Conv2d(3, 8, 3, padding=1))
    >>> spec.kind, spec.nd, spec.source, spec.padkit_type.__name__
    ('conv', 2, 'torch', 'PadConv2d')
    >>> padding_mode(nn.MaxPool2d(3, 2, 1)), has_padding(nn.MaxPool2d(3, 2, 1))
    ('zeros', True)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Sequence

from torch import nn

from .geometry import Pairs, same_padding
from .modes import is_zero_fill
from .nn import conv as _conv
from .nn import pool as _pool

__all__ = [
    "PADDED_BASES",
    "LayerKind",
    "has_padding",
    "layer_kind",
    "padded_layers",
    "padded_subclass",
    "padding_mode",
    "padding_pairs",
    "pads_with_zeros",
]

#: The torch base classes of every layer that can pad (subclasses included).
PADDED_BASES: tuple[type, ...] = (
    nn.modules.conv._ConvNd,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
)


@dataclass(frozen=True)
class LayerKind:
    """What a recognised layer type is.

    Attributes:
        kind: ``conv``, ``conv_transpose``, ``max_pool``, ``avg_pool``, ``adaptive_avg_pool`` or ``adaptive_max_pool``.
        nd: number of spatial dims.
        source: ``torch``, ``timm`` or ``padkit``.
        torch_type: the plain torch layer of this kind and rank (``nn.Conv2d`` for timm's ``Conv2dSame`` too).
        padkit_type: the :mod:`padkit.nn` layer that replaces it (None: it never pads).
        tf_same: pads TF 'same' for each input size (timm's ``*Same`` layers).
    """

    kind: str
    nd: int
    source: str
    torch_type: type
    padkit_type: type | None
    tf_same: bool = False

    @property
    def pads(self) -> bool:
        """Whether layers of this kind can pad at all."""
        return self.padkit_type is not None


def _torch_and_padkit() -> dict[type, LayerKind]:
    table: dict[type, LayerKind] = {}
    for nd in (1, 2, 3):
        for kind, torch_name, padkit_cls in (
            ("conv", f"Conv{nd}d", getattr(_conv, f"PadConv{nd}d")),
            ("conv_transpose", f"ConvTranspose{nd}d", getattr(_conv, f"PadConvTranspose{nd}d")),
            ("max_pool", f"MaxPool{nd}d", getattr(_pool, f"PadMaxPool{nd}d")),
            ("avg_pool", f"AvgPool{nd}d", getattr(_pool, f"PadAvgPool{nd}d")),
        ):
            torch_cls = getattr(nn, torch_name)
            table[torch_cls] = LayerKind(kind, nd, "torch", torch_cls, padkit_cls)
            table[padkit_cls] = LayerKind(kind, nd, "padkit", torch_cls, padkit_cls)
        for kind, torch_name in (
            ("adaptive_avg_pool", f"AdaptiveAvgPool{nd}d"),
            ("adaptive_max_pool", f"AdaptiveMaxPool{nd}d"),
        ):
            torch_cls = getattr(nn, torch_name)
            table[torch_cls] = LayerKind(kind, nd, "torch", torch_cls, None)
    return table


_TABLE = _torch_and_padkit()


@lru_cache(maxsize=1)
def _timm_table() -> dict[type, LayerKind]:
    """timm's dynamic 'same' layers, if timm is importable (looked up once)."""
    found: dict[type, LayerKind] = {}
    for module_name, cls_name, kind, torch_cls, padkit_cls in (
        ("timm.layers.conv2d_same", "Conv2dSame", "conv", nn.Conv2d, _conv.PadConv2d),
        ("timm.layers.pool2d_same", "MaxPool2dSame", "max_pool", nn.MaxPool2d, _pool.PadMaxPool2d),
        ("timm.layers.pool2d_same", "AvgPool2dSame", "avg_pool", nn.AvgPool2d, _pool.PadAvgPool2d),
    ):
        try:
            cls = getattr(importlib.import_module(module_name), cls_name, None)
        except Exception:  # timm is optional; any import failure means "no timm layers"
            continue
        if isinstance(cls, type):
            found[cls] = LayerKind(kind, 2, "timm", torch_cls, padkit_cls, tf_same=True)
    return found


def layer_kind(module: nn.Module) -> LayerKind | None:
    """The registry entry of ``module``'s exact type, or None when padkit does not know the type."""
    cls = type(module)
    spec = _TABLE.get(cls)
    if spec is not None:
        return spec
    if cls.__module__.startswith("timm."):
        return _timm_table().get(cls)
    return None


def padded_subclass(module: nn.Module) -> bool:
    """A subclass of a torch conv/pool that padkit does not know (it has its own ``forward``): never replaced."""
    return isinstance(module, PADDED_BASES) and layer_kind(module) is None


def padding_mode(module: nn.Module) -> str | tuple[str, ...]:
    """The layer's padding mode in padkit's layer vocabulary (``zeros`` for zero padding, PyTorch's spelling); a
    per-axis mode is a tuple, one mode per spatial dim in dim order.

    torch pools and timm's 'same' layers pad with PyTorch's own pooling/conv padding: ``zeros``.
    """
    mode = getattr(module, "padding_mode", None)
    if isinstance(mode, tuple) and mode and all(isinstance(m, str) for m in mode):
        return mode
    return mode if isinstance(mode, str) else "zeros"


def padding_pairs(module: nn.Module, spatial: Sequence[int]) -> Pairs:
    """``(before, after)`` padding per spatial dim that ``module`` applies to an input of that spatial size.

    For padkit layers this is their ``explicit_padding``; for timm's 'same' layers the TF 'same' split; for torch
    layers their ``padding`` (PyTorch's ``padding="same"`` puts the odd extra sample at the end).
    """
    spec = layer_kind(module)
    nd = len(spatial)
    explicit = getattr(module, "explicit_padding", None)
    if spec is not None and spec.source == "padkit" and callable(explicit):
        return tuple((int(b), int(a)) for b, a in explicit(tuple(int(n) for n in spatial)))
    if not hasattr(module, "kernel_size"):
        return ((0, 0),) * nd
    k = _tuple(module.kernel_size, nd)
    s = _tuple(getattr(module, "stride", None) or module.kernel_size, nd)
    d = _tuple(getattr(module, "dilation", 1), nd)
    if spec is not None and spec.tf_same:
        return tuple(same_padding(int(n), kk, ss, dd) for n, kk, ss, dd in zip(spatial, k, s, d))
    padding = getattr(module, "padding", 0)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        return tuple(same_padding(int(n), kk, 1, dd) for n, kk, dd in zip(spatial, k, d))
    return tuple((p, p) for p in _tuple(padding, nd))


def has_padding(module: nn.Module) -> bool:
    """Whether ``module`` pads its input at all (at some input size)."""
    spec = layer_kind(module)
    if spec is not None and spec.tf_same:
        return True
    padkit_spec = getattr(module, "_padding_spec", None)
    if padkit_spec is not None:
        return padkit_spec == "same" or any(v for pair in padkit_spec for v in pair)
    padding = getattr(module, "padding", 0)
    if isinstance(padding, str):
        return padding == "same"
    if isinstance(padding, int):
        return padding != 0
    return any(padding)


def pads_with_zeros(module: nn.Module) -> bool:
    """Whether ``module`` is a convolution (plain, transposed, timm or padkit) that pads, and pads with zeros."""
    return (
        isinstance(module, nn.modules.conv._ConvNd)
        and has_padding(module)
        and is_zero_fill(padding_mode(module), getattr(module, "padding_options", None))
    )


def padded_layers(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """``(qualified name, module)`` of every conv, transposed conv and max/avg pool in ``model`` (subclasses too)."""
    for name, module in model.named_modules():
        if isinstance(module, PADDED_BASES):
            yield name, module  # type: ignore[misc]


def _tuple(value: object, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    out = tuple(int(v) for v in value)  # type: ignore[attr-defined]
    return out * n if len(out) == 1 else out
