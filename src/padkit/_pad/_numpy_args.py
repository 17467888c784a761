"""``np.pad``'s argument rules for :func:`padkit.numpy_pad`: ``pad_width``, ``mode``, option names and ``_as_pairs``.

Each check raises where ``np.pad`` raises, with the exception type ``np.pad`` uses and padkit's message grammar
(:mod:`padkit._validate`): ``{argname}={value!r}: expected ...``. The one exception NumPy's own type does not decide is
a bad ``dict`` ``pad_width`` (NumPy: ``IndexError`` for an axis out of range, ``AssertionError`` for a width that is
neither an int nor a pair of ints): padkit raises ``PadkitValueError`` and ``PadkitTypeError`` there.

Example:
    >>> numpy_widths(((1, 2), (0, 3)), 2)
    ((1, 2), (0, 3))
    >>> numpy_mode("edge")
    'edge'
"""

from __future__ import annotations

import operator
from typing import Any, Mapping

import numpy as np

from .._errors import PadkitError, PadkitOverflowError
from .._validate import bad_type, bad_value
from ..modes import MODE_OPTIONS, NUMPY_NAMES

__all__ = ["NP_MODES", "as_pairs", "check_np_options", "numpy_error", "numpy_mode", "numpy_widths"]

#: ``np.pad``'s mode names, each with its canonical padkit name.
NP_MODES: Mapping[str, str] = {np_name: canonical for canonical, np_name in NUMPY_NAMES.items()}


def numpy_error(exc: BaseException, argname: str, value: object, expected: str) -> PadkitError:
    """A padkit error of the built-in type of ``exc`` (an error NumPy raised): Value, Type or OverflowError.

    The message is padkit's (``argname=value: expected ...``) and quotes NumPy's reason. Exceptions of any other type
    are not translated: the caller re-raises them.
    """
    reason = f"{expected} (NumPy: {exc})"
    if isinstance(exc, TypeError):
        return bad_type(argname, value, reason)
    if isinstance(exc, OverflowError):
        return PadkitOverflowError(f"{argname}={value!r}: expected {reason}")
    if isinstance(exc, ValueError):
        return bad_value(argname, value, reason)
    raise exc


def _dict_widths(pad_width: Mapping[Any, Any], ndim: int) -> list[tuple[Any, Any]]:
    """``{axis: int | (before, after)}`` -> one pair per axis (unlisted axes: ``(0, 0)``), as ``np.pad`` reads it."""
    seq: list[tuple[Any, Any]] = [(0, 0)] * ndim
    for axis, width in pad_width.items():
        try:
            ax = operator.index(axis)
        except TypeError:
            raise bad_type("pad_width", pad_width, f"int axes as keys; got {axis!r}") from None
        if not -ndim <= ax < ndim:
            raise bad_value("pad_width", pad_width, f"axes in [{-ndim}, {ndim}); got axis {axis!r}")
        if isinstance(width, int):
            seq[ax] = (width, width)
        elif isinstance(width, tuple) and len(width) == 2 and all(isinstance(w, int) for w in width):
            seq[ax] = (width[0], width[1])
        else:
            raise bad_type("pad_width", pad_width, f"an int or a tuple of two ints per axis; got {width!r}")
    return seq


def as_pairs(
    x: Any, ndim: int, argname: str, as_index: bool = False, shown: object = None
) -> tuple[tuple[Any, Any], ...]:
    """NumPy's ``_as_pairs``: ``x`` broadcast to ``ndim`` ``(before, after)`` pairs.

    The pairs hold what ``np.pad`` holds, which decides how NumPy casts them: NumPy scalars where ``x`` has one or two
    elements, Python scalars otherwise; ``None`` stays ``(None, None)``. ``as_index`` rounds to ``np.intp`` and
    refuses negative values. ``shown`` is the value messages quote (default ``x``).
    """
    shown = x if shown is None else shown
    if x is None:
        return ((None, None),) * ndim
    try:
        arr = np.array(x)
        if as_index:
            arr = np.round(arr).astype(np.intp, copy=False)
    except (TypeError, ValueError) as exc:
        what = "integers" if as_index else "values"
        raise numpy_error(
            exc, argname, shown, f"{what} as a scalar, a (before, after) pair or one pair per axis"
        ) from None
    negative = bad_value(argname, shown, "non-negative values") if as_index else None
    if arr.ndim < 3:
        if arr.size == 1:
            flat = arr.ravel()
            if negative is not None and flat[0] < 0:
                raise negative
            return ((flat[0], flat[0]),) * ndim
        if arr.size == 2 and arr.shape != (2, 1):
            flat = arr.ravel()
            if negative is not None and (flat[0] < 0 or flat[1] < 0):
                raise negative
            return ((flat[0], flat[1]),) * ndim
    if negative is not None and arr.size and arr.min() < 0:
        raise negative
    try:
        rows = np.broadcast_to(arr, (ndim, 2)).tolist()
    except ValueError:
        raise bad_value(
            argname, shown, f"a scalar, a (before, after) pair, or one pair per axis ({ndim}); got shape {arr.shape}"
        ) from None
    return tuple((b, a) for b, a in rows)


def numpy_widths(pad_width: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """``pad_width`` in any of ``np.pad``'s forms -> non-negative ``(before, after)`` ints per axis.

    Forms: an int, a pair, one pair per axis, a ``(n, 1)`` column, or a dict ``{axis: int | (before, after)}``; the
    array they make must have a signed integer dtype (``np.pad``: ``TypeError`` otherwise).
    """
    value = pad_width
    if isinstance(pad_width, dict):
        pad_width = _dict_widths(pad_width, ndim)
    try:
        arr = np.asarray(pad_width)
    except (TypeError, ValueError) as exc:
        raise numpy_error(exc, "pad_width", value, "integers of one regular shape") from None
    if arr.dtype.kind != "i":
        raise bad_type("pad_width", value, f"non-negative integers (a signed integer dtype); got dtype {arr.dtype}")
    return tuple((int(b), int(a)) for b, a in as_pairs(arr, ndim, "pad_width", as_index=True, shown=value))


def numpy_mode(mode: object) -> str:
    """``mode`` is one of ``np.pad``'s names, spelled as NumPy spells it (no padkit aliases, no other case)."""
    try:
        known = mode in NP_MODES
    except TypeError:
        raise bad_type("mode", mode, f"one of np.pad's mode names: {', '.join(map(repr, NP_MODES))}") from None
    if not known:
        raise bad_value("mode", mode, f"one of np.pad's mode names: {', '.join(map(repr, NP_MODES))}")
    return mode  # type: ignore[return-value]


def check_np_options(mode: str, kwargs: Mapping[str, Any]) -> None:
    """Every keyword belongs to ``mode`` (``np.pad``'s table; ``PadkitValueError`` otherwise)."""
    allowed = sorted(MODE_OPTIONS[NP_MODES[mode]] - {"value"})
    for key, val in kwargs.items():
        if key not in allowed:
            expected = (
                f"an option of mode={mode!r}: {', '.join(allowed)}" if allowed else f"no option with mode={mode!r}"
            )
            raise bad_value(key, val, expected)
