"""The convolution every experiment network is built from: a padkit ``PadConv2d`` with a padding width and mode."""

from __future__ import annotations

from torch import nn

__all__ = ["conv2d"]


def conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    padding: int = 0,
    mode: str | tuple[str, ...] = "zeros",
    bias: bool = True,
) -> nn.Conv2d:
    """A padkit ``PadConv2d`` (what users build with) with the given padding width and mode (layer vocabulary; a
    per-axis mode is a ``(height, width)`` tuple).

    ``padding=0`` gives a valid convolution (the mode is then irrelevant and stored as ``"zeros"``).
    """
    from ...nn import PadConv2d

    return PadConv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        padding_mode=mode if padding else "zeros",
        bias=bias,
    )
