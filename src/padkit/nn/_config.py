"""Argument parsing shared by every padkit layer: tuples, padding specs, the 'same' rule, index maps.

Everything here is pure Python on ints (no tensors), so it runs at construction time and is cheap per call.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping, Sequence, Tuple, Union

import numpy as np

from .._errors import PadkitError, PadkitTypeError
from ..modes import MODE_OPTIONS

__all__ = [
    "PaddingArg",
    "PaddingSpec",
    "index_map",
    "ntuple",
    "parse_padding",
    "resolve_padding",
    "same_padding",
    "validate_options",
]

Pairs = Tuple[Tuple[int, int], ...]
#: What a user may pass as ``padding``: int, per-dim ints, per-dim (before, after) pairs, "same" or "valid".
PaddingArg = Union[int, str, Sequence[int], Sequence[Sequence[int]]]
#: Parsed padding: "same" (resolved per input size) or fixed (before, after) pairs in dim order.
PaddingSpec = Union[str, Pairs]

#: Modes whose padded values are copies of input samples (an index map describes them exactly).
INDEX_MODES: frozenset[str] = frozenset({"reflect", "symmetric", "replicate", "circular"})
_NUMPY_NAME = {"reflect": "reflect", "symmetric": "symmetric", "replicate": "edge", "circular": "wrap"}


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def ntuple(value: Any, n: int, argname: str, *, minimum: int = 0) -> tuple[int, ...]:
    """Turn an int or a length-``n`` sequence of ints into an ``n``-tuple, checking each is ``>= minimum``."""
    if _is_int(value):
        out = (int(value),) * n
    elif isinstance(value, (tuple, list)) and len(value) == n and all(_is_int(v) for v in value):
        out = tuple(int(v) for v in value)
    else:
        raise PadkitTypeError(f"{argname} must be an int or a sequence of {n} ints, got {value!r}")
    if any(v < minimum for v in out):
        raise PadkitError(f"{argname}={value!r} must be >= {minimum} in every dimension")
    return out


def parse_padding(padding: Any, n: int, argname: str = "padding") -> PaddingSpec:
    """Parse a padding argument for an ``n``-D layer.

    Accepted forms: ``int`` (all sides), ``n`` ints (per dim, both sides), ``n`` pairs ``(before, after)`` in dim order
    (explicit per side), ``"valid"`` (no padding) and ``"same"`` (resolved per input size by :func:`same_padding`).

    Returns:
        ``"same"`` or a tuple of ``n`` ``(before, after)`` pairs.
    """
    if isinstance(padding, str):
        key = padding.strip().lower()
        if key == "same":
            return "same"
        if key == "valid":
            return ((0, 0),) * n
        raise PadkitError(f"{argname}={padding!r} is not a padding; allowed strings: 'same', 'valid'")
    if _is_int(padding) or (
        isinstance(padding, (tuple, list)) and len(padding) == n and all(_is_int(v) for v in padding)
    ):
        per_dim = ntuple(padding, n, argname)
        return tuple((p, p) for p in per_dim)
    if (
        isinstance(padding, (tuple, list))
        and len(padding) == n
        and all(isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_int(v) for v in p) for p in padding)
    ):
        pairs = tuple((int(p[0]), int(p[1])) for p in padding)
        if any(v < 0 for p in pairs for v in p):
            raise PadkitError(f"{argname}={padding!r} must be >= 0 on every side")
        return pairs
    raise PadkitTypeError(
        f"{argname}={padding!r} is not a padding for a {n}-D layer; allowed: an int, {n} ints, "
        f"{n} (before, after) pairs in dim order, 'same' or 'valid'"
    )


@lru_cache(maxsize=4096)
def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding for one dim: output ``ceil(size / stride)``, the odd extra sample at the end.

    Example:
        >>> same_padding(224, 3, 2, 1)  # out 112: needs 225 = (112-1)*2+3 samples, 1 extra, at the end
        (0, 1)
    """
    ke = dilation * (kernel - 1) + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + ke - size, 0)
    return total // 2, total - total // 2


def resolve_padding(
    spec: PaddingSpec,
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> Pairs:
    """The (before, after) padding per spatial dim (dim order) a layer with this ``spec`` applies to ``spatial``."""
    if isinstance(spec, str):
        return tuple(same_padding(int(n), k, s, d) for n, k, s, d in zip(spatial, kernel, stride, dilation))
    return spec


def flat_pad(pairs: Pairs) -> tuple[int, ...]:
    """Dim-order (before, after) pairs -> ``F.pad`` order (last dim first)."""
    out: list[int] = []
    for before, after in reversed(pairs):
        out += [before, after]
    return tuple(out)


def validate_options(mode: str, options: Mapping[str, Any] | None, argname: str = "padding_options") -> dict[str, Any]:
    """Check that ``options`` only holds keywords ``mode`` accepts (see ``padkit.modes.MODE_OPTIONS``)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise PadkitTypeError(f"{argname} must be a mapping or None, got {type(options).__name__}")
    allowed = MODE_OPTIONS.get(mode, frozenset())
    bad = sorted(set(options) - allowed)
    if bad:
        raise PadkitError(
            f"{argname} has {bad} which padding_mode={mode!r} does not accept; allowed: {sorted(allowed) or 'none'}"
        )
    return dict(options)


@lru_cache(maxsize=4096)
def index_map(size: int, before: int, after: int, mode: str) -> tuple[int, ...]:
    """Source index of every padded position along one dim, for a mode that copies samples (``INDEX_MODES``).

    Uses ``np.pad`` on ``arange(size)``, so the extension (any width, periodic beyond the input) is NumPy's.

    Example:
        >>> index_map(4, 2, 1, "reflect")
        (2, 1, 0, 1, 2, 3, 2)
    """
    return tuple(int(i) for i in np.pad(np.arange(size), (before, after), mode=_NUMPY_NAME[mode]))  # type: ignore[call-overload]
