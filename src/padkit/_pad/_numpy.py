"""``padkit.numpy_pad``: ``np.pad``'s signature and semantics, for NumPy arrays and tensors alike.

An adapter over :func:`padkit._pad._core.pad_canonical` and the modes of :mod:`._numpy_modes`. It reads
``np.pad``'s arguments by ``np.pad``'s rules (:mod:`._numpy_args`), converts a NumPy array to a tensor of a dtype
that holds it exactly, pads with torch and converts back to the array's dtype and memory layout. NumPy's own
``np.pad`` computes only what torch cannot hold or compute exactly (see :func:`numpy_pad`).

Example:
    >>> numpy_pad(np.array([1, 2, 3]), (2, 1), mode="edge")
    array([1, 1, 1, 2, 3, 3])
"""

from __future__ import annotations

import numbers
from typing import Any, Literal, Mapping, Union

import numpy as np
import torch

from .._validate import bad_type, bad_value
from ._args import (
    Widths,
    check_readable,
    check_reflect_type,
    check_stat_length,
    number_pairs,
)
from ._core import pad_canonical
from ._numpy_args import NP_MODES, as_pairs, check_np_options, numpy_error, numpy_mode, numpy_widths
from ._numpy_modes import linear_ramp, statistic

__all__ = ["numpy_pad"]

ArrayOrTensor = Union[np.ndarray, torch.Tensor]

_TORCH_TO_NUMPY = {
    torch.bool: np.bool_, torch.uint8: np.uint8, torch.int8: np.int8, torch.int16: np.int16,
    torch.int32: np.int32, torch.int64: np.int64, torch.float16: np.float16, torch.float32: np.float32,
    torch.float64: np.float64, torch.complex64: np.complex64, torch.complex128: np.complex128,
}  # fmt: skip

#: (dtype kind, itemsize) -> the NumPy dtype the array is padded in with torch: the same, or a wider signed integer
#: for uint16/uint32 (torch lacks most of their kernels); uint64 is padded as its int64 bit pattern.
_COMPUTE = {
    ("b", 1): np.bool_, ("i", 1): np.int8, ("i", 2): np.int16, ("i", 4): np.int32, ("i", 8): np.int64,
    ("u", 1): np.uint8, ("u", 2): np.int32, ("u", 4): np.int64, ("u", 8): np.uint64,
    ("f", 2): np.float16, ("f", 4): np.float32, ("f", 8): np.float64, ("c", 8): np.complex64, ("c", 16): np.complex128,
}  # fmt: skip

_ORDERED = ("maximum", "minimum", "median")
_STATS = ("maximum", "minimum", "mean", "median")
_INT64_MAX = np.iinfo(np.int64).max


