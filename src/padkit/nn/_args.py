"""Argument checks of ``padkit.nn``, shared by the functional API and the layers.

Each turns user arguments into the canonical form the implementations (:mod:`padkit.nn._impl`) take: a layer-mode name
(``zeros`` stays ``zeros``, PyTorch's spelling), a checked options dict, int tuples per spatial dim. Messages follow
:mod:`padkit._validate`'s grammar ``{argname}={value!r}: expected ...``.
"""

from __future__ import annotations

from typing import Any, Mapping, Union

from torch import Tensor

from .._validate import bad_type, bad_value, is_int, ntuple
from ..modes import LAYER_MODES, MAP_MODES, check_options, layer_modes

__all__ = [
    "TRANSPOSE_MODES",
    "LayerMode",
    "check_fill",
    "check_spatial_size",
    "check_weight",
    "mode_and_options",
    "pool_window",
    "transpose_args",
]

#: Layer modes a transposed conv accepts (partial convolution is not defined for it).
TRANSPOSE_MODES: tuple[str, ...] = tuple(m for m in LAYER_MODES if m != "partial")


def check_fill(options: Mapping[str, Any], argname: str = "padding_options") -> None:
    """A layer pads ``constant`` with one number: ``value`` / ``constant_values`` must be a scalar (or None)."""
    for key in ("value", "constant_values"):
        value = options.get(key)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise bad_type(f"{argname}[{key!r}]", value, "a number (one fill value for every side)")


#: A layer's canonical padding mode: one layer mode, or one per spatial dim in dim order (a per-axis mode).
LayerMode = Union[str, tuple[str, ...]]


def mode_and_options(
    padding_mode: object,
    padding_options: Mapping[str, Any] | None,
    allowed: tuple[str, ...] = LAYER_MODES,
    nd: int | None = None,
) -> tuple[LayerMode, dict[str, Any]]:
    """``(layer mode, options dict)``: the name or alias resolved in the layer vocabulary (a per-axis mode: a tuple
    of ``nd`` of them, :func:`padkit.modes.layer_modes`), its options checked. The map modes need ``nd == 2``."""
    mode = layer_modes(padding_mode, argname="padding_mode", allowed=allowed, nd=nd)
    if mode in MAP_MODES and nd is not None and nd != 2:
        raise bad_value("padding_mode", padding_mode, f"a mode of a {nd}-D layer ({mode!r} pads 2-D maps only)")
    options = check_options(mode, padding_options)
    check_fill(options)
    return mode, options


def check_weight(weight: object, nd: int) -> None:
    """A conv weight ``(C_out, C_in / groups, *kernel)`` of an ``nd``-D convolution."""
    if not isinstance(weight, Tensor):
        raise bad_type("weight", weight, "a torch.Tensor")
    if weight.dim() != nd + 2:
        raise bad_value("weight.shape", tuple(weight.shape), f"{nd + 2} dims (C_out, C_in / groups, *kernel)")


def check_spatial_size(size: object, nd: int) -> tuple[int, ...]:
    """``input_spatial_size`` of an ``nd``-D layer: ``nd`` ints ``>= 0``."""
    if not isinstance(size, (tuple, list)) or len(size) != nd or not all(is_int(v) and v >= 0 for v in size):
        raise bad_value("input_spatial_size", size, f"{nd} ints >= 0 (one per spatial dim)")
    return tuple(int(v) for v in size)


def pool_window(
    kernel_size: object, stride: object, dilation: object, nd: int
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """``(kernel, stride, dilation)`` of a pool as ``nd``-tuples; no stride (``None`` or ``()``) means the kernel."""
    k = ntuple(kernel_size, nd, "kernel_size", minimum=1)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    s = k if no_stride else ntuple(stride, nd, "stride", minimum=1)
    return k, s, ntuple(dilation, nd, "dilation", minimum=1)


def transpose_args(
    stride: object, padding: object, output_padding: object, dilation: object, nd: int
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """``(stride, padding, output_padding, dilation)`` of a transposed conv as ``nd``-tuples.

    ``output_padding`` must be smaller than the stride or the dilation in every dim (PyTorch's rule).
    """
    s = ntuple(stride, nd, "stride", minimum=1)
    d = ntuple(dilation, nd, "dilation", minimum=1)
    p = ntuple(padding, nd, "padding")
    op = ntuple(output_padding, nd, "output_padding")
    if any(o >= max(ss, dd) for o, ss, dd in zip(op, s, d)):
        raise bad_value("output_padding", output_padding, f"smaller than stride={s} or dilation={d} in every dim")
    return s, p, op, d
