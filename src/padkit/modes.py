"""The one place where padding-mode names and aliases become canonical modes.

Two vocabularies, one table each:

* **pad modes** (:func:`canonical_mode`, for :func:`padkit.pad`, which follows ``F.pad``): zero padding is
  ``constant``.
* **layer modes** (:func:`layer_mode`, for layers, :func:`padkit.convert`, plan, audit, experiments and every report):
  zero padding is ``zeros``, PyTorch's spelling for ``nn.Conv2d(padding_mode=...)``; ``constant`` stays ``constant``
  (a fill value other than 0 is its option). A layer's ``padding_mode`` reads back as the user gave it (aliases and
  case aside), and :func:`pad_mode_of` turns it into the pad mode the functional core runs.

Two more forms: a **per-axis** layer mode is a tuple with one layer mode per spatial dim in dim order
(:func:`layer_modes`; written ``zeros+circular`` in reports and on the command line, :func:`mode_name`), and the
**map modes** (:data:`MAP_MODES`: ``spherical``) pad the last two dims of a 2-D map as a whole.

Canonical names follow NumPy's ``np.pad`` except where PyTorch's name is the one CNN users type
(``replicate`` for NumPy's ``edge``, ``circular`` for NumPy's ``wrap``). See ``docs/pad.md`` for the table of
names across NumPy, PyTorch, SciPy, OpenCV and TensorFlow (mind the SciPy trap: SciPy's ``reflect`` is
NumPy's ``symmetric``; padkit never accepts SciPy's spelling because it would silently change meaning).

Example:
    >>> canonical_mode("zeros")
    'constant'
    >>> canonical_mode("edge")
    'replicate'
    >>> layer_mode("zeros"), pad_mode_of("zeros")
    ('zeros', 'constant')
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from ._errors import PadkitTypeError, PadkitValueError

__all__ = [
    "ALIASES",
    "COPY_MODES",
    "LAYER_ALIASES",
    "LAYER_MODES",
    "MAP_MODES",
    "MODE_OPTIONS",
    "NEEDS_DATA",
    "NUMPY_NAMES",
    "PAD_MODES",
    "PER_AXIS_SEPARATOR",
    "TORCH_NATIVE",
    "WHOLE_LAYER_MODES",
    "ZERO_LIKE",
    "canonical_mode",
    "check_options",
    "index_map",
    "is_zero_fill",
    "layer_mode",
    "layer_modes",
    "mode_name",
    "pad_mode_of",
]

#: The modes ``padkit.pad`` implements dimension by dimension, as ``np.pad`` does (canonical names).
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

#: Modes that pad a 2-D map as a whole (the last two dims: height = latitude, width = longitude), so they never
#: enter a per-axis mode. ``spherical``: the width wraps around; a row beyond a pole is the row at the same distance
#: from that pole, shifted by half the width (180 degrees of longitude). ``padkit.pad`` takes them besides
#: :data:`PAD_MODES`.
MAP_MODES: tuple[str, ...] = ("spherical",)

#: Modes a padkit layer accepts (layer vocabulary): every pad mode that makes sense inside a network, ``zeros``
#: (PyTorch's name for constant 0), and partial convolution.
LAYER_MODES: tuple[str, ...] = (
    "zeros",
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
    "spherical",
)

#: Layer modes that apply to a whole layer only, never as one entry of a per-axis mode.
WHOLE_LAYER_MODES: frozenset[str] = frozenset({"partial", *MAP_MODES})


#: Joins the entries of a per-axis mode where it is written as text (``zeros+circular``: height zeros, width
#: circular), in reports and on the command line.
PER_AXIS_SEPARATOR = "+"

#: Other spellings users bring from NumPy / PyTorch. Keys never collide with a canonical name.
ALIASES: Mapping[str, str] = {
    "zeros": "constant",
    "zero": "constant",
    "edge": "replicate",
    "wrap": "circular",
}

#: Other spellings of layer modes. ``zeros`` is itself a layer mode, so it is no alias there.
LAYER_ALIASES: Mapping[str, str] = {
    "zero": "zeros",
    "edge": "replicate",
    "wrap": "circular",
}

#: Modes whose padded values are copies of input samples: one source index per padded position (:func:`index_map`).
COPY_MODES: frozenset[str] = frozenset({"reflect", "symmetric", "replicate", "circular"})

#: Layer modes that pad with zeros before the convolution (partial convolution rescales after it).
ZERO_LIKE: frozenset[str] = frozenset({"zeros", "constant", "partial"})

#: Canonical pad mode -> ``np.pad``'s name.
NUMPY_NAMES: Mapping[str, str] = {
    "constant": "constant",
    "reflect": "reflect",
    "symmetric": "symmetric",
    "replicate": "edge",
    "circular": "wrap",
    "linear_ramp": "linear_ramp",
    "maximum": "maximum",
    "minimum": "minimum",
    "mean": "mean",
    "median": "median",
    "empty": "empty",
}

#: The keyword options each mode accepts (NumPy's names); anything else is an error, never ignored.
MODE_OPTIONS: Mapping[str, frozenset[str]] = {
    "zeros": frozenset(),
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
    "spherical": frozenset(),
}

#: Modes that read the data to pad, so they cannot pad a dimension of size 0: all but the constant fills.
NEEDS_DATA: frozenset[str] = frozenset((*PAD_MODES, "spherical")) - {"constant", "empty"}

#: Canonical mode -> the name ``torch.nn.functional.pad`` uses, for the modes PyTorch has.
TORCH_NATIVE: Mapping[str, str] = {
    "constant": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}


def _normalise(mode: object, argname: str) -> str:
    if not isinstance(mode, str):
        raise PadkitTypeError(f"{argname}={mode!r} ({type(mode).__name__}): expected a padding mode name (str)")
    return mode.strip().lower().replace("-", "_")


def _unknown(mode: str, argname: str, allowed: tuple[str, ...], aliases: Mapping[str, str]) -> PadkitValueError:
    names = sorted(set(allowed) | {a for a, c in aliases.items() if c in allowed})
    return PadkitValueError(f"{argname}={mode!r}: expected a padding mode here, one of {', '.join(names)}")


def canonical_mode(mode: object, *, argname: str = "mode", allowed: tuple[str, ...] = PAD_MODES) -> str:
    """Resolve a pad-mode name or alias to its canonical name (``zeros`` becomes ``constant``, as in ``F.pad``).

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
    key = _normalise(mode, argname)
    key = ALIASES.get(key, key)
    if key not in allowed:
        raise _unknown(mode, argname, allowed, ALIASES)  # type: ignore[arg-type]
    return key


