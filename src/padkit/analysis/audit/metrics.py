"""From accumulated statistics to the audit metrics (formulas in ``docs/metrics.md``).

All functions here are pure: they read a :class:`~padkit.analysis.audit.accumulate.LayerAccumulator` and return
numbers. ``B`` is the border band, ``I`` the interior, ``A`` all positions; per channel ``c``, ``mu_S,c`` and
``var_S,c`` are the mean and population variance of all activation values at the positions of ``S`` over all images.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .accumulate import LayerAccumulator, distance_map, edge_masks, side_names
from .moments import RunningMoments, pool_moments
from .report import METRICS, InputStats, LayerResult, PaddingAwareChannel, Summary

__all__ = [
    "CENTRED_Z",
    "EQUIVARIANCE_FLOOR",
    "PLANAR_ONLY",
    "PROBE_RIDGE",
    "finalize_layer",
    "input_stats",
    "pooled_equivariance",
    "probe_r2",
    "ratio",
    "summarize",
    "valid_channels",
]

#: Relative equivariance errors are floored by this before taking the border/interior ratio (1% of the variance).
EQUIVARIANCE_FLOOR = 0.01
#: Ridge strength of the position probe, relative to the mean feature variance.
PROBE_RIDGE = 1e-3
#: The input is centred when a padded 0 sits within this many stds of the mean of the image border, per channel.
CENTRED_Z = 0.5
#: Why the metrics of 2-D maps are left out (None) for 1-D and 3-D outputs.
PLANAR_ONLY = (
    "false edges, equivariance and the position probe are defined for 2-D maps: not applicable to {rank}-D outputs"
)


def ratio(num: float, den: float) -> float:
    """``num / den`` with ``0/0 = 1`` (no excess) and ``x/0 = inf`` for ``x > 0``."""
    if den > 0:
        return num / den
    return 1.0 if num <= 0 else math.inf


def probe_r2(xx: torch.Tensor, xy: torch.Tensor, yy: torch.Tensor, *, alpha: float = PROBE_RIDGE) -> float:
    """Held-out R^2 of a closed-form ridge regression from sufficient statistics.

    Args:
        xx: ``(2, P+1, P+1)`` sums of ``x~ x~^T`` for [train, test], ``x~ = (features, 1)``.
        xy: ``(2, P+1, 2)`` sums of ``x~ y^T`` (targets ``y = (x, y)`` position).
        yy: ``(2, 2)`` sums of ``y^2``.
        alpha: ridge strength relative to the mean centred feature variance; the intercept is not penalised.

    Returns:
        ``1 - SSE_test / SST_test`` summed over both targets, NaN when either split is empty.
    """
    a, b = xx[0], xy[0]
    n = float(a[-1, -1])
    nt = float(xx[1, -1, -1])
    if n < 2 or nt < 1:
        return math.nan
    p = a.shape[0] - 1
    mx = a[:-1, -1] / n
    my = b[-1] / n
    sxx = a[:-1, :-1] - n * torch.outer(mx, mx)
    sxy = b[:-1] - n * torch.outer(mx, my)
    lam = alpha * float(torch.trace(sxx)) / max(p, 1)
    lam = max(lam, 1e-12)
    w = torch.linalg.solve(sxx + lam * torch.eye(p, dtype=sxx.dtype, device=sxx.device), sxy)  # (P, 2)
    b0 = my - mx @ w
    wt = torch.cat([w, b0[None]], 0)  # (P+1, 2)
    at, bt, yt = xx[1], xy[1], yy[1]
    sse = yt - 2 * (wt * bt).sum(0) + ((at @ wt) * wt).sum(0)
    mean_t = bt[-1] / nt
    sst = yt - nt * mean_t.square()
    total = float(sst.sum())
    if total <= 0:
        return math.nan
    return 1.0 - float(sse.sum()) / total


def valid_channels(var: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Channels whose variance is not numerically zero (std > 1e-6 |mean| and > 1e-30)."""
    return var > torch.clamp((1e-6 * mean.abs()).square(), min=1e-30)


