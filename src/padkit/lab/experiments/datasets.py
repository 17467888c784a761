"""The experiments' offline training data: patches of the built-in photographs and digits on a canvas.

Both are deterministic given a ``numpy.random.Generator``. The photographs come from :func:`padkit.data.photograph`
(files inside installed wheels; nothing is downloaded).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..._validate import bad_value, check_int
from ...data import photograph

__all__ = ["PHOTOGRAPHS", "digits_on_canvas", "photo_patches"]

#: The photographs whose patches the experiments classify (``package:file`` names, see :func:`padkit.data.photograph`).
PHOTOGRAPHS: tuple[str, ...] = (
    "skimage:astronaut.png",
    "skimage:coffee.png",
    "skimage:chelsea.png",
    "skimage:rocket.jpg",
    "skimage:hubble_deep_field.jpg",
    "skimage:ihc.png",
)


def photo_patches(
    n: int, size: int, rng: np.random.Generator, names: Sequence[str] = PHOTOGRAPHS, *, scale: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random patches of the photographs ``names``, labelled by which photograph they come from.

    Each photograph is first downsampled by ``scale`` (block mean) so a patch holds a recognisable part of it.

    Returns:
        ``(x, y)``: x ``(n, 3, size, size)`` float32 in the raw 0–255 range, y ``(n,)`` int64 in ``[0, len(names))``.
    """
    imgs = []
    for name in names:
        img = photograph(name)
        h, w = (img.shape[0] // scale) * scale, (img.shape[1] // scale) * scale
        small = img[:h, :w].astype(np.float32).reshape(h // scale, scale, w // scale, scale, 3).mean(axis=(1, 3))
        if min(small.shape[:2]) < size:
            raise bad_value("size", size, f"at most the side of {name} downsampled by scale={scale}")
        imgs.append(small)
    y = rng.integers(0, len(imgs), size=n)
    x = np.empty((n, 3, size, size), dtype=np.float32)
    for i, label in enumerate(y):
        img = imgs[label]
        r = rng.integers(0, img.shape[0] - size + 1)
        c = rng.integers(0, img.shape[1] - size + 1)
        x[i] = img[r : r + size, c : c + size].transpose(2, 0, 1)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def digits_on_canvas(n: int, canvas: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits pasted at uniformly random positions (anywhere, borders included) on a black canvas.

    Returns:
        ``(x, y)``: x ``(n, 1, canvas, canvas)`` float32 in ``[0, 1]``, y ``(n,)`` int64 digit labels.
    """
    from sklearn.datasets import load_digits

    check_int(canvas, "canvas", minimum=8)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    idx = rng.integers(0, len(images), size=n)
    x = np.zeros((n, 1, canvas, canvas), dtype=np.float32)
    rows = rng.integers(0, canvas - 8 + 1, size=n)
    cols = rng.integers(0, canvas - 8 + 1, size=n)
    for i in range(n):
        x[i, 0, rows[i] : rows[i] + 8, cols[i] : cols[i] + 8] = images[idx[i]]
    return torch.from_numpy(x), torch.from_numpy(digits.target[idx].astype(np.int64))
