"""Argument checks shared by every public entry point, with one message grammar.

Every message reads ``{argname}={value!r}: expected {what is allowed}``; a wrong type raises
:class:`~padkit.PadkitTypeError`, a wrong value :class:`~padkit.PadkitValueError`. Public functions and layer
constructors call these once; internal implementations trust their (canonical) arguments.

Example:
    >>> check_int(3, "images", minimum=1)
    3
    >>> ntuple(2, 3, "stride", minimum=1)
    (2, 2, 2)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from ._errors import PadkitTypeError, PadkitValueError

__all__ = [
    "bad_type",
    "bad_value",
    "check_choice",
    "check_int",
    "check_number",
    "is_int",
    "ntuple",
]


def bad_value(argname: str, value: object, expected: str) -> PadkitValueError:
    """The error for a value outside what is allowed: ``argname=value: expected ...``."""
    return PadkitValueError(f"{argname}={value!r}: expected {expected}")


def bad_type(argname: str, value: object, expected: str) -> PadkitTypeError:
    """The error for a value of the wrong type: ``argname=value (type): expected ...``."""
    return PadkitTypeError(f"{argname}={value!r} ({type(value).__name__}): expected {expected}")


def is_int(value: object) -> bool:
    """A Python or NumPy integer, not a ``bool``."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _int_rule(minimum: int | None, maximum: int | None, allow_none: bool) -> str:
    rule = "an int"
    if minimum is not None:
        rule += f" >= {minimum}"
    if maximum is not None:
        rule += f"{' and' if minimum is not None else ''} <= {maximum}"
    return rule + (" or None" if allow_none else "")


def check_int(
    value: object,
    argname: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
) -> Any:
    """``value`` as an ``int`` within ``[minimum, maximum]`` (``None`` passes through when ``allow_none``)."""
    if value is None and allow_none:
        return None
    rule = _int_rule(minimum, maximum, allow_none)
    if not is_int(value):
        raise bad_type(argname, value, rule)
    out = int(value)  # type: ignore[call-overload]
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        raise bad_value(argname, value, rule)
    return out


def check_number(
    value: object,
    argname: str,
    *,
    positive: bool = False,
    minimum: float | None = None,
    allow_none: bool = False,
) -> Any:
    """``value`` as a finite ``float`` (``> 0`` when ``positive``, ``>= minimum`` when given)."""
    if value is None and allow_none:
        return None
    rule = "a finite number" + (" > 0" if positive else "") + (f" >= {minimum}" if minimum is not None else "")
    rule += " or None" if allow_none else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad_type(argname, value, rule)
    out = float(value)
    if not math.isfinite(out) or (positive and out <= 0) or (minimum is not None and out < minimum):
        raise bad_value(argname, value, rule)
    return out


def check_choice(value: object, argname: str, allowed: Sequence[str]) -> str:
    """``value`` if it is one of the strings ``allowed``."""
    if not isinstance(value, str):
        raise bad_type(argname, value, f"one of {', '.join(map(repr, allowed))}")
    if value not in allowed:
        raise bad_value(argname, value, f"one of {', '.join(map(repr, allowed))}")
    return value


def ntuple(value: object, n: int, argname: str, *, minimum: int = 0) -> tuple[int, ...]:
    """An int or a length-``n`` sequence of ints as an ``n``-tuple, each ``>= minimum``.

    Example:
        >>> ntuple((1, 2), 2, "kernel_size", minimum=1)
        (1, 2)
    """
    if is_int(value):
        out = (int(value),) * n  # type: ignore[call-overload]
    elif isinstance(value, (tuple, list)) and len(value) == n and all(is_int(v) for v in value):
        out = tuple(int(v) for v in value)
    else:
        raise bad_type(argname, value, f"an int or a sequence of {n} ints")
    if any(v < minimum for v in out):
        raise bad_value(argname, value, f"ints >= {minimum} in every dimension")
    return out
