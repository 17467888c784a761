"""What every benchmark builder starts from: seeded random tensors and torchvision models with random weights."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

__all__ = ["Step", "randn", "seeded", "torchvision_model"]

#: One call of the measured work; it returns ``None`` so nothing outlives the call.
Step = Callable[[], None]


def seeded(seed: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


def randn(shape: tuple[int, ...], device: torch.device, seed: int = 0) -> torch.Tensor:
    """Standard normal values drawn on the CPU from ``seed`` (the same numbers on every device), moved to ``device``."""
    return torch.randn(shape, generator=seeded(seed)).to(device)


def torchvision_model(arch: str) -> nn.Module:
    """The torchvision classification model ``arch`` with random weights (nothing downloaded)."""
    import torchvision

    kwargs: dict[str, Any] = {"weights": None}
    if arch in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=True)
    model: nn.Module = torchvision.models.get_model(arch, **kwargs)
    return model
