"""Pooling with padding modes: ``PadMaxPool1d/2d/3d`` and ``PadAvgPool1d/2d/3d``.

``zeros`` (the default; also ``constant`` without options) is PyTorch's own pooling: max pooling never picks a padded
sample (-inf), average pooling pads zeros and counts them when ``count_include_pad=True``. ``partial`` ignores padding
(max: same as zeros; average: divides by the real samples only, PyTorch's ``count_include_pad=False``). Every other
mode pads with the mode, so each window is full of data and average pooling divides by the full window. See
:func:`padkit.nn.functional.max_pool2d` and :func:`padkit.nn.functional.avg_pool2d`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from torch import Tensor, nn

from .._validate import bad_value
from ..geometry import PaddingArg, PaddingSpec, parse_padding
from . import _impl
from ._args import LayerMode, check_spatial_size, mode_and_options, pool_window
from ._layer import padding_repr, shown_padding

__all__ = ["PadAvgPool1d", "PadAvgPool2d", "PadAvgPool3d", "PadMaxPool1d", "PadMaxPool2d", "PadMaxPool3d"]


class _PadPoolNd:
    _nd: int
    _padding_spec: PaddingSpec
    _window: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]  # kernel, stride, dilation per spatial dim
    padding_mode: LayerMode
    padding_options: dict[str, Any]
    kernel_size: Any
    stride: Any
    ceil_mode: bool

    def _setup(
        self, padding: Any, padding_mode: str | Sequence[str], padding_options: Mapping[str, Any] | None
    ) -> None:
        self._padding_spec = parse_padding(padding, self._nd)
        self.padding = shown_padding(padding, self._padding_spec, keep_int=True)
        self.padding_mode, self.padding_options = mode_and_options(padding_mode, padding_options, nd=self._nd)
        self._window = pool_window(self.kernel_size, self.stride, getattr(self, "dilation", 1), self._nd)

    def explicit_padding(self, input_spatial_size: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """The ``(before, after)`` padding per spatial dim that the output windows read, for that input size.

        ``after`` includes the extra samples a ``ceil_mode`` window reads past the nominal padding.
        """
        size = check_spatial_size(input_spatial_size, self._nd)
        k, s, d = self._window
        return _impl.pool_geometry(size, k, s, d, self._padding_spec, bool(self.ceil_mode))[1]

    def extra_repr(self) -> str:
        return padding_repr(self, super().extra_repr())  # type: ignore[misc]


class _PadMaxPoolNd(_PadPoolNd):
    dilation: Any
    return_indices: bool

    def _init_max(
        self, padding: Any, return_indices: bool, padding_mode: str | Sequence[str], padding_options: Any
    ) -> None:
        self._setup(padding, padding_mode, padding_options)
        if return_indices:
            raise bad_value("return_indices", return_indices, "False (padkit pooling layers return no indices)")

    def forward(self, input: Tensor) -> Tensor:
        k, s, d = self._window
        spec, ceil_mode = self._padding_spec, self.ceil_mode
        return _impl.max_pool(self._nd, input, k, s, spec, d, ceil_mode, self.padding_mode, self.padding_options)

    @classmethod
    def from_pool(cls, pool: Any, padding_mode: str | Sequence[str], *, padding: PaddingArg | None = None) -> Any:
        """A padkit max pool with ``pool``'s geometry and a new padding mode."""
        if padding is None:
            padding = getattr(pool, "_padding_spec", pool.padding)
        make: Any = cls
        new = make(
            pool.kernel_size, pool.stride, padding, pool.dilation, False, pool.ceil_mode, padding_mode=padding_mode
        )
        new.train(pool.training)
        return new


class _PadAvgPoolNd(_PadPoolNd):
    count_include_pad: bool
    divisor_override: int | None

    def forward(self, input: Tensor) -> Tensor:
        k, s, _ = self._window
        return _impl.avg_pool(
            self._nd,
            input,
            k,
            s,
            self._padding_spec,
            self.ceil_mode,
            self.count_include_pad,
            getattr(self, "divisor_override", None),
            self.padding_mode,
            self.padding_options,
        )

    @classmethod
    def from_pool(cls, pool: Any, padding_mode: str | Sequence[str], *, padding: PaddingArg | None = None) -> Any:
        """A padkit average pool with ``pool``'s geometry and a new padding mode."""
        if padding is None:
            padding = getattr(pool, "_padding_spec", pool.padding)
        kwargs: dict[str, Any] = {}
        if cls._nd > 1:
            kwargs["divisor_override"] = pool.divisor_override
        make: Any = cls
        new = make(
            pool.kernel_size,
            pool.stride,
            padding,
            pool.ceil_mode,
            pool.count_include_pad,
            padding_mode=padding_mode,
            **kwargs,
        )
        new.train(pool.training)
        return new


class PadMaxPool1d(_PadMaxPoolNd, nn.MaxPool1d):
    """``nn.MaxPool1d`` with a ``padding_mode`` (see module docstring). Input ``(N, C, L)``."""

    _nd = 1

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: PaddingArg = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        *,
        padding_mode: str | Sequence[str] = "zeros",
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, 0, dilation, False, ceil_mode)
        self._init_max(padding, return_indices, padding_mode, padding_options)


class PadMaxPool2d(_PadMaxPoolNd, nn.MaxPool2d):
    """``nn.MaxPool2d`` with a ``padding_mode``. Input ``(N, C, H, W)``.

    Example:
        >>> import torch
        >>> pool = PadMaxPool2d(3, 2, 1, padding_mode="reflect")
        >>> pool(torch.randn(1, 2, 8, 8)).shape
        torch.Size([1, 2, 4, 4])
    """

    _nd = 2

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: PaddingArg = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        *,
        padding_mode: str | Sequence[str] = "zeros",
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, 0, dilation, False, ceil_mode)
        self._init_max(padding, return_indices, padding_mode, padding_options)


class PadMaxPool3d(_PadMaxPoolNd, nn.MaxPool3d):
    """``nn.MaxPool3d`` with a ``padding_mode``. Input ``(N, C, D, H, W)``."""

    _nd = 3

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: PaddingArg = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        *,
        padding_mode: str | Sequence[str] = "zeros",
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, 0, dilation, False, ceil_mode)
        self._init_max(padding, return_indices, padding_mode, padding_options)


class PadAvgPool1d(_PadAvgPoolNd, nn.AvgPool1d):
    """``nn.AvgPool1d`` with a ``padding_mode`` (see module docstring). Input ``(N, C, L)``."""

    _nd = 1

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: PaddingArg = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        *,
        padding_mode: str | Sequence[str] = "zeros",
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, 0, ceil_mode, count_include_pad)
        self._setup(padding, padding_mode, padding_options)


class PadAvgPool2d(_PadAvgPoolNd, nn.AvgPool2d):
    """``nn.AvgPool2d`` with a ``padding_mode``. Input ``(N, C, H, W)``."""

    _nd = 2

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: PaddingArg = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
        *,
        padding_mode: str | Sequence[str] = "zeros",
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, 0, ceil_mode, count_include_pad, divisor_override)
        self._setup(padding, padding_mode, padding_options)


class PadAvgPool3d(_PadAvgPoolNd, nn.AvgPool3d):
    """``nn.AvgPool3d`` with a ``padding_mode``. Input ``(N, C, D, H, W)``."""

    _nd = 3

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: PaddingArg = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
        *,
        padding_mode: str | Sequence[str] = "zeros",
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, 0, ceil_mode, count_include_pad, divisor_override)
        self._setup(padding, padding_mode, padding_options)
