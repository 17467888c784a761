"""Padding-aware convolutions: ``PadConv1d/2d/3d`` and ``PadConvTranspose1d/2d/3d``.

They subclass the PyTorch layers (``isinstance``, ``state_dict`` keys, optimizers and ``load_state_dict`` of a plain
conv keep working), check their configuration once at construction and call :mod:`padkit.nn._impl` with it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from torch import Tensor, nn

from .._validate import bad_type, check_choice, ntuple
from ..geometry import PaddingArg, PaddingSpec, parse_padding, resolve_padding, transpose_extension
from . import _impl
from ._args import TRANSPOSE_MODES, LayerMode, check_spatial_size, mode_and_options, transpose_args
from ._layer import padding_repr, shown_padding
from .functional import ALGORITHMS

__all__ = [
    "PadConv1d",
    "PadConv2d",
    "PadConv3d",
    "PadConvTranspose1d",
    "PadConvTranspose2d",
    "PadConvTranspose3d",
]


class _PadConvNd:
    """Shared body of PadConv1d/2d/3d (mixed into the ``nn.ConvNd`` subclass)."""

    _nd: int
    _padding_spec: PaddingSpec
    padding_options: dict[str, Any]
    algorithm: str
    weight: Tensor
    bias: Tensor | None
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    padding_mode: LayerMode
    kernel_size: tuple[int, ...]

    def _setup(
        self, padding: Any, padding_mode: str | Sequence[str], padding_options: Mapping[str, Any] | None, algorithm: str
    ) -> None:
        self._padding_spec = parse_padding(padding, self._nd)
        self.padding = shown_padding(padding, self._padding_spec, keep_int=False)
        self.padding_mode, self.padding_options = mode_and_options(padding_mode, padding_options, nd=self._nd)
        self.algorithm = check_choice(algorithm, "algorithm", ALGORITHMS)
        ntuple(self.stride, self._nd, "stride", minimum=1)
        ntuple(self.dilation, self._nd, "dilation", minimum=1)

    def explicit_padding(self, input_spatial_size: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """The ``(before, after)`` padding per spatial dim (dim order) this layer applies to an input of that size."""
        size = check_spatial_size(input_spatial_size, self._nd)
        return resolve_padding(self._padding_spec, size, self.kernel_size, self.stride, self.dilation)

    def forward(self, input: Tensor) -> Tensor:
        return _impl.conv(
            self._nd,
            input,
            self.weight,
            self.bias,
            self.stride,
            self._padding_spec,
            self.dilation,
            self.groups,
            self.padding_mode,
            self.padding_options,
            self.algorithm,
        )

    @classmethod
    def from_conv(
        cls,
        conv: Any,
        padding_mode: str | Sequence[str],
        *,
        padding: PaddingArg | None = None,
        padding_options: Mapping[str, Any] | None = None,
    ) -> Any:
        """A padkit conv that shares ``conv``'s parameters (same objects), with a new padding mode.

        Args:
            conv: an ``nn.ConvNd`` of matching dimensionality.
            padding_mode: the new mode.
            padding: padding to use instead of ``conv.padding`` (e.g. ``"same"`` for timm's ``Conv2dSame``).
            padding_options: options of the new mode.
        """
        if padding is None:
            padding = getattr(conv, "_padding_spec", conv.padding)
        make: Any = cls
        new = make(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            padding_mode=padding_mode,
            device="meta",
            padding_options=padding_options,
        )
        new.weight = conv.weight
        new.bias = conv.bias
        new.train(conv.training)
        return new

    def extra_repr(self) -> str:
        return padding_repr(self, super().extra_repr(), self.algorithm)  # type: ignore[misc]


class PadConv1d(_PadConvNd, nn.Conv1d):  # type: ignore[misc]
    """``nn.Conv1d`` with any padding mode, ``'same'`` for any stride, and partial-convolution padding.

    Args: as ``nn.Conv1d`` plus ``padding`` (int, ``(p,)``, ``((before, after),)``, ``"same"``, ``"valid"``),
    ``padding_mode`` (any ``padkit.modes.LAYER_MODES`` name or alias), ``padding_options`` and ``algorithm``
    (see :func:`padkit.nn.functional.conv2d`). Input ``(N, C_in, L)``.
    """

    _nd = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: PaddingArg = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str | Sequence[str] = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        padding_options: Mapping[str, Any] | None = None,
        algorithm: str = "auto",
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias, "zeros", device, dtype
        )
        self._setup(padding, padding_mode, padding_options, algorithm)


class PadConv2d(_PadConvNd, nn.Conv2d):  # type: ignore[misc]
    """``nn.Conv2d`` with any padding mode, ``'same'`` for any stride, and partial-convolution padding.

    ``padding``: int, ``(pH, pW)``, ``((top, bottom), (left, right))``, ``"valid"`` or ``"same"`` (output
    ``ceil(n / stride)``; odd extra padding at the end, TensorFlow's rule). ``padding_mode`` (read back as given,
    aliases resolved): ``zeros`` (default), ``constant`` (fill value in ``padding_options``), ``reflect``,
    ``symmetric``, ``replicate``, ``circular``, ``linear_ramp``, ``maximum``, ``minimum``, ``mean``, ``median``,
    ``partial`` or ``spherical`` (equirectangular maps); or a tuple with one mode per spatial dim in dim order
    (``("zeros", "circular")``: height zeros, width circular). ``padding_options``: the mode's keyword options.
    ``algorithm``: ``"auto"`` = ``"pad"`` (pad a copy, then a valid conv) or ``"border"`` (zero-padded conv + exact
    border correction, no padded copy; first-order gradients only): see ``padkit.nn.functional.ALGORITHMS``.

    Shapes: input ``(N, C_in, H, W)`` -> output ``(N, C_out, H_out, W_out)``.

    Example:
        >>> import torch
        >>> conv = PadConv2d(3, 8, 3, stride=2, padding="same", padding_mode="reflect")
        >>> conv(torch.randn(2, 3, 15, 15)).shape
        torch.Size([2, 8, 8, 8])
        >>> conv.explicit_padding((15, 15))
        ((1, 1), (1, 1))
    """

    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: PaddingArg = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str | Sequence[str] = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        padding_options: Mapping[str, Any] | None = None,
        algorithm: str = "auto",
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias, "zeros", device, dtype
        )
        self._setup(padding, padding_mode, padding_options, algorithm)


class PadConv3d(_PadConvNd, nn.Conv3d):  # type: ignore[misc]
    """``nn.Conv3d`` with any padding mode; see :class:`PadConv2d`. Input ``(N, C_in, D, H, W)``."""

    _nd = 3

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: PaddingArg = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str | Sequence[str] = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        padding_options: Mapping[str, Any] | None = None,
        algorithm: str = "auto",
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias, "zeros", device, dtype
        )
        self._setup(padding, padding_mode, padding_options, algorithm)


# ----------------------------------------------------------------------------------------------------------------------
class _PadConvTransposeNd:
    _nd: int
    padding_options: dict[str, Any]
    weight: Tensor
    bias: Tensor | None
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    padding_mode: LayerMode
    kernel_size: tuple[int, ...]
    output_padding: tuple[int, ...]

    def _setup(self, padding_mode: str | Sequence[str], padding_options: Mapping[str, Any] | None) -> None:
        self.padding_mode, self.padding_options = mode_and_options(
            padding_mode, padding_options, TRANSPOSE_MODES, self._nd
        )
        transpose_args(self.stride, self.padding, self.output_padding, self.dilation, self._nd)

    def extra_repr(self) -> str:
        return padding_repr(self, super().extra_repr())  # type: ignore[misc]

    def explicit_padding(self, input_spatial_size: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """Samples ``(before, after)`` per spatial dim by which the input is extended with the padding mode.

        For ``zeros`` (plain transposed conv) the same counts are reported; they read zeros and change nothing.
        """
        check_spatial_size(input_spatial_size, self._nd)
        return tuple(
            transpose_extension(k, s, p, d, op)
            for k, s, p, d, op in zip(self.kernel_size, self.stride, self.padding, self.dilation, self.output_padding)
        )

    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        output_padding = self._output_padding(  # type: ignore[attr-defined]
            input, output_size, self.stride, self.padding, self.kernel_size, self._nd, self.dilation
        )
        return _impl.conv_transpose(
            self._nd,
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            tuple(output_padding),
            self.groups,
            self.dilation,
            self.padding_mode,
            self.padding_options,
        )

    @classmethod
    def from_conv(
        cls, conv: Any, padding_mode: str | Sequence[str], *, padding_options: Mapping[str, Any] | None = None
    ) -> Any:
        """A padkit transposed conv sharing ``conv``'s parameters, with a new padding mode."""
        make: Any = cls
        new = make(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            output_padding=conv.output_padding,
            groups=conv.groups,
            bias=conv.bias is not None,
            dilation=conv.dilation,
            padding_mode=padding_mode,
            device="meta",
            padding_options=padding_options,
        )
        new.weight = conv.weight
        new.bias = conv.bias
        new.train(conv.training)
        return new


_TDOC = """``nn.ConvTranspose{nd}d`` with a padding mode (PyTorch allows only zeros).

    The input is extended by ``padding_mode`` beyond its border, transposed-convolved, and cropped to the output window
    of ``nn.ConvTranspose{nd}d`` (see :func:`padkit.nn.functional.conv_transpose2d` for the exact rule). ``zeros``
    (the default) equals ``nn.ConvTranspose{nd}d`` exactly; other modes change only outputs near the border.
    ``output_padding`` and ``forward(input, output_size)`` work as in PyTorch.
    """


def _check_transpose_padding(padding: Any, nd: int) -> None:
    """Transposed convs take int padding only (nn.ConvTranspose*d would split a string into characters)."""
    if isinstance(padding, str):
        raise bad_type(
            "padding",
            padding,
            f"an int or {nd} ints for PadConvTranspose{nd}d (the input is extended by the padding mode)",
        )


class PadConvTranspose1d(_PadConvTransposeNd, nn.ConvTranspose1d):  # type: ignore[misc]
    __doc__ = _TDOC.format(nd=1)
    _nd = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str | Sequence[str] = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        _check_transpose_padding(padding, 1)
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            bias,
            dilation,
            "zeros",
            device,
            dtype,
        )
        self._setup(padding_mode, padding_options)


class PadConvTranspose2d(_PadConvTransposeNd, nn.ConvTranspose2d):  # type: ignore[misc]
    __doc__ = _TDOC.format(nd=2)
    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str | Sequence[str] = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        _check_transpose_padding(padding, 2)
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            bias,
            dilation,
            "zeros",
            device,
            dtype,
        )
        self._setup(padding_mode, padding_options)


class PadConvTranspose3d(_PadConvTransposeNd, nn.ConvTranspose3d):  # type: ignore[misc]
    __doc__ = _TDOC.format(nd=3)
    _nd = 3

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str | Sequence[str] = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        _check_transpose_padding(padding, 3)
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            bias,
            dilation,
            "zeros",
            device,
            dtype,
        )
        self._setup(padding_mode, padding_options)
