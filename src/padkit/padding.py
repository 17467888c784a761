"""``padkit.pad``: a drop-in for ``torch.nn.functional.pad`` with every ``np.pad`` mode, and ``numpy_pad``.

``pad`` takes the call form of :func:`torch.nn.functional.pad` (a flat ``pad`` tuple, last dimension first) and
adds what ``F.pad`` refuses: NumPy's modes (``symmetric``, ``linear_ramp``, ``maximum``/``minimum``/``mean``/
``median``, ``empty``, ``reflect_type="odd"``), any rank and any number of padded dimensions, widths larger than
the dimension (periodic extension exactly as ``np.pad``), ``bool`` and every integer dtype.

Rules (see ``docs/pad.md``):

* Where ``F.pad`` succeeds with non-negative widths, ``pad`` returns the identical tensor (values, dtype, shape,
  memory format), with one deliberate exception: ``F.pad(mode="circular")`` turns a channels_last input into a
  contiguous output, while padkit keeps channels_last (same values).
* Negative widths crop. **Crop first, then pad**: every negative width removes that many elements from its side
  of the input, and the cropped tensor is padded with the non-negative widths. This holds for every mode. For
  ``constant`` and ``replicate`` it is what ``F.pad`` does too; ``F.pad``'s ``reflect`` and ``circular`` do
  something else on mixed signs (they read the cropped-away elements), and padkit deliberately differs there.
* The backward pass of the copy modes (``reflect``, ``symmetric``, ``replicate``, ``circular``) is a custom
  fold of the border gradient back onto the input with ``narrow``/``flip``/``add``: deterministic by
  construction on every device (no atomics, unlike PyTorch's CUDA reflection/replication-pad backward), twice
  differentiable, and much faster than ``F.pad``'s circular backward. Other modes are built from differentiable
  torch ops (``cat``/``narrow``/``flip``/reductions) whose backward is deterministic.
* Dimensions are padded in ascending order (dimension 0 first), as ``np.pad`` does, which fixes the corner
  values of the order-dependent modes (``linear_ramp``, the statistical modes, per-side constants).

Example:
    >>> import torch
    >>> x = torch.arange(1.0, 4.0)
    >>> pad(x, (4, 2), mode="symmetric")
    tensor([3., 3., 2., 1., 1., 2., 3., 3., 2.])
    >>> numpy_pad(x, 2, mode="reflect")
    tensor([3., 2., 1., 2., 3., 2., 1.])
"""

from __future__ import annotations

import functools
import numbers
import sys
from typing import Any, Callable, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from ._errors import PadkitTypeError, PadkitValueError
from .modes import MODE_OPTIONS, NEEDS_DATA, TORCH_NATIVE, canonical_mode

__all__ = ["numpy_pad", "pad"]

#: Modes whose padded values are copies of input values (an index map per dimension).
_COPY_MODES = frozenset({"reflect", "symmetric", "replicate", "circular"})
#: np.pad's names for padkit's canonical copy modes (used to build index tables with np.pad itself).
_NUMPY_NAME = {"reflect": "reflect", "symmetric": "symmetric", "replicate": "edge", "circular": "wrap"}
#: dtypes PyTorch's native reflection/replication pad kernels refuse.
_NATIVE_REFUSED = {
    "reflect": frozenset({torch.bool, torch.uint16, torch.uint32, torch.uint64}),
    "replicate": frozenset({torch.bool, torch.uint16, torch.uint32, torch.uint64}),
}

Widths = tuple[tuple[int, int], ...]  # per dimension, in dimension order: (before, after)
ArrayOrTensor = Union[np.ndarray, torch.Tensor]


# ----------------------------------------------------------------------------------------------------------------
# argument parsing
# ----------------------------------------------------------------------------------------------------------------


def _as_int(value: object, argname: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, torch.Tensor)):
        raise PadkitTypeError(f"{argname} must hold integers, got {type(value).__name__} {value!r}")
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
            raise PadkitTypeError(f"{argname} must hold integers, got tensor {value!r}")
        return int(value.item())
    return int(value)


