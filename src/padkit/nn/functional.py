"""Functional API of ``padkit.nn``: convolution, transposed convolution and pooling with any padding mode.

Every function checks its arguments once and calls the implementation in :mod:`padkit.nn._impl`, which the
``padkit.nn`` layers call directly with the arguments their constructors checked.

``padding_mode`` takes the layer vocabulary ``padkit.modes.LAYER_MODES`` (aliases ``zero``, ``edge``, ``wrap`` are
accepted): ``zeros`` (the default, PyTorch's own zero padding), ``constant`` (a fill value in ``padding_options``),
``reflect``, ``symmetric``, ``replicate``, ``circular``, ``linear_ramp``, ``maximum``, ``minimum``, ``mean``,
``median`` and ``partial`` (partial-convolution padding, Liu et al. 2018).

``padding`` is an int, one int per spatial dim, one ``(before, after)`` pair per spatial dim (dim order), ``"valid"``
or ``"same"``. ``"same"`` works for any stride and dilation: the output has ``ceil(n / stride)`` samples and the total
padding ``max((out - 1) * stride + dilation * (kernel - 1) + 1 - n, 0)`` is split with the odd sample at the end
(TensorFlow's rule).

Example:
    >>> import torch
    >>> from padkit.nn import functional as PF
    >>> x, w = torch.randn(1, 3, 8, 8), torch.randn(4, 3, 3, 3)
    >>> PF.conv2d(x, w, padding=1, padding_mode="reflect").shape
    torch.Size([1, 4, 8, 8])
    >>> PF.conv2d(x, w, stride=2, padding="same", padding_mode="circular").shape
    torch.Size([1, 4, 4, 4])
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from .._validate import bad_type, check_choice, ntuple
from ..geometry import PaddingArg, parse_padding
from ..modes import MAP_MODES, PAD_MODES, canonical_mode, check_options, layer_modes
from . import _impl
from ._args import TRANSPOSE_MODES, check_fill, check_weight, mode_and_options, pool_window, transpose_args
from ._partial import cached_ratio

__all__ = [
    "ALGORITHMS",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "pad_spatial",
    "partial_ratio",
]

#: ``algorithm`` values of the conv functions: ``"border"`` convolves with zero padding and corrects only the border
#: outputs (exact by linearity; no padded copy of the input) where it can, ``"pad"`` pads a copy then runs a valid
#: conv, keeping only the unpadded input for backward (``padkit.nn._repad``). ``"auto"`` picks ``"pad"``: on the
#: CPU the thin border convolutions cost 1.3-4.7x a zero-padded conv against 1.1-1.5x for the copy (``padkit bench
#: conv``, docs/BENCHMARKS.md); on GPUs ``"border"`` has not been measured, and its backward is first-order only
#: (no double backward, no ``torch.func`` transforms), so it is opt-in everywhere.
ALGORITHMS: tuple[str, ...] = ("auto", "pad", "border")


# ----------------------------------------------------------------------------------------------------------------------
# padding and the partial-convolution ratio
# ----------------------------------------------------------------------------------------------------------------------
def pad_spatial(
    x: Tensor,
    pairs: Sequence[tuple[int, int]],
    mode: str | Sequence[str],
    options: Mapping[str, Any] | None = None,
) -> Tensor:
    """Pad the trailing ``len(pairs)`` dims of ``x`` with a pad ``mode``.

    Args:
        x: ``(N, C, *spatial)``.
        pairs: ``(before, after)`` per spatial dim, in dim order.
        mode: a pad mode of :func:`padkit.pad` or its alias (``zeros`` is ``constant``; ``spherical`` for 2-D maps);
            not ``partial``. Or one mode per spatial dim, in dim order (padded last dim first).
        options: the mode's keyword options (``value``, ``stat_length``, ...); with one mode per dim, each applies
            to the dims whose mode takes it.

    Returns:
        ``(N, C, *padded_spatial)``.
    """
    pad_mode: str | tuple[str, ...]
    if isinstance(mode, str):
        pad_mode = canonical_mode(mode, argname="mode", allowed=PAD_MODES + MAP_MODES)
    else:
        pad_mode = tuple(
            canonical_mode(m, argname=f"mode[{i}]")
            for i, m in enumerate(layer_modes(mode, argname="mode", nd=len(pairs)))
        )
    opts = check_options(pad_mode, options, argname="options")
    check_fill(opts, argname="options")
    return _impl.pad_spatial(x, tuple((int(b), int(a)) for b, a in pairs), pad_mode, opts)


def partial_ratio(
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pairs: Sequence[tuple[int, int]],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The partial-convolution ratio map ``window_size / valid_count`` (0 where a window holds no input sample).

    ``valid_count`` is the number of non-padded samples under each output's window; it factorises over dims because
    the padding is a box, so the map is the outer product of per-dim ratios. Maps are cached per (size, kernel,
    stride, dilation, padding, device, dtype); the batch size never enters the key, so the cache cannot go stale.

    Args:
        spatial: input spatial size ``(*S)``.
        kernel, stride, dilation: per spatial dim.
        pairs: ``(before, after)`` padding per spatial dim.
        device, dtype: of the returned map.

    Returns:
        ``(*out_spatial)`` ratio map (a new tensor).

    Example:
        >>> partial_ratio((4, 4), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))[:2, :2]
        tensor([[2.2500, 1.5000],
                [1.5000, 1.0000]])
    """
    if not isinstance(spatial, (tuple, list, torch.Size)):
        raise bad_type("spatial", spatial, "a sequence of ints >= 0, one per spatial dim")
    nd = len(spatial)
    size = ntuple(tuple(spatial), nd, "spatial")
    k = ntuple(kernel, nd, "kernel", minimum=1)
    s = ntuple(stride, nd, "stride", minimum=1)
    d = ntuple(dilation, nd, "dilation", minimum=1)
    spec = parse_padding(pairs, nd, "pairs")
    if isinstance(spec, str):
        raise bad_type("pairs", pairs, f"{nd} (before, after) pairs")
    return cached_ratio(size, k, s, d, spec, device, dtype)[0].clone()


