"""Bootstrap intervals of the audit metrics, from per-group sums (:class:`~.accumulate.GroupSums`).

The unit that varies is the image. Image ``i`` belongs to group ``i mod G``; every metric is a function of sums over
images, kept per group, so a bootstrap replicate draws ``n`` of the ``n`` non-empty groups with replacement
(multinomial counts ``w_g``), forms the weighted sums ``sum_g w_g S_g`` and recomputes the metric from them. All
replicates are computed at once (tensors with a leading replicate axis ``R``); activations are never kept.

The same weights serve every layer and every mode of one audit, so the difference of a metric between two modes in
one replicate is a paired difference over the same images. A 95% interval is the basic bootstrap interval
(:func:`interval`): the replicates' 2.5th and 97.5th percentiles reflected about the estimate, on the log scale for
positive figures.

Example:
    >>> w = bootstrap_weights(torch.tensor([2.0, 1.0, 0.0, 1.0]), 3, seed=0)
    >>> w.shape, bool((w[:, 2] == 0).all()), w.sum(1).tolist()
    (torch.Size([3, 4]), True, [3.0, 3.0, 3.0])
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from .accumulate import LayerAccumulator, edge_masks
from .metrics import EQUIVARIANCE_FLOOR, PROBE_RIDGE, valid_channels

__all__ = [
    "AT_MOST",
    "BOOTSTRAP_GROUPS",
    "DEFAULT_BOOTSTRAP",
    "LAYER_INTERVALS",
    "POSITIVE",
    "bootstrap_weights",
    "interval",
    "layer_replicates",
    "probe_r2_batch",
    "summary_replicates",
]

#: Default number of bootstrap replicates.
DEFAULT_BOOTSTRAP = 200
#: Default number of image groups ``G`` (image ``i`` is in group ``i mod G``): the per-group sums cost ``G`` times a
#: layer's small statistics (per-channel sums, the histograms and the probe's Gram matrix).
BOOTSTRAP_GROUPS = 32
#: The per-layer figures that get an interval.
LAYER_INTERVALS: tuple[str, ...] = (
    "border_shift",
    "smd_max",
    "var_ratio",
    "wasserstein",
    "false_edge_ratio",
    "equivariance_border",
    "equivariance_interior",
    "equivariance_gap",
    "position_r2",
    "padding_aware_channels",
)
#: The figures that are >= 0 and ratio-like: their intervals are formed on the log scale (:func:`interval`).
POSITIVE = frozenset(LAYER_INTERVALS) - {"position_r2"}
#: The largest value of a figure, where its interval is clipped.
AT_MOST = {"position_r2": 1.0}
#: Replicates of the Wasserstein distance are formed in blocks of about this many histogram bins (float32: 256 KiB),
#: over at most ``_HIST_COLUMNS`` bins of the groups' histograms at a time.
_HIST_BLOCK = 1 << 16
_HIST_COLUMNS = 1 << 12


def bootstrap_weights(images: torch.Tensor, replicates: int, seed: int) -> torch.Tensor:
    """Multinomial weights ``(R, G)`` over the groups holding images: each row draws ``n`` of the ``n`` non-empty
    groups with replacement (empty groups get weight 0). ``images (G,)``: images per group. Seeded with ``seed``.
    """
    groups = images.shape[0]
    nonempty = np.flatnonzero(images.detach().cpu().numpy() > 0)
    out = torch.zeros((replicates, groups), dtype=torch.float64)
    if len(nonempty) == 0 or replicates == 0:
        return out
    rng = np.random.default_rng([int(seed), 0x5EED])
    counts = rng.multinomial(len(nonempty), np.full(len(nonempty), 1.0 / len(nonempty)), size=replicates)
    out[:, torch.as_tensor(nonempty)] = torch.as_tensor(counts, dtype=torch.float64)
    return out


def interval(
    values: np.ndarray | Sequence[float],
    point: float,
    *,
    positive: bool = False,
    at_most: float = math.inf,
    level: float = 0.95,
) -> tuple[float, float]:
    """The basic bootstrap interval of ``point`` from its replicates ``values``: ``[2 t - q_hi, 2 t - q_lo]`` with
    ``q_lo``, ``q_hi`` the replicates' ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (over the finite
    replicates).

    ``positive``: the figure is >= 0 and ratio-like; the interval is then formed on the log scale
    (``[t^2 / q_hi, t^2 / q_lo]``) where the point and every replicate are > 0, else on the raw scale with its lower
    end clipped at 0. ``at_most``: the figure's largest possible value (1 for an R^2), where the upper end is clipped.
    NaNs when ``point`` is not finite or fewer than half the replicates are.

    The basic interval reflects the replicates about the estimate: a figure that an average of absolute values or a
    ratio inflates at small sample sizes (``border_shift``, ``false_edge_ratio``) has replicates inflated once more,
    and the reflection moves the interval back towards the value more images would give (``docs/metrics.md``).
    """
    v = np.asarray(values, dtype=np.float64)
    fin = v[np.isfinite(v)]
    if not math.isfinite(point) or v.size == 0 or fin.size * 2 < v.size:
        return (math.nan, math.nan)
    a = (1.0 - level) / 2 * 100
    q_lo, q_hi = (float(q) for q in np.percentile(fin, [a, 100 - a]))
    if positive and point > 0 and bool((fin > 0).all()):
        lo, hi = point * point / q_hi, point * point / q_lo
    else:
        lo, hi = 2 * point - q_hi, 2 * point - q_lo
        if positive:
            lo, hi = max(lo, 0.0), max(hi, 0.0)
    return (min(lo, at_most), min(hi, at_most))


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """Elementwise :func:`~padkit.analysis.audit.metrics.ratio`: ``0/0 = 1``, ``x/0 = inf`` for ``x > 0``."""
    safe = torch.where(den > 0, den, torch.ones_like(den))
    fallback = torch.where(num <= 0, torch.ones_like(num), torch.full_like(num, math.inf))
    return torch.where(den > 0, num / safe, fallback)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the last axis where ``mask``; NaN where no entry is selected."""
    k = mask.sum(-1)
    total = torch.where(mask, values, torch.zeros_like(values)).sum(-1)
    return torch.where(k > 0, total / k.clamp(min=1), torch.full_like(total, math.nan))


