"""What a model reads: the channel count and spatial rank of its input, and the input size it is audited at.

The input's layout is read from the first convolution in module order (``nn.Conv1d/2d/3d`` and their transposed
forms, including padkit's and timm's subclasses): its ``in_channels`` and the length of its ``kernel_size``. Models
without a convolution read ``(N, 3, H, W)`` images. The size is the one the caller gives, else the size the model
declares (:func:`padkit.models.declared_input_size`, timm's ``pretrained_cfg``), else the rank's default
(:data:`DEFAULT_SIZES`: 224 for images, 64 for volumes, 1024 for signals).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.nn.modules.conv import _ConvNd

__all__ = ["DEFAULT_SIZES", "ModelInput", "model_input"]

#: The side along every axis when neither the caller nor the model gives a size, by spatial rank.
DEFAULT_SIZES: dict[int, int] = {1: 1024, 2: 224, 3: 64}


@dataclass(frozen=True)
class ModelInput:
    """The input a model reads: ``(N, channels, *spatial)`` with ``rank`` spatial axes."""

    channels: int
    rank: int
    layer: str | None  # the module the layout is read from ("" for the model itself); None: no convolution
    declared: tuple[int, ...] | None  # the spatial size the model declares, if any

    def describe(self) -> str:
        """``"its first convolution 'conv1' reads 3 channels, 2-D"`` (for messages)."""
        if self.layer is None:
            return f"it has no convolution: {self.channels}-channel {self.rank}-D input assumed"
        name = self.layer or "<root>"
        return f"its first convolution {name!r} reads {self.channels} channels, {self.rank}-D"

    def default_size(self) -> tuple[int, ...]:
        """The declared size when it has this rank, else :data:`DEFAULT_SIZES`."""
        if self.declared is not None and len(self.declared) == self.rank:
            return self.declared
        return (DEFAULT_SIZES[self.rank],) * self.rank


def model_input(model: nn.Module) -> ModelInput:
    """The channels and spatial rank of ``model``'s input (first convolution in module order), and its declared size.

    Example:
        >>> model_input(nn.Sequential(nn.Conv3d(1, 4, 3), nn.ReLU()))
        ModelInput(channels=1, rank=3, layer='0', declared=None)
    """
    from ...models import declared_input_size

    declared = declared_input_size(model)
    for name, module in model.named_modules():
        if isinstance(module, _ConvNd) and 1 <= len(module.kernel_size) <= 3:
            return ModelInput(int(module.in_channels), len(module.kernel_size), name, declared)
    return ModelInput(3, 2, None, declared)
