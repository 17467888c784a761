"""``padkit.pad`` (validates once) and ``pad_canonical``, the implementation every padkit caller shares.

:func:`pad` takes ``F.pad``'s call form and user spellings, checks them (:mod:`._args`) and calls
:func:`pad_canonical`, which takes canonical arguments only and trusts them: a canonical mode, per-dimension widths
in dimension order and the options in their canonical form. The copy modes run in :mod:`._copy`, the modes ``F.pad``
lacks in :mod:`._numpy_modes`; ``constant`` and ``empty`` are ``F.pad``.

Example:
    >>> x = torch.tensor([[1, 2, 3]])
    >>> pad_canonical(x, ((0, 0), (2, 1)), "reflect", {})
    tensor([[3, 2, 1, 2, 3, 2]])
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from .._validate import bad_type, bad_value
from ..geometry import flat_pad, pairs_from_flat
from ..modes import COPY_MODES, MAP_MODES, PAD_MODES, canonical_mode
from ._args import (
    Widths,
    canonical_options,
    check_crops,
    check_option_names,
    check_readable,
    parse_pad,
    split_crops,
)
from ._copy import copy_pad
from ._numpy_modes import linear_ramp, odd_reflect, statistic
from ._per_axis import pad_per_axis
from ._spherical import check_spherical, spherical_pad

__all__ = ["pad", "pad_canonical"]


def pad(
    input: torch.Tensor,
    pad: Sequence[int],
    mode: str | Sequence[str] = "constant",
    value: float | None = None,
    **options: Any,
) -> torch.Tensor:
    """Pad a tensor like :func:`torch.nn.functional.pad`, with every ``np.pad`` mode, rank and width, a mode per
    dimension, and ``spherical`` for equirectangular maps.

    Args:
        input: tensor of any shape ``(*)``, any dtype the mode makes sense for.
        pad: flat widths, last dimension first: ``(left_last, right_last, left_2nd_last, right_2nd_last, ...)``;
            even length up to ``2 * input.dim()``. Negative widths crop (crop first, then pad).
        mode: ``constant`` (``zeros``), ``reflect``, ``symmetric``, ``replicate`` (``edge``), ``circular``
            (``wrap``), ``linear_ramp``, ``maximum``, ``minimum``, ``mean``, ``median``, ``empty``; or a sequence
            of these, one per pair of ``pad`` (F.pad's order: last dimension first), which pads the dimensions one
            after the other, last dimension first, each with its mode; or ``spherical`` (the last two dims are a
            map, height = latitude, width = longitude: ``pad=(left, right, top, bottom)``, the width even, at
            most the height beyond each pole).
        value: the constant for ``constant`` mode (F.pad's name); default 0.
        **options: NumPy's options, each only with its mode: ``constant_values`` (constant; not together with
            ``value``), ``reflect_type`` (``"even"``/``"odd"``; reflect, symmetric), ``end_values``
            (linear_ramp), ``stat_length`` (maximum, minimum, mean, median). Values are a scalar, a
            ``(before, after)`` pair for every padded dimension, or one entry per ``pad`` entry. With a sequence
            of modes an option applies to the dimensions whose mode takes it, and one that no mode takes is an
            error.

    Returns:
        The padded tensor, shape ``(*)`` grown by the widths, same dtype and device (and memory format).

    Raises:
        PadkitTypeError: ``input`` is not a tensor, a width is not an integer, a dtype the mode cannot handle.
        PadkitValueError: unknown mode, bad ``pad`` length, an option foreign to the mode, a crop larger than the
            dimension, or data-reading padding of an empty dimension.

    Example:
        >>> x = torch.tensor([[1, 2, 3]])
        >>> pad(x, (2, 1), mode="reflect")
        tensor([[3, 2, 1, 2, 3, 2]])
        >>> pad(x, (2, 2), mode="linear_ramp", end_values=9)
        tensor([[9, 5, 1, 2, 3, 6, 9]])
        >>> pad(x, (1, 1, 1, 0), mode=("circular", "reflect"))
        tensor([[3, 1, 2, 3, 1],
                [3, 1, 2, 3, 1]])
    """
    if not isinstance(input, torch.Tensor):
        raise bad_type("input", input, "a torch.Tensor")
    ndim = input.dim()
    flat = parse_pad(pad, ndim)
    if not isinstance(mode, str):
        return pad_per_axis(input, flat, mode, value, options)
    mode = canonical_mode(mode, allowed=PAD_MODES + MAP_MODES)
    if mode == "spherical":
        return _spherical(input, pad, flat, value, options)
    check_option_names(mode, value, options)
    opts = canonical_options(mode, value, options, len(flat), ndim)
    widths = pairs_from_flat(flat, ndim)
    if min(flat, default=0) < 0:
        shape = check_crops(input.shape, widths, pad)
        cval = opts.get("constant_values")
        if mode in ("constant", "empty") and isinstance(cval, numbers.Number):
            return F.pad(input, flat, mode="constant", value=cval)  # type: ignore[arg-type]  # F.pad crops alike
        check_readable(shape, input.dtype, split_crops(widths)[1], mode)
    else:
        check_readable(input.shape, input.dtype, widths, mode)
    return pad_canonical(input, widths, mode, opts)


def _spherical(
    x: torch.Tensor, pad: object, flat: tuple[int, ...], value: object, options: Mapping[str, Any]
) -> torch.Tensor:
    check_option_names("spherical", value, options)
    if len(flat) != 4:
        raise bad_value("pad", pad, "4 entries (left, right, top, bottom) for mode='spherical'")
    check_spherical(x.shape, flat[2], flat[3], flat[0], flat[1])
    return spherical_pad(x, flat[2], flat[3], flat[0], flat[1])


def _crop(x: torch.Tensor, widths: Widths) -> tuple[torch.Tensor, Widths]:
    """``x`` cropped by the negative widths, and the non-negative widths left to pad."""
    crops, pads = split_crops(widths)
    for d, (cb, ca) in enumerate(crops):
        if cb or ca:
            x = x.narrow(d, cb, x.shape[d] - cb - ca)
    return x, pads


def _constant_per_side(x: torch.Tensor, widths: Widths, values: Sequence[tuple[Any, Any]]) -> torch.Tensor:
    """Constant padding with a value per dimension and side, dimension 0 first (the later dimension wins corners)."""
    ndim = x.dim()
    for d, ((b, a), (vb, va)) in enumerate(zip(widths, values)):
        if b:
            spec_b = [0, 0] * (ndim - d)
            spec_b[-2] = b
            x = F.pad(x, spec_b, value=vb)
        if a:
            spec_a = [0, 0] * (ndim - d)
            spec_a[-1] = a
            x = F.pad(x, spec_a, value=va)
    return x


def pad_canonical(x: torch.Tensor, widths: Widths, mode: str, options: Mapping[str, Any]) -> torch.Tensor:
    """Pad ``x`` with canonical, already checked arguments: the shared implementation behind :func:`pad`.

    Contract (nothing is checked here; :func:`pad` checks it for user input):

    * ``widths``: one ``(before, after)`` pair of ints per dimension of ``x``, in dimension order (not ``F.pad``
      order). A negative width crops that side first (at most the whole dimension); the cropped tensor is padded
      by the non-negative widths. After the crops, a dimension padded by a data-reading mode
      (:data:`padkit.modes.NEEDS_DATA`) is not empty, and ``maximum``/``minimum``/``median`` see a real dtype.
    * ``mode``: a canonical pad mode (:data:`padkit.modes.PAD_MODES`; ``constant``, not ``zeros``) or
      ``spherical`` (widths checked by :func:`._spherical.check_spherical`).
    * ``options``: the mode's options in canonical form (:func:`padkit._pad._args.canonical_options` makes
      them from ``pad``'s forms); a missing key means NumPy's default:

      - ``constant_values`` (``constant``, ``empty``): a number, or per-dim ``(before, after)`` pairs of numbers;
      - ``reflect_type`` (``reflect``, ``symmetric``): ``"even"`` or ``"odd"``;
      - ``end_values`` (``linear_ramp``): per-dim pairs of numbers;
      - ``stat_length`` (``maximum``, ``minimum``, ``mean``, ``median``): per-dim pairs of ints ``>= 1`` or
        ``None`` (the whole dimension).

    Returns:
        The padded tensor, values and gradients as :func:`pad` documents them.
    """
    if mode in ("constant", "empty"):
        cval: Any = 0 if mode == "empty" else options.get("constant_values", 0)
        if isinstance(cval, numbers.Number):
            first = next((d for d, (b, a) in enumerate(widths) if b or a), len(widths))
            return F.pad(x, flat_pad(widths[first:]), mode="constant", value=cval)  # type: ignore[arg-type]
        x, pos = _crop(x, widths)
        return _constant_per_side(x, pos, cval)
    if mode == "spherical":  # non-negative widths on the last two dims (check_spherical)
        (top, bottom), (left, right) = widths[-2], widths[-1]
        return spherical_pad(x, top, bottom, left, right)
    x, pos = _crop(x, widths)
    if mode in COPY_MODES:
        if options.get("reflect_type", "even") == "odd":
            return odd_reflect(x, pos, symmetric=mode == "symmetric")
        return copy_pad(x, pos, mode)
    if mode == "linear_ramp":
        return linear_ramp(x, pos, options.get("end_values", ((0, 0),) * x.dim()))
    return statistic(x, pos, options.get("stat_length", ((None, None),) * x.dim()), mode)
