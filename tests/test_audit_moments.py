"""Running moments: merged across batches / accumulators equal one-pass float64 values; NaN handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from padkit.analysis.audit import RunningMoments, pool_moments


@given(
    n=st.integers(1, 40),
    cuts=st.lists(st.integers(0, 40), max_size=5),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1e-3, 1.0, 1e4]),
    offset=st.sampled_from([0.0, 1e3]),
)
def test_batches_merge_to_one_pass(n, cuts, seed, scale, offset):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2, 3)) * scale + offset
    bounds = sorted({0, n, *(c for c in cuts if c < n)})
    m = RunningMoments((2, 3))
    for a, b in zip(bounds[:-1], bounds[1:]):
        m.update(torch.from_numpy(x[a:b]).float() if seed % 2 else torch.from_numpy(x[a:b]))
    xs = x if not seed % 2 else x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(m.count.numpy(), n)
    np.testing.assert_allclose(m.mean.numpy(), xs.mean(0), rtol=1e-12, atol=1e-12 * (scale + offset))
    # float32 batches: deviations are formed in float32 (rel. error ~1e-7), accumulated in float64
    rtol = 1e-5 if seed % 2 else 1e-9
    np.testing.assert_allclose(m.variance().numpy(), xs.var(0), rtol=rtol, atol=1e-12 * scale**2)


def test_accumulators_merge_like_processes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4)) * 3 + 7
    parts = [RunningMoments((4,)) for _ in range(3)]
    for k, p in enumerate(parts):
        p.update(torch.from_numpy(x[k::3]))
    total = parts[0]
    total.merge(parts[1])
    total.merge(parts[2])
    np.testing.assert_allclose(total.mean.numpy(), x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(total.variance().numpy(), x.var(0), rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        total.merge(RunningMoments((3,)))


def test_nonfinite_values_are_excluded_and_counted():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((12, 5))
    x[3, 1] = np.nan
    x[7, 1] = np.inf
    x[0, 4] = -np.inf
    m = RunningMoments((5,))
    m.update(torch.from_numpy(x[:6]))
    m.update(torch.from_numpy(x[6:]))
    assert m.nonfinite == 3
    masked = np.where(np.isfinite(x), x, np.nan)
    np.testing.assert_allclose(m.count.numpy(), np.isfinite(x).sum(0))
    np.testing.assert_allclose(m.mean.numpy(), np.nanmean(masked, 0), rtol=1e-12)
    np.testing.assert_allclose(m.variance().numpy(), np.nanvar(masked, 0), rtol=1e-12)


def test_pool_moments_equals_pooled_sample():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 3, 4, 5)) + rng.standard_normal((1, 3, 4, 5))
    m = RunningMoments((3, 4, 5))
    m.update(torch.from_numpy(x))
    mask = torch.from_numpy(rng.random((4, 5)) < 0.4)
    n, mu, var = pool_moments(m.count, m.mean, m.m2, mask)
    sel = x[:, :, mask.numpy()]  # (9, 3, k)
    np.testing.assert_allclose(n.numpy(), sel.shape[0] * sel.shape[2])
    np.testing.assert_allclose(mu.numpy(), sel.transpose(1, 0, 2).reshape(3, -1).mean(1), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), sel.transpose(1, 0, 2).reshape(3, -1).var(1), rtol=1e-12)


@pytest.mark.parametrize("chunk", [1 << 19, 150, 40])  # whole batches, chunks of images, chunks of channels
@pytest.mark.parametrize("poison", [False, True])
def test_layer_accumulator_equals_bruteforce_for_any_chunking(monkeypatch, chunk, poison):
    """Moments, Sobel energy and histograms of the chunked single pass against float64 NumPy/SciPy."""
    from scipy import ndimage

    from padkit.analysis.audit import accumulate

    monkeypatch.setattr(accumulate, "_CHUNK_ELEMENTS", chunk)
    rng = np.random.default_rng(5)
    # a large offset: the moments' error must scale with the spread (3), not with the magnitude (1000)
    x = (rng.standard_normal((7, 5, 9, 11)) * 3 + 1000).astype(np.float32).astype(np.float64)
    if poison:
        x[3, 1, 4, 5] = np.nan  # batch 2 of 3: the moments skip the value, the other statistics the image
    xt = torch.from_numpy(x).float()
    band_mask = accumulate.fixed_band(9, 11, 2)
    lo, width = accumulate.histogram_range(xt[:3], 16)
    acc = accumulate.LayerAccumulator(
        (5, 9, 11), accumulate.Band(band_mask, "fixed", (2,) * 4), lo, width, 16, None, torch.device("cpu")
    )
    ws = accumulate.Workspace()
    for a, b in [(0, 3), (3, 4), (4, 7)]:
        acc.update(xt[a:b], workspace=ws)
    m = acc.moments
    np.testing.assert_array_equal(m.count.numpy(), np.isfinite(x).sum(0))
    np.testing.assert_allclose(m.mean.numpy(), np.nanmean(x, 0), rtol=0, atol=3e-6)
    np.testing.assert_allclose(m.variance().numpy(), np.nanvar(x, 0), rtol=1e-5)
    assert m.nonfinite == int(poison)
    keep = [k for k in range(7) if not (poison and k == 3)]
    assert float(acc.edge_images) == len(keep)
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8.0
    energy = np.stack(
        [
            sum(ndimage.correlate(x[k, c], sx) ** 2 + ndimage.correlate(x[k, c], sx.T) ** 2 for k in keep)
            for c in range(5)
        ]
    )
    # float32 differences of values ~1000 that differ by ~3: relative error ~ 1000 / 3 * 6e-8 (as a float32 conv)
    np.testing.assert_allclose(acc.edge_sum.numpy()[:, 1:-1, 1:-1], energy[:, 1:-1, 1:-1], rtol=1e-4)
    assert not acc.edge_sum[:, 0].any() and not acc.edge_sum[:, :, -1].any()  # the ring has no value
    # histograms: bin floor((x - lo) / width) clipped to [0, bins), per channel, band and interior apart
    bins = np.clip(
        np.floor((x - lo.double().numpy()[None, :, None, None]) / width.double().numpy()[None, :, None, None]), 0, 15
    )
    for hist, where in ((acc.hist_band, band_mask.numpy()), (acc.hist_interior, ~band_mask.numpy())):
        want = np.stack([np.bincount(bins[keep][:, c][:, where].astype(int).ravel(), minlength=16) for c in range(5)])
        got = hist.reshape(5, 16).numpy()
        assert got.sum() == want.sum() and np.abs(got - want).sum() <= 2  # float32 rounding at a bin edge
