"""Argument checks of :func:`padkit.pad`: the flat ``pad`` tuple, the mode's options, crops and data-reading limits.

Everything here validates and converts; nothing pads. The result is the canonical form the core
(:func:`padkit._pad._core.pad_canonical`) takes: per-dimension ``(before, after)`` pairs in dimension order, one
pair per dimension of the input. Messages follow :mod:`padkit._validate`: ``{argname}={value!r}: expected ...``.

Example:
    >>> parse_pad([2, 1], 3)
    (2, 1)
    >>> canonical_options("mean", None, {"stat_length": (1, 3)}, 2, 2)
    {'stat_length': ((1, 1), (1, 3))}
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .._validate import bad_type, bad_value
from ..geometry import pairs_from_flat
from ..modes import MODE_OPTIONS, NEEDS_DATA

__all__ = [
    "Widths",
    "as_int",
    "canonical_options",
    "check_crops",
    "check_option_names",
    "check_readable",
    "check_reflect_type",
    "check_stat_length",
    "number_pairs",
    "parse_pad",
    "per_side",
    "split_crops",
]

#: Per dimension, in dimension order: ``(before, after)``.
Widths = tuple[tuple[int, int], ...]

#: The ``reflect_type`` values of ``np.pad``.
REFLECT_TYPES = ("even", "odd")


def as_int(value: object, argname: str) -> int:
    """``value`` as an ``int``: an integral number (not ``bool``) or a one-element integer tensor."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if (
        isinstance(value, torch.Tensor)
        and value.numel() == 1
        and not (value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool)
    ):
        return int(value.item())
    raise bad_type(argname, value, "an int")


def parse_pad(pad: object, ndim: int) -> tuple[int, ...]:
    """``F.pad``'s flat ``pad`` (last dimension first) as a tuple of ints of even length up to ``2 * ndim``."""
    if (type(pad) is tuple or type(pad) is list) and all(type(v) is int for v in pad):
        values = tuple(pad)  # the common case, without the abstract-class checks (a few µs per element)
    elif isinstance(pad, (str, bytes)) or not isinstance(pad, Sequence):
        raise bad_type("pad", pad, "a sequence of ints (F.pad order: last dimension first)")
    else:
        values = tuple(as_int(v, f"pad[{i}]") for i, v in enumerate(pad))
    if len(values) % 2 or len(values) > 2 * ndim:
        raise bad_value(
            "pad",
            values,
            f"an even length up to {2 * ndim} (two entries per padded dimension of the {ndim}-dimensional input); "
            f"got length {len(values)}",
        )
    return values


def check_option_names(mode: str, value: object, options: Mapping[str, Any]) -> None:
    """Every option belongs to ``mode`` (:data:`padkit.modes.MODE_OPTIONS`); ``value`` only with ``constant``.

    ``value`` is ``F.pad``'s named argument, never a keyword option.
    """
    for key, val in options.items():
        if key not in MODE_OPTIONS[mode] or key == "value":
            allowed = sorted(MODE_OPTIONS[mode] - {"value"})
            expected = (
                f"an option of mode={mode!r}: {', '.join(allowed)}" if allowed else f"no option with mode={mode!r}"
            )
            raise bad_value(key, val, expected)
    if value is not None and mode != "constant":
        raise bad_value("value", value, f"None with mode={mode!r} (value is only for mode='constant')")
    if value is not None and "constant_values" in options:
        raise bad_value(
            "value", value, f"None when constant_values={options['constant_values']!r} is given (one of the two)"
        )


