"""Mergeable running moments in float64 (Chan et al. 1979 parallel update of Welford's algorithm).

:class:`RunningMoments` keeps, per element of a fixed shape (e.g. per channel and position ``(C, H, W)``), the count
``n``, the mean and ``M2 = sum (x - mean)^2`` of the finite values seen so far. Batches and whole accumulators merge
with the pairwise formula

    n = n_a + n_b,  delta = mean_b - mean_a,
    mean = mean_a + delta * n_b / n,
    M2 = M2_a + M2_b + delta^2 * n_a * n_b / n,

which is exact in real arithmetic, so batch order and sharding across processes change the result only by float64
rounding. Non-finite values (NaN, +-Inf) are excluded from the moments and counted in ``nonfinite``.

Example:
    >>> m = RunningMoments((2,))
    >>> m.update(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> m.mean.tolist(), m.variance().tolist()
    ([2.0, 3.0], [1.0, 1.0])
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..._errors import PadkitValueError

__all__ = ["RunningMoments", "pool_moments"]


class RunningMoments:
    """Per-element count, mean and M2 over a stream of batches ``(N, *shape)``, in float64.

    Args:
        shape: the element shape (e.g. ``(C, H, W)``).
        device: where the accumulators live.
    """

    def __init__(self, shape: Sequence[int], device: torch.device | str | None = None) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.count = torch.zeros(self.shape, dtype=torch.float64, device=device)
        self.mean = torch.zeros(self.shape, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(self.shape, dtype=torch.float64, device=device)
        self.nonfinite = 0

    def update(self, batch: torch.Tensor) -> None:
        """Add a batch ``(N, *shape)``; non-finite values are skipped and counted."""
        x = batch.detach()
        if x.dtype not in (torch.float32, torch.float64):
            x = x.float()
        n_bad = int(x.numel() - int(torch.isfinite(x).sum())) if not bool(torch.isfinite(x.sum())) else 0
        if n_bad == 0:
            # float64 accumulation without a float64 copy of the batch: sum in float64, deviations from the
            # (rounded) batch mean in the input precision, their squares summed in float64
            nb = float(x.shape[0])
            mb = x.sum(0, dtype=torch.float64) / nb
            shift = mb.to(x.dtype)
            m2b = (x - shift).square_().sum(0, dtype=torch.float64)
            # exact identity: sum (x - m)^2 = sum (x - m')^2 - n (m - m')^2 for the rounded shift m'
            m2b = m2b - nb * (mb - shift.double()).square()
            self._merge(torch.full_like(mb, nb), mb, m2b)
            return
        x = x.to(torch.float64)
        finite = torch.isfinite(x)
        self.nonfinite += n_bad
        xz = torch.where(finite, x, torch.zeros((), dtype=x.dtype, device=x.device))
        nb_t = finite.sum(0).to(torch.float64)
        mb = xz.sum(0) / nb_t.clamp(min=1.0)
        dev = torch.where(finite, x - mb, torch.zeros((), dtype=x.dtype, device=x.device))
        self._merge(nb_t, mb, dev.square().sum(0))

    def merge_batch(self, count: torch.Tensor, mean: torch.Tensor, m2: torch.Tensor) -> None:
        """Merge a batch given by its own float64 ``count``, ``mean`` and ``M2`` (each of this shape)."""
        self._merge(count, mean, m2)

    def _merge(self, nb: torch.Tensor, mb: torch.Tensor, m2b: torch.Tensor) -> None:
        n = self.count + nb
        safe = n.clamp(min=1.0)
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / safe)
        self.m2 = self.m2 + m2b + delta.square() * (self.count * nb / safe)
        self.count = n

    def merge(self, other: RunningMoments) -> None:
        """Merge another accumulator of the same shape into this one."""
        if other.shape != self.shape:
            raise PadkitValueError(f"cannot merge moments of shape {other.shape} into {self.shape}")
        self._merge(other.count.to(self.count.device), other.mean.to(self.mean.device), other.m2.to(self.m2.device))
        self.nonfinite += other.nonfinite

    def variance(self) -> torch.Tensor:
        """Population variance ``M2 / n`` per element (0 where ``n == 0``)."""
        return self.m2 / self.count.clamp(min=1.0)


def pool_moments(
    count: torch.Tensor, mean: torch.Tensor, m2: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pool per-position moments ``(C, H, W)`` over the positions where ``mask (H, W)`` is True, per channel.

    Returns:
        ``(n, mean, var)`` each of shape ``(C,)``: the count, mean and population variance of all values at the
        selected positions, as if they had been one sample.
    """
    w = mask.to(count.dtype)[None]
    cw = count * w
    n = cw.sum((1, 2)) if count.ndim == 3 else cw.reshape(count.shape[0], -1).sum(1)
    safe = n.clamp(min=1.0)
    dims = tuple(range(1, count.ndim))
    pooled_mean = (cw * mean).sum(dims) / safe
    centred = (mean - pooled_mean.reshape(-1, *([1] * (count.ndim - 1)))).square()
    pooled_m2 = (m2 * w).sum(dims) + (cw * centred).sum(dims)
    return n, pooled_mean, pooled_m2 / safe
