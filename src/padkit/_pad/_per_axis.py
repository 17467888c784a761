"""``padkit.pad`` with a mode per padded dimension: ``mode=("circular", "reflect")`` with ``pad=(l, r, t, b)``.

The modes follow the pairs of ``pad`` (``F.pad``'s order: last dimension first). The dimensions are padded one
after the other, **last dimension first**, each by its own mode, so a corner is the later dimension's mode applied
to the earlier one's border (the same as ``np.pad`` applied dimension by dimension, last dimension first). Where
every mode is a copy mode (``reflect``, ``symmetric``, ``replicate``, ``circular``, even reflections) the order
does not matter and one pass fills the output.

Options: each keyword applies to the dimensions whose mode takes it (``value`` and ``constant_values`` to the
``constant`` dims, ``reflect_type`` to the ``reflect``/``symmetric`` dims, ...), in the forms of a single mode (a
scalar, a ``(before, after)`` pair for every padded dimension, or one entry per ``pad`` entry); a keyword that no
mode of the sequence takes is an error.

Example:
    >>> x = torch.tensor([[1, 2, 3], [4, 5, 6]])
    >>> pad_per_axis(x, (1, 1, 1, 0), ("circular", "constant"), 9, {})
    tensor([[9, 9, 9, 9, 9],
            [3, 1, 2, 3, 1],
            [6, 4, 5, 6, 4]])
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from .._validate import bad_type, bad_value
from ..geometry import pairs_from_flat
from ..modes import COPY_MODES, MODE_OPTIONS, canonical_mode
from ._args import Widths, canonical_options, check_crops, check_option_names, check_readable, split_crops
from ._copy import copy_pad

__all__ = ["pad_per_axis", "per_axis_modes"]


def per_axis_modes(mode: object, n_pairs: int) -> tuple[str, ...]:
    """A sequence of modes, one per pair of ``pad`` (F.pad order), as canonical pad modes."""
    if not isinstance(mode, Sequence) or isinstance(mode, (str, bytes)):
        raise bad_type("mode", mode, "a padding mode name (str) or a sequence of them, one per pair of pad")
    if len(mode) != n_pairs:
        raise bad_value(
            "mode",
            mode,
            f"one mode per pair of pad (F.pad order: last dimension first): {n_pairs} mode(s); got {len(mode)}",
        )
    return tuple(canonical_mode(m, argname=f"mode[{i}]") for i, m in enumerate(mode))


def _options_of(mode: str, value: object, options: Mapping[str, Any]) -> tuple[object, dict[str, Any]]:
    """The share of ``value`` and ``options`` that ``mode`` takes."""
    return (value if mode == "constant" else None), {k: v for k, v in options.items() if k in MODE_OPTIONS[mode]}


def _check_all_used(modes: tuple[str, ...], value: object, options: Mapping[str, Any]) -> None:
    for key, val in options.items():
        if key == "value" or not any(key in MODE_OPTIONS[m] for m in modes):
            taken = sorted(set().union(*(MODE_OPTIONS[m] for m in modes)) - {"value"})
            raise bad_value(key, val, f"an option of one of mode={modes!r}: {', '.join(taken) or 'none'}")
    if value is not None and "constant" not in modes:
        raise bad_value("value", value, f"None with mode={modes!r} (value is only for the 'constant' dims)")


def pad_per_axis(
    x: torch.Tensor, flat: tuple[int, ...], mode: object, value: object, options: Mapping[str, Any]
) -> torch.Tensor:
    """:func:`padkit.pad` with a sequence of modes (``flat``: the parsed ``pad``); checks, then pads."""
    ndim = x.dim()
    modes = per_axis_modes(mode, len(flat) // 2)
    _check_all_used(modes, value, options)
    widths = pairs_from_flat(flat, ndim)
    shape = check_crops(x.shape, widths, flat) if min(flat, default=0) < 0 else list(x.shape)
    pos = split_crops(widths)[1]
    dims = [ndim - 1 - k for k in range(len(modes))]  # the dim of each mode, last dimension first
    per_dim: list[tuple[int, str, dict[str, Any]]] = []
    for d, m in zip(dims, modes):
        val, opts = _options_of(m, value, options)
        check_option_names(m, val, opts)
        check_readable(shape, x.dtype, tuple(w if e == d else (0, 0) for e, w in enumerate(pos)), m)
        per_dim.append((d, m, canonical_options(m, val, opts, len(flat), ndim)))
    return pad_axes(x, widths, per_dim)


def pad_axes(x: torch.Tensor, widths: Widths, per_dim: Sequence[tuple[int, str, Mapping[str, Any]]]) -> torch.Tensor:
    """Pad each dim ``d`` of ``per_dim`` (in its order) by ``widths[d]`` with its canonical mode and options."""
    from ._core import pad_canonical  # _core dispatches here

    crops, pos = split_crops(widths)
    if all(w == (0, 0) for w in widths):
        return x
    if all(m in COPY_MODES and opts.get("reflect_type", "even") == "even" for _, m, opts in per_dim):
        for d, (cb, ca) in enumerate(crops):
            if cb or ca:
                x = x.narrow(d, cb, x.shape[d] - cb - ca)
        modes = ["circular"] * x.dim()  # the entries of unpadded dims are never read
        for d, m, _ in per_dim:
            modes[d] = m
        return copy_pad(x, pos, tuple(modes))
    for d, m, opts in per_dim:
        if widths[d] != (0, 0):
            x = pad_canonical(x, tuple(w if e == d else (0, 0) for e, w in enumerate(widths)), m, opts)
    return x