def layer_mode(mode: object, *, argname: str = "padding_mode", allowed: tuple[str, ...] = LAYER_MODES) -> str:
    """Resolve a layer-mode name or alias (``zero``, ``edge``, ``wrap``) to its layer name; ``zeros`` stays ``zeros``.

    Example:
        >>> layer_mode("Wrap"), layer_mode("constant")
        ('circular', 'constant')
    """
    key = _normalise(mode, argname)
    key = LAYER_ALIASES.get(key, key)
    if key not in allowed:
        raise _unknown(mode, argname, allowed, LAYER_ALIASES)  # type: ignore[arg-type]
    return key


def layer_modes(
    mode: object, *, argname: str = "padding_mode", allowed: tuple[str, ...] = LAYER_MODES, nd: int | None = None
) -> str | tuple[str, ...]:
    """A layer's ``padding_mode``: one layer mode (:func:`layer_mode`), or a per-axis mode, one mode per spatial dim
    in dim order (``("zeros", "circular")``: height zeros, width circular), returned as a tuple of layer modes.

    ``partial`` and the map modes (:data:`MAP_MODES`) are whole-layer modes, never an entry of a per-axis mode.
    ``nd``, when given, is the number of spatial dims a per-axis mode must name.

    Example:
        >>> layer_modes(["zero", "Wrap"])
        ('zeros', 'circular')
    """
    if isinstance(mode, str):
        return layer_mode(mode, argname=argname, allowed=allowed)
    if not isinstance(mode, (tuple, list)):
        raise PadkitTypeError(
            f"{argname}={mode!r} ({type(mode).__name__}): expected a padding mode name (str) or a tuple of them"
        )
    count = "at least one" if nd is None else str(nd)
    if not mode or (nd is not None and len(mode) != nd):
        raise PadkitValueError(f"{argname}={mode!r}: expected {count} mode(s), one per spatial dim in dim order")
    per_axis = tuple(m for m in allowed if m not in WHOLE_LAYER_MODES)
    return tuple(layer_mode(m, argname=f"{argname}[{i}]", allowed=per_axis) for i, m in enumerate(mode))


