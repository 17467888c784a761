"""Streaming per-layer accumulators: everything the audit metrics need, in mergeable form.

Every quantity here is either a :class:`~padkit.analysis.audit.moments.RunningMoments` (merged with Chan's
formula) or a plain sum (float64 sums, int64 histogram counts), so batches and processes combine exactly up to
float64 rounding and memory does not grow with the number of images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .moments import RunningMoments

__all__ = ["Band", "LayerAccumulator", "distance_map", "fixed_band", "histogram_range", "side_widths"]

#: Sobel derivative kernels scaled by 1/8 so a unit ramp has derivative 1.
_SOBEL = torch.tensor(
    [[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]]
).div_(8.0)[:, None]  # (2, 1, 3, 3)


def distance_map(h: int, w: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Chessboard distance of each position to the nearest edge of an ``h x w`` map: ``min(i, j, h-1-i, w-1-j)``.

    Returns:
        int64 tensor ``(h, w)``.
    """
    i = torch.arange(h, device=device)
    j = torch.arange(w, device=device)
    di = torch.minimum(i, h - 1 - i)[:, None]
    dj = torch.minimum(j, w - 1 - j)[None, :]
    return torch.minimum(di, dj)


def fixed_band(h: int, w: int, width: int) -> torch.Tensor:
    """Bool mask ``(h, w)``: True within ``width`` positions of an edge."""
    return distance_map(h, w) < width


