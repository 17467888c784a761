"""padkit audit's bootstrap: replicates against audits of resampled images, intervals, paired differences, n/a."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from padkit import cli
from padkit.analysis.audit import audit, core
from padkit.analysis.audit.bootstrap import (
    LAYER_INTERVALS,
    bootstrap_weights,
    interval,
    layer_replicates,
    probe_r2_batch,
)
from padkit.analysis.audit.metrics import probe_r2
from padkit.render.audit import render_html, render_table
from test_audit import _oracle


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, stride=2), nn.Conv2d(4, 4, 3, padding=1)
    )


def _audit_with_states(monkeypatch, *args, **kwargs):
    """The report and, per mode, the stream's final state (its accumulators)."""
    states = {}
    original = core._mode_result

    def spy(st, s, istats, weights):
        states[st.label] = st
        return original(st, s, istats, weights)

    monkeypatch.setattr(core, "_mode_result", spy)
    return audit(*args, **kwargs), states


def test_unit_weights_reproduce_every_point_estimate(monkeypatch):
    torch.manual_seed(1)
    x = torch.rand(12, 2, 20, 20)
    kw = dict(modes=["zeros", "reflect"], probe_images=12, equivariance_images=6, pa_threshold=0.3, progress=False)
    rep, states = _audit_with_states(monkeypatch, _net(), x, **kw)
    for label, st in states.items():
        for name, info in st.infos.items():
            ones = (info.acc.groups.images > 0).double()[None]
            reps = layer_replicates(info.acc, ones, pa_threshold=0.3)
            lr = rep.result(label).layer(name)
            for metric in LAYER_INTERVALS:
                assert reps[metric][0] == pytest.approx(getattr(lr, metric), rel=1e-5, abs=1e-9), (label, name, metric)


def test_a_replicate_is_the_audit_of_the_resampled_images(monkeypatch):
    """Weights k_i on images (one image per group) give the metrics of the data set holding image i k_i times."""
    torch.manual_seed(3)
    x = torch.rand(10, 2, 12, 12)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1))
    width = 2
    kw = dict(border=width, probe_images=10, equivariance_images=10, pa_threshold=0.3, progress=False)
    _, states = _audit_with_states(monkeypatch, net, x, **kw)
    acc = states["as-is"].infos["0"].acc
    k = np.array([2, 0, 1, 3, 0, 1, 1, 0, 2, 1])
    weights = torch.zeros((1, acc.groups.n_groups), dtype=torch.float64)
    weights[0, :10] = torch.as_tensor(k, dtype=torch.float64)
    reps = layer_replicates(acc, weights, pa_threshold=0.3)

    x_rep = x[np.repeat(np.arange(10), k)]
    o = _oracle(net, x_rep, width, len(x_rep), len(x_rep), pa_threshold=0.3)
    for metric in ("border_shift", "smd_max", "var_ratio", "false_edge_ratio"):
        assert reps[metric][0] == pytest.approx(o[metric], rel=1e-5), metric
    for metric in ("equivariance_border", "equivariance_interior", "equivariance_gap"):
        assert reps[metric][0] == pytest.approx(o[metric], rel=1e-5, abs=1e-12), metric
    assert reps["wasserstein"][0] == pytest.approx(o["wasserstein"], abs=0.03)  # 64-bin histograms
    assert reps["padding_aware_channels"][0] == len(o["aware"])

    # the probe: even images fit, odd images held out, each counted k_i times
    with torch.no_grad():
        a = net(x).double().numpy()
    n, c, h, w = a.shape
    ys, xs = np.mgrid[0:h, 0:w]
    coords = np.stack([(xs + 0.5) / w * 2 - 1, (ys + 0.5) / h * 2 - 1], -1).reshape(-1, 2)
    feats = a.transpose(0, 2, 3, 1).reshape(n, h * w, c)
    tr = np.repeat(np.arange(0, n, 2), k[0::2])
    te = np.repeat(np.arange(1, n, 2), k[1::2])
    xtr, ytr = feats[tr].reshape(-1, c), np.tile(coords, (len(tr), 1))
    xte, yte = feats[te].reshape(-1, c), np.tile(coords, (len(te), 1))
    mu = xtr.mean(0)
    sxx = (xtr - mu).T @ (xtr - mu)
    wgt = np.linalg.solve(sxx + 1e-3 * np.trace(sxx) / c * np.eye(c), (xtr - mu).T @ (ytr - ytr.mean(0)))
    pred = (xte - mu) @ wgt + ytr.mean(0)
    r2 = 1 - ((yte - pred) ** 2).sum() / ((yte - yte.mean(0)) ** 2).sum()
    assert reps["position_r2"][0] == pytest.approx(r2, rel=1e-6, abs=1e-9)