def mode_name(mode: str | tuple[str, ...]) -> str:
    """A layer mode as text: its name, or a per-axis mode's names joined by :data:`PER_AXIS_SEPARATOR`.

    Example:
        >>> mode_name(("zeros", "circular"))
        'zeros+circular'
    """
    return mode if isinstance(mode, str) else PER_AXIS_SEPARATOR.join(mode)


def pad_mode_of(mode: str | tuple[str, ...]) -> Any:
    """The pad mode a layer mode runs: ``zeros`` and ``partial`` pad with ``constant`` (0), others are themselves;
    a per-axis mode maps entry by entry.

    Example:
        >>> pad_mode_of("zeros"), pad_mode_of(("zeros", "circular"))
        ('constant', ('constant', 'circular'))
    """
    if isinstance(mode, tuple):
        return tuple(pad_mode_of(m) for m in mode)
    return "constant" if mode in ZERO_LIKE else mode


def is_zero_fill(mode: str | tuple[str, ...], options: Mapping[str, Any] | None = None) -> bool:
    """Whether a (pad or layer) mode with these options pads with the value 0 (``partial`` excluded); a per-axis
    mode does when every entry does."""
    if isinstance(mode, tuple):
        return all(is_zero_fill(m, options) for m in mode)
    if mode == "zeros":
        return True
    if mode != "constant":
        return False
    opts = options or {}
    value = opts.get("value", opts.get("constant_values", 0))
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def check_options(
    mode: str | tuple[str, ...], options: Mapping[str, Any] | None, argname: str = "padding_options"
) -> dict[str, Any]:
    """``options`` as a dict, if it holds only keywords ``mode`` accepts (:data:`MODE_OPTIONS`); for a per-axis
    mode, keywords that at least one of its entries accepts (each applies to the dims whose mode takes it)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise PadkitTypeError(f"{argname}={options!r} ({type(options).__name__}): expected a mapping or None")
    modes = mode if isinstance(mode, tuple) else (mode,)
    allowed = frozenset().union(*(MODE_OPTIONS.get(m, frozenset()) for m in modes))
    bad = sorted(set(options) - allowed)
    if bad:
        raise PadkitValueError(
            f"{argname}={dict(options)!r}: padding_mode={mode!r} does not accept {bad}; "
            f"expected {sorted(allowed) or 'no options'}"
        )
    return dict(options)


@lru_cache(maxsize=4096)
def index_map(size: int, before: int, after: int, mode: str) -> tuple[int, ...]:
    """Source index of every position of one padded dimension, for a copy mode (:data:`COPY_MODES`).

    The table is ``np.pad(arange(size), (before, after), mode)``, so the extension (any width, periodic beyond the
    input) is NumPy's by construction. Widths are ``>= 0``.

    Example:
        >>> index_map(4, 2, 1, "reflect")
        (2, 1, 0, 1, 2, 3, 2)
    """
    return tuple(np.pad(np.arange(size), (before, after), mode=NUMPY_NAMES[mode]).tolist())  # type: ignore[call-overload]
