"""The partial-convolution ratio map (Liu et al. 2018) and its cache.

``ratio = window_size / valid_count`` per output (0 where a window holds no input sample), ``valid_count`` being the
number of non-padded samples under the window. It factorises over dims because the padding is a box, so the map is the
outer product of per-dim ratios. Maps are cached per (size, kernel, stride, dilation, padding, device, dtype); the
batch size never enters the key, so the cache cannot go stale.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..geometry import Pairs, conv_out_size
from ._cache import TensorCache, cacheable

__all__ = ["cached_ratio", "ratio_1d"]

#: ``key -> (ratio map, every window holds a real sample)``; the flag is False where it was not computed (tracing).
_RATIO_CACHE: TensorCache[tuple[Tensor, bool]] = TensorCache(256)


def ratio_1d(n: int, before: int, k: int, s: int, d: int, out: int) -> list[float]:
    """Per-output ratio ``k / valid_count`` along one dim (0 for a window with no input sample)."""
    ratios = []
    for i in range(out):
        start = i * s - before
        count = sum(1 for t in range(k) if 0 <= start + t * d < n)
        ratios.append(k / count if count else 0.0)
    return ratios


def _ratio_map(
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pairs: Pairs,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[Tensor, bool]:
    ratio = torch.ones((), dtype=torch.float64)
    for n, k, s, d, (b, a) in zip(spatial, kernel, stride, dilation, pairs):
        out = conv_out_size(n, k, s, d, b, a)
        ratio = ratio.unsqueeze(-1) * torch.tensor(ratio_1d(n, b, k, s, d, out), dtype=torch.float64)
    ratio = ratio.to(device=device, dtype=dtype)
    return ratio, cacheable(ratio) and bool((ratio > 0).all())


def cached_ratio(
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pairs: Pairs,
    device: torch.device | str | None,
    dtype: torch.dtype,
) -> tuple[Tensor, bool]:
    """The ratio map ``(*out_spatial)`` from the cache (shared: read only), and whether every window holds a real
    sample (False when unknown)."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    key = (tuple(spatial), tuple(kernel), tuple(stride), tuple(dilation), tuple(pairs), dev, dtype)
    return _RATIO_CACHE.get(key, lambda: _ratio_map(spatial, kernel, stride, dilation, pairs, dev, dtype))
