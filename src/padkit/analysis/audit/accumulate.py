"""Streaming per-layer accumulators: everything the audit metrics need, in mergeable form.

Every quantity here is either a :class:`~padkit.analysis.audit.moments.RunningMoments` (merged with Chan's
formula; within a process fed by float64 sums of deviations from a fixed per-position shift) or a plain sum
(float64 sums, int64 histogram counts), so batches and processes combine up to rounding and memory does not grow
with the number of images. Each batch is reduced in one chunked pass (moments, Sobel energy and histogram of a
chunk while it is in cache), with scratch buffers from a shared :class:`Workspace`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..._errors import PadkitValueError
from .distributed import all_reduce_moments, all_reduce_sum
from .moments import RunningMoments

__all__ = [
    "Band",
    "GroupSums",
    "ImageRows",
    "LayerAccumulator",
    "Workspace",
    "distance_map",
    "edge_masks",
    "fixed_band",
    "histogram_range",
    "region_masks",
    "side_widths",
]

#: The Sobel kernels ``[-1 0 1; -2 0 2; -1 0 1] / 8`` (and transpose) are applied unscaled; energies are scaled by 1/64.
_SOBEL_SCALE2 = 1.0 / 64.0
#: On the CPU, activations are processed in chunks of whole planes of about this many values (cache-sized, and it
#: bounds the scratch memory).
_CHUNK_ELEMENTS = 1 << 19


class Workspace:
    """Scratch buffers reused across batches and layers, so the per-batch statistics allocate no large tensors.

    ``get(slot, shape, dtype)`` returns an uninitialised tensor backed by the slot's buffer (grown as needed);
    tensors from different slots never overlap, one slot's tensor is invalidated by the next ``get`` of that slot.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[int, torch.device], torch.Tensor] = {}

    def get(
        self, slot: int, shape: tuple[int, ...] | torch.Size, dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor:
        nbytes = math.prod(shape) * dtype.itemsize
        key = (slot, device)
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < nbytes:
            buf = torch.empty(max(nbytes, 1), dtype=torch.uint8, device=device)
            self._buffers[key] = buf
        return buf[:nbytes].view(dtype).view(shape)


def distance_map(*sizes: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Chessboard distance of each position to the nearest edge of a map of shape ``sizes`` (any rank).

    For ``(h, w)``: ``min(i, j, h-1-i, w-1-j)``.

    Returns:
        int64 tensor of shape ``sizes``.
    """
    out: torch.Tensor | None = None
    for a, n in enumerate(sizes):
        i = torch.arange(n, device=device)
        d = torch.minimum(i, n - 1 - i).reshape([n if b == a else 1 for b in range(len(sizes))])
        out = d if out is None else torch.minimum(out, d)
    assert out is not None, "distance_map needs at least one size"
    return out


def fixed_band(*args: int) -> torch.Tensor:
    """``fixed_band(*sizes, width)``: bool mask of shape ``sizes``, True within ``width`` positions of an edge."""
    *sizes, width = args
    return distance_map(*sizes) < width


def side_names(rank: int) -> tuple[str, ...]:
    """The sides of a map of rank 1, 2 or 3, two per axis (before, after): e.g. top, bottom, left, right in 2-D."""
    axes = {1: ("left", "right"), 2: ("top", "bottom", "left", "right")}
    return axes.get(rank, ("front", "back", "top", "bottom", "left", "right")[-2 * rank :])


def side_widths(mask: torch.Tensor) -> tuple[int, ...]:
    """Thickness of a border band on each side, two per axis (in 2-D ``(top, bottom, left, right)``), read along
    the line through the middle of the map."""
    mid = [n // 2 for n in mask.shape]

    def lead(v: list[bool]) -> int:
        n = 0
        for b in v:
            if not b:
                break
            n += 1
        return n

    out: list[int] = []
    for a in range(mask.ndim):
        index = tuple(slice(None) if b == a else mid[b] for b in range(mask.ndim))
        line = mask[index].tolist()
        out += [lead(line), lead(line[::-1])]
    return tuple(out)


@dataclass(frozen=True)
class Band:
    """The border band of one layer's output: ``mask`` (its spatial shape) True on the band, its source and side
    widths."""

    mask: torch.Tensor
    source: str  # "receptive-field" (exact, from padkit.plan) or "fixed"
    widths: tuple[int, ...]  # two per axis, before and after (2-D: top, bottom, left, right)

    @property
    def thickness(self) -> int:
        return max(self.widths)


def _add_sobel_energy(xc: torch.Tensor, energy: torch.Tensor, b0: torch.Tensor, b1: torch.Tensor) -> None:
    """Add the unscaled "valid" Sobel energy ``Gx^2 + Gy^2`` of a contiguous ``(c, H, W)`` block to ``energy``.

    The separable Sobel runs on the flattened block: flat index ``p +- 1`` is the horizontal neighbour and
    ``p +- W`` the vertical one. Outputs whose 3x3 window leaves the map (the outer ring) wrap around: they land on
    the outer ring of ``energy (c, H, W)``, which must be discarded. A "valid" Sobel has no padding of its own, so
    it cannot invent edges. ``b0``, ``b1``: flat scratch buffers of at least ``xc.numel()`` values.
    """
    w = xc.shape[-1]
    f = xc.reshape(-1)
    size = f.numel()
    inner = energy.view(-1)[w + 1 : size - w - 1]
    # horizontal derivative of the vertical [1, 2, 1] smoothing
    v = torch.add(f[: size - 2 * w], f[2 * w :], out=b0[: size - 2 * w])
    v.add_(f[w : size - w], alpha=2)
    gx = torch.sub(v[2:], v[:-2], out=b1[: size - 2 * w - 2])
    inner.addcmul_(gx, gx)
    # vertical derivative, then [1, 2, 1] smoothing along the row
    dv = torch.sub(f[2 * w :], f[: size - 2 * w], out=v)
    gy = torch.add(dv[:-2], dv[2:], out=gx)
    gy.add_(dv[1:-1], alpha=2)
    inner.addcmul_(gy, gy)


def _probe_blocks(feats: torch.Tensor, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The position probe's sums of each image: ``x~ x~^T`` ``(k, P+1, P+1)``, ``x~ y^T`` ``(k, P+1, 2)`` and
    ``y^2`` ``(k, 2)`` from float64 features ``(k, HW, P)`` and coordinates ``(HW, 2)``, ``x~ = (features, 1)``."""
    k, hw, p = feats.shape
    xx = torch.empty((k, p + 1, p + 1), dtype=feats.dtype, device=feats.device)
    xx[:, :p, :p] = feats.transpose(1, 2) @ feats
    fsum = feats.sum(1)
    xx[:, :p, p] = fsum
    xx[:, p, :p] = fsum
    xx[:, p, p] = float(hw)
    xy = torch.empty((k, p + 1, 2), dtype=feats.dtype, device=feats.device)
    xy[:, :p] = feats.transpose(1, 2) @ coords
    xy[:, p] = coords.sum(0)
    yy = coords.square().sum(0).expand(k, 2)
    return xx, xy, yy


def region_masks(band: Band) -> torch.Tensor:
    """The regions whose pooled moments the metrics read, as a bool stack ``(K, *spatial)``: the band, the
    interior, then each side strip of the band (two per axis, before and after, see :func:`side_names`)."""
    mask = band.mask
    spatial = tuple(mask.shape)
    regions = [mask, ~mask]
    for a, n in enumerate(spatial):
        pos = torch.arange(n).reshape([n if b == a else 1 for b in range(len(spatial))])
        before, after = band.widths[2 * a], band.widths[2 * a + 1]
        regions += [(pos < before).expand(spatial) & mask, (pos >= n - after).expand(spatial) & mask]
    return torch.stack(regions)


def edge_masks(band: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel window centres ``(H, W)`` that see the band (3x3 window touching it) and those that do not; the
    outermost ring, where the valid Sobel has no value, is in neither."""
    centre = distance_map(*band.shape, device=band.device) >= 1
    near = F.max_pool2d(band[None, None].double(), 3, stride=1, padding=1)[0, 0] > 0
    return centre & near, centre & ~near


class _NonFinite(Exception):
    """A batch holds a NaN or an infinity: its fast pass was abandoned (and its group histogram counts undone)."""


class ImageRows:
    """One batch's per-image sums for the bootstrap (see :class:`GroupSums`), filled during the statistics pass (the
    histograms are scattered straight into the images' groups)."""

    def __init__(self, sums: GroupSums, groups: torch.Tensor, device: torch.device, dtype: torch.dtype) -> None:
        c = sums.channels
        n = groups.shape[0]
        # (K, plane) and (2, plane): products with them on the left run faster than (plane, K) on the right
        self.regions, self.edge_regions = sums.matrices(device, dtype)
        self.mom = torch.zeros((n, c, self.regions.shape[0], 2), dtype=dtype, device=device)
        self.edge = torch.zeros((n, c, 2), dtype=dtype, device=device)
        self._edge_before = torch.zeros((c, 2), dtype=dtype, device=device)
        self.group_hist = sums.hist  # (G, 2 * C * bins), where this batch's counts go
        self.groups = groups.tolist()
        # each image's offset into the flattened group histograms
        offsets = groups.to(device=device, dtype=torch.int64) * sums.hist.shape[1]
        self.hist_offsets = offsets.reshape(n, *[1] * (sums.rank + 1))

    def finite(self, i0: int, i1: int, c0: int, c1: int) -> bool:
        """Whether the region sums of squares of images ``i0:i1``, channels ``c0:c1`` are finite (a NaN or an
        infinity in the chunk makes them non-finite)."""
        return bool(torch.isfinite(self.mom[i0:i1, c0:c1, :2, 1].sum()))

    def _region_sums(self, d: torch.Tensor) -> torch.Tensor:
        """Sums of ``d (k, cc, *spatial)`` over each region of :func:`region_masks`: ``(k, cc, K)``."""
        k, cc = d.shape[:2]
        return torch.mm(self.regions, d.reshape(k * cc, -1).t()).t().view(k, cc, -1)

    def add_moments(self, i0: int, c0: int, c1: int, d: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor) -> None:
        """Region sums of ``d = x - shift_c`` and ``d^2`` of images ``i0:i0+k``, channels ``c0:c1`` (``d``: ``(k,
        cc, *spatial)``, squared in place), also added to the batch sums ``s1``, ``s2`` of those channels."""
        k = d.shape[0]
        self.mom[i0 : i0 + k, c0:c1, :, 0] = self._region_sums(d)
        s1 += d[0] if k == 1 else d.sum(0)
        d.square_()
        self.mom[i0 : i0 + k, c0:c1, :, 1] = self._region_sums(d)
        s2 += d[0] if k == 1 else d.sum(0)

    def fill_moments(self, xf: torch.Tensor, shift: torch.Tensor) -> None:
        """All images' region sums at once (``xf``: ``(N, C, *spatial)``, every value finite)."""
        n, c = xf.shape[:2]
        y = (xf - shift.reshape(c, *[1] * (xf.ndim - 2))).reshape(n, c, -1)
        self.mom[..., 0] = torch.matmul(self.regions, y.transpose(1, 2)).transpose(1, 2)
        self.mom[..., 1] = torch.matmul(self.regions, y.square_().transpose(1, 2)).transpose(1, 2)

    def add_edges(self, i: int, c0: int, c1: int, energy: torch.Tensor) -> None:
        """Image ``i``'s Sobel energy of channels ``c0:c1``, summed over the two edge regions: the batch's running
        energy ``(cc, H, W)`` (images up to ``i`` added) minus its sums before image ``i``."""
        after = torch.mm(self.edge_regions, energy.reshape(energy.shape[0], -1).t()).t()
        self.edge[i, c0:c1] = after - self._edge_before[c0:c1]
        self._edge_before[c0:c1] = after

    def add_hist(self, i0: int, i1: int, idx: torch.Tensor, sign: int = 1) -> None:
        """Count the histogram indices ``idx (k, cc, *spatial)`` (within one image's ``2 * C * bins``) of images
        ``i0:i1`` into their groups' histograms (``sign=-1`` takes them out again): one ``bincount`` an image where
        an image has at least as many values as bins, else one scatter of the chunk."""
        k = i1 - i0
        if idx[0].numel() >= self.group_hist.shape[1]:
            for i in range(k):
                counts = torch.bincount(idx[i].view(-1), minlength=self.group_hist.shape[1])
                self.group_hist[self.groups[i0 + i]] += counts if sign > 0 else -counts
        else:
            flat = self.group_hist.view(-1)
            at = torch.add(idx, self.hist_offsets[i0:i1])  # int64
            ones = torch.full((1,), sign, dtype=flat.dtype, device=idx.device).expand(at.numel())
            flat.scatter_add_(0, at.view(-1), ones)


class GroupSums:
    """Per-group sufficient statistics of one layer for the bootstrap over images (float64; histograms int32).

    Image ``i`` belongs to group ``i mod G``. Per group and channel: the count, sum and sum of squares of
    ``x - shift_c`` over each region of :func:`region_masks` (``shift_c``: the channel's mean on the first batch),
    the Sobel energy summed over the window centres that see the band and over those that do not, the band and
    interior histograms, and the border and interior equivariance errors; per group, the position probe's
    sufficient statistics of its images. Every metric of :func:`~padkit.analysis.audit.metrics.finalize_layer`
    is a function of sums over images, so a bootstrap replicate is these sums weighted over groups
    (:mod:`~padkit.analysis.audit.bootstrap`). A group is either all fit or all held-out images of the probe
    (``G`` is even, the probe splits by index parity).
    """

    def __init__(self, acc: LayerAccumulator, groups: int) -> None:
        if groups % 2:
            raise PadkitValueError(f"groups={groups}: expected an even number of bootstrap groups")
        c, *spatial = acc.shape
        dev = acc.device
        self.n_groups = groups
        self.channels = c
        self.shift: torch.Tensor | None = None
        regions = region_masks(acc.band)
        self.region_sizes = regions.reshape(regions.shape[0], -1).sum(1).to(torch.float64).to(dev)  # (K,)
        self.region_matrix = regions.reshape(regions.shape[0], -1).to(torch.float64)  # (K, plane)
        if acc.planar:
            eb, ei = edge_masks(acc.band.mask)
            self.edge_matrix = torch.stack([eb, ei]).reshape(2, -1).to(torch.float64) * _SOBEL_SCALE2
        else:
            self.edge_matrix = torch.zeros((2, math.prod(spatial)), dtype=torch.float64)
        self._matrices: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}
        self.thickness = acc.band.thickness
        self.rank = len(spatial)
        k = regions.shape[0]
        self.images = torch.zeros(groups, dtype=torch.float64, device=dev)
        self.moments = torch.zeros((groups, c, k, 2), dtype=torch.float64, device=dev)
        self.edge = torch.zeros((groups, c, 2), dtype=torch.float64, device=dev)
        # int32 counts: a group's count in one bin stays below 2**31 for any realistic stream
        self.hist = torch.zeros((groups, acc._hist.numel()), dtype=torch.int32, device=dev)
        self.equiv = torch.zeros((groups, c, 2), dtype=torch.float64, device=dev)
        self.equiv_n = torch.zeros((groups, 2), dtype=torch.float64, device=dev)
        p = acc.probe_dim
        self.probe_xx = torch.zeros((groups, p + 1, p + 1), dtype=torch.float64, device=dev)
        self.probe_xy = torch.zeros((groups, p + 1, 2), dtype=torch.float64, device=dev)
        self.probe_yy = torch.zeros((groups, 2), dtype=torch.float64, device=dev)
        self._acc = acc

    def matrices(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The region indicator rows ``(K, plane)`` and the (scaled) edge region rows ``(2, plane)`` in ``dtype``."""
        key = (torch.device(device), dtype)
        if key not in self._matrices:
            self._matrices[key] = (
                self.region_matrix.to(device=device, dtype=dtype),
                self.edge_matrix.to(device=device, dtype=dtype),
            )
        return self._matrices[key]

    def calibrate(self, x: torch.Tensor) -> None:
        """Set the per-channel shift from a calibration batch ``(N, C, *spatial)``: its mean over the finite values
        (every process of a distributed audit calibrates on the same batch, so their sums share the shift)."""
        xd = x.detach()
        # (C,): each plane summed in float32 or float64 (pairwise), the planes in float64
        plane_dtype = torch.float64 if xd.dtype == torch.float64 else torch.float32
        total = xd.reshape(xd.shape[0], xd.shape[1], -1).sum(-1, dtype=plane_dtype).sum(0, dtype=torch.float64)
        if bool(torch.isfinite(total).all()):  # every value finite: all of them count
            count = torch.full_like(total, float(xd.numel() // xd.shape[1]))
        else:
            xd = xd.transpose(0, 1).reshape(x.shape[1], -1).to(torch.float64)
            finite = torch.isfinite(xd)
            total = torch.where(finite, xd, torch.zeros_like(xd)).sum(1)
            count = finite.sum(1).clamp(min=1).to(torch.float64)
        # rounded to the activation precision: the per-image sums subtract the rounded value
        shift = (total / count).to(x.dtype if x.is_floating_point() else torch.float32)
        self.shift = shift.to(device=self.images.device, dtype=torch.float64)

    def rows(self, x: torch.Tensor, image_index: torch.Tensor | None) -> ImageRows:
        """Empty per-image rows for a batch ``x`` (in its precision) of the images ``image_index``; their histograms
        are counted into the groups' during the pass."""
        if image_index is None:
            raise PadkitValueError("image_index: expected the images' global indices (per-group sums are kept)")
        return ImageRows(self, self._group(image_index), x.device, x.dtype)

    def _group(self, image_index: torch.Tensor) -> torch.Tensor:
        return (image_index.to(self.images.device).long() % self.n_groups).to(self.images.device)

    def add_rows(self, rows: ImageRows, image_index: torch.Tensor) -> None:
        """Add a batch's per-image rows to the groups of ``image_index (N,)``."""
        g = self._group(image_index)
        dev = self.images.device
        self.images.index_add_(0, g, torch.ones(g.shape, dtype=torch.float64, device=dev))
        self.moments.index_add_(0, g, rows.mom.to(device=dev, dtype=torch.float64))
        self.edge.index_add_(0, g, rows.edge.to(device=dev, dtype=torch.float64))

    def add_probe(self, xx: torch.Tensor, xy: torch.Tensor, yy: torch.Tensor, image_index: torch.Tensor) -> None:
        """Per-image probe sums (:func:`_probe_blocks`) to the groups of ``image_index``."""
        g = self._group(image_index)
        dev = self.images.device
        self.probe_xx.index_add_(0, g, xx.to(dev))
        self.probe_xy.index_add_(0, g, xy.to(dev))
        self.probe_yy.index_add_(0, g, yy.to(dev))

    def add_equivariance(self, err: torch.Tensor, d: torch.Tensor, image_index: torch.Tensor) -> None:
        """Per-image squared errors ``err (k, C, positions)`` at distances ``d (positions,)``, summed over the
        border (``d < thickness``) and the interior, to the images' groups."""
        border = (d < self.thickness).to(err.device)
        split = torch.stack([border, ~border], 1).to(err.dtype)  # (positions, 2)
        g = self._group(image_index)
        dev = self.images.device
        self.equiv.index_add_(0, g, (err @ split).to(dev))
        self.equiv_n.index_add_(0, g, split.sum(0).expand(err.shape[0], 2).to(dev))

    def all_reduce(self) -> None:
        """Sum every group's statistics over the processes of the default ``torch.distributed`` group."""
        all_reduce_sum(
            self.images,
            self.moments,
            self.edge,
            self.hist,
            self.equiv,
            self.equiv_n,
            self.probe_xx,
            self.probe_xy,
            self.probe_yy,
        )


class LayerAccumulator:
    """All streaming statistics of one layer's output ``(N, C, *spatial)`` (spatial rank 1, 2 or 3).

    The Sobel energy, the position probe and the equivariance errors are collected for 2-D maps ``(N, C, H, W)``
    only (``planar``); moments and histograms for any rank.

    Args:
        shape: ``(C, *spatial)`` of one image's activation, e.g. ``(C, H, W)``.
        band: the layer's border band.
        hist_lo: per-channel lower histogram edge ``(C,)``.
        hist_width: per-channel bin width ``(C,)``.
        bins: number of histogram bins.
        proj: ``(C, P)`` projection for the position probe, or ``None`` for the identity.
        device: where the accumulators live.
        groups: number of image groups ``G`` of the bootstrap (image ``i`` belongs to group ``i mod G``); 0 keeps
            no per-group statistics. Per group it keeps the small sums of :class:`GroupSums`.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        band: Band,
        hist_lo: torch.Tensor,
        hist_width: torch.Tensor,
        bins: int,
        proj: torch.Tensor | None,
        device: torch.device,
        groups: int = 0,
    ) -> None:
        c, *spatial = shape
        self.shape = tuple(shape)
        self.planar = len(spatial) == 2
        h, w = spatial if self.planar else (1, 1)  # the probe's coordinates and the Sobel exist in 2-D only
        self.band = band
        self.device = device
        self._moments = RunningMoments(shape, device=device)
        # shifted per-position sums since the last flush: n, sum (x - shift), sum (x - shift)^2 (float64)
        self._shift: torch.Tensor | None = None
        self._n = 0
        self._s1 = torch.zeros(shape, dtype=torch.float64, device=device)
        self._s2 = torch.zeros(shape, dtype=torch.float64, device=device)
        self.edge_sum = torch.zeros(shape if self.planar else (c, 1, 1), dtype=torch.float64, device=device)
        self.edge_images = torch.zeros((), dtype=torch.float64, device=device)
        self.bins = bins
        self.hist_lo = hist_lo.to(device=device, dtype=torch.float32)
        self.hist_width = hist_width.to(device=device, dtype=torch.float32)
        # histogram counts (int64, band then interior); with per-group sums the groups' hold them
        self._hist = torch.zeros(2 * c * bins, dtype=torch.int64, device=device)
        self._band_dev = band.mask.to(device)
        per_channel = (c, *[1] * len(spatial))
        self._hist_lo4 = self.hist_lo.reshape(per_channel)
        self._hist_inv4 = (1.0 / self.hist_width).reshape(per_channel)
        nbins = 2 * c * bins
        idx_dtype = torch.int16 if nbins <= 2**15 else torch.int32 if nbins <= 2**31 else torch.int64
        chan = (torch.arange(c, device=device) * bins).reshape(per_channel)
        offsets = chan + (~self._band_dev).to(torch.int64)[None] * (c * bins)  # (C, *spatial)
        self._hist_offsets = offsets.to(idx_dtype)
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
        nd = (min(h, w) + 1) // 2 if self.planar else 1
        self.equiv_err = torch.zeros((c, nd), dtype=torch.float64, device=device)
        self.equiv_count = torch.zeros(nd, dtype=torch.float64, device=device)
        self.notes: list[str] = []
        self.groups = GroupSums(self, groups) if groups > 0 else None

    # ------------------------------------------------------------------ stream
    def _counts(self) -> torch.Tensor:
        if self.groups is not None:
            return self.groups.hist.sum(0, dtype=torch.int64)
        return self._hist

    def histograms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Band and interior histogram counts ``(C * bins,)`` each (int64) of every image seen so far."""
        counts = self._counts()
        half = counts.numel() // 2
        return counts[:half], counts[half:]

    @property
    def hist_band(self) -> torch.Tensor:
        """Band histogram counts ``(C * bins,)`` (int64) of every image seen so far."""
        return self.histograms()[0]

    @property
    def hist_interior(self) -> torch.Tensor:
        """Interior histogram counts ``(C * bins,)`` (int64) of every image seen so far."""
        return self.histograms()[1]

    @property
    def moments(self) -> RunningMoments:
        """Per-position moments of every value seen so far (pending shifted sums are merged in first)."""
        self._flush()
        return self._moments

    def _flush(self) -> None:
        """Merge the shifted sums of the batches since the last flush into the running moments (Chan's formula)."""
        if self._n == 0 or self._shift is None:
            return
        n = float(self._n)
        mean = self._shift.to(torch.float64) + self._s1 / n
        m2 = (self._s2 - self._s1.square() / n).clamp_(min=0.0)
        self._moments.merge_batch(torch.full_like(mean, n), mean, m2)
        self._n = 0
        self._s1 = torch.zeros_like(self._s1)  # not in place: this may run outside inference mode
        self._s2 = torch.zeros_like(self._s2)

    def update(
        self,
        x: torch.Tensor,
        probe_split: torch.Tensor | None = None,
        workspace: Workspace | None = None,
        image_index: torch.Tensor | None = None,
    ) -> None:
        """Add a batch ``(N, C, H, W)``. ``probe_split (N,)``: 0 = not in the probe, 1 = train, 2 = test.

        ``workspace``: scratch buffers shared between layers (one is made for this call when ``None``).
        ``image_index (N,)``: the images' global indices, which pick their bootstrap groups (needed when the
        accumulator keeps per-group sums).
        """
        if tuple(x.shape[1:]) != self.shape:
            raise PadkitValueError(f"activation shape {tuple(x.shape[1:])} differs from the first batch's {self.shape}")
        xf = x.detach()
        if xf.dtype != torch.float32 and xf.dtype != torch.float64:
            xf = xf.float()
        xf = xf.contiguous()
        ws = Workspace() if workspace is None else workspace
        if self.groups is not None and self.groups.shift is None:
            self.groups.calibrate(xf)
        if self._shift is None or self._shift.dtype != xf.dtype:
            self._flush()
            # the first batch's mean (non-finite entries: 0) is the shift of all later sums; with per-group sums, the
            # groups' per-channel shift (so that one pass serves both)
            if self.groups is not None and self.groups.shift is not None:
                per_channel = (-1, *[1] * (xf.ndim - 2))
                self._shift = self.groups.shift.to(xf.dtype).reshape(per_channel).expand(self.shape).contiguous()
            else:
                self._shift = torch.nan_to_num(xf.sum(0).div_(xf.shape[0]), nan=0.0, posinf=0.0, neginf=0.0)
        # one pass; a batch holding a NaN or an infinity takes the exact slow path instead
        rows = None if self.groups is None else self.groups.rows(xf, image_index)
        try:
            s1, s2, energy, counts = self._batch_sums(xf, ws, moments=True, rows=rows)
            finite = rows is not None or bool(torch.isfinite(s1.sum()))
        except _NonFinite:
            finite = False
        if finite:  # every value finite
            self._n += xf.shape[0]
            self._s1 += s1.to(device=self.device, dtype=torch.float64)
            self._s2 += s2.to(device=self.device, dtype=torch.float64)
        else:  # exact slow path: moments skip the bad values, images holding any leave the other statistics
            self._flush()
            self._moments.update(xf)
            finite_img = torch.isfinite(xf).flatten(1).all(1)
            xf = xf[finite_img].contiguous()
            if probe_split is not None:
                probe_split = probe_split[finite_img.to(probe_split.device)]
            if image_index is not None:
                image_index = image_index[finite_img.to(image_index.device)]
            if xf.shape[0] == 0:
                return
            rows = None if self.groups is None else self.groups.rows(xf, image_index)
            _, _, energy, counts = self._batch_sums(xf, ws, moments=False, rows=rows)
            if rows is not None:  # the moments' rows of the slow path: per-channel shifted sums of finite images
                rows.fill_moments(xf, self.groups.shift.to(xf.dtype))  # type: ignore[union-attr]
        if self.planar:
            self.edge_sum[:, 1:-1, 1:-1] += (
                energy[:, 1:-1, 1:-1].to(device=self.device, dtype=torch.float64).mul_(_SOBEL_SCALE2)
            )
            self.edge_images += xf.shape[0]
        if counts is not None:
            self._hist += counts.to(self.device)
        if rows is not None:
            self.groups.add_rows(rows, image_index)  # type: ignore[union-attr,arg-type]
        if self.planar and probe_split is not None and bool((probe_split > 0).any()):
            self._update_probe(xf, probe_split.to(xf.device), image_index)

    def _batch_sums(
        self, xf: torch.Tensor, ws: Workspace, *, moments: bool, rows: ImageRows | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One pass over a contiguous batch ``(N, C, *spatial)`` in chunks of whole planes (maps of one channel).

        Returns, summed over the batch in the activation's precision: ``sum (x - shift)`` and ``sum (x - shift)^2``
        (``(C, *spatial)``, zero when ``moments`` is False), the unscaled Sobel energy ``(C, H, W)`` (2-D maps only;
        garbage on the outer ring, which has no value) and the histogram counts ``(2 * C * bins,)`` (band, then
        interior).

        ``rows``: when given, the per-image sums of the bootstrap are filled in the same pass, and the histogram
        counts go straight to the images' groups (the counts returned are then ``None``). A chunk whose region sums
        are not finite stops the pass: the counts already scattered are taken out again and :class:`_NonFinite` is
        raised.
        """
        n, c = xf.shape[:2]
        dt, dev = xf.dtype, xf.device
        s1 = ws.get(3, self.shape, dt, dev).zero_()
        s2 = ws.get(4, self.shape, dt, dev).zero_()
        energy = ws.get(5, self.shape if self.planar else (1,), dt, dev).zero_()
        counts = None if rows is not None else torch.zeros(self._hist.numel(), dtype=torch.int64, device=dev)
        shift = self._shift
        # histogram bin position (x - lo) / width as one fused x * inv + (-lo * inv)
        inv = self._hist_inv4.to(dt)
        bias = -self._hist_lo4.to(dt) * inv
        offsets = self._hist_offsets
        plane = math.prod(xf.shape[2:])
        if dev.type != "cpu":  # accelerators: whole batches (few large kernels beat cache-sized chunks)
            chunks = [(0, n, 0, c)]
        elif c * plane >= _CHUNK_ELEMENTS:  # chunks of channels within one image
            step = max(1, _CHUNK_ELEMENTS // plane)
            chunks = [(i, i + 1, a, min(a + step, c)) for i in range(n) for a in range(0, c, step)]
        else:  # chunks of whole images
            step = max(1, _CHUNK_ELEMENTS // (c * plane))
            chunks = [(i, min(i + step, n), 0, c) for i in range(0, n, step)]
        most = max((i1 - i0) * (c1 - c0) for i0, i1, c0, c1 in chunks) * plane
        b0 = ws.get(0, (most,), dt, dev)
        b1 = ws.get(1, (most,), dt, dev)
        bidx = ws.get(6, (most,), offsets.dtype, dev)

        def hist_index(i0: int, i1: int, c0: int, c1: int, xc: torch.Tensor) -> torch.Tensor:
            """Bin index + channel offset + (bins * C) for interior positions."""
            size = xc.numel()
            t = torch.addcmul(bias[c0:c1], xc, inv[c0:c1], out=b0[:size].view(xc.shape)).clamp_(0, self.bins - 1)
            idx = bidx[:size].view(xc.shape)
            idx.copy_(t)  # truncation = floor for t >= 0
            return idx.add_(offsets[c0:c1])

        for j, (i0, i1, c0, c1) in enumerate(chunks):
            xc = xf[i0:i1, c0:c1]  # contiguous (k, cc, H, W)
            shape = xc.shape
            size = xc.numel()
            single = i1 - i0 == 1
            if moments and shift is not None:
                d = torch.sub(xc, shift[c0:c1], out=b0[:size].view(shape))
                if rows is not None:  # the shift is per channel, so d's region sums are the rows'
                    rows.add_moments(i0, c0, c1, d, s1[c0:c1], s2[c0:c1])
                    if not rows.finite(i0, i1, c0, c1):  # before its histogram: NaN has no bin
                        for u0, u1, v0, v1 in chunks[:j]:
                            rows.add_hist(u0, u1, hist_index(u0, u1, v0, v1, xf[u0:u1, v0:v1]), sign=-1)
                        raise _NonFinite
                elif single:
                    s1[c0:c1] += d[0]
                    s2[c0:c1].addcmul_(d[0], d[0])
                else:
                    s1[c0:c1] += d.sum(0)
                    s2[c0:c1] += d.square_().sum(0)
            for k in range(i1 - i0 if self.planar else 0):  # per image: the energy is summed over images
                _add_sobel_energy(xc[k], energy[c0:c1], b0, b1)
                if rows is not None:  # the running energy's region sums after this image, less those before it
                    rows.add_edges(i0 + k, c0, c1, energy[c0:c1])
            idx = hist_index(i0, i1, c0, c1, xc)
            if counts is not None:
                counts += torch.bincount(idx.view(-1), minlength=counts.numel())
            else:  # into the images' groups
                assert rows is not None
                rows.add_hist(i0, i1, idx)
        return s1, s2, energy, counts

    def _update_probe(self, xf: torch.Tensor, split: torch.Tensor, image_index: torch.Tensor | None = None) -> None:
        _n, c, h, w = xf.shape
        proj = None if self.proj is None else self.proj.to(device=xf.device, dtype=xf.dtype)
        for code in (1, 2):
            sel = split == code
            if not bool(sel.any()):
                continue
            k = int(sel.sum())
            feats = xf[sel].permute(0, 2, 3, 1).reshape(-1, c)  # (k*H*W, C), the activation's precision
            if proj is not None:
                feats = feats @ proj  # (k*H*W, P): random projection before the float64 Gram matrix
            feats = feats.to(torch.float64).reshape(k, h * w, -1)
            xx, xy, yy = _probe_blocks(feats, self._coords.to(feats.device))  # per image
            self.probe_xx[code - 1] += xx.sum(0).to(self.device)
            self.probe_xy[code - 1] += xy.sum(0).to(self.device)
            self.probe_yy[code - 1] += yy.sum(0).to(self.device)
            if self.groups is not None and image_index is not None:
                self.groups.add_probe(xx, xy, yy, image_index[sel.to(image_index.device)])

    # ------------------------------------------------------------ equivariance
    def update_equivariance(
        self, fa: torch.Tensor, fb: torch.Tensor, kh: int, kw: int, image_index: torch.Tensor | None = None
    ) -> None:
        """Compare features of two crops: ``fb[i, j]`` should equal ``fa[i + kh, j + kw]`` (shift in output pixels).

        ``fa``, ``fb``: ``(N, C, H', W')`` outputs of the crops ``x[:, :, :S', :S']`` and
        ``x[:, :, dh:dh+S', dw:dw+S']`` with ``dh = kh * stride_h``, ``dw = kw * stride_w``. ``image_index (N,)``:
        the images' global indices (needed when per-group sums are kept).
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
        err_img = (a - b).square_()  # (k, C, Ho, Wo)
        err = err_img.sum(0).reshape(c, -1)  # (C, Ho*Wo)
        dmap = distance_map(h, w, device=fa.device)
        d = torch.minimum(dmap[kh:, kw:], dmap[: h - kh, : w - kw]).reshape(-1)
        d = d.clamp(max=self.equiv_count.numel() - 1).to(self.device)
        if self.groups is not None:
            if image_index is None:
                raise PadkitValueError("image_index: expected the images' global indices (per-group sums are kept)")
            self.groups.add_equivariance(err_img.flatten(2), d, image_index[ok.to(image_index.device)])
        self.equiv_err.index_add_(1, d, err.to(self.device))
        self.equiv_count.index_add_(
            0, d, torch.full(d.shape, float(a.shape[0]), dtype=torch.float64, device=self.device)
        )

    # -------------------------------------------------------------- distributed
    def all_reduce(self) -> None:
        """Combine this accumulator across all processes of the default ``torch.distributed`` group (in place)."""
        all_reduce_moments(self.moments)
        all_reduce_sum(
            self.edge_sum,
            self.edge_images,
            self._hist,
            self.probe_xx,
            self.probe_xy,
            self.probe_yy,
            self.equiv_err,
            self.equiv_count,
        )
        if self.groups is not None:
            self.groups.all_reduce()

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
    """Per-channel histogram ``(lo, width)`` from a calibration batch ``(N, C, *spatial)``: finite range widened
    by 10%."""
    xd = x.detach().float()
    if bool(torch.isfinite(xd.sum())):  # all finite (a NaN or +-Inf anywhere makes the sum non-finite)
        dims = (0, *range(2, xd.ndim))
        lo, hi = xd.amin(dims), xd.amax(dims)
    else:
        xf = xd.transpose(0, 1).reshape(x.shape[1], -1)
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