def numpy_pad(array: ArrayOrTensor, pad_width: Any, mode: Any = "constant", **kwargs: Any) -> ArrayOrTensor:
    """``np.pad`` with NumPy's exact signature and semantics, for NumPy arrays and tensors alike.

    For a NumPy array (or anything ``np.asarray`` takes) the result equals ``np.pad(array, pad_width, mode,
    **kwargs)``: the same values, dtype and memory layout (Fortran-ordered in, Fortran-ordered out; otherwise
    C-ordered), and where ``np.pad`` raises, ``numpy_pad`` raises a :class:`~padkit.PadkitError` of the same built-in
    type (``ValueError``, ``TypeError``, ``OverflowError``) with padkit's message. Float ``mean``/``median`` may
    differ from NumPy in the last bits (summation order).

    torch pads bool, every integer type up to 64 bits, float16/32/64 and complex64/128 arrays (uint16/uint32 in a
    wider signed type, uint64 as its bit pattern). NumPy's own ``np.pad`` computes, so that the result is its:

    * dtypes torch cannot hold: ``longdouble``, ``clongdouble``, object (e.g. integers beyond 64 bits), strings,
      bytes, ``datetime64``, ``timedelta64``, structured;
    * uint64 arrays holding values beyond int64, in every mode but ``constant``, ``empty``, ``edge`` and ``wrap``;
    * complex arrays in ``maximum``/``minimum``/``median`` (NumPy orders complex numbers; torch does not);
    * casts NumPy leaves to the platform: integer ``linear_ramp`` ending outside the dtype's range or at a
      non-finite or complex value, non-number ``end_values``, and integer ``mean``/``median`` with
      ``stat_length=0`` (NaN cast to an integer);
    * integer ``mean`` where a float64 sum along an axis rounds (``|values| * axis length > 2**53``): NumPy's
      summation order decides the rounding there;
    * callable modes (``mode=function(vector, iaxis_pad_width, iaxis, kwargs)``).

    A tensor is padded with torch and stays a tensor (device and autograd graph kept); its options follow
    :func:`padkit.pad`'s checks (``reflect_type`` is ``"even"`` or ``"odd"``, ``stat_length`` at least 1, no
    callable mode).

    Args:
        array: ``np.ndarray`` (or array-like) or ``torch.Tensor`` of any shape ``(*)``.
        pad_width: an int, a ``(before, after)`` pair, per-axis pairs ``((b0, a0), (b1, a1), ...)``, or a dict
            ``{axis: int | (before, after)}``; non-negative integers (NumPy's rule).
        mode: one of ``np.pad``'s mode names (``constant``, ``edge``, ``wrap``, ``reflect``, ``symmetric``,
            ``linear_ramp``, ``maximum``, ``minimum``, ``mean``, ``median``, ``empty``) or, for arrays, a callable.
        **kwargs: ``constant_values``, ``end_values``, ``stat_length``, ``reflect_type`` as in ``np.pad``.

    Returns:
        The padded array, the same kind as ``array``.

    Raises:
        PadkitValueError: where ``np.pad`` raises ``ValueError`` (unknown mode, an option foreign to the mode,
            negative widths, shapes that do not broadcast, a data-reading mode on an empty axis, ...).
        PadkitTypeError: where ``np.pad`` raises ``TypeError`` (non-integer ``pad_width``, unhashable mode, ...).
        PadkitOverflowError: where ``np.pad`` raises ``OverflowError`` (a constant that does not fit the dtype).
        Exception: what a callable mode, or the objects of an object array in their own arithmetic, raise
            (e.g. ``ZeroDivisionError``), unchanged.

    Example:
        >>> numpy_pad(np.array([1, 2, 3]), (2, 1), mode="edge")
        array([1, 1, 1, 2, 3, 3])
    """
    if isinstance(array, torch.Tensor):
        return _pad_tensor(array, pad_width, mode, kwargs)
    try:
        arr = np.asarray(array)
    except (TypeError, ValueError) as exc:
        raise numpy_error(exc, "array", array, "an array-like np.asarray takes") from None
    widths = numpy_widths(pad_width, arr.ndim)
    if callable(mode):  # np.pad runs it; what the function raises reaches the caller unchanged
        return np.pad(arr, pad_width, mode, **kwargs)
    mode = numpy_mode(mode)
    check_np_options(mode, kwargs)
    return _pad_array(arr, pad_width, widths, mode, kwargs)


# ----------------------------------------------------------------------------------------------------------------
# NumPy arrays
# ----------------------------------------------------------------------------------------------------------------


def _with_numpy(arr: np.ndarray, pad_width: Any, mode: Any, kwargs: Mapping[str, Any]) -> np.ndarray:
    """``np.pad`` itself, its ``ValueError``/``TypeError``/``OverflowError`` translated into padkit's family.

    Any other error comes from the array's own objects (e.g. ``ZeroDivisionError`` from the mean of no Python ints)
    and reaches the caller unchanged.
    """
    try:
        return np.pad(arr, pad_width, mode, **kwargs)
    except (TypeError, ValueError, OverflowError) as exc:
        raise numpy_error(exc, "mode", mode, f"a mode and options np.pad applies to dtype {arr.dtype}") from None


def _torch_holds(arr: np.ndarray, mode: str) -> bool:
    """torch can pad ``arr`` in ``mode`` exactly (dtype and, for the arithmetic modes, values)."""
    dt = arr.dtype
    if (dt.kind, dt.itemsize) not in _COMPUTE:
        return False
    if dt.kind == "c" and mode in _ORDERED:
        return False
    if dt.kind == "u" and dt.itemsize == 8 and mode not in ("constant", "empty", "edge", "wrap") and arr.size:
        return int(arr.max()) <= _INT64_MAX
    return True


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(_COMPUTE[(dtype.kind, dtype.itemsize)])