def probe_r2_batch(xx: torch.Tensor, xy: torch.Tensor, yy: torch.Tensor, *, alpha: float = PROBE_RIDGE) -> torch.Tensor:
    """:func:`~padkit.analysis.audit.metrics.probe_r2` for a batch of replicates.

    Args:
        xx: ``(R, 2, P+1, P+1)``, xy: ``(R, 2, P+1, 2)``, yy: ``(R, 2, 2)``: the [fit, held-out] sums of each replicate.

    Returns:
        ``(R,)`` held-out R^2 (NaN where a split is empty or the held-out targets do not vary).
    """
    a, b = xx[:, 0], xy[:, 0]
    n = a[:, -1, -1]
    nt = xx[:, 1, -1, -1]
    p = a.shape[-1] - 1
    safe_n = n.clamp(min=1.0)
    mx = a[:, :-1, -1] / safe_n[:, None]
    my = b[:, -1] / safe_n[:, None]
    nmx = (safe_n[:, None] * mx)[:, :, None]  # (R, P, 1)
    sxx = torch.addcmul(a[:, :-1, :-1], nmx, mx[:, None, :], value=-1.0)  # a - n mx mx^T
    sxy = torch.baddbmm(b[:, :-1], nmx, my[:, None, :], alpha=-1.0)
    diagonal = torch.diagonal(sxx, dim1=1, dim2=2)
    lam = (alpha * diagonal.sum(1) / max(p, 1)).clamp(min=1e-12)
    diagonal.add_(lam[:, None])  # sxx + lam I
    w = torch.linalg.solve(sxx, sxy)  # (R, P, 2)
    b0 = my - (mx[:, None, :] @ w)[:, 0]
    wt = torch.cat([w, b0[:, None]], 1)  # (R, P+1, 2)
    at, bt, yt = xx[:, 1], xy[:, 1], yy[:, 1]
    sse = yt - 2 * (wt * bt).sum(1) + ((at @ wt) * wt).sum(1)
    mean_t = bt[:, -1] / nt.clamp(min=1.0)[:, None]
    sst = yt - nt[:, None] * mean_t.square()
    total = sst.sum(1)
    r2 = 1.0 - sse.sum(1) / torch.where(total > 0, total, torch.ones_like(total))
    bad = (n < 2) | (nt < 1) | (total <= 0)
    return torch.where(bad, torch.full_like(r2, math.nan), r2)