def test_probe_r2_batch_equals_probe_r2():
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(4):
        f = torch.randn(2, 50, 5, generator=gen, dtype=torch.float64)
        y = torch.randn(2, 50, 2, generator=gen, dtype=torch.float64) + f[..., :2]
        ft = torch.cat([f, torch.ones(2, 50, 1, dtype=torch.float64)], 2)
        batches.append((ft.transpose(1, 2) @ ft, ft.transpose(1, 2) @ y, y.square().sum(1)))
    xx, xy, yy = (torch.stack(t) for t in zip(*batches))
    got = probe_r2_batch(xx, xy, yy)
    for r, (a, b, c) in enumerate(batches):
        assert float(got[r]) == pytest.approx(probe_r2(a, b, c), rel=1e-10)


def test_weights_draw_every_nonempty_group_n_times():
    images = torch.tensor([3.0, 0.0, 2.0, 2.0, 0.0, 1.0])
    w = bootstrap_weights(images, 500, seed=7)
    assert w.shape == (500, 6) and bool((w[:, [1, 4]] == 0).all())
    assert torch.equal(w.sum(1), torch.full((500,), 4.0, dtype=torch.float64))
    assert w[:, [0, 2, 3, 5]].mean(0).tolist() == pytest.approx([1.0] * 4, abs=0.15)
    assert torch.equal(w, bootstrap_weights(images, 500, seed=7))
    assert not torch.equal(w, bootstrap_weights(images, 500, seed=8))


def test_interval_is_the_basic_bootstrap_interval():
    v = np.arange(1001, dtype=float) / 1000 + 0.5  # replicates 0.5 .. 1.5: percentiles 0.525 and 1.475
    assert interval(v, 1.0) == pytest.approx((0.525, 1.475))  # 2 t - q_hi, 2 t - q_lo
    assert interval(v, 1.2) == pytest.approx((2.4 - 1.475, 2.4 - 0.525))
    assert interval(np.r_[v, [np.nan] * 10], 1.0) == pytest.approx((0.525, 1.475))  # NaN replicates are left out
    assert interval(v, 1.2, positive=True) == pytest.approx((1.44 / 1.475, 1.44 / 0.525))  # log scale
    # a positive figure with a zero replicate: raw scale, clipped at 0
    assert interval(np.r_[0.0, v], 0.2, positive=True)[0] == 0.0
    assert interval(v, 1.2, at_most=1.0)[1] == 1.0
    assert all(math.isnan(b) for b in interval([np.nan, np.nan, 1.0], 1.0))
    assert all(math.isnan(b) for b in interval(v, math.nan))


def test_intervals_are_seeded_and_bracket_the_estimates():
    torch.manual_seed(2)
    x = torch.rand(16, 2, 16, 16)
    kw = dict(probe_images=16, equivariance_images=4, progress=False)
    a = audit(_net(), x, seed=1, **kw)
    b = audit(_net(), x, seed=1, **kw)
    c = audit(_net(), x, seed=2, **kw)
    assert a.to_json() == b.to_json()
    assert a.results[0].summary.ci != c.results[0].summary.ci
    s = a.results[0].summary
    assert a.bootstrap == {"replicates": 200, "groups": 16, "seed": 1, "level": 0.95}
    for metric in ("border_shift", "false_edge_ratio", "position_r2", "equivariance_gap"):
        lo, hi = s.ci[metric]
        assert lo <= hi and lo <= s.value(metric) * 1.1 + 1e-9 and s.value(metric) <= hi * 1.1 + 1e-9, metric
    d = json.loads(a.to_json())["results"]["as-is"]
    assert set(d["summary"]["ci"]) >= {"border_shift", "equivariance_gap", "padding_aware_channels"}
    assert set(d["layers"]["0"]["ci"]) == set(LAYER_INTERVALS)
    off = audit(_net(), x, bootstrap=0, **kw)
    assert off.bootstrap == {} and off.results[0].summary.ci == {}
    assert "ci" not in json.loads(off.to_json())["results"]["as-is"]["summary"]
    # point estimates do not depend on the bootstrap
    for metric in ("border_shift", "false_edge_ratio", "position_r2", "equivariance_gap"):
        assert off.results[0].summary.value(metric) == pytest.approx(s.value(metric), rel=1e-7)


def test_paired_differences_against_zeros():
    torch.manual_seed(4)
    x = torch.rand(16, 2, 16, 16) + 1.0  # not centred: zero padding is a dark frame, reflect is not
    rep = audit(_net(), x, modes=["reflect", "zeros"], probe_images=16, equivariance_images=4, progress=False)
    zeros, reflect = rep.result("zeros"), rep.result("reflect")
    assert zeros.baseline is None and zeros.differences == ()
    assert reflect.baseline == "zeros"
    d = reflect.difference("border_shift")
    assert d.value == pytest.approx(reflect.summary.border_shift - zeros.summary.border_shift)
    assert d.ci[1] < 0 and d.excludes_zero
    j = json.loads(rep.to_json())["results"]["reflect"]["differences"]
    assert j["baseline"] == "zeros" and j["border_shift"]["excludes_zero"] is True
    text = render_table(rep)
    assert "reflect − zeros: border_shift" in text and "*" in text
    assert "reflect − zeros" in render_html(rep)


