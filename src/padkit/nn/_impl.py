"""Implementations of ``padkit.nn``: convolution, transposed convolution and pooling with a padding mode.

Every function here takes canonical arguments, checked once by the caller (a public function of
:mod:`padkit.nn.functional` or a layer's constructor): ``mode`` a layer-mode name (``padkit.modes.LAYER_MODES``),
``options`` a checked dict, ``stride``/``dilation``/``kernel`` int tuples per spatial dim, ``padding`` a parsed
:data:`padkit.geometry.PaddingSpec`. What depends on the input (its rank, its size against the kernel) is checked here,
per call. Geometry comes from :mod:`padkit.geometry`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .._errors import PadkitValueError
from .._pad import pad_canonical
from .._pad._args import canonical_options
from .._pad._copy import copy_pad
from .._pad._spherical import check_spherical
from .._validate import bad_type
from ..geometry import (
    PaddingSpec,
    Pairs,
    conv_transpose_out_size,
    effective_kernel,
    flat_pad,
    pairs_from_flat,
    pool_out_size,
    resolve_padding,
    transpose_extension,
)
from ..modes import COPY_MODES, MODE_OPTIONS, TORCH_NATIVE, is_zero_fill, pad_mode_of
from ._border import border_conv
from ._dilated import compacts, gather_spec, tap_conv, tap_plan
from ._partial import cached_ratio
from ._repad import ConvSpec, PadSpec, PoolSpec, repad_conv, repad_max_pool

__all__ = [
    "avg_pool",
    "batched",
    "conv",
    "conv_transpose",
    "max_pool",
    "pad_core",
    "pad_spatial",
    "pool_geometry",
]

_CONV: dict[int, Callable[..., Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T: dict[int, Callable[..., Tensor]] = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX: dict[int, Callable[..., Any]] = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG: dict[int, Callable[..., Tensor]] = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


# ----------------------------------------------------------------------------------------------------------------------
# padding
# ----------------------------------------------------------------------------------------------------------------------
def pad_core(x: Tensor, flat: Sequence[int], mode: str, options: Mapping[str, Any]) -> Tensor:
    """The one call into the pad core (``mode`` a canonical pad mode, ``options`` checked by the caller): F.pad's own
    kernels where they apply, a deterministic fold backward elsewhere, any width. Nothing is checked again here."""
    widths = pairs_from_flat(flat, x.dim())
    return pad_canonical(x, widths, mode, canonical_options(mode, options.get("value"), options, len(flat), x.dim()))


def fill_value(options: Mapping[str, Any]) -> float:
    """The constant a ``constant`` layer pads with (``value`` or ``constant_values``; 0 by default)."""
    value = options.get("value", options.get("constant_values"))
    return 0.0 if value is None else float(value)


def pad_spatial(x: Tensor, pairs: Pairs, mode: str | tuple[str, ...], options: Mapping[str, Any]) -> Tensor:
    """Pad the trailing ``len(pairs)`` dims of ``x`` by ``(before, after)`` pairs with a canonical pad ``mode``, or
    with one per dim (a tuple in dim order: :func:`pad_per_axis`)."""
    if all(b == 0 and a == 0 for b, a in pairs):
        return x
    if isinstance(mode, tuple):
        return pad_per_axis(x, pairs, mode, options)
    if mode == "spherical":
        (top, bottom), (left, right) = pairs[-2], pairs[-1]
        check_spherical(x.shape, top, bottom, left, right, argname="padding")
    flat = flat_pad(pairs)
    if mode == "constant":
        return F.pad(x, flat, mode="constant", value=fill_value(options))
    if torch.onnx.is_in_onnx_export() and mode in TORCH_NATIVE and not options:
        return F.pad(x, flat, mode=TORCH_NATIVE[mode])  # exports as one ONNX Pad node
    return pad_core(x, flat, mode, options)


def pad_per_axis(x: Tensor, pairs: Pairs, modes: tuple[str, ...], options: Mapping[str, Any]) -> Tensor:
    """Pad the trailing dims of ``x``, each by its pair and its pad mode, last dim first (``padkit.pad``'s rule for a
    mode per dim); each option goes to the dims whose mode takes it. Copy modes only: one pass."""
    offset = x.dim() - len(pairs)
    even = options.get("reflect_type", "even") == "even"
    if even and all(m in COPY_MODES for m in modes) and not torch.onnx.is_in_onnx_export():
        widths = ((0, 0),) * offset + tuple(pairs)
        return copy_pad(x, widths, ("circular",) * offset + modes)  # unpadded dims' entries are never read
    for i in range(len(pairs) - 1, -1, -1):
        if pairs[i] != (0, 0):
            one = tuple(p if j == i else (0, 0) for j, p in enumerate(pairs))
            share = {k: v for k, v in options.items() if k in MODE_OPTIONS[modes[i]]}
            x = pad_spatial(x, one, modes[i], share)
    return x


def _zero_padded(
    conv: Callable[..., Tensor],
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    s: Any,
    pairs: Pairs,
    d: Any,
    groups: int,
) -> Tensor:
    """``conv`` over ``x`` padded with zeros: the conv's own padding when it is symmetric, else an explicit F.pad
    (not kept for backward: :func:`padkit.nn._repad.repad_conv`)."""
    if all(b == a for b, a in pairs):
        return conv(x, weight, bias, s, tuple(b for b, _ in pairs), d, groups)
    nd = len(pairs)
    return repad_conv(x, weight, bias, ConvSpec(nd, s, (0,) * nd, d, groups, _pad_spec(pairs, "constant", {})))


def _pad_spec(pairs: Pairs, mode: str | tuple[str, ...], options: Mapping[str, Any]) -> PadSpec:
    """:func:`pad_spatial` by ``pairs`` with a canonical pad ``mode``, as a :class:`PadSpec`."""
    return PadSpec(pairs, mode, options, lambda t: pad_spatial(t, pairs, mode, options))


# ----------------------------------------------------------------------------------------------------------------------
# per-call checks of the input
# ----------------------------------------------------------------------------------------------------------------------
def batched(x: object, nd: int) -> tuple[Tensor, bool]:
    """``x`` with a batch dim, and whether it was added (an unbatched ``(C, *spatial)`` input)."""
    if not isinstance(x, Tensor):
        raise bad_type("input", x, "a torch.Tensor")
    if x.dim() == nd + 2:
        return x, False
    if x.dim() == nd + 1:
        return x.unsqueeze(0), True
    raise PadkitValueError(
        f"input.shape={tuple(x.shape)}: expected {nd + 2} dims (N, C, *spatial) or {nd + 1} dims (C, *spatial) "
        f"for a {nd}-D layer"
    )


def _check_fits(spatial: Sequence[int], pairs: Pairs, kernel: Sequence[int], dilation: Sequence[int], nd: int) -> None:
    for dim, (n, (b, a), k, d) in enumerate(zip(spatial, pairs, kernel, dilation)):
        ke = effective_kernel(k, d)
        if n + b + a < ke:
            raise PadkitValueError(
                f"conv{nd}d: spatial dim {dim} has {n} samples + padding ({b}, {a}) = {n + b + a} < the dilated "
                f"kernel extent {ke}; the input is too small"
            )


# ----------------------------------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------------------------------
def conv(
    nd: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, ...],
    padding: PaddingSpec,
    dilation: tuple[int, ...],
    groups: int,
    mode: str | tuple[str, ...],
    options: Mapping[str, Any],
    algorithm: str,
) -> Tensor:
    """An ``nd``-D convolution with a padding mode (``algorithm``: one of ``padkit.nn.functional.ALGORITHMS``)."""
    x, unbatched = batched(x, nd)
    k = tuple(int(v) for v in weight.shape[2:])
    spatial = tuple(int(v) for v in x.shape[2:])
    pairs = resolve_padding(padding, spatial, k, stride, dilation)
    _check_fits(spatial, pairs, k, dilation, nd)
    # exporters: a Pad node + valid conv is the portable graph; torch.compile: one traceable graph that the compiler
    # fuses (the border-correction plan is host-side Python over cached index tables)
    graph = torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()
    border = algorithm == "border" and not graph
    if mode == "partial":
        out = _partial_conv(nd, x, weight, bias, stride, dilation, groups, pairs, k, spatial)
    elif is_zero_fill(mode, options):
        out = _zero_padded(_CONV[nd], x, weight, bias, stride, pairs, dilation, groups)
    elif isinstance(mode, tuple):
        out = _per_axis_conv(_CONV[nd], x, weight, bias, stride, pairs, dilation, groups, mode, options)
    elif border and mode in COPY_MODES and not options and all(b == a for b, a in pairs) and all(spatial):
        out = border_conv(nd, x, weight, bias, stride, dilation, groups, pairs, k, mode)
    elif mode in COPY_MODES and not options and not graph and compacts(spatial, pairs, k, stride, dilation):
        plan = tap_plan(spatial, pairs, k, stride, dilation, mode)
        if plan is not None:  # some taps read one row along a dim (replicate beyond the input)
            out = tap_conv(x, weight, bias, plan, groups)
        else:
            pad, cs, cd = gather_spec(spatial, pairs, k, stride, dilation, mode)
            out = repad_conv(x, weight, bias, ConvSpec(nd, cs, (0,) * nd, cd, groups, pad))
    else:
        pad = _pad_spec(pairs, pad_mode_of(mode), options)
        out = repad_conv(x, weight, bias, ConvSpec(nd, stride, (0,) * nd, dilation, groups, pad))
    return out.squeeze(0) if unbatched else out


def _per_axis_conv(
    conv: Callable[..., Tensor],
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    s: Any,
    pairs: Pairs,
    d: Any,
    groups: int,
    mode: tuple[str, ...],
    options: Mapping[str, Any],
) -> Tensor:
    """``conv`` with a mode per dim: the zero-fill dims padded by the conv itself where their padding is symmetric,
    the other dims padded by :func:`pad_per_axis`."""
    nd = len(pairs)
    zero = [is_zero_fill(m, options) for m in mode]
    if all(b == a for (b, a), z in zip(pairs, zero) if z):
        rest = tuple((0, 0) if z else p for p, z in zip(pairs, zero))
        conv_padding = tuple(b if z else 0 for (b, _), z in zip(pairs, zero))
        spec = ConvSpec(nd, s, conv_padding, d, groups, _pad_spec(rest, pad_mode_of(mode), options))
    else:
        spec = ConvSpec(nd, s, (0,) * nd, d, groups, _pad_spec(pairs, pad_mode_of(mode), options))
    return repad_conv(x, weight, bias, spec)


def _partial_conv(
    nd: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    s: tuple[int, ...],
    d: tuple[int, ...],
    groups: int,
    pairs: Pairs,
    k: tuple[int, ...],
    spatial: tuple[int, ...],
) -> Tensor:
    """``out = (conv_nobias(zero_padded_x) * ratio + bias) * (valid_count > 0)``, in place on the conv's output (its
    backward keeps the cached ratio map only, no output-sized tensor)."""
    out = _zero_padded(_CONV[nd], x, weight, None, s, pairs, d, groups)
    ratio, all_valid = cached_ratio(spatial, k, s, d, pairs, out.device, out.dtype)
    if bias is None:
        return out.mul_(ratio)
    shift = bias.to(out.dtype).view((-1,) + (1,) * nd)
    if not all_valid or torch.onnx.is_in_onnx_export():
        shift = shift * (ratio > 0).to(out.dtype)
    return out.mul_(ratio).add_(shift)


# ----------------------------------------------------------------------------------------------------------------------
# transposed convolution
# ----------------------------------------------------------------------------------------------------------------------
def conv_transpose(
    nd: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    output_padding: tuple[int, ...],
    groups: int,
    dilation: tuple[int, ...],
    mode: str | tuple[str, ...],
    options: Mapping[str, Any],
) -> Tensor:
    """An ``nd``-D transposed convolution of the input extended by ``mode`` (not ``partial``), cropped to PyTorch's
    output window."""
    x, unbatched = batched(x, nd)
    s, p, op, d = stride, padding, output_padding, dilation
    k = tuple(int(v) for v in weight.shape[2:])
    spatial = tuple(int(v) for v in x.shape[2:])
    lengths = tuple(conv_transpose_out_size(spatial[i], k[i], s[i], d[i], p[i], op[i]) for i in range(nd))
    for dim, length in enumerate(lengths):  # what nn.ConvTranspose*d checks, as a ValueError, for every mode
        if length < 1:
            raise PadkitValueError(
                f"conv_transpose{nd}d: padding={p} is too large for input size {spatial}: output size along spatial "
                f"dim {dim} would be {length}; allowed: padding with a positive output size"
            )
    if is_zero_fill(mode, options):
        out = _CONV_T[nd](x, weight, bias, s, p, op, groups, d)
        return out.squeeze(0) if unbatched else out
    ext = tuple(transpose_extension(k[i], s[i], p[i], d[i], op[i]) for i in range(nd))
    xe = pad_spatial(x, ext, pad_mode_of(mode), options)
    full = _CONV_T[nd](xe, weight, None, s, 0, 0, groups, d)
    for dim in range(nd):
        start = p[dim] + ext[dim][0] * s[dim]
        short = start + lengths[dim] - full.shape[2 + dim]
        if short > 0:  # output_padding reaches past every contribution: those samples get only the bias
            pads = [0] * (2 * nd)
            pads[2 * (nd - 1 - dim) + 1] = short
            full = F.pad(full, pads)
        full = full.narrow(2 + dim, start, lengths[dim])
    out = full if bias is None else full + bias.view((-1,) + (1,) * nd)
    return out.squeeze(0) if unbatched else out


# ----------------------------------------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------------------------------------
def pool_geometry(
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: PaddingSpec,
    ceil_mode: bool,
) -> tuple[Pairs, Pairs, tuple[int, ...]]:
    """``(padding pairs, padding read, output size)`` of a pool over ``spatial``.

    The padding read is what the output windows cover, every window full: the nominal padding before, and after it
    whatever the last window reaches past the input (more than the nominal padding with ``ceil_mode``).
    """
    pairs = resolve_padding(padding, spatial, kernel, stride, dilation)
    outs = []
    read = []
    for n, (b, a), k, s, d in zip(spatial, pairs, kernel, stride, dilation):
        out = pool_out_size(n, k, s, d, b, a, ceil_mode)
        ke = effective_kernel(k, d)
        if out < 1:
            raise PadkitValueError(
                f"pooling: {n} samples + padding ({b}, {a}) is smaller than the window extent {ke}"
                + ("" if ceil_mode else " (ceil_mode=False)")
            )
        outs.append(out)
        read.append((b, max(0, (out - 1) * s + ke - n - b)))
    return pairs, tuple(read), tuple(outs)


def _crop(out: Tensor, outs: Sequence[int]) -> Tensor:
    for dim, o in enumerate(outs):
        if out.shape[2 + dim] != o:
            out = out.narrow(2 + dim, 0, o)
    return out


def _torch_pool_ok(pairs: Pairs, k: Sequence[int]) -> bool:
    """Whether PyTorch's pool takes this padding itself (symmetric, at most half the kernel)."""
    return all(b == a and b <= kk // 2 for (b, a), kk in zip(pairs, k))


def _torch_padding(mode: str | tuple[str, ...], options: Mapping[str, Any]) -> bool:
    """``zeros`` (or ``constant`` without options) on a pool: PyTorch's own pooling padding."""
    return mode in ("zeros", "constant") and not options


def _native_dims(mode: tuple[str, ...], options: Mapping[str, Any]) -> list[bool]:
    """Per dim of a pool with a mode per dim: whether PyTorch's own pooling padding serves it."""
    fill = any(k in options for k in ("value", "constant_values"))
    return [m == "zeros" or (m == "constant" and not fill) for m in mode]


def _unbatch(out: Tensor, unbatched: bool) -> Tensor:
    return out.squeeze(0) if unbatched else out


def _pre_pad(
    x: Tensor, pairs: Pairs, read: Pairs, mode: tuple[str, ...], options: Mapping[str, Any]
) -> tuple[Tensor, Pairs | None]:
    """A pool with a mode per dim: ``x`` padded by what the windows read in the dims whose mode pads data, and the
    padding left to PyTorch's own pooling padding in the other dims (``None`` when no dim is left)."""
    native = _native_dims(mode, options)
    xp = pad_spatial(x, tuple((0, 0) if n else r for r, n in zip(read, native)), pad_mode_of(mode), options)
    if not any(native):
        return xp, None
    return xp, tuple(p if n else (0, 0) for p, n in zip(pairs, native))


def max_pool(
    nd: int,
    x: Tensor,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: PaddingSpec,
    dilation: tuple[int, ...],
    ceil_mode: bool,
    mode: str | tuple[str, ...],
    options: Mapping[str, Any],
) -> Tensor:
    """``nd``-D max pooling; ``zeros`` and ``partial`` never pick a padded sample (PyTorch's -inf padding)."""
    x, unbatched = batched(x, nd)
    pairs, read, outs = pool_geometry(
        tuple(int(v) for v in x.shape[2:]), kernel, stride, dilation, padding, bool(ceil_mode)
    )
    pool = _MAX[nd]
    if isinstance(mode, tuple):
        if not any(_native_dims(mode, options)):
            spec = PoolSpec(nd, kernel, stride, dilation, _pad_spec(read, pad_mode_of(mode), options))
            return _unbatch(_crop(repad_max_pool(x, spec), outs), unbatched)
        xp, rest = _pre_pad(x, pairs, read, mode, options)
        if rest is None:
            out = _crop(pool(xp, kernel, stride, 0, dilation, False), outs)
        else:
            out = _crop(max_pool(nd, xp, kernel, stride, rest, dilation, ceil_mode, "zeros", {}), outs)
    elif _torch_padding(mode, options) or mode == "partial":
        if _torch_pool_ok(pairs, kernel):
            out = pool(x, kernel, stride, tuple(b for b, _ in pairs), dilation, ceil_mode)
        else:
            low = -math.inf if x.dtype.is_floating_point else torch.iinfo(x.dtype).min  # integers have no -inf
            spec = PoolSpec(nd, kernel, stride, dilation, _pad_spec(read, "constant", {"value": low}))
            out = _crop(repad_max_pool(x, spec), outs)
    else:
        spec = PoolSpec(nd, kernel, stride, dilation, _pad_spec(read, pad_mode_of(mode), options))
        out = _crop(repad_max_pool(x, spec), outs)
    return out.squeeze(0) if unbatched else out


def avg_pool(
    nd: int,
    x: Tensor,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: PaddingSpec,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
    mode: str | tuple[str, ...],
    options: Mapping[str, Any],
) -> Tensor:
    """``nd``-D average pooling; ``partial`` divides by the real samples, other non-zero modes by the full window."""
    x, unbatched = batched(x, nd)
    ones = (1,) * nd
    pairs, read, outs = pool_geometry(
        tuple(int(v) for v in x.shape[2:]), kernel, stride, ones, padding, bool(ceil_mode)
    )
    pool = _AVG[nd]
    extra: tuple[Any, ...] = () if nd == 1 else (divisor_override,)
    native = _torch_padding(mode, options)
    if isinstance(mode, tuple):
        xp, rest = _pre_pad(x, pairs, read, mode, options)
        if rest is None:
            out = _crop(pool(xp, kernel, stride, 0, False, True, *extra), outs)
        else:
            args: tuple[Any, ...] = (kernel, stride, rest, ceil_mode, count_include_pad, divisor_override, "zeros", {})
            out = _crop(avg_pool(nd, xp, *args), outs)
    elif native and _torch_pool_ok(pairs, kernel):
        out = pool(x, kernel, stride, tuple(b for b, _ in pairs), ceil_mode, count_include_pad, *extra)
    elif mode == "partial" or (native and not count_include_pad):
        if divisor_override is not None:
            why = "padding_mode='partial'" if mode == "partial" else "count_include_pad=False with this padding"
            raise PadkitValueError(
                f"divisor_override={divisor_override} cannot be combined with {why} (the divisor is the count of "
                "real samples per window there); allowed: divisor_override=None"
            )
        out = _crop(pool(F.pad(x, flat_pad(read)), kernel, stride, 0, False, True), outs)
        ratio, _ = cached_ratio(x.shape[2:], kernel, stride, ones, read, out.device, out.dtype)
        out = out * ratio
    elif native:
        # zero padding, PyTorch's semantics extended to any padding: the padding counts in the divisor, the samples
        # a ceil_mode window reads past it do not (pad explicitly, then let the pool's own ceil_mode clip)
        out = _crop(pool(F.pad(x, flat_pad(pairs)), kernel, stride, 0, ceil_mode, True, *extra), outs)
    else:
        xp = pad_spatial(x, read, pad_mode_of(mode), options)
        out = _crop(pool(xp, kernel, stride, 0, False, True, *extra), outs)
    return out.squeeze(0) if unbatched else out