def finalize_layer(
    name: str, kind: str, stride: tuple[int, ...], acc: LayerAccumulator, *, pa_threshold: float
) -> LayerResult:
    """Compute every metric of one layer from its accumulator (for 1-D and 3-D outputs the metrics of 2-D maps are
    NaN, with a note: see :data:`PLANAR_ONLY`)."""
    c, *spatial = acc.shape
    rank = len(spatial)
    m = acc.moments
    band = acc.band.mask.to(m.count.device)
    interior = ~band
    n_b, mu_b, var_b = pool_moments(m.count, m.mean, m.m2, band)
    n_i, mu_i, var_i = pool_moments(m.count, m.mean, m.m2, interior)
    _n_a, mu_a, var_a = pool_moments(m.count, m.mean, m.m2, torch.ones_like(band))
    notes: list[str] = list(acc.notes)
    has = (n_b > 0) & (n_i > 0)
    valid = valid_channels(var_a, mu_a) & has
    n_valid = int(valid.sum())
    nan = math.nan
    if n_valid < c:
        notes.append(f"{c - n_valid} of {c} channels constant or empty: left out of the channel averages")
    if m.nonfinite:
        notes.append(f"{m.nonfinite} non-finite activation values (NaN/Inf) excluded")

    # 1. distribution shift
    pooled = ((var_b + var_i) / 2).clamp(min=1e-300)
    smd = (mu_b - mu_i) / pooled.sqrt()
    border_shift = float(smd[valid].abs().mean()) if n_valid else nan
    smd_max = float(smd[valid].abs().max()) if n_valid else nan
    vr_ok = valid & valid_channels(var_b, mu_b) & valid_channels(var_i, mu_i)
    var_ratio = float(torch.log(var_b[vr_ok] / var_i[vr_ok]).mean().exp()) if bool(vr_ok.any()) else nan
    band_counts, interior_counts = acc.histograms()
    hb = band_counts.reshape(c, -1).double()
    hi = interior_counts.reshape(c, -1).double()
    hb_n, hi_n = hb.sum(1, keepdim=True), hi.sum(1, keepdim=True)
    w_ok = valid & (hb_n[:, 0] > 0).to(valid.device) & (hi_n[:, 0] > 0).to(valid.device)
    if bool(w_ok.any()):
        cdf_gap = (hb.cumsum(1) / hb_n.clamp(min=1) - hi.cumsum(1) / hi_n.clamp(min=1)).abs().sum(1)
        w1 = cdf_gap * acc.hist_width.double().to(cdf_gap.device) / var_a.sqrt().to(cdf_gap.device)
        wasserstein = float(w1[w_ok.to(w1.device)].mean())
    else:
        wasserstein = nan

    if not acc.planar:
        notes.append(PLANAR_ONLY.format(rank=rank))
    # 2. false edges: channel-normalised Sobel energy at window centres that see the band vs those that do not
    sd_a = var_a.clamp(min=1e-300)
    dmap = distance_map(*spatial, device=band.device)
    if acc.planar:  # the valid Sobel has no value on the outermost ring
        e_band_mask, e_int_mask = edge_masks(band)
    edge_profile: tuple[float, ...]
    if not acc.planar:
        false_edge_ratio, edge_profile = nan, ()
    elif float(acc.edge_images) > 0 and n_valid and bool(e_band_mask.any()) and bool(e_int_mask.any()):
        e = acc.edge_sum[valid] / sd_a[valid][:, None, None] / float(acc.edge_images)  # (Cv, H, W)
        e_pos = e.mean(0)  # (H, W)
        e_band = float(e_pos[e_band_mask].mean())
        e_int = float(e_pos[e_int_mask].mean())
        false_edge_ratio = ratio(e_band, e_int)
        nd = int(dmap.max()) + 1
        ring_e = (
            torch.zeros(nd, dtype=torch.float64, device=e_pos.device).index_add_(0, dmap.reshape(-1), e_pos.reshape(-1))
            / torch.bincount(dmap.reshape(-1), minlength=nd).double()
        )
        edge_profile = tuple(ratio(float(v), e_int) for v in ring_e[1:])
    else:
        false_edge_ratio = nan
        edge_profile = ()
        if n_valid:
            notes.append("false edges: no Sobel centre on the band or none in the interior")

    # shift profile by distance ring, and heat maps
    mean_map: np.ndarray | None
    std_map: np.ndarray | None
    if n_valid:
        sd = var_a[valid].sqrt()
        per_channel = (-1, *[1] * rank)
        zmean = (m.mean[valid] - mu_i[valid].reshape(per_channel)) / sd.reshape(per_channel)  # (Cv, *spatial)
        nd = int(dmap.max()) + 1
        ring_sum = torch.zeros((n_valid, nd), dtype=torch.float64, device=zmean.device)
        ring_sum.index_add_(1, dmap.reshape(-1), zmean.reshape(n_valid, -1))
        ring_mean = ring_sum / torch.bincount(dmap.reshape(-1), minlength=nd).double()
        shift_profile = tuple(float(v) for v in ring_mean.abs().mean(0))
        if acc.planar:
            mean_map = ((m.mean[valid] - mu_a[valid][:, None, None]) / sd[:, None, None]).mean(0).cpu().numpy()
            std_map = (m.variance()[valid].sqrt() / sd[:, None, None]).mean(0).cpu().numpy()
        else:
            mean_map = std_map = None
    else:
        shift_profile = ()
        mean_map = std_map = None

    # 3a. equivariance: relative error by distance, border (d < thickness) vs interior
    if float(acc.equiv_count.sum()) > 0 and n_valid:
        rel = (acc.equiv_err[valid] / (2 * sd_a[valid][:, None])).mean(0)  # (D,) summed over positions
        cnt = acc.equiv_count
        curve = tuple(float(r / k) if k > 0 else nan for r, k in zip(rel.tolist(), cnt.tolist()))
        t = acc.band.thickness
        bsum, bcnt = float(rel[:t].sum()), float(cnt[:t].sum())
        isum, icnt = float(rel[t:].sum()), float(cnt[t:].sum())
        eq_b = bsum / bcnt if bcnt > 0 else nan
        eq_i = isum / icnt if icnt > 0 else nan
        if math.isnan(eq_b) or math.isnan(eq_i):
            eq_gap = nan
            notes.append("equivariance: no border or no interior positions in the crop overlap")
        else:
            eq_gap = (eq_b + EQUIVARIANCE_FLOOR) / (eq_i + EQUIVARIANCE_FLOOR)
    else:
        curve, eq_b, eq_i, eq_gap = (), nan, nan, nan

    # 3b. position probe
    r2 = probe_r2(acc.probe_xx, acc.probe_xy, acc.probe_yy) if acc.planar else nan

    # 4. padding-aware channels: per side strip vs interior (two sides per axis)
    strips = []
    for a, n in enumerate(spatial):
        pos = torch.arange(n, device=band.device).reshape([n if b == a else 1 for b in range(rank)])
        before, after = acc.band.widths[2 * a], acc.band.widths[2 * a + 1]
        strips += [(pos < before).expand(spatial), (pos >= n - after).expand(spatial)]
    sides_named = side_names(rank)
    side_smd = []
    for strip in strips:
        s = strip & band
        if not bool(s.any()):
            side_smd.append(torch.zeros(c, dtype=torch.float64, device=mu_i.device))
            continue
        _, mu_s, var_s = pool_moments(m.count, m.mean, m.m2, s)
        side_smd.append((mu_s - mu_i) / ((var_s + var_i) / 2).clamp(min=1e-300).sqrt())
    sides = torch.stack(side_smd, 1)  # (C, 2 * rank)
    best = sides.abs().argmax(1)
    best_val = sides.gather(1, best[:, None])[:, 0]
    aware_idx = torch.nonzero(valid & (best_val.abs() >= pa_threshold)).flatten().tolist()
    aware = sorted(
        (PaddingAwareChannel(int(k), sides_named[int(best[k])], float(best_val[k])) for k in aware_idx),
        key=lambda p: -abs(p.smd),
    )

    return LayerResult(
        name=name,
        kind=kind,
        shape=tuple(acc.shape),
        stride=stride,
        band_source=acc.band.source,
        band_widths=acc.band.widths,
        n_border=int(band.sum()),
        n_interior=int(interior.sum()),
        values=int(m.count.sum()),
        nonfinite=int(m.nonfinite),
        border_shift=border_shift,
        smd_max=smd_max,
        var_ratio=var_ratio,
        wasserstein=wasserstein,
        false_edge_ratio=false_edge_ratio,
        equivariance_gap=eq_gap,
        equivariance_border=eq_b,
        equivariance_interior=eq_i,
        equivariance_curve=curve,
        position_r2=r2,
        padding_aware=tuple(aware),
        shift_profile=shift_profile,
        edge_profile=edge_profile,
        notes=tuple(notes),
        mean_map=None if mean_map is None else np.asarray(mean_map, dtype=np.float64),
        std_map=None if std_map is None else np.asarray(std_map, dtype=np.float64),
    )


