"""Padding-aware layers: convolutions, transposed convolutions and pooling with any padding mode.

Every layer subclasses the PyTorch layer it replaces, checks its configuration once at construction and runs the same
implementation as :mod:`padkit.nn.functional`; ``padding_mode`` reads back the name given (``zeros`` by default, aliases
resolved). Each exposes ``explicit_padding(input_spatial_size)`` -> per spatial dim ``(before, after)`` padding for
that input size.

Example:
    >>> import torch
    >>> from padkit.nn import PadConv2d
    >>> conv = PadConv2d(3, 8, 3, padding=1, padding_mode="symmetric")
    >>> conv(torch.randn(1, 3, 16, 16)).shape
    torch.Size([1, 8, 16, 16])
"""

from __future__ import annotations

from . import functional
from .conv import PadConv1d, PadConv2d, PadConv3d, PadConvTranspose1d, PadConvTranspose2d, PadConvTranspose3d
from .pool import PadAvgPool1d, PadAvgPool2d, PadAvgPool3d, PadMaxPool1d, PadMaxPool2d, PadMaxPool3d

__all__ = [
    "PadAvgPool1d",
    "PadAvgPool2d",
    "PadAvgPool3d",
    "PadConv1d",
    "PadConv2d",
    "PadConv3d",
    "PadConvTranspose1d",
    "PadConvTranspose2d",
    "PadConvTranspose3d",
    "PadMaxPool1d",
    "PadMaxPool2d",
    "PadMaxPool3d",
    "functional",
]