def _to_tensor(arr: np.ndarray) -> torch.Tensor:
    """``arr`` as a tensor of its compute dtype (a C-contiguous, aligned, writeable copy where needed)."""
    src = np.require(arr, dtype=_compute_dtype(arr.dtype), requirements=["C", "A", "W"])
    if any(stride < 0 for stride in src.strides):  # a size-1 axis read backwards is still "C-contiguous"
        src = src.copy()
    if src.dtype == np.uint64:
        src = src.view(np.int64)
    return torch.from_numpy(src)


def _order(arr: np.ndarray) -> Literal["C", "F"]:
    """The memory order of ``np.pad``'s result: Fortran for an F-contiguous input that is not also C-contiguous."""
    return "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"


def _to_array(out: torch.Tensor, arr: np.ndarray) -> np.ndarray:
    """The padded tensor as an array of ``arr``'s dtype, in the layout ``np.pad`` gives (F for F-ordered input)."""
    order = _order(arr)
    res = out.numpy()
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8:
        res = res.view(np.uint64)
    res = res.astype(arr.dtype, order=order, copy=False).view(arr.dtype)
    if np.may_share_memory(res, arr):
        res = res.copy(order=order)
    return res


def _scalar(box: np.ndarray) -> Any:
    """A 0-d array of the input's dtype as the Python scalar torch fills its compute dtype with (exactly)."""
    value = box.astype(_compute_dtype(box.dtype))
    if value.dtype == np.uint64:
        value = value.view(np.int64)
    return value.item()


def _cast(value: Any, dtype: np.dtype, argname: str, shown: object) -> Any:
    """``value`` stored into ``dtype`` as ``np.pad`` stores it (NumPy's casting, NumPy's errors), as a scalar."""
    box = np.empty((), dtype=dtype)
    try:
        box[()] = value
    except (TypeError, ValueError, OverflowError) as exc:
        raise numpy_error(exc, argname, shown, f"values that fit dtype {dtype}") from None
    return _scalar(box)


def _fill_sides(t: torch.Tensor, widths: Widths, values: Any) -> torch.Tensor:
    """Constant padding with a value per axis and side, axis 0 first (the later axis wins corners), via ``full``."""
    for d, ((b, a), (vb, va)) in enumerate(zip(widths, values)):
        for width, v, before in ((b, vb, True), (a, va, False)):
            if width:
                shape = list(t.shape)
                shape[d] = width
                side = torch.full(shape, v, dtype=t.dtype, device=t.device)
                t = torch.cat([side, t] if before else [t, side], d)
    return t


def _float_exact(v: Any) -> bool:
    """``F.pad``'s ``value`` (a C double) holds ``v`` exactly."""
    return isinstance(v, (bool, float)) or (isinstance(v, int) and abs(v) <= 2**53)


def _constant(t: torch.Tensor, widths: Widths, values: Any) -> torch.Tensor:
    """Constant padding with the values cast to the array's dtype: ``F.pad`` for one value a double holds."""
    flat = [v for pair in values for v in pair]
    one = len({repr(v) for v in flat}) <= 1  # repr: -0.0 is not 0.0
    if one and all(_float_exact(v) for v in flat):
        return pad_canonical(t, widths, "constant", {"constant_values": flat[0] if flat else 0})
    return _fill_sides(t, widths, values)


def _ramp_in_torch(dtype: np.dtype, ends: Any) -> bool:
    """torch computes ``linear_ramp`` to these ends exactly: numbers, and for integers finite and in range."""
    v: Any
    for v in (v for pair in ends for v in pair):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Number, np.number)):
            return False
        if dtype.kind != "c" and isinstance(v, (complex, np.complexfloating)):
            return False
        if isinstance(v, int) and not -(2**63) <= v < 2**63:  # beyond what torch's arithmetic takes
            return False
        if dtype.kind in "iu" and not _fits(v, dtype):
            return False
    return True


def _fits(v: Any, dtype: np.dtype) -> bool:
    """The real number ``v`` is finite and within the range of the integer ``dtype`` (of int64 for uint64, which
    torch computes as int64)."""
    info = np.iinfo(dtype)
    return bool(np.isfinite(v) and info.min <= v <= min(int(info.max), _INT64_MAX))


