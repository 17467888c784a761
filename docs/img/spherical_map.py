"""Draw docs/img/pad-spherical.png: a synthetic equirectangular world map padded by spherical, circular and zeros.

Run from the repository root: ``python docs/img/spherical_map.py`` (needs matplotlib). The map is synthetic (no map
data offline): ocean, a graticule every 30 degrees, and continent-like blobs, one of them across the date line and
one around the north pole, so each padding's border shows what it continues. The dashed frame is the map itself.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

import padkit

H, W, PAD = 90, 180, 30  # 2-degree cells; 60 degrees of padding on every side


def world() -> np.ndarray:
    """``(3, H, W)`` RGB in [0, 1]: latitude rows from north to south, longitude columns from -180 to 180."""
    lat = 89.0 - 2.0 * np.arange(H)[:, None]  # cell centres
    lon = -179.0 + 2.0 * np.arange(W)[None, :]
    land = np.zeros((H, W))
    # (lat, lon, radius in degrees, stretch in longitude)
    for c_lat, c_lon, radius, stretch in [
        (45, -100, 22, 1.6),
        (-15, -60, 20, 0.8),
        (50, 60, 25, 2.4),
        (5, 20, 22, 0.9),
        (-25, 135, 14, 1.3),
        (65, 175, 12, 2.0),  # across the date line
        (85, 0, 10, 1.0),  # around the north pole
    ]:
        dlon = (lon - c_lon + 180) % 360 - 180
        land += np.exp(-(((lat - c_lat) / radius) ** 2 + (dlon / (radius * stretch)) ** 2))
    land = np.clip(land * 3.0 - 1.2, 0, 1)
    rgb = np.stack([0.15 + 0.45 * land, 0.35 + 0.35 * land, 0.65 - 0.45 * land])
    rgb[:, -8:, :] = 0.95  # Antarctica: the ice along the south border
    grid = (np.round(lat) % 30 == 1) | (np.round(lon) % 30 == 1)
    rgb[:, grid] = rgb[:, grid] * 0.6 + 0.4
    rgb[:, :, W // 2 - 1 : W // 2 + 1] = [[[0.8]], [[0.2]], [[0.2]]]  # the prime meridian in red
    return rgb


def main() -> None:
    x = torch.from_numpy(world()).float()
    panels = [
        ("spherical", padkit.pad(x, (PAD, PAD, PAD, PAD), mode="spherical")),
        ("circular", padkit.pad(x, (PAD, PAD, PAD, PAD), mode="circular")),
        ("zeros", padkit.pad(x, (PAD, PAD, PAD, PAD), mode="zeros")),
        ("circular+reflect (width, height)", padkit.pad(x, (PAD, PAD, PAD, PAD), mode=("circular", "reflect"))),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.6))
    for ax, (title, img) in zip(axes.flat, panels):
        ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        ax.add_patch(plt.Rectangle((PAD - 0.5, PAD - 0.5), W, H, fill=False, ls="--", lw=1.2, ec="black"))
        ax.set_title(f'mode="{title}"' if "+" not in title else 'mode=("circular", "reflect")', fontsize=10)
        ax.set_axis_off()
    fig.suptitle("padkit.pad(map, (30, 30, 30, 30), mode=...) on an equirectangular map (dashed: the map)")
    fig.tight_layout()
    out = Path(__file__).with_name("pad-spherical.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