def _parse_pad(pad: object, ndim: int) -> tuple[int, ...]:
    if (type(pad) is tuple or type(pad) is list) and all(type(v) is int for v in pad):
        values = tuple(pad)  # the common case, without the abstract-class checks (a few µs per element)
    elif isinstance(pad, (str, bytes)) or not isinstance(pad, Sequence):
        raise PadkitTypeError(
            f"pad must be a sequence of ints (F.pad order: last dimension first), got {type(pad).__name__} {pad!r}"
        )
    else:
        values = tuple(_as_int(v, "pad") for v in pad)
    if len(values) % 2:
        raise PadkitValueError(f"pad={values!r} has odd length {len(values)}; allowed: an even length up to {2 * ndim}")
    if len(values) > 2 * ndim:
        raise PadkitValueError(
            f"pad={values!r} has length {len(values)} but the input has {ndim} dimension(s); "
            f"allowed: an even length up to {2 * ndim}"
        )
    return values


def _widths_from_flat(flat: Sequence[int], ndim: int) -> Widths:
    """Flat F.pad tuple (last dim first) -> per-dimension (before, after) pairs in dimension order."""
    widths = [(0, 0)] * ndim
    for i in range(len(flat) // 2):
        widths[ndim - 1 - i] = (flat[2 * i], flat[2 * i + 1])
    return tuple(widths)


def _per_side(value: object, flat_len: int, ndim: int, argname: str, fill: Any = 0) -> tuple[tuple[Any, Any], ...]:
    """An option given as a scalar, a (before, after) pair, or one entry per ``pad`` entry -> per-dim pairs."""
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = list(value)
        if len(items) == 2 and flat_len != 2:
            flat = items * (flat_len // 2)
        elif len(items) == flat_len:
            flat = items
        else:
            raise PadkitValueError(
                f"{argname}={value!r} has {len(items)} entries; allowed: a scalar, a (before, after) pair, "
                f"or one entry per pad entry ({flat_len})"
            )
    else:
        flat = [value] * flat_len
    for v in flat:
        if v is None or isinstance(v, bool) or not isinstance(v, numbers.Number):
            raise PadkitTypeError(f"{argname} must hold numbers, got {type(v).__name__} {v!r} in {value!r}")
    pairs = [(fill, fill)] * ndim  # dimensions `pad` does not reach are not padded; their entry is never read
    for i in range(flat_len // 2):
        pairs[ndim - 1 - i] = (flat[2 * i], flat[2 * i + 1])
    return tuple(pairs)


def _parse_stat_length(value: object, flat_len: int, ndim: int) -> tuple[tuple[int | None, int | None], ...]:
    if value is None:
        return ((None, None),) * ndim
    pairs = _per_side(value, flat_len, ndim, "stat_length", fill=1)
    out = []
    for before, after in pairs:
        b, a = _as_int(before, "stat_length"), _as_int(after, "stat_length")
        if b < 1 or a < 1:
            raise PadkitValueError(f"stat_length={value!r} holds a value below 1; allowed: None or integers >= 1")
        out.append((b, a))
    return tuple(out)


# ----------------------------------------------------------------------------------------------------------------
# copy modes: index tables, runs, a custom autograd.Function with a deterministic fold backward
# ----------------------------------------------------------------------------------------------------------------

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
    """Cached :func:`_border_runs`; a constant of the (static) shape under ``torch.compile``."""
    return _border_runs(size, before, after, mode)


@functools.lru_cache(maxsize=4096)
def _border_runs(size: int, before: int, after: int, mode: str) -> tuple[Run, ...]:
    """Border positions of one padded dimension as runs of contiguous source ranges.

    The index table is ``np.pad(arange(size), (before, after), mode)`` itself, so the extension (including
    widths beyond the size, which ``np.pad`` fills iteratively) is NumPy's by construction.
    """
    idx = np.pad(np.arange(size), (before, after), mode=_NUMPY_NAME[mode]).tolist()  # type: ignore[call-overload]
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


def _native_ok(shape: Sequence[int], dtype: torch.dtype, widths: Widths, mode: str) -> bool:
    """Whether F.pad computes this (non-negative widths) copy-mode padding, with np.pad's values."""
    # circular is never handed to F.pad: its F.pad forward drops channels_last and its backward is slow
    if mode not in ("reflect", "replicate") or dtype in _NATIVE_REFUSED[mode]:
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
    for d in range(ndim - npad, ndim):
        b, a = widths[d]
        if mode == "reflect" and (b >= shape[d] or a >= shape[d]):
            return False
        if mode == "circular" and (b > shape[d] or a > shape[d]):
            return False
    return True


def _flat_from_widths(widths: Widths, npad: int) -> tuple[int, ...]:
    ndim = len(widths)
    flat: list[int] = []
    for d in range(ndim - 1, ndim - 1 - npad, -1):
        flat.extend(widths[d])
    return tuple(flat)


def _out_memory_format(x: torch.Tensor) -> torch.memory_format:
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if x.dim() == 5 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


def _copy_pad_forward(x: torch.Tensor, widths: Widths, mode: str) -> torch.Tensor:
    shape = tuple(x.shape)
    if _native_ok(shape, x.dtype, widths, mode):
        npad = len(widths) - next(d for d, (b, a) in enumerate(widths) if b or a)
        return F.pad(x, _flat_from_widths(widths, npad), mode=TORCH_NATIVE[mode])
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
        for out_start, length, src, step in _runs(size, b, a, mode):
            dst = full.narrow(d, out_start, length)
            if step == 0:
                dst.copy_(valid.narrow(d, src, 1).expand_as(dst))
            elif step == 1:
                dst.copy_(valid.narrow(d, src, length))
            else:
                dst.copy_(valid.narrow(d, src, length).flip(d))
        valid = full
    return out


def _copy_pad_fold(g: torch.Tensor, widths: Widths, mode: str, in_shape: Sequence[int]) -> torch.Tensor:
    """Adjoint of :func:`_copy_pad_forward`: add every border gradient back onto the input position it copies."""
    for d in range(len(widths) - 1, -1, -1):
        b, a = widths[d]
        if not (b or a):
            continue
        size = in_shape[d]
        acc = g.narrow(d, b, size).clone()
        for out_start, length, src, step in _runs(size, b, a, mode):
            piece = g.narrow(d, out_start, length)
            if step == 0:
                acc.narrow(d, src, 1).add_(piece.sum(d, keepdim=True))
            elif step == 1:
                acc.narrow(d, src, length).add_(piece)
            else:
                acc.narrow(d, src, length).add_(piece.flip(d))
        g = acc
    return g


class _CopyPad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, widths: Widths, mode: str) -> torch.Tensor:
        ctx.widths, ctx.mode, ctx.in_shape = widths, mode, tuple(x.shape)
        return _copy_pad_forward(x, widths, mode)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return _CopyFold.apply(grad, ctx.widths, ctx.mode, ctx.in_shape), None, None


class _CopyFold(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, g: torch.Tensor, widths: Widths, mode: str, in_shape: tuple[int, ...]) -> torch.Tensor:
        ctx.widths, ctx.mode = widths, mode
        return _copy_pad_fold(g, widths, mode, in_shape)

    @staticmethod
    def backward(ctx: Any, gg: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        return _CopyPad.apply(gg, ctx.widths, ctx.mode), None, None, None


def _copy_pad(x: torch.Tensor, widths: Widths, mode: str) -> torch.Tensor:
    # F.pad's reflect/replicate backward is a deterministic loop on CPU (atomics only on CUDA), so on CPU the native
    # op is used with its own autograd; elsewhere the fold below keeps the backward deterministic by construction.
    native_autograd = torch.compiler.is_compiling() or x.device.type == "cpu"
    if native_autograd and _native_ok(tuple(x.shape), x.dtype, widths, mode):
        npad = len(widths) - next(d for d, (b, a) in enumerate(widths) if b or a)
        return F.pad(x, _flat_from_widths(widths, npad), mode=TORCH_NATIVE[mode])
    if x.requires_grad and torch.is_grad_enabled():
        return _CopyPad.apply(x, widths, mode)
    return _copy_pad_forward(x, widths, mode)


# ----------------------------------------------------------------------------------------------------------------
# per-dimension modes built from differentiable ops (dimension 0 first, like np.pad)
# ----------------------------------------------------------------------------------------------------------------


def _odd(edge: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """NumPy's ``2 * edge - chunk`` in the array's dtype (for bool: computed in int, stored as ``!= 0``)."""
    if edge.dtype == torch.bool:
        return edge | src
    return 2 * edge - src


def _odd_reflect_dim(x: torch.Tensor, d: int, before: int, after: int, symmetric: bool) -> torch.Tensor:
    """np.pad's iterative odd reflection along one dimension, step for step (same arithmetic, same rounding)."""
    n = x.shape[d]
    if n == 1:  # np.pad's legacy rule for singleton dims: repeat the edge
        return torch.cat([x.expand(*x.shape[:d], before, *x.shape[d + 1 :]), x,
                          x.expand(*x.shape[:d], after, *x.shape[d + 1 :])], d)  # fmt: skip
    cur = x
    left, right = before, after
    while left > 0 or right > 0:
        old_length = cur.shape[d]
        if symmetric:
            old_length = old_length // n * n
            edge_offset = 1
        else:
            old_length = (old_length - 1) // (n - 1) * (n - 1) + 1
            edge_offset = 0
            old_length -= 1
        parts = []
        if left > 0:
            chunk = min(old_length, left)
            lo = 1 - edge_offset  # first element mirrored (relative to current left edge)
            src = cur.narrow(d, lo, chunk).flip(d)
            parts.append(_odd(cur.narrow(d, 0, 1), src))
            left -= chunk
        parts.append(cur)
        if right > 0:
            chunk = min(old_length, right)
            m = cur.shape[d]
            hi = m - 1 + edge_offset  # one past the last mirrored element
            src = cur.narrow(d, hi - chunk, chunk).flip(d)
            parts.append(_odd(cur.narrow(d, m - 1, 1), src))
            right -= chunk
        cur = torch.cat(parts, d)
    return cur


def _check_needs_data(x: torch.Tensor, widths: Widths, mode: str) -> None:
    for d, (b, a) in enumerate(widths):
        if x.shape[d] == 0 and (b > 0 or a > 0):
            raise PadkitValueError(
                f"mode={mode!r} reads the data to pad, but dimension {d} of the (cropped) input {tuple(x.shape)} "
                f"is empty and pad asks for ({b}, {a}) there; allowed: modes 'constant' or 'empty' for empty dimensions"
            )


def _crop(x: torch.Tensor, widths: Widths) -> tuple[torch.Tensor, Widths]:
    pos = []
    for d, (b, a) in enumerate(widths):
        cb, ca = max(-b, 0), max(-a, 0)
        if cb or ca:
            keep = x.shape[d] - cb - ca
            if keep < 0:
                raise PadkitValueError(
                    f"pad crops {cb + ca} element(s) from dimension {d} of size {x.shape[d]} (widths ({b}, {a})); "
                    f"allowed: negative widths that crop at most the whole dimension"
                )
            x = x.narrow(d, cb, keep)
        pos.append((max(b, 0), max(a, 0)))
    return x, tuple(pos)


# ----------------------------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------------------------


def pad(
    input: torch.Tensor,
    pad: Sequence[int],
    mode: str = "constant",
    value: float | None = None,
    **options: Any,
) -> torch.Tensor:
    """Pad a tensor like :func:`torch.nn.functional.pad`, with every ``np.pad`` mode, rank and width.

    Args:
        input: tensor of any shape ``(*)``, any dtype the mode makes sense for.
        pad: flat widths, last dimension first: ``(left_last, right_last, left_2nd_last, right_2nd_last, ...)``;
            even length up to ``2 * input.dim()``. Negative widths crop (crop first, then pad).
        mode: ``constant`` (``zeros``), ``reflect``, ``symmetric``, ``replicate`` (``edge``), ``circular``
            (``wrap``), ``linear_ramp``, ``maximum``, ``minimum``, ``mean``, ``median``, ``empty``.
        value: the constant for ``constant`` mode (F.pad's name); default 0.
        **options: NumPy's options, each only with its mode: ``constant_values`` (constant; not together with
            ``value``), ``reflect_type`` (``"even"``/``"odd"``; reflect, symmetric), ``end_values``
            (linear_ramp), ``stat_length`` (maximum, minimum, mean, median). Values are a scalar, a
            ``(before, after)`` pair for every padded dimension, or one entry per ``pad`` entry.

    Returns:
        The padded tensor, shape ``(*)`` grown by the widths, same dtype and device (and memory format).

    Raises:
        PadkitTypeError: ``input`` is not a tensor, a width is not an integer, a dtype the mode cannot handle.
        PadkitError: unknown mode, bad ``pad`` length, an option foreign to the mode, a crop larger than the
            dimension, or data-reading padding of an empty dimension.

    Example:
        >>> x = torch.tensor([[1, 2, 3]])
        >>> pad(x, (2, 1), mode="reflect")
        tensor([[3, 2, 1, 2, 3, 2]])
        >>> pad(x, (2, 2), mode="linear_ramp", end_values=9)
        tensor([[9, 5, 1, 2, 3, 6, 9]])
    """
    return _pad(input, pad, mode, value, options, None)


def _pad(
    input: torch.Tensor,
    pad: Sequence[int],
    mode: str,
    value: float | None,
    options: dict[str, Any],
    ramp_dtypes: Sequence[torch.dtype] | None,
) -> torch.Tensor:
    if not isinstance(input, torch.Tensor):
        raise PadkitTypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    mode = canonical_mode(mode)
    flat = _parse_pad(pad, input.dim())
    allowed = MODE_OPTIONS[mode]
    for key in options:
        if key not in allowed or key == "value":  # `value` is the named argument, never an option
            raise PadkitValueError(
                f"option {key}={options[key]!r} does not belong to mode={mode!r}; "
                f"allowed: {', '.join(sorted(allowed - {'value'})) or 'no options'}"
            )
    if value is not None and mode != "constant":
        raise PadkitValueError(f"value={value!r} is only for mode='constant', got mode={mode!r}")
    ndim = input.dim()
    widths = _widths_from_flat(flat, ndim)

    if mode in ("constant", "empty"):
        if "constant_values" in options and value is not None:
            raise PadkitValueError(
                f"value={value!r} and constant_values={options['constant_values']!r} given together; allowed: one"
            )
        cval = options.get("constant_values", value)
        if cval is None or mode == "empty":
            cval = 0
        if isinstance(cval, (np.generic, torch.Tensor)) and np.ndim(cval) == 0:
            cval = cval.item()
        if isinstance(cval, numbers.Number):
            if min(flat, default=0) < 0:
                _crop(input, widths)  # validates crops with padkit's message
            return F.pad(input, flat, mode="constant", value=cval)  # type: ignore[arg-type]
        pairs = _per_side(cval, len(flat), ndim, "constant_values")
        x, pos = _crop(input, widths)
        for d, ((b, a), (vb, va)) in enumerate(zip(pos, pairs)):
            spec_b = [0, 0] * (ndim - 1 - d) + [0, 0]
            if b:
                spec_b[-2] = b
                x = F.pad(x, spec_b, value=vb)
            if a:
                spec_a = [0, 0] * (ndim - d)
                spec_a[-1] = a
                x = F.pad(x, spec_a, value=va)
        return x

    x, pos = _crop(input, widths)
    if mode in NEEDS_DATA:
        _check_needs_data(x, pos, mode)

    if mode in ("reflect", "symmetric"):
        rtype = options.get("reflect_type", "even")
        if rtype not in ("even", "odd"):
            raise PadkitValueError(f"reflect_type={rtype!r} is not allowed; allowed: 'even', 'odd'")
        if rtype == "odd":
            for d, (b, a) in enumerate(pos):
                if b or a:
                    x = _odd_reflect_dim(x, d, b, a, mode == "symmetric")
            return x
    if mode in _COPY_MODES:
        return _copy_pad(x, pos, mode)
    if mode == "linear_ramp":
        ends = _per_side(options.get("end_values", 0), len(flat), ndim, "end_values")
        default = _compute_dtype(x.dtype)
        cdts: list[tuple[torch.dtype, torch.dtype]] = [(default, default)] * ndim
        if ramp_dtypes is not None:
            for i in range(len(flat) // 2):
                cdts[ndim - 1 - i] = (ramp_dtypes[2 * i], ramp_dtypes[2 * i + 1])
        for d, ((b, a), (eb, ea), (cb, ca)) in enumerate(zip(pos, ends, cdts)):
            if b or a:
                x = _linear_ramp_dim(x, d, b, a, eb, ea, cb, ca)
        return x
    lengths = _parse_stat_length(options.get("stat_length"), len(flat), ndim)
    if x.dtype.is_complex and mode != "mean":
        raise PadkitTypeError(f"mode={mode!r} needs an ordered dtype, got {x.dtype}; allowed: real dtypes")
    for d, ((b, a), (lb, la)) in enumerate(zip(pos, lengths)):
        if b or a:
            x = _stat_dim(x, d, b, a, lb, la, mode)
    return x


def _expand_along(t: torch.Tensor, d: int, width: int) -> torch.Tensor:
    shape = list(t.shape)
    shape[d] = width
    return t.expand(shape)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype.is_complex else torch.float64


def _to_input_dtype(y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """NumPy's cast of a float64 result into the array's dtype (integers floor/round earlier; bool = nonzero)."""
    if dtype == torch.bool:
        return y != 0
    return y.to(dtype)


#: ``dtype.to_real()`` as a table (torch.compile cannot trace the method)
_REAL_OF = {torch.complex32: torch.float16, torch.complex64: torch.float32, torch.complex128: torch.float64}


def _linear_ramp_dim(
    x: torch.Tensor, d: int, before: int, after: int, end_b: Any, end_a: Any, cdt_b: torch.dtype, cdt_a: torch.dtype
) -> torch.Tensor:
    """np.pad's linear_ramp along one dimension: ``np.linspace(end, edge, width, endpoint=False)`` per side.

    ``cdt_*`` is the dtype ``np.linspace`` computes in (float64 unless NumPy's promotion of a Python scalar end
    value with the array gives a narrower float); integer results are floored like ``np.linspace(dtype=int)``.
    """
    n = x.shape[d]
    integer = not (x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool)
    parts = []
    for side, width, end, cdt in (("before", before, end_b, cdt_b), ("after", after, end_a, cdt_a)):
        if not width:
            continue
        edge = x.narrow(d, 0 if side == "before" else n - 1, 1).to(cdt)
        shape = [1] * x.dim()
        shape[d] = width
        k = torch.arange(width, dtype=_REAL_OF.get(cdt, cdt), device=x.device).reshape(shape).to(cdt)
        delta = edge - end
        step = delta / width
        # np.linspace: y = k * step, unless some step is exactly zero, then y = k / div * delta
        y = torch.where((step == 0).any(), k / width * delta, k * step) + end
        if integer:
            y = torch.floor(y)
        y = _to_input_dtype(y, x.dtype)
        parts.append(y if side == "before" else y.flip(d))
    if before:
        parts.insert(1, x)
    else:
        parts.insert(0, x)
    return torch.cat(parts, d)


def _stat(chunk: torch.Tensor, d: int, mode: str) -> torch.Tensor:
    dtype = chunk.dtype
    integer = not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)
    if mode == "maximum":
        return chunk.amax(d, keepdim=True)
    if mode == "minimum":
        return chunk.amin(d, keepdim=True)
    if mode == "mean":
        if dtype.is_floating_point or dtype.is_complex:
            return chunk.mean(d, keepdim=True)
        y = chunk.to(torch.float64).mean(d, keepdim=True)
    else:  # median: NumPy averages the two middle values of an even count
        m = chunk.shape[d]
        srt = chunk.sort(d).values if dtype != torch.bool else chunk.to(torch.uint8).sort(d).values
        if m % 2:
            mid = srt.narrow(d, m // 2, 1)
            if dtype.is_floating_point or dtype == torch.bool:
                return mid.to(dtype) if dtype == torch.bool else mid
            y = mid.to(torch.float64)
        else:
            pair = srt.narrow(d, m // 2 - 1, 2)
            if dtype.is_floating_point:
                return pair.mean(d, keepdim=True)
            y = pair.to(torch.float64).mean(d, keepdim=True)
    if integer:
        y = torch.round(y)
    return _to_input_dtype(y, dtype)


def _stat_dim(
    x: torch.Tensor, d: int, before: int, after: int, lb: int | None, la: int | None, mode: str
) -> torch.Tensor:
    n = x.shape[d]
    lb = n if lb is None or lb > n else lb
    la = n if la is None or la > n else la
    left = _stat(x.narrow(d, 0, lb), d, mode)
    right = left if lb == la == n else _stat(x.narrow(d, n - la, la), d, mode)
    parts = []
    if before:
        parts.append(_expand_along(left, d, before))
    parts.append(x)
    if after:
        parts.append(_expand_along(right, d, after))
    return torch.cat(parts, d)


def numpy_pad(array: ArrayOrTensor, pad_width: Any, mode: str = "constant", **kwargs: Any) -> ArrayOrTensor:
    """``np.pad`` with NumPy's exact signature and semantics, for NumPy arrays and tensors alike.

    Args:
        array: ``np.ndarray`` (or array-like) or ``torch.Tensor`` of any shape ``(*)``.
        pad_width: an int, a ``(before, after)`` pair, per-axis pairs ``((b0, a0), (b1, a1), ...)``, or a dict
            ``{axis: int | (before, after)}``; non-negative integers (NumPy's rule).
        mode: any ``np.pad`` mode name (or a padkit alias); callables are not supported.
        **kwargs: ``constant_values``, ``end_values``, ``stat_length``, ``reflect_type`` as in ``np.pad``.

    Returns:
        The padded array, the same kind as ``array`` (a tensor keeps its device and autograd graph).

    Example:
        >>> numpy_pad(np.array([1, 2, 3]), (2, 1), mode="edge")
        array([1, 1, 1, 2, 3, 3])
    """
    if callable(mode):
        raise PadkitTypeError("mode must be a str; callable modes of np.pad are not supported by padkit")
    is_tensor = isinstance(array, torch.Tensor)
    if isinstance(array, torch.Tensor):
        t = array
    else:
        arr = np.asarray(array)
        if arr.dtype.kind not in "biufc":
            raise PadkitTypeError(f"array has dtype {arr.dtype}; allowed: bool, integer, float and complex arrays")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    ndim = t.dim()
    pairs = _numpy_pairs(pad_width, ndim)
    flat: list[int] = []
    for d in range(ndim - 1, -1, -1):
        flat.extend(pairs[d])
    opts: dict[str, Any] = {}
    ramp_dtypes = None
    allowed = MODE_OPTIONS[canonical_mode(mode)]
    for key, val in kwargs.items():
        if key not in allowed:
            opts[key] = val  # pad() names it as foreign to the mode
        elif key == "end_values":
            opts[key], ramp_dtypes = _numpy_ramp_values(val, ndim, t.dtype)
        elif key == "constant_values":
            opts[key] = _numpy_flat_values(val, ndim, key)
        elif key == "stat_length":
            opts[key] = None if val is None else _numpy_flat_values(val, ndim, key)
        else:
            opts[key] = val
    if ramp_dtypes is None and canonical_mode(mode) == "linear_ramp":
        opts["end_values"], ramp_dtypes = _numpy_ramp_values(0, ndim, t.dtype)
    out = _pad(t, flat, mode, None, opts, ramp_dtypes)
    if is_tensor:
        return out
    return out.numpy()


def _numpy_pairs(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    if isinstance(pad_width, dict):
        seq = [(0, 0)] * ndim
        for axis, width in pad_width.items():
            ax = _as_int(axis, "pad_width axis")
            if not -ndim <= ax < ndim:
                raise PadkitValueError(f"pad_width has axis {axis!r}; allowed: axes in [{-ndim}, {ndim})")
            if isinstance(width, tuple) and len(width) == 2:
                seq[ax % ndim] = (_as_int(width[0], "pad_width"), _as_int(width[1], "pad_width"))
            else:
                w = _as_int(width, "pad_width")
                seq[ax % ndim] = (w, w)
        pad_width = seq
    arr = np.asarray(pad_width)
    if arr.dtype.kind not in "iu":
        raise PadkitTypeError(f"pad_width={pad_width!r} must hold integers; got dtype {arr.dtype}")
    pairs = _broadcast_pairs(arr, ndim, "pad_width")
    for b, a in pairs:
        if b < 0 or a < 0:
            raise PadkitValueError(f"pad_width={pad_width!r} holds a negative width; allowed: non-negative integers")
    return [(int(b), int(a)) for b, a in pairs]


def _broadcast_pairs(arr: np.ndarray, ndim: int, argname: str) -> list[tuple[Any, Any]]:
    """np.pad's ``_as_pairs`` broadcasting of an option to shape ``(ndim, 2)``."""
    if arr.ndim < 3:
        if arr.size == 1:
            v = arr.ravel()[0]
            return [(v, v)] * ndim
        if arr.size == 2 and arr.shape != (2, 1):
            v = arr.ravel()
            return [(v[0], v[1])] * ndim
    try:
        return [tuple(p) for p in np.broadcast_to(arr, (ndim, 2)).tolist()]
    except ValueError:
        raise PadkitValueError(
            f"{argname} has shape {arr.shape}; allowed: a scalar, a pair, or one (before, after) pair per axis ({ndim})"
        ) from None


_TORCH_TO_NUMPY = {
    torch.bool: np.bool_, torch.uint8: np.uint8, torch.int8: np.int8, torch.int16: np.int16,
    torch.int32: np.int32, torch.int64: np.int64, torch.float16: np.float16, torch.float32: np.float32,
    torch.float64: np.float64, torch.complex64: np.complex64, torch.complex128: np.complex128,
}  # fmt: skip


def _numpy_ramp_values(value: Any, ndim: int, dtype: torch.dtype) -> tuple[list[Any], list[torch.dtype]]:
    """end_values as a flat list plus, per side, the dtype ``np.linspace`` would compute that ramp in.

    NumPy passes a scalar or a pair as NumPy scalars (strongly typed: float64 arithmetic) but per-axis pairs as
    Python numbers (weakly typed: e.g. float32 arithmetic for a float32 array); padkit reproduces both.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise PadkitTypeError(f"end_values={value!r} must hold numbers")
    pairs = _broadcast_pairs(arr, ndim, "end_values")
    np_dtype = _TORCH_TO_NUMPY.get(dtype, np.float64)
    flat: list[Any] = []
    dtypes: list[torch.dtype] = []
    for d in range(ndim - 1, -1, -1):
        for v in pairs[d]:
            dt = np.result_type(np_dtype, v)
            if dt.kind not in "fc":
                dt = np.result_type(dt, np.float64)
            flat.append(v.item() if isinstance(v, np.generic) else v)
            dtypes.append(torch.from_numpy(np.zeros(0, dtype=dt)).dtype)
    return flat, dtypes


def _numpy_flat_values(value: Any, ndim: int, argname: str) -> list[Any]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise PadkitTypeError(f"{argname}={value!r} must hold numbers")
    pairs = _broadcast_pairs(arr, ndim, argname)
    flat: list[Any] = []
    for d in range(ndim - 1, -1, -1):
        flat.extend(pairs[d])
    return [v.item() if isinstance(v, np.generic) else v for v in flat]