def _ramp_dtypes(dtype: np.dtype, ends: Any) -> list[tuple[torch.dtype, torch.dtype]]:
    """Per axis and side, the dtype ``np.linspace`` computes that ramp in (NumPy's promotion of the end value)."""
    out = []
    for pair in ends:
        sides = []
        for v in pair:
            dt = np.result_type(dtype, v)
            if dt.kind not in "fc":
                dt = np.result_type(dt, np.float64)
            sides.append(torch.from_numpy(np.zeros(0, dtype=dt)).dtype)
        out.append((sides[0], sides[1]))
    return out


def _exact_sums(arr: np.ndarray) -> bool:
    """Every float64 sum of integers along an axis is exact (so its order, NumPy's or torch's, does not matter)."""
    bound = max(int(arr.max()), -int(arr.min())) * max(arr.shape, default=1)
    return bound <= 2**53


def _nan_fill(dtype: np.dtype) -> Any:
    """What ``np.pad`` writes for a statistic over no values (``stat_length=0``): NaN in ``dtype``."""
    nan = complex(np.nan, np.nan) if dtype.kind == "c" else np.nan
    return _scalar(np.array(nan).astype(dtype))


def _stats(t: torch.Tensor, widths: Widths, lengths: Any, mode: str, nan: Any) -> torch.Tensor:
    """The statistical modes, axis 0 first; a side whose ``stat_length`` is 0 is NaN (``nan``), as in NumPy."""
    for d, ((b, a), (lb, la)) in enumerate(zip(widths, lengths)):
        if not (b or a):
            continue
        n = t.shape[d]
        lb = n if lb is None or lb > n else lb
        la = n if la is None or la > n else la
        one = [(0, 0)] * t.dim()
        if lb and la:
            one[d] = (b, a)
            t = statistic(t, tuple(one), [(lb, la)] * t.dim(), mode, nan_median=True)
            continue
        fills = [(nan, nan)] * t.dim()
        for side, width, length in (("after", a, la), ("before", b, lb)):  # "after" first: it reads the input
            if not width:
                continue
            one[d] = (0, width) if side == "after" else (width, 0)
            if length:
                t = statistic(t, tuple(one), [(lb, la)] * t.dim(), mode, nan_median=True)
            else:
                t = _fill_sides(t, tuple(one), fills)
    return t


def _pad_array(arr: np.ndarray, pad_width: Any, widths: Widths, mode: str, kwargs: Mapping[str, Any]) -> np.ndarray:
    """``np.pad`` of a NumPy array with checked ``widths``, a NumPy ``mode`` name and its option names checked."""
    if not _torch_holds(arr, mode):
        return _with_numpy(arr, pad_width, mode, kwargs)
    ndim = arr.ndim
    canonical = NP_MODES[mode]
    values: Any = None
    zero = False  # a stat_length of 0
    if mode == "constant":
        raw = kwargs.get("constant_values", 0)
        pairs = as_pairs(raw, ndim, "constant_values")
        cast: dict[int, Any] = {}  # a scalar or a pair is one NumPy scalar repeated: cast each object once
        for v in (v for pair in pairs for v in pair):
            if id(v) not in cast:
                cast[id(v)] = _cast(v, arr.dtype, "constant_values", raw)
        values = [(cast[id(b)], cast[id(a)]) for b, a in pairs]
    elif mode != "empty" and arr.size == 0:
        check_readable(arr.shape, torch.float32, widths, canonical)  # no axis that reads data is empty
        return np.empty([s + b + a for s, (b, a) in zip(arr.shape, widths)], dtype=arr.dtype, order=_order(arr))
    elif mode == "linear_ramp":
        values = as_pairs(kwargs.get("end_values", 0), ndim, "end_values")
        if not _ramp_in_torch(arr.dtype, values):
            return _with_numpy(arr, pad_width, mode, kwargs)
    elif mode in _STATS:
        values = as_pairs(kwargs.get("stat_length"), ndim, "stat_length", as_index=True)
        zero = any(v is not None and v == 0 for pair in values for v in pair)
        if zero and mode in ("maximum", "minimum"):
            raise bad_value(
                "stat_length", kwargs["stat_length"], f"lengths >= 1 with mode={mode!r} (0 yields no value)"
            )
        if arr.dtype.kind in "iu" and (zero or (mode == "mean" and not _exact_sums(arr))):
            return _with_numpy(arr, pad_width, mode, kwargs)
    elif mode in ("reflect", "symmetric"):
        method = kwargs.get("reflect_type", "even")
        reads = any(n > 1 and (b or a) for n, (b, a) in zip(arr.shape, widths))
        try:
            odd = reads and bool(method == "odd")
        except ValueError as exc:
            raise numpy_error(exc, "reflect_type", method, "'even' or 'odd'") from None
        values = "odd" if odd else "even"
    if arr.ndim == 0:
        return arr.copy()
    t = _to_tensor(arr)
    if mode == "constant":
        out = _constant(t, widths, values)
    elif mode == "linear_ramp":
        ends = [(_num(b), _num(a)) for b, a in values]
        out = linear_ramp(t, widths, ends, _ramp_dtypes(arr.dtype, values))
    elif mode in _STATS:
        lengths = [tuple(None if v is None else int(v) for v in pair) for pair in values]
        out = _stats(t, widths, lengths, mode, _nan_fill(arr.dtype) if zero else None)
    elif mode in ("reflect", "symmetric"):
        out = pad_canonical(t, widths, canonical, {"reflect_type": values})
    else:
        out = pad_canonical(t, widths, canonical, {})
    return _to_array(out, arr)


