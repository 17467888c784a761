"""The one exception family padkit raises for bad input.

``PadkitError`` is the base: ``except padkit.PadkitError`` catches every argument error padkit raises. Each error is
also a built-in ``ValueError`` (:class:`PadkitValueError`) or ``TypeError`` (:class:`PadkitTypeError`), so code that
catches those keeps working; :func:`padkit.numpy_pad` raises :class:`PadkitOverflowError` where ``np.pad`` raises
``OverflowError`` (a value that does not fit the array's dtype).

Example:
    >>> import padkit
    >>> try:
    ...     padkit.pad(__import__("torch").zeros(3), (1, 1), mode="nope")
    ... except padkit.PadkitError as exc:
    ...     print(type(exc).__name__, isinstance(exc, ValueError))
    PadkitValueError True
"""

from __future__ import annotations

__all__ = ["PadkitError", "PadkitOverflowError", "PadkitTypeError", "PadkitValueError"]


class PadkitError(Exception):
    """Base of every error padkit raises for bad input: the message names the argument, its value and what is
    allowed."""


class PadkitValueError(PadkitError, ValueError):
    """Bad value given to a padkit function."""


class PadkitTypeError(PadkitError, TypeError):
    """Bad type given to a padkit function."""


class PadkitOverflowError(PadkitError, OverflowError):
    """A value too large for the dtype it is cast to (where NumPy raises ``OverflowError``)."""
