"""The one exception family padkit raises for bad input.

``PadkitError`` is the base: ``except padkit.PadkitError`` catches every argument error padkit raises. Each error is
also a built-in ``ValueError`` (:class:`PadkitValueError`) or ``TypeError`` (:class:`PadkitTypeError`), so code that
catches those keeps working.

Example:
    >>> import padkit
    >>> try:
    ...     padkit.pad(__import__("torch").zeros(3), (1, 1), mode="nope")
    ... except padkit.PadkitError as exc:
    ...     print(type(exc).__name__, isinstance(exc, ValueError))
    PadkitValueError True
"""

from __future__ import annotations

__all__ = ["PadkitError", "PadkitTypeError", "PadkitValueError"]


class PadkitError(Exception):
    """Base of every error padkit raises for bad input: the message names the argument, its value and what is
    allowed."""


class PadkitValueError(PadkitError, ValueError):
    """Bad value given to a padkit function."""


class PadkitTypeError(PadkitError, TypeError):
    """Bad type given to a padkit function."""