def _num(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# ----------------------------------------------------------------------------------------------------------------
# tensors
# ----------------------------------------------------------------------------------------------------------------


def _pad_tensor(t: torch.Tensor, pad_width: Any, mode: Any, kwargs: Mapping[str, Any]) -> torch.Tensor:
    """A tensor padded with torch: ``np.pad``'s ``pad_width`` and mode names, :func:`padkit.pad`'s option checks."""
    if callable(mode):
        raise bad_type("mode", mode, "a mode name (str); callable modes take NumPy arrays, not tensors")
    ndim = t.dim()
    widths = numpy_widths(pad_width, ndim)
    np_name = numpy_mode(mode)
    check_np_options(np_name, kwargs)
    mode = NP_MODES[np_name]
    if mode == "linear_ramp":
        ends, dtypes = _tensor_ramp_values(kwargs.get("end_values", 0), ndim, t.dtype)
        check_readable(t.shape, t.dtype, widths, mode)
        return linear_ramp(t, widths, ends, dtypes)
    opts: dict[str, Any] = {}
    if "constant_values" in kwargs:
        opts["constant_values"] = _number_values(kwargs["constant_values"], ndim, "constant_values")
    if "reflect_type" in kwargs:
        opts["reflect_type"] = check_reflect_type(kwargs["reflect_type"])
    if kwargs.get("stat_length") is not None:
        length = kwargs["stat_length"]
        opts["stat_length"] = check_stat_length(_number_values(length, ndim, "stat_length"), length)
    check_readable(t.shape, t.dtype, widths, mode)
    return pad_canonical(t, widths, mode, opts)


def _number_values(value: Any, ndim: int, argname: str) -> tuple[tuple[Any, Any], ...]:
    """An option of ``np.pad`` holding numbers (``constant_values``, ``stat_length``) -> per-axis pairs."""
    if np.asarray(value).dtype.kind not in "biufc":
        raise bad_type(argname, value, f"numbers; got dtype {np.asarray(value).dtype}")
    pairs = tuple((_num(b), _num(a)) for b, a in as_pairs(value, ndim, argname))
    number_pairs(pairs, argname, value)
    return pairs


def _tensor_ramp_values(
    value: Any, ndim: int, dtype: torch.dtype
) -> tuple[list[tuple[Any, Any]], list[tuple[torch.dtype, torch.dtype]]]:
    """``end_values`` as per-axis pairs plus, per axis and side, the dtype ``np.linspace`` computes that ramp in.

    NumPy passes a scalar or a pair as NumPy scalars (strongly typed: float64 arithmetic) but per-axis pairs as
    Python numbers (weakly typed: e.g. float32 arithmetic for a float32 array); padkit reproduces both.
    """
    if np.asarray(value).dtype.kind not in "biufc":
        raise bad_type("end_values", value, f"numbers; got dtype {np.asarray(value).dtype}")
    pairs = as_pairs(value, ndim, "end_values")
    ends = [(_num(b), _num(a)) for b, a in pairs]
    number_pairs(ends, "end_values", value)
    return ends, _ramp_dtypes(np.dtype(_TORCH_TO_NUMPY.get(dtype, np.float64)), pairs)