def pooled_equivariance(border: np.ndarray, interior: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole-model equivariance from per-layer errors ``(L, ...)``: the mean border and interior errors over the
    layers where both are finite, and their floored ratio ``(mean border + floor) / (mean interior + floor)``."""
    b = np.asarray(border, dtype=np.float64)
    i = np.asarray(interior, dtype=np.float64)
    ok = np.isfinite(b) & np.isfinite(i)
    k = ok.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mb = np.where(k > 0, np.where(ok, b, 0.0).sum(0) / np.maximum(k, 1), np.nan)
        mi = np.where(k > 0, np.where(ok, i, 0.0).sum(0) / np.maximum(k, 1), np.nan)
    return mb, mi, (mb + EQUIVARIANCE_FLOOR) / (mi + EQUIVARIANCE_FLOOR)


def summarize(layers: tuple[LayerResult, ...], *, note: str | None = None) -> Summary:
    """Whole-model summary: the mean of each metric over the layers where it is finite; counts are totals.

    ``equivariance_gap`` is the floored ratio of the mean border error to the mean interior error
    (:func:`pooled_equivariance`), not the mean of the per-layer ratios. ``note``: why the summary is not
    applicable (its figures are then NaN, reported as n/a).
    """
    values: dict[str, float] = {}
    worst: dict[str, str] = {}
    for metric in METRICS:
        if metric == "padding_aware_channels":
            values[metric] = float(sum(lr.padding_aware_channels for lr in layers))
            per = [(float(lr.padding_aware_channels), lr.name) for lr in layers]
        else:
            per = [(float(getattr(lr, metric)), lr.name) for lr in layers]
            per = [(v, n) for v, n in per if math.isfinite(v)]
            values[metric] = float(np.mean([v for v, _ in per])) if per else math.nan
        if per:
            worst[metric] = max(per, key=lambda t: t[0])[1]
    eb, ei, gap = pooled_equivariance(
        np.array([lr.equivariance_border for lr in layers]), np.array([lr.equivariance_interior for lr in layers])
    )
    values["equivariance_gap"] = float(gap)
    equiv = (float(eb), float(ei))
    if note is not None:
        values = {k: math.nan for k in values}
        equiv = (math.nan, math.nan)
    return Summary(
        border_shift=values["border_shift"],
        false_edge_ratio=values["false_edge_ratio"],
        equivariance_gap=values["equivariance_gap"],
        position_r2=values["position_r2"],
        padding_aware_channels=None if note is not None else int(values["padding_aware_channels"]),
        worst={} if note is not None else worst,
        equivariance_border=equiv[0],
        equivariance_interior=equiv[1],
        note=note,
    )


def input_stats(m: RunningMoments) -> InputStats:
    """Statistics of the input's outermost pixel ring from its moments ``(C, ring positions)``."""
    _, mu, var = pool_moments(m.count, m.mean, m.m2, torch.ones(m.shape[1:], dtype=torch.bool, device=m.count.device))
    sd = var.sqrt()
    z = torch.where(sd > 0, -mu / sd.clamp(min=1e-300), torch.where(mu == 0, 0.0, -math.inf * torch.sign(mu)))
    zl = [float(v) for v in z]
    return InputStats(
        border_mean=tuple(float(v) for v in mu),
        border_std=tuple(float(v) for v in sd),
        zero_z=tuple(zl),
        centred=all(abs(v) <= CENTRED_Z for v in zl),
        nonfinite=m.nonfinite,
    )
