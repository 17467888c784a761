"""Padded convolution and max pooling that keep only the unpadded input for backward.

``conv(pad(x), w)`` through autograd keeps the padded copy ``pad(x)`` alive until the backward: one extra activation
per padded layer. :class:`RepadConv` and :class:`RepadMaxPool` keep what a zero-padded layer keeps (the conv: ``x``
and the weight; the max pool: the argmax indices), pad ``x`` again in the backward where the weight gradient needs
it, and fold the gradient of the padded input back onto ``x`` with the pad's own adjoint:

- constant fill: the interior of the padded gradient;
- copy modes (``reflect``, ``symmetric``, ``replicate``, ``circular``, one or one per dim): every border gradient added
  onto the sample it copies, in place inside the padded gradient (:func:`fold_in_place`), with ``narrow``/``flip``/
  ``add_``, so the fold allocates nothing and is deterministic on every device;
- any other mode: ``torch.autograd.grad`` of the pad done again.

Where a backward itself is differentiated (``create_graph=True``, e.g. ``gradgradcheck``), the backward recomputes the
forward through the plain differentiable ops and differentiates that, so higher derivatives are those of
``conv(pad(x), w)``.

Whether a layer takes this route depends on its configuration only (:func:`repad_applies`: a padding mode that pads a
copy) and on whether the call is traced: compilers and exporters (``torch.compile``, ``torch.export``, ONNX,
``torch.jit.trace``) and ``torch.func`` transforms see the plain ``pad`` + ``conv`` graph (a compiler decides for
itself what to keep for backward and may recompute the pad).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .._pad._copy import _mode_at, fold_dim
from ..geometry import Pairs
from ..modes import COPY_MODES
from ._border import _autocast_dtype

__all__ = ["PadSpec", "RepadConv", "RepadMaxPool", "fold_in_place", "repad_applies", "traced"]

_CONV: dict[int, Callable[..., Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX_WITH_INDICES: dict[int, Callable[..., Any]] = {
    2: torch.ops.aten.max_pool2d_with_indices,
    3: torch.ops.aten.max_pool3d_with_indices,
}
_MAX_BACKWARD: dict[int, Callable[..., Any]] = {
    2: torch.ops.aten.max_pool2d_with_indices_backward,
    3: torch.ops.aten.max_pool3d_with_indices_backward,
}


def traced() -> bool:
    """Whether the call is being traced or transformed (compile, export, ONNX, jit trace, ``torch.func``): the plain
    ``pad`` + layer ops are used there."""
    return (
        torch.compiler.is_compiling()
        or torch.jit.is_tracing()
        or torch.onnx.is_in_onnx_export()
        or torch._C._are_functorch_transforms_active()
    )


def _foldable(mode: str | tuple[str, ...], options: Mapping[str, Any]) -> bool:
    """Whether the adjoint of the pad is :func:`fold_in_place` (copy modes with even reflection, constant fill)."""
    if options.get("reflect_type", "even") != "even":
        return False
    modes = (mode,) if isinstance(mode, str) else mode
    return all(m in COPY_MODES or m == "constant" for m in modes)


@dataclass(frozen=True, eq=False)
class PadSpec:
    """What pads the input: ``pad(x)`` pads the trailing ``len(pairs)`` dims by ``pairs`` with canonical pad ``mode``
    (one per dim allowed) and ``options``; ``foldable`` when its adjoint is :func:`fold_in_place`."""

    pairs: Pairs
    mode: str | tuple[str, ...]
    options: Mapping[str, Any]
    pad: Callable[[Tensor], Tensor]
    adjoint_fn: Callable[[Tensor, Tensor], Tensor] | None = None  # (gp, x) -> gradient of x, where pad is no pad

    @property
    def foldable(self) -> bool:
        return self.adjoint_fn is None and _foldable(self.mode, self.options)

    def adjoint(self, gp: Tensor, x: Tensor) -> Tensor:
        """The gradient of ``x`` from ``gp``, the gradient of ``pad(x)`` (``gp`` is overwritten when foldable)."""
        if self.adjoint_fn is not None:
            return self.adjoint_fn(gp, x)
        if self.foldable:
            offset = gp.dim() - len(self.pairs)
            widths = ((0, 0),) * offset + tuple(self.pairs)
            modes = self.mode if isinstance(self.mode, str) else ("constant",) * offset + tuple(self.mode)
            return fold_in_place(gp, widths, modes)
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            (gx,) = torch.autograd.grad(self.pad(xr), xr, gp)
        return gx


def fold_in_place(g: Tensor, widths: Sequence[tuple[int, int]], mode: str | tuple[str, ...]) -> Tensor:
    """The adjoint of a copy-mode or constant pad by ``widths`` (per dim of ``g``), computed inside ``g``.

    Each border gradient is added onto the interior sample it copies (nothing for ``constant``); the result is the
    interior view of ``g`` (not contiguous when anything was padded). Padding with copy modes and constants is
    separable, so the dims fold in any order.
    """
    for d in range(len(widths) - 1, -1, -1):
        b, a = widths[d]
        if not (b or a):
            continue
        inner = g.narrow(d, b, g.shape[d] - b - a)
        fold_dim(g, inner, d, b, a, _mode_at(mode, d))
        g = inner
    return g


def repad_applies(mode: str | tuple[str, ...], options: Mapping[str, Any]) -> bool:
    """Whether a layer with this padding pads a copy of its input (every mode but zero fill and ``partial``)."""
    return mode != "partial"


def _placeholder(like: Tensor, shape: Sequence[int]) -> Tensor:
    """A tensor of ``shape`` without storage (what ``torch.nn.grad.conv2d_input`` hands the conv backward)."""
    return like.new_empty(1).expand(tuple(shape))


def _autocast_inputs(*tensors: Tensor | None) -> tuple[Any, ...] | None:
    """The tensors in the autocast dtype when autocast is on for their device (the Function then runs in that one
    dtype, with autocast off, so its backward never mixes dtypes); ``None`` when autocast is off."""
    first = next(t for t in tensors if t is not None)
    dev = first.device.type
    if not torch.is_autocast_enabled(dev):
        return None
    dt = _autocast_dtype(dev)
    return tuple(None if t is None else t.to(dt) for t in tensors)


# ----------------------------------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ConvSpec:
    """A convolution over the padded input: ``conv(pad(x), w, b, stride, conv_padding, dilation, groups)``."""

    nd: int
    stride: tuple[int, ...]
    conv_padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    pad: PadSpec

    def forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        xp = self.pad.pad(x)
        return _CONV[self.nd](xp, weight, bias, self.stride, self.conv_padding, self.dilation, self.groups)


class RepadConv(torch.autograd.Function):
    """``conv(pad(x), w, b)`` keeping ``x`` and ``w`` for backward (as a zero-padded conv does), not ``pad(x)``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, spec: ConvSpec) -> Tensor:
        xp = spec.pad.pad(x)
        ctx.padded_shape = tuple(xp.shape)
        out = _CONV[spec.nd](xp, weight, bias, spec.stride, spec.conv_padding, spec.dilation, spec.groups)
        del xp
        ctx.save_for_backward(x, weight, bias)
        ctx.spec = spec
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Any:
        x, weight, bias = ctx.saved_tensors
        spec: ConvSpec = ctx.spec
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        need_b = bool(need_b and bias is not None)
        if torch.is_grad_enabled():  # the backward is itself differentiated: recompute through differentiable ops
            return (*_recomputed_grads(lambda a, b, c: spec.forward(a, b, c), (x, weight, bias), grad), None)
        args = (list(spec.stride), list(spec.conv_padding), list(spec.dilation), False, [0] * spec.nd, spec.groups)
        gx = gw = gb = None
        if need_w or need_b:
            xp = spec.pad.pad(x)
            _, gw, gb = torch.ops.aten.convolution_backward(
                grad, xp, weight, [weight.shape[0]] if need_b else None, *args, [False, need_w, need_b]
            )
            del xp  # before the input gradient: one padded-size tensor at a time
        if need_x:
            gxp = torch.ops.aten.convolution_backward(
                grad, _placeholder(x, ctx.padded_shape), weight, None, *args, [True, False, False]
            )[0]
            gx = spec.pad.adjoint(gxp, x)
        return gx, gw, gb, None