# ----------------------------------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------------------------------
def _conv(
    nd: int,
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    padding_mode: str | Sequence[str],
    padding_options: Mapping[str, Any] | None,
    algorithm: str,
) -> Tensor:
    mode, options = mode_and_options(padding_mode, padding_options, nd=nd)
    check_choice(algorithm, "algorithm", ALGORITHMS)
    check_weight(weight, nd)
    s = ntuple(stride, nd, "stride", minimum=1)
    d = ntuple(dilation, nd, "dilation", minimum=1)
    spec = parse_padding(padding, nd)
    return _impl.conv(nd, input, weight, bias, s, spec, d, groups, mode, options, algorithm)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
    algorithm: str = "auto",
) -> Tensor:
    """1-D convolution with any padding mode. Same arguments as :func:`conv2d`; ``input`` is ``(N, C_in, L)``."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups, padding_mode, padding_options, algorithm)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
    algorithm: str = "auto",
) -> Tensor:
    """2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``) with any padding mode.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in / groups, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: int or one per spatial dim.
        padding: int, per-dim ints, per-dim ``(before, after)`` pairs, ``"valid"`` or ``"same"`` (any stride; output
            ``ceil(n / stride)``, odd extra padding sample at the end).
        groups: number of groups.
        padding_mode: a ``padkit.modes.LAYER_MODES`` name or alias; ``"partial"`` for partial-convolution padding.
        padding_options: the mode's options (``value`` for ``constant``, ``stat_length`` for ``mean``, ...).
        algorithm: ``"pad"`` (pad a copy, then a valid conv), ``"border"`` (zero-padded conv + exact border
            correction where possible, no padded copy; first-order gradients only) or ``"auto"`` (``"pad"``).

    Returns:
        ``(N, C_out, H_out, W_out)``.
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups, padding_mode, padding_options, algorithm)


def conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
    algorithm: str = "auto",
) -> Tensor:
    """3-D convolution with any padding mode. Same arguments as :func:`conv2d`; ``input`` is ``(N, C_in, D, H, W)``."""
    return _conv(3, input, weight, bias, stride, padding, dilation, groups, padding_mode, padding_options, algorithm)


# ----------------------------------------------------------------------------------------------------------------------
# transposed convolution
# ----------------------------------------------------------------------------------------------------------------------
def _conv_transpose(
    nd: int,
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
    padding_mode: str | Sequence[str],
    padding_options: Mapping[str, Any] | None,
) -> Tensor:
    mode, options = mode_and_options(padding_mode, padding_options, TRANSPOSE_MODES, nd)
    check_weight(weight, nd)
    s, p, op, d = transpose_args(stride, padding, output_padding, dilation, nd)
    return _impl.conv_transpose(nd, input, weight, bias, s, p, op, groups, d, mode, options)


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """1-D transposed convolution with a padding mode; see :func:`conv_transpose2d`. ``input`` is ``(N, C_in, L)``."""
    return _conv_transpose(
        1, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode, padding_options
    )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """2-D transposed convolution with a padding mode (PyTorch only has zeros).

    Semantics: the input is extended beyond its border by ``padding_mode`` (conceptually without end; only the
    ``(ke - 1 - padding) // stride`` samples before and ``(ke - 1 - padding + output_padding) // stride`` after each
    dim can reach the output, ``ke = dilation * (kernel - 1) + 1``), the transposed conv of the extended input is taken,
    and the result is cropped to exactly the window ``nn.ConvTranspose2d`` returns
    (``(n - 1) * stride - 2 * padding + ke + output_padding`` samples). With ``zeros`` the extension adds nothing, so
    the result equals ``torch.nn.functional.conv_transpose2d``; other modes change only outputs within about
    ``ke - padding`` samples of the border. ``partial`` is not defined for transposed convs.

    Args:
        input: ``(N, C_in, H, W)`` or ``(C_in, H, W)``.
        weight: ``(C_in, C_out / groups, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, padding, output_padding, dilation: int or one per dim (as in PyTorch; ``output_padding`` smaller than
            the stride or the dilation).
        groups: number of groups.
        padding_mode: any ``LAYER_MODES`` name except ``partial``.
        padding_options: the mode's options.

    Returns:
        ``(N, C_out, H_out, W_out)``.
    """
    return _conv_transpose(
        2, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode, padding_options
    )


