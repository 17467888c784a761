"""argparse ``type=`` converters: a bad value is a usage error that names the flag (argparse adds it) and the rule."""

from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["int_at_least"]


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
