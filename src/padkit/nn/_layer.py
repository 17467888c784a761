"""What every ``padkit.nn`` layer shows: its ``.padding`` attribute and its ``extra_repr``."""

from __future__ import annotations

from typing import Any

from ..geometry import PaddingSpec

__all__ = ["padding_repr", "shown_padding"]


def shown_padding(padding: Any, spec: PaddingSpec, *, keep_int: bool) -> Any:
    """What ``.padding`` shows: PyTorch's form where it has one (the string, an int when ``keep_int`` as pools keep
    it, else one int per dim), else the ``(before, after)`` pairs."""
    if isinstance(padding, str):
        return padding.strip().lower()
    if isinstance(spec, tuple) and all(b == a for b, a in spec):
        return padding if keep_int and isinstance(padding, int) else tuple(b for b, _ in spec)
    return spec


def padding_repr(module: Any, base: str, algorithm: str | None = None) -> str:
    """The torch layer's ``extra_repr`` with padkit's mode: hidden for ``zeros`` (as PyTorch hides it), options and a
    non-default algorithm shown."""
    base = base.replace(f", padding_mode={module.padding_mode}", "")
    if module.padding_mode != "zeros":
        base += f", padding_mode={module.padding_mode}"
    if module.padding_options:
        base += f", padding_options={dict(module.padding_options)}"
    if algorithm is not None and algorithm != "auto":
        base += f", algorithm={algorithm}"
    return base