def _recomputed_grads(fn: Callable[..., Tensor], inputs: tuple[Tensor | None, ...], grad: Tensor) -> list[Any]:
    """The gradients of ``fn(*inputs)`` (computed again, differentiably) for the inputs that require grad."""
    with torch.enable_grad():
        out = fn(*inputs)
        wanted = [t for t in inputs if t is not None and t.requires_grad]
        found = iter(torch.autograd.grad(out, wanted, grad, create_graph=True, allow_unused=True))
    return [next(found) if t is not None and t.requires_grad else None for t in inputs]


def repad_conv(x: Tensor, weight: Tensor, bias: Tensor | None, spec: ConvSpec) -> Tensor:
    """``conv(pad(x), weight, bias)``: through :class:`RepadConv` where gradients are recorded and nothing traces,
    else the plain ops."""
    grads = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias))
    if not grads or traced():
        return spec.forward(x, weight, bias)
    cast = _autocast_inputs(x, weight, bias)
    if cast is not None:
        with torch.autocast(x.device.type, enabled=False):
            return RepadConv.apply(*cast, spec)
    return RepadConv.apply(x, weight, bias, spec)


# ----------------------------------------------------------------------------------------------------------------------
# max pooling
# ----------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PoolSpec:
    """A max pool over the padded input, padding 0, no ``ceil_mode``: ``max_pool(pad(x), kernel, stride, dilation)``."""

    nd: int
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad: PadSpec

    def forward(self, x: Tensor) -> Tensor:
        pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[self.nd - 1]
        return pool(self.pad.pad(x), self.kernel, self.stride, 0, self.dilation, False)


class RepadMaxPool(torch.autograd.Function):
    """``max_pool(pad(x))`` keeping the argmax indices for backward (as PyTorch's max pool does), not ``pad(x)``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, spec: PoolSpec) -> Tensor:
        xp = spec.pad.pad(x)
        ctx.padded_shape = tuple(xp.shape)
        out, idx = _MAX_WITH_INDICES[spec.nd](
            xp, list(spec.kernel), list(spec.stride), [0] * spec.nd, list(spec.dilation)
        )
        del xp
        ctx.save_for_backward(x, idx)
        ctx.spec = spec
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Any:
        x, idx = ctx.saved_tensors
        spec: PoolSpec = ctx.spec
        if torch.is_grad_enabled():
            return (*_recomputed_grads(spec.forward, (x,), grad), None)
        nd = spec.nd
        gxp = _MAX_BACKWARD[nd](
            grad,
            _placeholder(x, ctx.padded_shape),
            list(spec.kernel),
            list(spec.stride),
            [0] * nd,
            list(spec.dilation),
            False,
            idx,
        )
        return spec.pad.adjoint(gxp, x), None


def repad_max_pool(x: Tensor, spec: PoolSpec) -> Tensor:
    """``max_pool(pad(x))``: through :class:`RepadMaxPool` where gradients are recorded and nothing traces (2-D and
    3-D), else the plain ops."""
    if spec.nd == 1 or not (torch.is_grad_enabled() and x.requires_grad) or traced():
        return spec.forward(x)
    return RepadMaxPool.apply(x, spec)
