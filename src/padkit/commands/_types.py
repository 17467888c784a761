"""argparse ``type=`` converters: a bad value is a usage error that names the flag (argparse adds it) and the rule."""

from __future__ import annotations

import argparse
from typing import Callable

from .._validate import bad_value
from ..modes import PER_AXIS_SEPARATOR, layer_modes

__all__ = ["int_at_least", "parse_layer_mode", "parse_layer_modes"]


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A converter accepting ints ``>= minimum`` (``argument --images: expected an int >= 1, got '0'``)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, got {text!r}")
        return value

    convert.__name__ = f"int >= {minimum}"
    return convert


def parse_layer_mode(text: str, argname: str = "MODE") -> str | tuple[str, ...]:
    """A ``padding_mode`` on the command line: a layer-mode name (``reflect``), or a per-axis mode, one mode per
    spatial dim in dim order joined by ``+`` (:data:`padkit.modes.PER_AXIS_SEPARATOR`): ``zeros+circular`` is
    ``("zeros", "circular")``, height zeros, width circular (docs/nn.md, "A mode per axis"). Aliases resolve
    (``zero+wrap`` is ``zeros+circular``); a bad spelling is a :class:`~padkit.PadkitValueError` naming ``argname``.

    Example:
        >>> parse_layer_mode("zero+wrap"), parse_layer_mode("reflect")
        (('zeros', 'circular'), 'reflect')
    """
    parts = [part.strip() for part in text.split(PER_AXIS_SEPARATOR)]
    if any(not part for part in parts):
        raise bad_value(
            argname, text, f"a padding mode, or modes joined by {PER_AXIS_SEPARATOR!r} (one per spatial dim)"
        )
    return layer_modes(parts[0] if len(parts) == 1 else tuple(parts), argname=argname)


def parse_layer_modes(text: str, argname: str = "--modes") -> tuple[str | tuple[str, ...], ...]:
    """A comma-separated list of :func:`parse_layer_mode` spellings (``zeros,reflect,zeros+circular``).

    Example:
        >>> parse_layer_modes("zeros, zeros+circular")
        ('zeros', ('zeros', 'circular'))
    """
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items):
        raise bad_value(argname, text, "a comma-separated list of padding modes")
    return tuple(parse_layer_mode(item, argname) for item in items)
