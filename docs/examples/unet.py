"""A small U-Net for ``docs/plan.md``: VGG-style encoder (conv-BN-ReLU x2, max pooling), bilinear upsampling,
concatenation with the skips, a 1x1 head. ``padkit plan docs/examples/unet.py:unet --input-size 512``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class UNet(nn.Module):
    def __init__(self, channels: tuple[int, ...] = (16, 32, 64, 128), classes: int = 1) -> None:
        super().__init__()
        ins = (3, *channels[:-1])
        self.enc = nn.ModuleList(_block(i, o) for i, o in zip(ins, channels))
        self.pool = nn.MaxPool2d(2)
        ups = list(reversed(channels))
        self.dec = nn.ModuleList(_block(a + b, b) for a, b in zip(ups, ups[1:]))
        self.head = nn.Conv2d(channels[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, enc in enumerate(self.enc):
            x = enc(x if i == 0 else self.pool(x))
            skips.append(x)
        for dec, skip in zip(self.dec, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], 1))
        return self.head(x)


def unet() -> UNet:
    return UNet()
