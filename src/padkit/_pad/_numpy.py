"""``padkit.numpy_pad``: ``np.pad``'s signature and semantics on NumPy arrays and tensors alike.

An adapter over :func:`padkit._pad._core.pad_canonical`: it reads ``np.pad``'s argument forms (``pad_width`` and
options broadcast like NumPy's ``_as_pairs``) into canonical per-dimension pairs, and it reproduces NumPy's dtype
promotion of ``linear_ramp``'s end values, a concern of ``np.pad`` compatibility that :func:`padkit.pad` does not
share.

Example:
    >>> numpy_pad(np.array([1, 2, 3]), (2, 1), mode="edge")
    array([1, 1, 1, 2, 3, 3])
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np
import torch

from .._validate import bad_type, bad_value
from ..modes import canonical_mode
from ._args import (
    as_int,
    check_option_names,
    check_readable,
    check_reflect_type,
    check_stat_length,
    number_pairs,
)
from ._core import pad_canonical
from ._numpy_modes import linear_ramp

__all__ = ["numpy_pad"]

ArrayOrTensor = Union[np.ndarray, torch.Tensor]

_TORCH_TO_NUMPY = {
    torch.bool: np.bool_, torch.uint8: np.uint8, torch.int8: np.int8, torch.int16: np.int16,
    torch.int32: np.int32, torch.int64: np.int64, torch.float16: np.float16, torch.float32: np.float32,
    torch.float64: np.float64, torch.complex64: np.complex64, torch.complex128: np.complex128,
}  # fmt: skip


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
        raise bad_type("mode", mode, "a mode name (str); np.pad's callable modes are not supported")
    if isinstance(array, torch.Tensor):
        t = array
    else:
        arr = np.asarray(array)
        if arr.dtype.kind not in "biufc":
            raise bad_type("array", array, f"a bool, integer, float or complex array; got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    mode = canonical_mode(mode)
    ndim = t.dim()
    widths = _numpy_pairs(pad_width, ndim)
    check_option_names(mode, None, kwargs)
    if mode == "linear_ramp":
        ends, dtypes = _ramp_values(kwargs.get("end_values", 0), ndim, t.dtype)
        check_readable(t.shape, t.dtype, widths, mode)
        out = linear_ramp(t, widths, ends, dtypes)
    else:
        opts: dict[str, Any] = {}
        if "constant_values" in kwargs:
            opts["constant_values"] = _number_values(kwargs["constant_values"], ndim, "constant_values")
        if "reflect_type" in kwargs:
            opts["reflect_type"] = check_reflect_type(kwargs["reflect_type"])
        if kwargs.get("stat_length") is not None:
            length = kwargs["stat_length"]
            opts["stat_length"] = check_stat_length(_number_values(length, ndim, "stat_length"), length)
        check_readable(t.shape, t.dtype, widths, mode)
        out = pad_canonical(t, widths, mode, opts)
    return out if isinstance(array, torch.Tensor) else out.numpy()


def _numpy_pairs(pad_width: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """``pad_width`` in any of ``np.pad``'s forms -> non-negative per-axis pairs."""
    if isinstance(pad_width, dict):
        seq = [(0, 0)] * ndim
        for axis, width in pad_width.items():
            ax = as_int(axis, "pad_width axis")
            if not -ndim <= ax < ndim:
                raise bad_value("pad_width", pad_width, f"axes in [{-ndim}, {ndim}); got axis {axis!r}")
            if isinstance(width, tuple) and len(width) == 2:
                seq[ax % ndim] = (as_int(width[0], f"pad_width[{axis!r}]"), as_int(width[1], f"pad_width[{axis!r}]"))
            else:
                w = as_int(width, f"pad_width[{axis!r}]")
                seq[ax % ndim] = (w, w)
        pad_width = seq
    arr = np.asarray(pad_width)
    if arr.dtype.kind not in "iu":
        raise bad_type("pad_width", pad_width, f"non-negative integers; got dtype {arr.dtype}")
    pairs = _broadcast_pairs(arr, ndim, "pad_width", pad_width)
    for b, a in pairs:
        if b < 0 or a < 0:
            raise bad_value("pad_width", pad_width, "non-negative integers")
    return tuple((int(b), int(a)) for b, a in pairs)


def _broadcast_pairs(arr: np.ndarray, ndim: int, argname: str, value: object) -> list[tuple[Any, Any]]:
    """np.pad's ``_as_pairs`` broadcasting of an option to shape ``(ndim, 2)``; ``value`` is what the user passed."""
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
        raise bad_value(
            argname, value, f"a scalar, a pair, or one (before, after) pair per axis ({ndim}); got shape {arr.shape}"
        ) from None


def _python(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _number_values(value: Any, ndim: int, argname: str) -> tuple[tuple[Any, Any], ...]:
    """An option of ``np.pad`` holding numbers (``constant_values``, ``stat_length``) -> per-axis pairs."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise bad_type(argname, value, f"numbers; got dtype {arr.dtype}")
    pairs = tuple((_python(b), _python(a)) for b, a in _broadcast_pairs(arr, ndim, argname, value))
    number_pairs(pairs, argname, value)
    return pairs


def _ramp_values(
    value: Any, ndim: int, dtype: torch.dtype
) -> tuple[list[tuple[Any, Any]], list[tuple[torch.dtype, torch.dtype]]]:
    """``end_values`` as per-axis pairs plus, per axis and side, the dtype ``np.linspace`` computes that ramp in.

    NumPy passes a scalar or a pair as NumPy scalars (strongly typed: float64 arithmetic) but per-axis pairs as
    Python numbers (weakly typed: e.g. float32 arithmetic for a float32 array); padkit reproduces both.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise bad_type("end_values", value, f"numbers; got dtype {arr.dtype}")
    np_dtype = _TORCH_TO_NUMPY.get(dtype, np.float64)
    ends: list[tuple[Any, Any]] = []
    dtypes: list[tuple[torch.dtype, torch.dtype]] = []
    for pair in _broadcast_pairs(arr, ndim, "end_values", value):
        side_dtypes = []
        for v in pair:
            dt = np.result_type(np_dtype, v)
            if dt.kind not in "fc":
                dt = np.result_type(dt, np.float64)
            side_dtypes.append(torch.from_numpy(np.zeros(0, dtype=dt)).dtype)
        ends.append((_python(pair[0]), _python(pair[1])))
        dtypes.append((side_dtypes[0], side_dtypes[1]))
    number_pairs(ends, "end_values", value)
    return ends, dtypes
