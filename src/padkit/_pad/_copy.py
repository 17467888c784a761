"""The copy modes (``reflect``, ``symmetric``, ``replicate``, ``circular``): index runs and a deterministic fold.

Every border position of a copy mode is a copy of one input sample (:func:`padkit.modes.index_map`). Per padded
dimension the index table is cut into runs of contiguous sources; the forward fills one output allocation run by
run with ``narrow``/``flip``/``copy_``, and the backward (:class:`CopyFold`) adds each border gradient back onto
the input sample it copies, with ``narrow``/``flip``/``add``: deterministic by construction on every device, and
twice differentiable (the fold's backward is the pad). Where ``F.pad`` computes the same values (reflect and
replicate within its limits) its native kernel runs instead.

Example:
    >>> border_runs(3, 2, 1, "reflect")  # (out_start, length, src_start, step)
    ((0, 2, 1, -1), (5, 1, 1, 0))
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable, Sequence, Union

import torch
import torch.nn.functional as F

from ..geometry import flat_pad
from ..modes import TORCH_NATIVE, index_map
from ._args import Widths

__all__ = ["CopyFold", "CopyPad", "border_runs", "copy_pad", "native_ok"]

#: dtypes PyTorch's native reflection/replication pad kernels refuse.
_NATIVE_REFUSED = {
    "reflect": frozenset({torch.bool, torch.uint16, torch.uint32, torch.uint64}),
    "replicate": frozenset({torch.bool, torch.uint16, torch.uint32, torch.uint64}),
}

#: A copy mode, or one copy mode per dimension of the input (dim order; unpadded dims' entries are never read).
Modes = Union[str, tuple[str, ...]]

Run = tuple[int, int, int, int]  # (out_start, length, src_start, step) with step in {1, -1, 0}; src_start = lowest


def _constant_under_compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``torch.compiler.assume_constant_result(fn)``, without importing ``torch._dynamo`` (about 1 s) at import time.

    When dynamo is not loaded yet, this sets the attribute that ``assume_constant_result`` sets (torch 2.1 to 2.14);
    ``tests/test_compile.py`` proves under ``fullgraph=True`` that dynamo treats ``_runs`` as a constant.
    """
    if "torch._dynamo" in sys.modules:
        return torch.compiler.assume_constant_result(fn)
    fn._dynamo_marked_constant = True  # type: ignore[attr-defined]
    return fn


@_constant_under_compile
def _runs(size: int, before: int, after: int, mode: str) -> tuple[Run, ...]:
    """Cached :func:`border_runs`; a constant of the (static) shape under ``torch.compile``."""
    return border_runs(size, before, after, mode)


@functools.lru_cache(maxsize=4096)
def border_runs(size: int, before: int, after: int, mode: str) -> tuple[Run, ...]:
    """Border positions of one padded dimension as runs of contiguous source ranges.

    The index table is :func:`padkit.modes.index_map`, i.e. ``np.pad(arange(size), (before, after), mode)``, so the
    extension (including widths beyond the size, which ``np.pad`` fills iteratively) is NumPy's by construction.
    """
    idx = index_map(size, before, after, mode)
    runs: list[Run] = []
    for lo, hi in ((0, before), (before + size, before + size + after)):
        i = lo
        while i < hi:
            j = i + 1
            step = 0
            if j < hi and abs(idx[j] - idx[i]) <= 1:
                step = idx[j] - idx[i]
                while j < hi and idx[j] - idx[j - 1] == step:
                    j += 1
            length = j - i
            src = min(idx[i], idx[j - 1])
            runs.append((i, length, src, step))
            i = j
    return tuple(runs)


def _mode_at(mode: Modes, d: int) -> str:
    return mode if isinstance(mode, str) else mode[d]


def native_ok(shape: Sequence[int], dtype: torch.dtype, widths: Widths, mode: Modes) -> bool:
    """Whether F.pad computes this (non-negative widths) copy-mode padding, with np.pad's values."""
    # circular is never handed to F.pad: its F.pad forward drops channels_last and its backward is slow
    if not isinstance(mode, str) or mode not in ("reflect", "replicate") or dtype in _NATIVE_REFUSED[mode]:
        return False
    ndim = len(shape)
    padded = [d for d, (b, a) in enumerate(widths) if b or a]
    if not padded:
        return False
    npad = ndim - padded[0]
    if not 1 <= npad <= 3 or ndim - npad not in (1, 2):
        return False
    if any(s == 0 for s in shape):
        return False
    if mode == "reflect":
        return all(b < shape[d] and a < shape[d] for d, (b, a) in enumerate(widths) if d >= ndim - npad)
    return True


def _native(x: torch.Tensor, widths: Widths, mode: Modes) -> torch.Tensor:
    """``F.pad`` on the trailing dimensions from the first padded one (where :func:`native_ok`)."""
    first = next(d for d, (b, a) in enumerate(widths) if b or a)
    return F.pad(x, flat_pad(widths[first:]), mode=TORCH_NATIVE[_mode_at(mode, first)])


def _out_memory_format(x: torch.Tensor) -> torch.memory_format:
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if x.dim() == 5 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


