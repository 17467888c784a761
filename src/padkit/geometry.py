"""Padding geometry, in one place: output sizes, padding specs, the 'same' split and the Mind-the-Pad arithmetic.

Everything here is integer arithmetic on one spatial dimension at a time (or a tuple of them): no tensors, so it runs
at construction time, in the static planner and on the meta device alike. The layers (:mod:`padkit.nn`), the planner
(:mod:`padkit.analysis.plan`) and the audit all import these functions; none of them writes its own formula.

Conventions: ``n`` input samples, kernel ``k``, stride ``s``, dilation ``d``, padding ``before``/``after``;
``effective_kernel(k, d) = d * (k - 1) + 1``. Pairs are ``(before, after)`` per spatial dim in dim order; ``F.pad``
order (last dim first) appears only in :func:`flat_pad` and :func:`pairs_from_flat`.

Example:
    >>> conv_out_size(224, 3, 2, 1, 1, 1)  # ResNet's stride-2 3x3: the last padded column is never used
    112
    >>> read_padding(224, 3, 2, 1, 1, 112)  # padding read (before, after) and input samples left unread
    (1, 0, 0)
    >>> same_padding(224, 3, 2, 1)
    (0, 1)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence, Tuple, Union

import numpy as np

from ._validate import bad_type, bad_value, is_int, ntuple

__all__ = [
    "PaddingArg",
    "PaddingSpec",
    "Pairs",
    "conv_out_size",
    "conv_transpose_out_size",
    "effective_kernel",
    "flat_pad",
    "pairs_from_flat",
    "parse_padding",
    "pool_out_size",
    "read_padding",
    "resolve_padding",
    "same_padding",
    "transpose_extension",
]

#: ``(before, after)`` padding per spatial dim, in dim order.
Pairs = Tuple[Tuple[int, int], ...]
#: What a user may pass as ``padding``: int, per-dim ints, per-dim (before, after) pairs, "same" or "valid".
PaddingArg = Union[int, str, Sequence[int], Sequence[Sequence[int]]]
#: Parsed padding: "same" (resolved per input size) or fixed (before, after) pairs in dim order.
PaddingSpec = Union[str, Pairs]


def effective_kernel(k: int, d: int) -> int:
    """Extent of a dilated kernel: ``d * (k - 1) + 1``."""
    return d * (k - 1) + 1


def conv_out_size(n: int, k: int, s: int = 1, d: int = 1, before: int = 0, after: int = 0) -> int:
    """Output length of a convolution (floor rule) over ``n`` samples padded by ``before``/``after``."""
    return (n + before + after - effective_kernel(k, d)) // s + 1


def pool_out_size(n: int, k: int, s: int, d: int, before: int, after: int, ceil_mode: bool) -> int:
    """Output length of a max/avg pool, PyTorch's ``pooling_output_shape`` generalised to uneven padding.

    With ``ceil_mode`` the last window may hang over the end, but it must start inside the input or the padding
    before it. Equal to PyTorch's formula when ``before == after``. May be ``< 1`` (the caller decides what that means).
    """
    span = n + before + after - effective_kernel(k, d)
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + before:
        out -= 1
    return out


def conv_transpose_out_size(n: int, k: int, s: int, d: int, padding: int, output_padding: int) -> int:
    """Output length of a transposed convolution: ``(n - 1) * s - 2 * padding + d * (k - 1) + output_padding + 1``."""
    return (n - 1) * s - 2 * padding + effective_kernel(k, d) + output_padding


def transpose_extension(kernel: int, stride: int, padding: int, dilation: int, output_padding: int) -> tuple[int, int]:
    """Input samples, ``(before, after)``, that a transposed conv reads beyond its input in one dim.

    A transposed conv is a direct conv over the zero-stuffed input padded by ``ke - 1 - padding``; each ``stride``
    stuffed positions of that padding cover one input sample of a mode-extended input.
    """
    ke = effective_kernel(kernel, dilation)
    return max(0, (ke - 1 - padding) // stride), max(0, (ke - 1 - padding + output_padding) // stride)


@lru_cache(maxsize=4096)
def same_padding(n: int, k: int, s: int = 1, d: int = 1) -> tuple[int, int]:
    """TensorFlow 'SAME' padding: output ``ceil(n / s)``, the odd extra sample at the end.

    At stride 1 this is also PyTorch's ``padding="same"`` (total ``d * (k - 1)``, the extra one at the end), and it is
    timm's ``pad_same`` for any stride.

    Example:
        >>> same_padding(224, 3, 2, 1)  # out 112: needs 225 = (112-1)*2+3 samples, 1 extra, at the end
        (0, 1)
        >>> same_padding(10, 4)
        (1, 2)
    """
    out = -(-n // s)
    total = max((out - 1) * s + effective_kernel(k, d) - n, 0)
    return total // 2, total - total // 2


def read_padding(n: int, k: int, s: int, d: int, before: int, n_out: int) -> tuple[int, int, int]:
    """What ``n_out`` windows over ``n`` samples padded by ``before`` really read (Alsallakh et al., "Mind the Pad").

    Window ``o`` has taps at padded positions ``o * s + j * d``; samples past the last tap are dropped.

    Returns:
        ``(pad_before, pad_after, unread)``: how far the windows reach into the padding before and after the input
        (the padding in effect), and trailing input samples no tap reads (with dilation, a sample between the taps of
        every window counts too).

    Example:
        >>> read_padding(224, 1, 2, 1, 0, 112)  # ResNet's 1x1 stride-2 shortcut never reads the last row
        (0, 0, 1)
    """
    if n_out <= 0:
        return 0, 0, n
    ke = effective_kernel(k, d)
    last = (n_out - 1) * s + ke - 1 - before  # input coordinate of the last tap of the last window
    pad_before = min(before, (n_out - 1) * s + ke) if before > 0 else 0
    pad_after = max(0, last - (n - 1))
    starts = np.arange(n_out) * s - before
    jmax = np.minimum(k - 1, np.floor_divide(n - 1 - starts, d))
    real_last = starts + jmax * d
    real_last = real_last[(jmax >= 0) & (real_last >= 0)]
    unread = n - 1 - int(real_last.max()) if len(real_last) else n
    return pad_before, pad_after, unread


def parse_padding(padding: object, n: int, argname: str = "padding") -> PaddingSpec:
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
        raise bad_value(argname, padding, "an int, a sequence of ints, (before, after) pairs, 'same' or 'valid'")
    if is_int(padding) or (
        isinstance(padding, (tuple, list)) and len(padding) == n and all(is_int(v) for v in padding)
    ):
        return tuple((p, p) for p in ntuple(padding, n, argname))
    if (
        isinstance(padding, (tuple, list))
        and len(padding) == n
        and all(isinstance(p, (tuple, list)) and len(p) == 2 and all(is_int(v) for v in p) for p in padding)
    ):
        pairs = tuple((int(p[0]), int(p[1])) for p in padding)
        if any(v < 0 for p in pairs for v in p):
            raise bad_value(argname, padding, "(before, after) pairs >= 0 on every side")
        return pairs
    raise bad_type(
        argname, padding, f"an int, {n} ints, {n} (before, after) pairs in dim order, 'same' or 'valid' ({n}-D layer)"
    )


def resolve_padding(
    spec: PaddingSpec,
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> Pairs:
    """The ``(before, after)`` padding per spatial dim a layer with this ``spec`` applies to ``spatial``."""
    if isinstance(spec, str):
        return tuple(same_padding(int(n), k, s, d) for n, k, s, d in zip(spatial, kernel, stride, dilation))
    return spec


def flat_pad(pairs: Pairs) -> tuple[int, ...]:
    """Dim-order ``(before, after)`` pairs -> ``F.pad`` order (last dim first).

    Example:
        >>> flat_pad(((1, 2), (3, 4)))
        (3, 4, 1, 2)
    """
    out: list[int] = []
    for before, after in reversed(pairs):
        out += [before, after]
    return tuple(out)


def pairs_from_flat(flat: Sequence[Any], ndim: int, fill: Any = 0) -> tuple[tuple[Any, Any], ...]:
    """A flat ``F.pad``-order sequence (last dim first) -> ``ndim`` pairs in dim order (``fill`` where not reached).

    Example:
        >>> pairs_from_flat((3, 4, 1, 2), 3)
        ((0, 0), (1, 2), (3, 4))
    """
    pairs = [(fill, fill)] * ndim
    for i in range(len(flat) // 2):
        pairs[ndim - 1 - i] = (flat[2 * i], flat[2 * i + 1])
    return tuple(pairs)