def test_a_model_that_does_not_pad_is_not_applicable():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Conv2d(3, 3, 3))
    rep = audit(net, torch.rand(6, 2, 20, 20), progress=False)
    s = rep.results[0].summary
    assert s.note is not None and "no layer of the model pads" in s.note
    assert math.isnan(s.border_shift) and s.padding_aware_channels is None
    assert all(math.isnan(v[0]) for v in s.ci.values())
    d = json.loads(rep.to_json())["results"]["as-is"]["summary"]
    assert d["border_shift"] is None and "no layer of the model pads" in d["note"]
    assert "[as-is] n/a: no layer of the model pads" in render_table(rep)


def test_a_mode_that_changes_no_layer_is_not_applicable():
    torch.manual_seed(0)
    net = nn.Sequential(nn.ConvTranspose2d(2, 3, 3, padding=1))  # partial padding skips transposed convs
    rep = audit(net, torch.rand(6, 2, 16, 16), modes=["zeros", "partial"], progress=False)
    assert rep.result("zeros").summary.note is None
    part = rep.result("partial")
    assert "changes no layer" in str(part.summary.note) and math.isnan(part.summary.border_shift)
    assert all(math.isnan(d.value) and not d.excludes_zero for d in part.differences)


def test_a_model_padding_without_zeros_says_so():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"))
    rep = audit(net, torch.rand(6, 2, 16, 16), progress=False)
    assert rep.results[0].summary.note is None and math.isfinite(rep.results[0].summary.border_shift)
    assert any("no layer pads with zeros" in w and "reflect" in w for w in rep.results[0].warnings)


def test_cli_gate_upper_fails_where_the_point_passes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["torchvision:resnet18", "--images", "8", "--input-size", "32", "--probe-images", "8"]
    args += ["--equivariance-images", "2", "--no-progress", "--bootstrap", "50", "--json", "r.json"]
    assert cli.main(["audit", *args]) == cli.EXIT_OK
    s = json.loads((tmp_path / "r.json").read_text())["results"]["as-is"]["summary"]
    point, upper = s["border_shift"], s["ci"]["border_shift"][1]
    assert point < upper
    threshold = f"border_shift={(point + upper) / 2}"
    assert cli.main(["audit", *args, "--fail-above", threshold]) == cli.EXIT_OK
    assert cli.main(["audit", *args, "--fail-above", threshold, "--gate", "upper"]) == cli.EXIT_FAIL
    with pytest.raises(SystemExit):
        cli.main(["audit", *args, "--gate", "lower"])
    assert cli.main(["audit", *args[:-2], "--bootstrap", "0", "--gate", "upper"]) != cli.EXIT_OK


def test_cli_default_replicates_are_the_library_default():
    from padkit.analysis.audit.bootstrap import DEFAULT_BOOTSTRAP
    from padkit.commands import audit as command

    assert command.DEFAULT_BOOTSTRAP == DEFAULT_BOOTSTRAP


def test_one_image_has_no_intervals():
    rep = audit(_net(), torch.rand(1, 2, 16, 16), progress=False)
    assert rep.bootstrap == {} and rep.results[0].summary.ci == {}
    assert any("no intervals" in w for w in rep.warnings)


# chunks within an image (per-image counts); one chunk of all images (counts scattered); chunks within an image
# with fewer values than bins (counts scattered)
@pytest.mark.parametrize("channels, side", [(48, 128), (512, 7), (21000, 5)])
def test_a_nonfinite_chunk_leaves_its_batch_out_of_the_groups(channels, side):
    """A NaN in a late chunk of a batch: the counts its earlier chunks put in the groups are taken out again, and
    the batch's finite images count exactly as a batch without the bad image would."""
    from padkit.analysis.audit import accumulate

    torch.manual_seed(0)
    x = torch.randn(4, channels, side, side)
    band = accumulate.fixed_band(side, side, 2)
    lo, width = accumulate.histogram_range(x, 16)

    def fed(batch, index):
        acc = accumulate.LayerAccumulator(
            (channels, side, side),
            accumulate.Band(band, "fixed", (2,) * 4),
            lo,
            width,
            16,
            torch.randn(channels, 4),  # the probe's projection (its Gram matrices stay small)
            torch.device("cpu"),
            groups=4,
        )
        acc.update(x[:1], image_index=torch.tensor([0]))  # calibration: the shift of every later sum
        acc.update(batch, image_index=index)
        return acc

    bad = x.clone()
    bad[3, -1, -1, -1] = float("nan")  # the last chunk of the batch
    got, want = fed(bad, torch.arange(4)), fed(x[:3], torch.arange(3))
    assert torch.equal(got.groups.hist, want.groups.hist)
    assert torch.equal(got.hist_band, want.hist_band) and torch.equal(got.hist_interior, want.hist_interior)
    np.testing.assert_allclose(got.groups.moments.numpy(), want.groups.moments.numpy(), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(got.groups.edge.numpy(), want.groups.edge.numpy(), rtol=1e-5)
    assert got.groups.images.tolist() == [2.0, 1.0, 1.0, 0.0]
