"""The one place where padding-mode names and aliases become canonical modes.

Every other module in padkit calls :func:`canonical_mode` on user input and from then on only sees canonical names.

Canonical names follow NumPy's ``np.pad`` except where PyTorch's name is the one CNN users type
(``replicate`` for NumPy's ``edge``, ``circular`` for NumPy's ``wrap``). See ``docs/pad.md`` for the table of
names across NumPy, PyTorch, SciPy, OpenCV and TensorFlow (mind the SciPy trap: SciPy's ``reflect`` is
NumPy's ``symmetric``; padkit never accepts SciPy's spelling because it would silently change meaning).

Example:
    >>> canonical_mode("zeros")
    'constant'
    >>> canonical_mode("edge")
    'replicate'
"""

from __future__ import annotations

from typing import Mapping

from ._errors import PadkitError, PadkitTypeError

__all__ = [
    "ALIASES",
    "LAYER_MODES",
    "MODE_OPTIONS",
    "NEEDS_DATA",
    "PAD_MODES",
    "TORCH_NATIVE",
    "canonical_mode",
]

#: Every mode ``padkit.pad`` implements (canonical names).
PAD_MODES: tuple[str, ...] = (
    "constant",
    "reflect",
    "symmetric",
    "replicate",
    "circular",
    "linear_ramp",
    "maximum",
    "minimum",
    "mean",
    "median",
    "empty",
)

#: Modes a padkit layer accepts: every pad mode that makes sense inside a network, plus partial convolution.
LAYER_MODES: tuple[str, ...] = (
    "constant",
    "reflect",
    "symmetric",
    "replicate",
    "circular",
    "linear_ramp",
    "maximum",
    "minimum",
    "mean",
    "median",
    "partial",
)

#: Other spellings users bring from NumPy / PyTorch. Keys never collide with a canonical name.
ALIASES: Mapping[str, str] = {
    "zeros": "constant",
    "zero": "constant",
    "edge": "replicate",
    "wrap": "circular",
}

#: The keyword options each mode accepts (NumPy's names); anything else is an error, never ignored.
MODE_OPTIONS: Mapping[str, frozenset[str]] = {
    "constant": frozenset({"value", "constant_values"}),
    "reflect": frozenset({"reflect_type"}),
    "symmetric": frozenset({"reflect_type"}),
    "replicate": frozenset(),
    "circular": frozenset(),
    "linear_ramp": frozenset({"end_values"}),
    "maximum": frozenset({"stat_length"}),
    "minimum": frozenset({"stat_length"}),
    "mean": frozenset({"stat_length"}),
    "median": frozenset({"stat_length"}),
    "empty": frozenset(),
    "partial": frozenset(),
}

#: Modes that read the data to pad, so they cannot pad a dimension of size 0.
NEEDS_DATA: frozenset[str] = frozenset(
    {"reflect", "symmetric", "replicate", "circular", "linear_ramp", "maximum", "minimum", "mean", "median"}
)

#: Canonical mode -> the name ``torch.nn.functional.pad`` uses, for the modes PyTorch has.
TORCH_NATIVE: Mapping[str, str] = {
    "constant": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}


def canonical_mode(mode: object, *, argname: str = "mode", allowed: tuple[str, ...] = PAD_MODES) -> str:
    """Resolve a mode name or alias to its canonical name.

    Args:
        mode: a canonical name or an alias (``zeros``, ``edge``, ``wrap``), case-insensitive.
        argname: the argument's name, used in the error message.
        allowed: the canonical modes the caller supports.

    Returns:
        The canonical mode name.

    Raises:
        TypeError: ``mode`` is not a string.
        ValueError: ``mode`` is not a known name, or not one of ``allowed``.
    """
    if not isinstance(mode, str):
        raise PadkitTypeError(f"{argname} must be a str, got {type(mode).__name__} {mode!r}")
    key = mode.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in allowed:
        names = sorted(set(allowed) | {a for a, c in ALIASES.items() if c in allowed})
        raise PadkitError(f"{argname}={mode!r} is not a padding mode here; allowed: {', '.join(names)}")
    return key