def _copy_pad_forward(x: torch.Tensor, widths: Widths, mode: Modes) -> torch.Tensor:
    shape = tuple(x.shape)
    if native_ok(shape, x.dtype, widths, mode):
        return _native(x, widths, mode)
    out_shape = [s + b + a for s, (b, a) in zip(shape, widths)]
    out = torch.empty(out_shape, dtype=x.dtype, device=x.device, memory_format=_out_memory_format(x))
    center = out
    for d, (b, _a) in enumerate(widths):
        center = center.narrow(d, b, shape[d])
    center.copy_(x)
    # Fill dimension by dimension; after dim d is done the "valid" region spans the full extent of dims <= d.
    valid = center
    for d, (b, a) in enumerate(widths):
        if not (b or a):
            continue
        size = shape[d]
        full = out
        for e in range(d + 1, len(widths)):
            full = full.narrow(e, widths[e][0], shape[e])
        # `full`: full extent in dims <= d, center in dims > d
        for out_start, length, src, step in _runs(size, b, a, _mode_at(mode, d)):
            dst = full.narrow(d, out_start, length)
            if step == 0:
                dst.copy_(valid.narrow(d, src, 1).expand_as(dst))
            elif step == 1:
                dst.copy_(valid.narrow(d, src, length))
            else:
                dst.copy_(valid.narrow(d, src, length).flip(d))
        valid = full
    return out


def fold_dim(g: torch.Tensor, acc: torch.Tensor, d: int, before: int, after: int, mode: str) -> None:
    """Add the border gradient of ``g`` along dim ``d`` onto ``acc`` (the centre of that dim), in place: the adjoint
    of one dim's copy-mode padding. ``mode`` is one copy mode (``"constant"`` adds nothing)."""
    if mode == "constant":
        return
    for out_start, length, src, step in _runs(acc.shape[d], before, after, mode):
        piece = g.narrow(d, out_start, length)
        if step == 0:
            acc.narrow(d, src, 1).add_(piece.sum(d, keepdim=True))
        elif step == 1:
            acc.narrow(d, src, length).add_(piece)
        else:
            acc.narrow(d, src, length).add_(piece.flip(d))


def _copy_pad_fold(g: torch.Tensor, widths: Widths, mode: Modes, in_shape: Sequence[int]) -> torch.Tensor:
    """Adjoint of :func:`_copy_pad_forward`: add every border gradient back onto the input position it copies."""
    for d in range(len(widths) - 1, -1, -1):
        b, a = widths[d]
        if not (b or a):
            continue
        acc = g.narrow(d, b, in_shape[d]).clone()
        fold_dim(g, acc, d, b, a, _mode_at(mode, d))
        g = acc
    return g


class CopyPad(torch.autograd.Function):
    """Copy-mode padding whose backward is :class:`CopyFold`: ``CopyPad.apply(x, widths, mode)``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, widths: Widths, mode: Modes) -> torch.Tensor:
        ctx.widths, ctx.mode, ctx.in_shape = widths, mode, tuple(x.shape)
        return _copy_pad_forward(x, widths, mode)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return CopyFold.apply(grad, ctx.widths, ctx.mode, ctx.in_shape), None, None


class CopyFold(torch.autograd.Function):
    """The fold of a padded gradient onto the input; its backward is :class:`CopyPad` (double backward)."""

    @staticmethod
    def forward(ctx: Any, g: torch.Tensor, widths: Widths, mode: Modes, in_shape: tuple[int, ...]) -> torch.Tensor:
        ctx.widths, ctx.mode = widths, mode
        return _copy_pad_fold(g, widths, mode, in_shape)

    @staticmethod
    def backward(ctx: Any, gg: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        return CopyPad.apply(gg, ctx.widths, ctx.mode), None, None, None


def copy_pad(x: torch.Tensor, widths: Widths, mode: Modes) -> torch.Tensor:
    """Pad ``x`` by per-dim non-negative ``widths`` (dim order) with a copy mode (:data:`padkit.modes.COPY_MODES`),
    or with one copy mode per dimension (a tuple in dim order): one output allocation either way."""
    # F.pad's reflect/replicate backward is a deterministic loop on CPU (atomics only on CUDA), so on CPU the native
    # op is used with its own autograd; elsewhere the fold keeps the backward deterministic by construction.
    native_autograd = torch.compiler.is_compiling() or x.device.type == "cpu"
    if native_autograd and native_ok(tuple(x.shape), x.dtype, widths, mode):
        return _native(x, widths, mode)
    if torch.onnx.is_in_onnx_export():
        return _copy_pad_exportable(x, widths, mode)
    if x.requires_grad and torch.is_grad_enabled():
        return CopyPad.apply(x, widths, mode)
    return _copy_pad_forward(x, widths, mode)


def _copy_pad_exportable(x: torch.Tensor, widths: Widths, mode: Modes) -> torch.Tensor:
    """The same padding from ``narrow``/``flip``/``expand``/``cat`` only, one dimension after the other: ops every ONNX
    exporter knows (the in-place fill of :func:`_copy_pad_forward` and the autograd Function do not export)."""
    for d, (b, a) in enumerate(widths):
        if not (b or a):
            continue
        pieces: list[list[torch.Tensor]] = [[], []]
        for out_start, length, src, step in _runs(int(x.shape[d]), b, a, _mode_at(mode, d)):
            if step == 0:
                shape = list(x.shape)
                shape[d] = length
                piece = x.narrow(d, src, 1).expand(shape)
            else:
                piece = x.narrow(d, src, length)
                piece = piece.flip(d) if step < 0 else piece
            pieces[out_start >= b].append(piece)
        x = torch.cat([*pieces[0], x, *pieces[1]], dim=d)
    return x
