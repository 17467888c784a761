"""Pooling with padding modes: ``PadMaxPool1d/2d/3d`` and ``PadAvgPool1d/2d/3d``.

``constant`` (alias ``zeros``) is PyTorch's own pooling: max pooling never picks a padded sample (-inf), average
pooling pads zeros and counts them when ``count_include_pad=True``. ``partial`` ignores padding (max: same as constant;
average: divides by the real samples only, PyTorch's ``count_include_pad=False``). Every other mode pads with the mode,
so each window is full of data and average pooling divides by the full window. See :mod:`padkit.nn.functional`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from torch import Tensor, nn

from .._errors import PadkitValueError
from .._validate import ntuple
from ..geometry import PaddingArg, PaddingSpec, parse_padding
from ..modes import LAYER_MODES, canonical_mode
from ..modes import check_options as validate_options
from . import functional as PF

__all__ = ["PadAvgPool1d", "PadAvgPool2d", "PadAvgPool3d", "PadMaxPool1d", "PadMaxPool2d", "PadMaxPool3d"]


def _visible(padding: Any, spec: PaddingSpec) -> Any:
    if isinstance(padding, str):
        return padding.strip().lower()
    if isinstance(spec, tuple) and all(b == a for b, a in spec):
        return padding if isinstance(padding, int) else tuple(b for b, _ in spec)
    return spec


class _PadPoolNd:
    _nd: int
    _padding_spec: PaddingSpec
    padding_mode: str
    padding_options: dict[str, Any]
    kernel_size: Any
    stride: Any
    ceil_mode: bool

    def _setup(self, padding: Any, padding_mode: str, padding_options: Mapping[str, Any] | None) -> None:
        self._padding_spec = parse_padding(padding, self._nd)
        self.padding = _visible(padding, self._padding_spec)
        self.padding_mode = canonical_mode(padding_mode, allowed=LAYER_MODES, argname="padding_mode")
        self.padding_options = validate_options(self.padding_mode, padding_options)
        ntuple(self.kernel_size, self._nd, "kernel_size", minimum=1)

    def _dilation(self) -> Any:
        return getattr(self, "dilation", 1)

    def explicit_padding(self, input_spatial_size: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """The ``(before, after)`` padding per spatial dim that the output windows read, for that input size.

        ``after`` includes the extra samples a ``ceil_mode`` window reads past the nominal padding.
        """
        if len(input_spatial_size) != self._nd:
            raise PadkitValueError(f"input_spatial_size must have {self._nd} entries, got {input_spatial_size!r}")
        import torch

        dummy = torch.empty((1, 1, *input_spatial_size), device="meta")
        return PF._pool_geometry(
            self._nd, dummy, self.kernel_size, self.stride, self._padding_spec, self._dilation(), self.ceil_mode
        )[4]

    def extra_repr(self) -> str:
        from .conv import _padding_repr

        return _padding_repr(self, super().extra_repr())  # type: ignore[misc]


class _PadMaxPoolNd(_PadPoolNd):
    dilation: Any
    return_indices: bool

    def _init_max(self, padding: Any, return_indices: bool, padding_mode: str, padding_options: Any) -> None:
        self._setup(padding, padding_mode, padding_options)
        if return_indices:
            raise PadkitValueError("return_indices=True is not supported by padkit pooling layers; use nn.MaxPool*d")

    def forward(self, input: Tensor) -> Tensor:
        return PF._max_pool_nd(
            self._nd,
            input,
            self.kernel_size,
            self.stride,
            self._padding_spec,
            self.dilation,
            self.ceil_mode,
            self.padding_mode,
            self.padding_options,
        )

    @classmethod
    def from_pool(cls, pool: Any, padding_mode: str, *, padding: PaddingArg | None = None) -> Any:
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
        return PF._avg_pool_nd(
            self._nd,
            input,
            self.kernel_size,
            self.stride,
            self._padding_spec,
            self.ceil_mode,
            self.count_include_pad,
            getattr(self, "divisor_override", None),
            self.padding_mode,
            self.padding_options,
        )

    @classmethod
    def from_pool(cls, pool: Any, padding_mode: str, *, padding: PaddingArg | None = None) -> Any:
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
        padding_mode: str = "constant",
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
        padding_mode: str = "constant",
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
        padding_mode: str = "constant",
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
        padding_mode: str = "constant",
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
        padding_mode: str = "constant",
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
        padding_mode: str = "constant",
        padding_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, 0, ceil_mode, count_include_pad, divisor_override)
        self._setup(padding, padding_mode, padding_options)
