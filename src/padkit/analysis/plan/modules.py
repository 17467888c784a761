"""Layer modules the tracer analyses as one unit, from their parameters (the ops inside them are not traced).

Which module is what comes from the registry :mod:`padkit.layers` (torch, timm's TF-'same' layers, padkit layers);
subclasses of the torch layers with a ``forward`` of their own (timm's ``StdConv2d``, ...) and modules with an
``explicit_padding(input_size)`` method are analysed the same way. ``nn.Linear`` is a unit too: it mixes channels, not
positions. The arithmetic is checked against the real output size; a mismatch makes the layer unknown.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from ...geometry import conv_out_size, pool_out_size
from ...layers import layer_kind, padding_mode, padding_pairs
from ...modes import LAYER_ALIASES, is_zero_fill, mode_name
from .arith import DimOp, DimRecord, adaptive_op, as_tuple, conv_transpose_op, window_op
from .graph import Lost

__all__ = ["module_dims", "shown_mode", "unit_kind"]

#: Kinds of torch layer subclasses the registry does not list (they have a forward of their own); first match wins.
_BASES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (nn.modules.conv._ConvTransposeNd, "conv_transpose"),
    (nn.modules.conv._ConvNd, "conv"),
    ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d), "max_pool"),
    ((nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d), "avg_pool"),
    ((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d), "adaptive_avg_pool"),
    ((nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d), "adaptive_max_pool"),
    (nn.Linear, "linear"),
)


def unit_kind(mod: nn.Module) -> str | None:
    """The kind of a module analysed as one unit (``conv``, ``max_pool``, ``linear``, ...), None for the others."""
    spec = layer_kind(mod)
    if spec is not None:
        return spec.kind
    for base, kind in _BASES:
        if isinstance(mod, base):
            return kind
    if callable(getattr(mod, "explicit_padding", None)):
        return "conv" if hasattr(mod, "weight") else "pool"
    return None


def shown_mode(mode: str, options: object = None) -> str:
    """A padding mode as the plan shows it: the layer vocabulary, ``zeros`` for any padding with the value 0."""
    mode = LAYER_ALIASES.get(mode, mode)
    return "zeros" if is_zero_fill(mode, options if isinstance(options, Mapping) else None) else mode


def _spatial_rank(mod: nn.Module, o: torch.Tensor) -> int:
    spec = layer_kind(mod)
    if spec is not None:
        return spec.nd
    nsp = {"1d": 1, "2d": 2, "3d": 3}.get(type(mod).__name__[-2:].lower())
    return nsp or len(getattr(mod, "kernel_size", ())) or (o.dim() - 2)


def module_dims(
    mod: nn.Module, kind: str, t: torch.Tensor, o: torch.Tensor, build: bool
) -> tuple[list[tuple[DimRecord, DimOp | None]], str]:
    """Per spatial dim, what ``mod`` (of kind :func:`unit_kind`) did to input ``t`` giving ``o``, and the layer's note
    (padding mode other than zeros, ``padkit``, ``TF-same``, ``ceil_mode``, adaptive windows)."""
    nsp = _spatial_rank(mod, o)
    in_sp = [int(x) for x in t.shape[t.dim() - nsp :]]
    out_sp = [int(x) for x in o.shape[o.dim() - nsp :]]
    if kind.startswith("adaptive"):
        return [adaptive_op(n, m, build=build) for n, m in zip(in_sp, out_sp)], "adaptive windows"
    k = as_tuple(mod.kernel_size, nsp)
    s = as_tuple(mod.stride if mod.stride else mod.kernel_size, nsp)
    d = as_tuple(getattr(mod, "dilation", 1), nsp)
    if kind == "conv_transpose":
        p = as_tuple(mod.padding, nsp)
        return [conv_transpose_op(in_sp[i], k[i], s[i], d[i], p[i], out_sp[i], build=build) for i in range(nsp)], ""
    raw, options = padding_mode(mod), getattr(mod, "padding_options", None)
    per_dim = [shown_mode(m, options) for m in (raw if isinstance(raw, tuple) else (raw,) * nsp)]  # a mode per axis
    ceil = bool(getattr(mod, "ceil_mode", False))
    notes = (
        []
        if all(m == "zeros" for m in per_dim)
        else [per_dim[0] if isinstance(raw, str) else mode_name(tuple(per_dim))]
    )
    explicit = getattr(mod, "explicit_padding", None)
    spec = layer_kind(mod)
    tf_same = spec is not None and spec.tf_same
    if callable(explicit):
        pads = [(int(a), int(b)) for a, b in explicit(tuple(in_sp))]
        notes.append("padkit")
    else:
        pads = list(padding_pairs(mod, in_sp))
        if tf_same:
            notes.append("TF-same")
    # torch pools use PyTorch's pooling rule; padkit and TF-same layers pad first and pool without padding
    pool_rule = kind in ("max_pool", "avg_pool") and not callable(explicit) and not tf_same
    res = []
    for i in range(nsp):
        pb, pa = pads[i]
        if pool_rule or (ceil and pb == pa):
            n_out = pool_out_size(in_sp[i], k[i], s[i], d[i], pb, pa, ceil)
        else:
            n_out = conv_out_size(in_sp[i], k[i], s[i], d[i], pb, pa)
        if n_out != out_sp[i]:
            raise Lost(f"{type(mod).__name__}: output size {out_sp[i]} does not match the arithmetic ({n_out})", False)
        res.append(window_op(in_sp[i], k[i], s[i], d[i], pb, pa, out_sp[i], per_dim[i], build=build))
    if ceil:
        notes.append("ceil_mode")
    return res, " ".join(notes)