def conv_transpose3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """3-D transposed convolution with a padding mode; see :func:`conv_transpose2d`."""
    return _conv_transpose(
        3, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode, padding_options
    )


# ----------------------------------------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------------------------------------
def _max_pool(
    nd: int,
    input: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    padding_mode: str | Sequence[str],
    padding_options: Mapping[str, Any] | None,
) -> Tensor:
    mode, options = mode_and_options(padding_mode, padding_options, nd=nd)
    k, s, d = pool_window(kernel_size, stride, dilation, nd)
    spec = parse_padding(padding, nd)
    return _impl.max_pool(nd, input, k, s, spec, d, ceil_mode, mode, options)


def _avg_pool(
    nd: int,
    input: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
    padding_mode: str | Sequence[str],
    padding_options: Mapping[str, Any] | None,
) -> Tensor:
    mode, options = mode_and_options(padding_mode, padding_options, nd=nd)
    k, s, _ = pool_window(kernel_size, stride, 1, nd)
    spec = parse_padding(padding, nd)
    return _impl.avg_pool(nd, input, k, s, spec, ceil_mode, count_include_pad, divisor_override, mode, options)


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """1-D max pooling with a padding mode; see :func:`max_pool2d`. ``input`` is ``(N, C, L)`` or ``(C, L)``."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, padding_mode, padding_options)


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """2-D max pooling with a padding mode.

    Semantics: ``zeros`` (and ``constant`` without options) is PyTorch's own max pooling: padding never wins, it acts
    as -inf; ``partial`` is the same (max pooling already ignores padding). Every other mode pads with the mode and
    pools over the padded tensor without further padding, so each window is full of data. With ``ceil_mode=True`` the
    output size is PyTorch's, and the samples the last window reads past the padding are mode-padded too.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size, stride, dilation: int or one per spatial dim (no stride: the kernel size).
        padding: int, per-dim ints, per-dim ``(before, after)`` pairs, ``"valid"`` or ``"same"`` (TF rule).
        ceil_mode: PyTorch's ceil rule for the output size.
        padding_mode: a ``padkit.modes.LAYER_MODES`` name or alias.
        padding_options: the mode's options.

    Returns:
        ``(N, C, H_out, W_out)``.
    """
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, padding_mode, padding_options)


def max_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """3-D max pooling with a padding mode; see :func:`max_pool2d`. ``input`` is ``(N, C, D, H, W)``."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, padding_mode, padding_options)


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """1-D average pooling with a padding mode; see :func:`avg_pool2d`. ``input`` is ``(N, C, L)`` or ``(C, L)``."""
    return _avg_pool(
        1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, padding_mode, padding_options
    )


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """2-D average pooling with a padding mode.

    Semantics: ``zeros`` (and ``constant`` without options) is PyTorch's own average pooling: zeros, counted in the
    divisor when ``count_include_pad=True``; ``partial`` averages over the real samples only (PyTorch's
    ``count_include_pad=False``). Every other mode pads with the mode and pools over the padded tensor without further
    padding, so each window is full and the divisor is the full window (``count_include_pad`` only affects zero
    padding). With ``ceil_mode=True`` the output size is PyTorch's, and the samples the last window reads past the
    padding are mode-padded too.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size, stride: int or one per spatial dim (no stride: the kernel size).
        padding: int, per-dim ints, per-dim ``(before, after)`` pairs, ``"valid"`` or ``"same"`` (TF rule).
        ceil_mode, count_include_pad, divisor_override: as in PyTorch (``divisor_override`` not with ``partial``).
        padding_mode: a ``padkit.modes.LAYER_MODES`` name or alias.
        padding_options: the mode's options.

    Returns:
        ``(N, C, H_out, W_out)``.
    """
    return _avg_pool(
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        padding_mode,
        padding_options,
    )


def avg_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    padding_mode: str | Sequence[str] = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """3-D average pooling with a padding mode; see :func:`avg_pool2d`. ``input`` is ``(N, C, D, H, W)``."""
    return _avg_pool(
        3,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        padding_mode,
        padding_options,
    )