def per_side(value: object, flat_len: int, ndim: int, argname: str, fill: Any = 0) -> tuple[tuple[Any, Any], ...]:
    """An option given as a scalar, a (before, after) pair, or one entry per ``pad`` entry -> per-dim pairs.

    Dimensions ``pad`` does not reach get ``(fill, fill)``; their entry is never read.
    """
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
            raise bad_value(
                argname,
                value,
                f"a scalar, a (before, after) pair, or one entry per pad entry ({flat_len}); got {len(items)} entries",
            )
    else:
        flat = [value] * flat_len
    pairs = pairs_from_flat(flat, ndim, fill)
    number_pairs(pairs[ndim - flat_len // 2 :], argname, value)
    return pairs


def number_pairs(pairs: Sequence[tuple[Any, Any]], argname: str, value: object) -> None:
    """Every entry of ``pairs`` is a number (not ``None``, not ``bool``); ``value`` is what the user passed."""
    for pair in pairs:
        for v in pair:
            if v is None or isinstance(v, bool) or not isinstance(v, numbers.Number):
                raise bad_type(argname, value, f"numbers, got {type(v).__name__} {v!r}")


def check_stat_length(pairs: Sequence[tuple[Any, Any]], value: object) -> tuple[tuple[int | None, int | None], ...]:
    """Per-dim ``stat_length`` pairs as ints ``>= 1``; ``value`` is what the user passed."""
    out = []
    for before, after in pairs:
        b, a = as_int(before, "stat_length"), as_int(after, "stat_length")
        if b < 1 or a < 1:
            raise bad_value("stat_length", value, "None or ints >= 1")
        out.append((b, a))
    return tuple(out)


def check_reflect_type(value: object) -> str:
    """``reflect_type`` is ``"even"`` or ``"odd"`` (a :class:`~padkit.PadkitValueError` otherwise)."""
    if value not in REFLECT_TYPES:
        raise bad_value("reflect_type", value, f"one of {', '.join(map(repr, REFLECT_TYPES))}")
    return value


def canonical_options(mode: str, value: object, options: Mapping[str, Any], flat_len: int, ndim: int) -> dict[str, Any]:
    """``pad``'s ``value`` and options (names already checked) in the form the core takes.

    Option values are a scalar, a ``(before, after)`` pair for every padded dimension, or one entry per ``pad``
    entry (``flat_len`` of them, F.pad order). The result holds, only where the mode uses it:

    * ``constant_values``: a number (the ``F.pad`` fast path), or per-dim pairs of numbers;
    * ``reflect_type``: ``"even"`` or ``"odd"``;
    * ``end_values``: per-dim pairs of numbers;
    * ``stat_length``: per-dim pairs of ints ``>= 1`` or ``None`` (the whole dimension).
    """
    out: dict[str, Any] = {}
    if mode == "constant":
        argname = "constant_values" if "constant_values" in options else "value"
        cval = options.get("constant_values", value)
        if cval is None:
            cval = 0
        if isinstance(cval, (np.generic, torch.Tensor)) and np.ndim(cval) == 0:
            cval = cval.item()
        out["constant_values"] = cval if isinstance(cval, numbers.Number) else per_side(cval, flat_len, ndim, argname)
    elif mode == "empty":
        out["constant_values"] = 0
    elif mode in ("reflect", "symmetric"):
        out["reflect_type"] = check_reflect_type(options.get("reflect_type", "even"))
    elif mode == "linear_ramp":
        out["end_values"] = per_side(options.get("end_values", 0), flat_len, ndim, "end_values")
    elif "stat_length" in MODE_OPTIONS[mode]:
        length = options.get("stat_length")
        if length is None:
            out["stat_length"] = ((None, None),) * ndim
        else:
            out["stat_length"] = check_stat_length(per_side(length, flat_len, ndim, "stat_length", fill=1), length)
    return out


def split_crops(widths: Widths) -> tuple[Widths, Widths]:
    """Widths that may be negative -> (crops, pads): ``-width`` of every negative width, and the non-negative ones.

    Example:
        >>> split_crops(((2, -1), (-3, 0)))
        (((0, 1), (3, 0)), ((2, 0), (0, 0)))
    """
    crops = tuple((max(-b, 0), max(-a, 0)) for b, a in widths)
    pads = tuple((max(b, 0), max(a, 0)) for b, a in widths)
    return crops, pads


def check_crops(shape: Sequence[int], widths: Widths, pad: object) -> list[int]:
    """The shape after the crops (negative widths), each at most its dimension; ``pad`` is what the user passed."""
    out = []
    for d, ((cb, ca), (b, a)) in enumerate(zip(split_crops(widths)[0], widths)):
        if cb + ca > shape[d]:
            raise bad_value(
                "pad",
                pad,
                f"negative widths that crop at most the whole dimension; crops {cb + ca} element(s) from dimension "
                f"{d} of size {shape[d]} (widths ({b}, {a}))",
            )
        out.append(shape[d] - cb - ca)
    return out


def check_readable(shape: Sequence[int], dtype: torch.dtype, widths: Widths, mode: str) -> None:
    """``mode`` can pad this (cropped) input: data-reading modes need data, ordered modes a real dtype.

    ``shape`` is the input after its crops; ``widths`` the non-negative widths that pad it.
    """
    if mode in NEEDS_DATA:
        for d, (b, a) in enumerate(widths):
            if shape[d] == 0 and (b > 0 or a > 0):
                raise bad_value(
                    "mode",
                    mode,
                    f"a mode that reads no data for dimension {d}, which is empty in the (cropped) input "
                    f"{tuple(shape)} and padded by ({b}, {a}): 'constant' or 'empty'",
                )
    if dtype.is_complex and mode in ("maximum", "minimum", "median"):
        raise bad_type("input.dtype", dtype, f"a real dtype for mode={mode!r}, which orders the values")