def _wasserstein_gaps(cum: torch.Tensor, w: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
    """``sum_bins |F_band - F_interior|`` of each replicate and channel ``(R, C)`` (float32).

    ``cum (G, C, 2, bins)``: each group's cumulative band and interior histograms; ``w (R, G)``: the replicates'
    group weights; ``inv (R, C, 2)``: one over each replicate's band and interior totals. Blocks of channels and
    replicates are sized to stay in a core's cache (one matrix product and three passes a block).
    """
    g, c, _, bins = cum.shape
    reps = w.shape[0]
    flat = cum.reshape(g, -1)
    gap = torch.empty((reps, c), dtype=torch.float32, device=cum.device)
    cb = max(1, min(c, _HIST_COLUMNS // (2 * bins)))
    rb = max(1, min(reps, _HIST_BLOCK // (cb * 2 * bins)))
    buf = torch.empty(rb * cb * 2 * bins, dtype=torch.float32, device=cum.device)
    dif = torch.empty(rb * cb * bins, dtype=torch.float32, device=cum.device)
    for c0 in range(0, c, cb):
        c1 = min(c0 + cb, c)
        cols = flat[:, c0 * 2 * bins : c1 * 2 * bins]
        for r0 in range(0, reps, rb):
            r1 = min(r0 + rb, reps)
            h = torch.mm(w[r0:r1], cols, out=buf[: (r1 - r0) * (c1 - c0) * 2 * bins].view(r1 - r0, -1))
            h = h.view(r1 - r0, c1 - c0, 2, bins).mul_(inv[r0:r1, c0:c1, :, None])
            d = torch.sub(h[:, :, 0], h[:, :, 1], out=dif[: (r1 - r0) * (c1 - c0) * bins].view(r1 - r0, c1 - c0, bins))
            torch.sum(d.abs_(), -1, out=gap[r0:r1, c0:c1])
    return gap


def layer_replicates(acc: LayerAccumulator, weights: torch.Tensor, *, pa_threshold: float) -> dict[str, np.ndarray]:
    """Every figure of :data:`LAYER_INTERVALS` of one layer for each replicate's group weights ``(R, G)``.

    With weights 1 on every non-empty group this reproduces the point estimates of
    :func:`~padkit.analysis.audit.metrics.finalize_layer` (up to float32 rounding of the per-image sums).
    """
    gs = acc.groups
    assert gs is not None and gs.shift is not None, "layer_replicates needs an accumulator with group sums"
    dev = gs.images.device
    w = weights.to(device=dev, dtype=torch.float64)
    reps = w.shape[0]
    nan = torch.full((reps,), math.nan, dtype=torch.float64, device=dev)
    n_img = w @ gs.images  # (R,)

    # pooled moments per replicate, channel and region: (R, C, K)
    sums = (w @ gs.moments.reshape(gs.n_groups, -1)).reshape(reps, *gs.moments.shape[1:])
    counts = n_img[:, None] * gs.region_sizes[None]  # (R, K)
    inv_k = (1.0 / counts.clamp(min=1.0))[:, None, :]  # (R, 1, K)
    shift = gs.shift.to(dev)[None, :, None]  # (1, C, 1)
    m1 = sums[..., 0] * inv_k  # means of x - shift_c: their differences are the means' differences
    var = (sums[..., 1] * inv_k).sub_(m1.square()).clamp_(min=0.0)  # population variance
    both = sums[..., 0, :] + sums[..., 1, :]  # band and interior: all positions (R, C, 2)
    inv_a = 1.0 / (counts[:, 0] + counts[:, 1]).clamp(min=1.0)[:, None]  # (R, 1)
    m1_a = both[..., 0] * inv_a
    var_a = (both[..., 1] * inv_a).sub_(m1_a.square()).clamp_(min=0.0)  # (R, C)
    mu_a = m1_a.add_(shift[..., 0])
    mu_b, mu_i = m1[..., 0] + shift[..., 0], m1[..., 1] + shift[..., 0]
    var_b, var_i = var[..., 0], var[..., 1]
    has = ((counts[:, 0] > 0) & (counts[:, 1] > 0))[:, None]
    valid = valid_channels(var_a, mu_a) & has  # (R, C)
    out: dict[str, torch.Tensor] = {}

    smd = ((m1[..., 0] - m1[..., 1]) / ((var_b + var_i) / 2).clamp(min=1e-300).sqrt()).abs()
    out["border_shift"] = _masked_mean(smd, valid)
    out["smd_max"] = torch.where(valid.any(1), torch.where(valid, smd, torch.full_like(smd, -math.inf)).amax(1), nan)
    vr_ok = valid & valid_channels(var_b, mu_b) & valid_channels(var_i, mu_i)
    one = torch.ones_like(var_b)
    log_vr = torch.log(torch.where(vr_ok, var_b, one) / torch.where(vr_ok, var_i, one))
    out["var_ratio"] = _masked_mean(log_vr, vr_ok).exp()

    # Wasserstein-1 from the weighted cumulative histograms (cumulation is linear: done once per group), in float32
    # (exact below 2**24 values a bin); a replicate's totals are its last cumulative bins
    c, bins = acc.shape[0], acc.bins
    cum = gs.hist.view(gs.n_groups, 2, c, bins).transpose(1, 2).to(torch.float32).cumsum(-1)  # (G, C, 2, bins)
    w32 = w.to(torch.float32)
    totals = (w32 @ cum[..., -1].reshape(gs.n_groups, -1)).view(reps, c, 2)
    gap = _wasserstein_gaps(cum, w32, 1.0 / totals.clamp(min=1.0))
    scale = acc.hist_width.to(device=dev, dtype=torch.float64) / var_a.sqrt().clamp(min=1e-300)
    ok = valid & (totals[..., 0] > 0) & (totals[..., 1] > 0)
    out["wasserstein"] = _masked_mean(gap.double() * scale, ok) if reps else nan

    # false edges: energy summed over the centres that see the band / those that do not, per channel variance
    if acc.planar:
        eb_mask, ei_mask = edge_masks(acc.band.mask)
        nb, ni = float(eb_mask.sum()), float(ei_mask.sum())
    else:
        nb = ni = 0.0
    if nb > 0 and ni > 0:
        e = (w @ gs.edge.reshape(gs.n_groups, -1)).reshape(reps, -1, 2) / var_a.clamp(min=1e-300)[..., None]
        e = torch.where(valid[..., None], e, torch.zeros_like(e)).sum(1)  # (R, 2)
        fer = _ratio(e[:, 0] / nb, e[:, 1] / ni)
        out["false_edge_ratio"] = torch.where(valid.any(1) & (n_img > 0), fer, nan)
    else:
        out["false_edge_ratio"] = nan

    # equivariance: border / interior relative errors
    en = w @ gs.equiv_n  # (R, 2)
    rel = (w @ gs.equiv.reshape(gs.n_groups, -1)).reshape(reps, -1, 2) / (2 * var_a.clamp(min=1e-300))[..., None]
    rel = _masked_mean(rel.transpose(1, 2), valid[:, None, :].expand(-1, 2, -1))  # (R, 2): mean over valid channels
    eq = torch.where(en > 0, rel / en.clamp(min=1e-300), torch.full_like(rel, math.nan))
    measured = (en.sum(1) > 0) & valid.any(1)
    out["equivariance_border"] = torch.where(measured, eq[:, 0], nan)
    out["equivariance_interior"] = torch.where(measured, eq[:, 1], nan)
    out["equivariance_gap"] = (out["equivariance_border"] + EQUIVARIANCE_FLOOR) / (
        out["equivariance_interior"] + EQUIVARIANCE_FLOOR
    )

    # position probe: even groups hold the fit images, odd groups the held-out ones
    if acc.planar:
        even = torch.zeros(gs.n_groups, dtype=torch.float64, device=dev)
        even[0::2] = 1.0
        split = torch.stack([w * even, w * (1 - even)], 1).reshape(2 * reps, -1)  # (R * 2, G)
        g = gs.n_groups
        xx = (split @ gs.probe_xx.reshape(g, -1)).reshape(reps, 2, *gs.probe_xx.shape[1:])
        xy = (split @ gs.probe_xy.reshape(g, -1)).reshape(reps, 2, *gs.probe_xy.shape[1:])
        yy = (split @ gs.probe_yy).reshape(reps, 2, 2)
        out["position_r2"] = probe_r2_batch(xx, xy, yy)
    else:
        out["position_r2"] = nan

    # padding-aware channels: the side strip with the largest |SMD| against the interior, per channel
    strips = gs.region_sizes[2:] > 0
    if bool(strips.any()):
        sel: slice | torch.Tensor = slice(2, None) if bool(strips.all()) else torch.nonzero(strips).flatten() + 2
        spread = torch.add(var[..., sel], var[..., 1:2]).mul_(0.5).clamp_(min=1e-300).sqrt_()
        side = torch.sub(m1[..., sel], m1[..., 1:2]).div_(spread).abs_()
        aware = valid & (side.amax(-1) >= pa_threshold)
    else:
        aware = torch.zeros_like(valid)
    out["padding_aware_channels"] = aware.sum(1).to(torch.float64)
    return {k: v.detach().cpu().numpy() for k, v in out.items()}


def summary_replicates(layers: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Replicates of the whole-model summary (as :func:`~padkit.analysis.audit.metrics.summarize` forms it) from
    each layer's replicates."""
    from .metrics import pooled_equivariance

    def finite_mean(metric: str) -> np.ndarray:
        v = np.stack([lr[metric] for lr in layers])  # (L, R)
        ok = np.isfinite(v)
        k = ok.sum(0)
        return np.where(k > 0, np.where(ok, v, 0.0).sum(0) / np.maximum(k, 1), np.nan)

    if not layers:
        return {}
    out = {m: finite_mean(m) for m in ("border_shift", "false_edge_ratio", "position_r2")}
    eb = np.stack([lr["equivariance_border"] for lr in layers])
    ei = np.stack([lr["equivariance_interior"] for lr in layers])
    out["equivariance_border"], out["equivariance_interior"], out["equivariance_gap"] = pooled_equivariance(eb, ei)
    out["padding_aware_channels"] = np.stack([lr["padding_aware_channels"] for lr in layers]).sum(0)
    return out