def side_widths(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """Thickness of a border band on each side ``(top, bottom, left, right)``, read along the middle row/column."""
    h, w = mask.shape
    col = mask[:, w // 2].tolist()
    row = mask[h // 2, :].tolist()

    def lead(v: list[bool]) -> int:
        n = 0
        for b in v:
            if not b:
                break
            n += 1
        return n

    return lead(col), lead(col[::-1]), lead(row), lead(row[::-1])


@dataclass(frozen=True)
class Band:
    """The border band of one layer's output: ``mask (H, W)`` True on the band, its source and side widths."""

    mask: torch.Tensor
    source: str  # "receptive-field" (exact, from padkit.plan) or "fixed"
    widths: tuple[int, int, int, int]  # top, bottom, left, right

    @property
    def thickness(self) -> int:
        return max(self.widths)


class LayerAccumulator:
    """All streaming statistics of one layer's output ``(N, C, H, W)``.

    Args:
        shape: ``(C, H, W)`` of one image's activation.
        band: the layer's border band.
        hist_lo: per-channel lower histogram edge ``(C,)``.
        hist_width: per-channel bin width ``(C,)``.
        bins: number of histogram bins.
        proj: ``(C, P)`` projection for the position probe, or ``None`` for the identity.
        device: where the accumulators live.
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        band: Band,
        hist_lo: torch.Tensor,
        hist_width: torch.Tensor,
        bins: int,
        proj: torch.Tensor | None,
        device: torch.device,
    ) -> None:
        c, h, w = shape
        self.shape = shape
        self.band = band
        self.device = device
        self.moments = RunningMoments(shape, device=device)
        self.edge_sum = torch.zeros(shape, dtype=torch.float64, device=device)
        self.edge_images = torch.zeros((), dtype=torch.float64, device=device)
        self.bins = bins
        self.hist_lo = hist_lo.to(device=device, dtype=torch.float32)
        self.hist_width = hist_width.to(device=device, dtype=torch.float32)
        self.hist_band = torch.zeros(c * bins, dtype=torch.int64, device=device)
        self.hist_interior = torch.zeros(c * bins, dtype=torch.int64, device=device)
        self._band_dev = band.mask.to(device)
        self._hist_lo4 = self.hist_lo[:, None, None]
        self._hist_inv4 = (1.0 / self.hist_width)[:, None, None]
        chan = (torch.arange(c, device=device) * bins)[:, None, None]
        self._hist_offsets = chan + (~self._band_dev).to(torch.int64)[None] * (c * bins)  # (C, H, W)
        self.proj = None if proj is None else proj.to(device=device, dtype=torch.float64)
        p = c if proj is None else proj.shape[1]
        self.probe_dim = p
        # probe sufficient statistics, [train, test]: X~^T X~ (P+1, P+1), X~^T Y (P+1, 2), sum y^2 (2,)
        self.probe_xx = torch.zeros((2, p + 1, p + 1), dtype=torch.float64, device=device)
        self.probe_xy = torch.zeros((2, p + 1, 2), dtype=torch.float64, device=device)
        self.probe_yy = torch.zeros((2, 2), dtype=torch.float64, device=device)
        ys = (torch.arange(h, device=device, dtype=torch.float64) + 0.5) / h * 2 - 1
        xs = (torch.arange(w, device=device, dtype=torch.float64) + 0.5) / w * 2 - 1
        self._coords = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(h * w, 2)  # (x, y)
        nd = (min(h, w) + 1) // 2
        self.equiv_err = torch.zeros((c, nd), dtype=torch.float64, device=device)
        self.equiv_count = torch.zeros(nd, dtype=torch.float64, device=device)
        self.notes: list[str] = []

    # ------------------------------------------------------------------ stream
    def update(self, x: torch.Tensor, probe_split: torch.Tensor | None = None) -> None:
        """Add a batch ``(N, C, H, W)``. ``probe_split (N,)``: 0 = not in the probe, 1 = train, 2 = test."""
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"activation shape {tuple(x.shape[1:])} differs from the first batch's {self.shape}")
        self.moments.update(x)
        xf = x.detach()
        if xf.dtype != torch.float32 and xf.dtype != torch.float64:
            xf = xf.float()
        per_image = xf.sum((1, 2, 3))
        if not bool(torch.isfinite(per_image).all()):
            finite_img = torch.isfinite(xf).flatten(1).all(1)
            xf = xf[finite_img]
            if probe_split is not None:
                probe_split = probe_split[finite_img.to(probe_split.device)]
        if xf.shape[0] == 0:
            return
        self._update_edges(xf)
        self._update_hist(xf)
        if probe_split is not None and bool((probe_split > 0).any()):
            self._update_probe(xf, probe_split.to(self.device))

    def _update_edges(self, xf: torch.Tensor) -> None:
        n, c, h, w = xf.shape
        flat = xf.reshape(n * c, 1, h, w)
        # "valid" Sobel: no padding of its own, so it cannot invent edges; the outer ring gets no value
        g = F.conv2d(flat, _SOBEL.to(device=xf.device, dtype=xf.dtype))  # (N*C, 2, H-2, W-2)
        energy = g.square().sum(1).reshape(n, c, h - 2, w - 2)
        self.edge_sum[:, 1:-1, 1:-1] += energy.sum(0, dtype=torch.float64)
        self.edge_images += n

    def _update_hist(self, xf: torch.Tensor) -> None:
        # one bincount over all values: bin index + channel offset + (bins * C) for interior positions
        idx = ((xf - self._hist_lo4) * self._hist_inv4).clamp_(0, self.bins - 1).to(torch.int64)  # trunc = floor
        idx += self._hist_offsets
        counts = torch.bincount(idx.reshape(-1), minlength=2 * self.hist_band.numel())
        total = self.hist_band.numel()
        self.hist_band += counts[:total]
        self.hist_interior += counts[total:]

    def _update_probe(self, xf: torch.Tensor, split: torch.Tensor) -> None:
        _n, c, _h, _w = xf.shape
        for code in (1, 2):
            sel = split == code
            if not bool(sel.any()):
                continue
            feats = xf[sel].to(torch.float64).permute(0, 2, 3, 1).reshape(-1, c)  # (n*H*W, C)
            if self.proj is not None:
                feats = feats @ self.proj
            k = int(sel.sum())
            ones = torch.ones((feats.shape[0], 1), dtype=torch.float64, device=feats.device)
            xt = torch.cat([feats, ones], 1)
            y = self._coords.repeat(k, 1)
            self.probe_xx[code - 1] += xt.T @ xt
            self.probe_xy[code - 1] += xt.T @ y
            self.probe_yy[code - 1] += y.square().sum(0)

    # ------------------------------------------------------------ equivariance
    def update_equivariance(self, fa: torch.Tensor, fb: torch.Tensor, kh: int, kw: int) -> None:
        """Compare features of two crops: ``fb[i, j]`` should equal ``fa[i + kh, j + kw]`` (shift in output pixels).

        ``fa``, ``fb``: ``(N, C, H', W')`` outputs of the crops ``x[:, :, :S', :S']`` and
        ``x[:, :, dh:dh+S', dw:dw+S']`` with ``dh = kh * stride_h``, ``dw = kw * stride_w``.
        """
        _n, c, h, w = fa.shape
        if fb.shape != fa.shape or kh >= h or kw >= w:
            return
        a = fa[:, :, kh:, kw:].double()
        b = fb[:, :, : h - kh, : w - kw].double()
        ok = torch.isfinite(a).flatten(1).all(1) & torch.isfinite(b).flatten(1).all(1)
        a, b = a[ok], b[ok]
        if a.shape[0] == 0:
            return
        err = (a - b).square().sum(0).reshape(c, -1)  # (C, Ho*Wo)
        dmap = distance_map(h, w, device=fa.device)
        d = torch.minimum(dmap[kh:, kw:], dmap[: h - kh, : w - kw]).reshape(-1)
        d = d.clamp(max=self.equiv_count.numel() - 1).to(self.device)
        self.equiv_err.index_add_(1, d, err.to(self.device))
        self.equiv_count.index_add_(
            0, d, torch.full(d.shape, float(a.shape[0]), dtype=torch.float64, device=self.device)
        )

    # -------------------------------------------------------------- distributed
    def all_reduce(self) -> None:
        """Combine this accumulator across all processes of the default ``torch.distributed`` group (in place)."""
        import torch.distributed as dist

        m = self.moments
        total = m.count.clone()
        dist.all_reduce(total)
        weighted = m.count * m.mean
        dist.all_reduce(weighted)
        gmean = weighted / total.clamp(min=1.0)
        m2 = m.m2 + m.count * (m.mean - gmean).square()
        dist.all_reduce(m2)
        m.count, m.mean, m.m2 = total, gmean, m2
        nf = torch.tensor([float(m.nonfinite)], dtype=torch.float64, device=self.device)
        dist.all_reduce(nf)
        m.nonfinite = int(nf.item())
        for t in (
            self.edge_sum,
            self.edge_images,
            self.hist_band,
            self.hist_interior,
            self.probe_xx,
            self.probe_xy,
            self.probe_yy,
            self.equiv_err,
            self.equiv_count,
        ):
            dist.all_reduce(t)

    def state(self) -> dict[str, Any]:
        """The accumulated tensors (for tests and debugging)."""
        return {
            "count": self.moments.count,
            "mean": self.moments.mean,
            "m2": self.moments.m2,
            "edge_sum": self.edge_sum,
            "hist_band": self.hist_band,
            "hist_interior": self.hist_interior,
            "probe_xx": self.probe_xx,
            "equiv_err": self.equiv_err,
        }


def histogram_range(x: torch.Tensor, bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel histogram ``(lo, width)`` from a calibration batch ``(N, C, H, W)``: finite range widened by 10%."""
    xf = x.detach().float().transpose(0, 1).reshape(x.shape[1], -1)
    finite = torch.isfinite(xf)
    big = torch.tensor(math.inf, device=xf.device)
    lo = torch.where(finite, xf, big).amin(1)
    hi = torch.where(finite, xf, -big).amax(1)
    none = ~torch.isfinite(lo)
    lo = torch.where(none, torch.zeros_like(lo), lo)
    hi = torch.where(none, torch.ones_like(hi), hi)
    span = hi - lo
    span = torch.where(span > 0, span, torch.ones_like(span))
    lo = lo - 0.1 * span
    width = 1.2 * span / bins
    return lo.cpu(), width.cpu()
