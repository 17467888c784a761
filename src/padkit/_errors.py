"""The one exception family padkit raises for bad input."""

from __future__ import annotations

__all__ = ["PadkitError", "PadkitTypeError"]


class PadkitError(ValueError):
    """Bad value given to a padkit function: the message names the argument, its value and what is allowed."""


class PadkitTypeError(TypeError):
    """Bad type given to a padkit function: the message names the argument, its type and what is allowed."""
