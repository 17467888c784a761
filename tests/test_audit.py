"""padkit audit: every metric against a brute-force NumPy/SciPy oracle or a hand-computed answer."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from scipy import ndimage, stats
from torch import nn

from padkit import PadkitError, PadkitTypeError
from padkit.analysis.audit import METRICS, audit
from padkit.data import SyntheticImages


def _dist(h, w):
    i, j = np.mgrid[0:h, 0:w]
    return np.minimum(np.minimum(i, h - 1 - i), np.minimum(j, w - 1 - j))


def _conv_net(cin=2, cout=3, seed=0, padding_mode="zeros"):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, padding_mode=padding_mode))


def _oracle(net, x, width, probe_images, eq_images, pa_threshold=1.0):
    """Brute force, from the raw activations, of every metric of a single stride-1 layer with a fixed band."""
    with torch.no_grad():
        a = net(x).double().numpy()
    n, c, h, w = a.shape
    d = _dist(h, w)
    band, interior = d < width, d >= width
    allv = a.transpose(1, 0, 2, 3).reshape(c, -1)
    vb = a[:, :, band].transpose(1, 0, 2).reshape(c, -1)
    vi = a[:, :, interior].transpose(1, 0, 2).reshape(c, -1)
    smd = (vb.mean(1) - vi.mean(1)) / np.sqrt((vb.var(1) + vi.var(1)) / 2)
    out = {
        "border_shift": np.abs(smd).mean(),
        "smd_max": np.abs(smd).max(),
        "var_ratio": np.exp(np.log(vb.var(1) / vi.var(1)).mean()),
        "wasserstein": np.mean([stats.wasserstein_distance(vb[k], vi[k]) / allv[k].std() for k in range(c)]),
    }
    # false edges: valid Sobel energy / channel variance, centres next to the band vs the rest
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8.0
    energy = np.zeros((c, h, w))
    for k in range(n):
        for ch in range(c):
            gx = ndimage.correlate(a[k, ch], sx, mode="constant")
            gy = ndimage.correlate(a[k, ch], sx.T, mode="constant")
            energy[ch] += gx**2 + gy**2
    e = (energy / n / allv.var(1)[:, None, None]).mean(0)
    near = ndimage.binary_dilation(band, np.ones((3, 3), bool))
    centre = d >= 1
    out["false_edge_ratio"] = e[centre & near].mean() / e[centre & ~near].mean()
    # position probe: ridge on (features) -> (x, y), even images fit, odd held out
    ys, xs = np.mgrid[0:h, 0:w]
    coords = np.stack([(xs + 0.5) / w * 2 - 1, (ys + 0.5) / h * 2 - 1], -1).reshape(-1, 2)
    feats = a.transpose(0, 2, 3, 1).reshape(n, h * w, c)
    tr = [k for k in range(min(n, probe_images)) if k % 2 == 0]
    te = [k for k in range(min(n, probe_images)) if k % 2 == 1]
    xtr, ytr = feats[tr].reshape(-1, c), np.tile(coords, (len(tr), 1))
    xte, yte = feats[te].reshape(-1, c), np.tile(coords, (len(te), 1))
    mu = xtr.mean(0)
    sxx = (xtr - mu).T @ (xtr - mu)
    lam = 1e-3 * np.trace(sxx) / c
    wgt = np.linalg.solve(sxx + lam * np.eye(c), (xtr - mu).T @ (ytr - ytr.mean(0)))
    pred = (xte - mu) @ wgt + ytr.mean(0)
    out["position_r2"] = 1 - ((yte - pred) ** 2).sum() / ((yte - yte.mean(0)) ** 2).sum()
    # equivariance: crops shifted by 1 pixel (stride 1), error by distance to either crop's border
    k = min(n, eq_images)
    with torch.no_grad():
        fa = net(x[:k, :, : h - 1, : w - 1]).double().numpy()
        fb = net(x[:k, :, 1:, 1:]).double().numpy()
    ho, wo = h - 1, w - 1
    da = _dist(ho, wo)
    dd = np.minimum(da[1:, 1:], da[:-1, :-1])
    err = ((fa[:, :, 1:, 1:] - fb[:, :, :-1, :-1]) ** 2).sum(0) / (2 * allv.var(1))[:, None, None]  # (C, ., .)
    rel = err.mean(0)
    eb = rel[dd < width].sum() / (k * (dd < width).sum())
    ei = rel[dd >= width].sum() / (k * (dd >= width).sum())
    out["equivariance_border"] = eb
    out["equivariance_interior"] = ei
    out["equivariance_gap"] = (eb + 0.01) / (ei + 0.01)
    # padding-aware channels: each side strip vs interior
    strips = {
        "top": np.broadcast_to(np.arange(h)[:, None] < width, (h, w)),
        "bottom": np.broadcast_to(np.arange(h)[:, None] >= h - width, (h, w)),
        "left": np.broadcast_to(np.arange(w)[None, :] < width, (h, w)),
        "right": np.broadcast_to(np.arange(w)[None, :] >= w - width, (h, w)),
    }
    aware = []
    for ch in range(c):
        best = max(
            (
                ((a[:, ch][:, s].mean() - vi[ch].mean()) / np.sqrt((a[:, ch][:, s].var() + vi[ch].var()) / 2), side)
                for side, s in strips.items()
            ),
            key=lambda t: abs(t[0]),
        )
        if abs(best[0]) >= pa_threshold:
            aware.append((ch, best[1], best[0]))
    out["aware"] = sorted(aware, key=lambda t: -abs(t[2]))
    return out


@pytest.mark.parametrize("width", [1, 2])
def test_every_metric_matches_bruteforce(width):
    torch.manual_seed(3)
    x = torch.rand(10, 2, 12, 12)
    net = _conv_net()
    rep = audit(net, x, border=width, probe_images=10, equivariance_images=4, progress=False, pa_threshold=0.3)
    lr = rep.results[0].layer("0")
    o = _oracle(net, x, width, 10, 4, pa_threshold=0.3)
    assert lr.band_source == "fixed" and lr.band_widths == (width,) * 4
    for key in ("border_shift", "smd_max", "var_ratio", "false_edge_ratio", "position_r2"):
        assert getattr(lr, key) == pytest.approx(o[key], rel=1e-6, abs=1e-9), key
    assert lr.wasserstein == pytest.approx(o["wasserstein"], abs=0.03)  # histogram with 64 bins
    for key in ("equivariance_border", "equivariance_interior", "equivariance_gap"):
        assert getattr(lr, key) == pytest.approx(o[key], rel=1e-5, abs=1e-12), key
    assert [(p.channel, p.side) for p in lr.padding_aware] == [(ch, side) for ch, side, _ in o["aware"]]
    for p, (_, _, smd) in zip(lr.padding_aware, o["aware"]):
        assert p.smd == pytest.approx(smd, rel=1e-6)
    s = rep.results[0].summary
    assert s.border_shift == lr.border_shift and s.padding_aware_channels == len(o["aware"])


def test_zero_padding_on_constant_images_gives_hand_computed_shift():
    # ones kernel, zero padding: interior 9c, edges 6c, corners 4c; band = outer ring (receptive field reaches padding)
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    nn.init.ones_(conv.weight)
    net = nn.Sequential(conv)
    consts = torch.tensor([0.25, 0.5, 0.75, 1.5])  # dyadic: the float32 conv is exact
    x = consts[:, None, None, None].expand(4, 1, 8, 8).contiguous()
    rep = audit(net, x, border=1, progress=False, equivariance_images=0, pa_threshold=0.5)
    lr = rep.results[0].layer("0")
    ec, ec2 = consts.double().mean().item(), consts.double().square().mean().item()
    # ring of an 8x8 map: 4 corners (4c) and 24 edge positions (6c)
    ep, ep2 = (4 * 4 + 24 * 6) / 28, (4 * 16 + 24 * 36) / 28
    mu_b, var_b = ec * ep, ec2 * ep2 - (ec * ep) ** 2
    mu_i, var_i = 9 * ec, 81 * (ec2 - ec**2)
    expected = abs(mu_b - mu_i) / math.sqrt((var_b + var_i) / 2)
    assert lr.border_shift == pytest.approx(expected, rel=1e-9)
    assert lr.var_ratio == pytest.approx(var_b / var_i, rel=1e-9)
    # one side strip (8 positions: 2 corners 4c, 6 edges 6c) vs interior; all four sides tie, the first wins
    sp, sp2 = (2 * 4 + 6 * 6) / 8, (2 * 16 + 6 * 36) / 8
    side = (ec * sp - mu_i) / math.sqrt((ec2 * sp2 - (ec * sp) ** 2 + var_i) / 2)
    assert [(p.channel, p.side) for p in lr.padding_aware] == [(0, "top")]
    assert lr.padding_aware[0].smd == pytest.approx(side, rel=1e-9)
    assert lr.edge_profile[1:] == (1.0, 1.0)  # beyond the ring next to the band the maps are flat: 0/0 = no excess


def _periodic_net(mode):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, padding_mode=mode),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, padding_mode=mode),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, padding_mode=mode),
    )


def test_circular_padding_on_periodic_input_shows_no_harm_and_zeros_does():
    data = SyntheticImages("periodic", 32, 32, seed=1)
    circ = audit(_periodic_net("circular"), data, border=2, probe_images=32, equivariance_images=0, progress=False)
    zero = audit(_periodic_net("zeros"), data, border=2, probe_images=32, equivariance_images=0, progress=False)
    for lr in circ.results[0].layers:
        assert 0.85 < lr.false_edge_ratio < 1.15, lr
        assert abs(lr.position_r2) < 0.03, lr
        assert lr.border_shift < 0.1, lr
        assert lr.padding_aware_channels == 0
    for lr in zero.results[0].layers:
        assert lr.false_edge_ratio > 1.5, lr
        assert lr.position_r2 > 0.05, lr
        assert lr.border_shift > 0.2, lr
        assert lr.padding_aware_channels > 0, lr


def test_receptive_field_band_and_exact_interior_equivariance():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    rep = audit(net, torch.rand(6, 3, 16, 16), equivariance_images=6, probe_images=0, progress=False)
    first, second = rep.results[0].layers
    if first.band_source != "receptive-field":
        pytest.skip("padkit.analysis.plan unavailable")
    assert first.band_widths == (1, 1, 1, 1) and second.band_widths == (2, 2, 2, 2)
    # outside the band neither crop's receptive field sees padding: translation is exact there
    assert second.equivariance_interior < 1e-10
    assert second.equivariance_border > 1e-3
    assert math.isnan(second.position_r2)  # probe disabled


def test_hooks_removed_and_training_mode_restored_when_model_raises():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("boom")
            return self.bn(self.conv(x))

    net = Boom()
    net.train()
    net.conv.eval()  # mixed flags must come back exactly
    with pytest.raises(RuntimeError, match="boom"):
        audit(net, torch.rand(12, 3, 8, 8), batch_size=4, equivariance_images=0, progress=False)
    assert net.training and not net.conv.training and net.bn.training
    assert all(not m._forward_hooks for m in net.modules())
    assert net.bn.num_batches_tracked.item() == 0  # eval mode during the audit: no running-stat updates
    # no autograd graph: the audit ran under inference mode, parameters untouched
    assert net.conv.weight.grad is None


def test_nonfinite_activations_are_counted_not_averaged():
    class Poison(nn.Module):
        def forward(self, x):
            x = x.clone()
            x[1, 0, 2, 3] = float("nan")
            x[2, 1, 0, 0] = float("inf")
            return x

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), Poison())
    x = torch.rand(6, 2, 10, 10)
    rep = audit(net, x, layers=["1"], border=2, equivariance_images=0, probe_images=6, progress=False)
    lr = rep.results[0].layer("1")
    assert lr.nonfinite == 2
    assert lr.values == 6 * 2 * 10 * 10 - 2
    assert any("non-finite" in note for note in lr.notes)
    for m in ("border_shift", "false_edge_ratio", "position_r2"):
        assert math.isfinite(getattr(lr, m))
    # moments ignore exactly the two bad values (oracle: nan-aware numpy on the activations)
    with torch.no_grad():
        a = net(x).double().numpy()
    d = _dist(10, 10)
    a = np.where(np.isfinite(a), a, np.nan)
    vb = np.stack([a[:, k][:, d < 2].ravel() for k in range(2)])
    vi = np.stack([a[:, k][:, d >= 2].ravel() for k in range(2)])
    smd = (np.nanmean(vb, 1) - np.nanmean(vi, 1)) / np.sqrt((np.nanvar(vb, 1) + np.nanvar(vi, 1)) / 2)
    assert lr.border_shift == pytest.approx(np.abs(smd).mean(), rel=1e-6)


def test_batch_size_does_not_change_the_result():
    torch.manual_seed(1)
    net = _periodic_net("zeros")
    x = torch.rand(12, 3, 16, 16)
    kw = dict(border=3, probe_images=12, equivariance_images=5, progress=False)
    a = audit(net, x, batch_size=12, **kw).results[0]
    b = audit(net, x, batch_size=5, **kw).results[0]
    for la, lb in zip(a.layers, b.layers):
        for m in ("border_shift", "var_ratio", "false_edge_ratio", "equivariance_gap", "position_r2"):
            assert getattr(la, m) == pytest.approx(getattr(lb, m), rel=1e-6, abs=1e-9), m  # float32 deviations
    # a DataLoader / iterable of (image, label) pairs gives the same numbers
    pairs = [(x[k], k) for k in range(12)]
    c = audit(net, iter(pairs), batch_size=5, **kw).results[0]
    assert c.summary.border_shift == pytest.approx(b.summary.border_shift, rel=1e-12)


def test_input_statistics_and_zero_padding_warning():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    x = torch.rand(8, 3, 12, 12)
    raw = audit(net, x, equivariance_images=0, progress=False)
    assert not raw.input_stats.centred
    ring = x[:, :, _dist(12, 12) < 1].double()
    mu, sd = ring.mean((0, 2)), ring.std((0, 2), unbiased=False)
    np.testing.assert_allclose(raw.input_stats.zero_z, (-mu / sd).numpy(), rtol=1e-6)
    assert any("non-centred" in w for w in raw.results[0].warnings)
    norm = audit(net, x, normalize=((0.5,), (0.29,)), equivariance_images=0, progress=False)
    assert norm.input_stats.centred
    assert not any("non-centred" in w for w in norm.results[0].warnings)
    reflect = audit(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")), x, progress=False)
    assert not any("non-centred" in w for w in reflect.results[0].warnings)


def test_json_report_format():
    rep = audit(_conv_net(cin=3), torch.rand(6, 3, 10, 10), progress=False)
    d = json.loads(rep.to_json())
    assert d["format"] == 1 and d["modes"] == ["as-is"]
    summary = d["results"]["as-is"]["summary"]
    assert set(METRICS) <= set(summary)
    assert list(d["results"]["as-is"]["layers"]) == ["0"]
    layer = d["results"]["as-is"]["layers"]["0"]
    assert layer["border_shift"] == pytest.approx(rep.results[0].layers[0].border_shift)
    with_maps = json.loads(rep.to_json(include_maps=True))
    assert np.asarray(with_maps["results"]["as-is"]["layers"]["0"]["mean_map"]).shape == (10, 10)


class _TagCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_parses_and_escapes_layer_names():
    from padkit.render.audit import render_html, render_table

    net = nn.Sequential()
    net.add_module("<script>alert(1)</script>", nn.Conv2d(3, 4, 3, padding=1))
    net.add_module("relu", nn.ReLU())
    net.add_module("c2", nn.Conv2d(4, 4, 3, padding=1))
    rep = audit(net, torch.rand(6, 3, 12, 12), progress=False, model_name="<b>m</b>")
    html = render_html(rep)
    parser = _TagCollector()
    parser.feed(html)
    parser.close()
    assert "script" not in parser.tags and "b" not in parser.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert any("<script>alert(1)</script>" in t for t in parser.text)  # shown as text
    assert parser.tags.count("img") >= 3 and "data:image/png;base64," in html
    assert "<script>alert(1)</script>" in render_table(rep)  # terminal output is plain text


def test_invalid_arguments_name_the_argument():
    net = _conv_net(cin=3)
    x = torch.rand(4, 3, 8, 8)
    with pytest.raises(PadkitTypeError, match="model"):
        audit("resnet", x)  # type: ignore[arg-type]
    with pytest.raises(PadkitError, match="layers"):
        audit(net, x, layers=["nope"])
    with pytest.raises(PadkitError, match="border"):
        audit(net, x, border=0)
    with pytest.raises(PadkitError, match="modes"):
        audit(net, x, modes=["sideways"])
    with pytest.raises(PadkitError, match="input_size"):
        audit(net, x, input_size=16)
    with pytest.raises(PadkitError, match="batch_size"):
        audit(net, x, batch_size=0)
    with pytest.raises(PadkitError, match="normalize"):
        audit(net, x, normalize="0.5")
    with pytest.raises(PadkitTypeError, match="data"):
        audit(net, 42)


def test_string_data_and_several_modes():
    pytest.importorskip("padkit.conversion")
    net = _periodic_net("zeros")
    rep = audit(net, "synthetic:smooth", input_size=24, images=8, modes=("zeros", "reflect"), progress=False)
    assert rep.modes == ("zeros", "reflect")
    z, r = rep.results
    assert z.summary.false_edge_ratio > r.summary.false_edge_ratio
    assert net[0].padding_mode == "zeros"  # the original model is not modified


def test_results_are_keyed_by_the_mode_names_given():
    net = _periodic_net("zeros")
    x = torch.rand(4, 3, 12, 12)  # in [0, 1]: not centred, so zero padding warns
    kw = dict(equivariance_images=0, probe_images=0, progress=False)
    rep = audit(net, x, modes=["constant", "Wrap", "zero"], **kw)
    assert rep.modes == ("constant", "circular", "zeros")
    assert list(json.loads(rep.to_json())["results"]) == ["constant", "circular", "zeros"]
    for mode, warns in (("constant", True), ("circular", False), ("zeros", True)):
        assert any("non-centred" in w for w in rep.result(mode).warnings) == warns, mode
    with pytest.raises(PadkitError, match=r"modes=.*twice"):
        audit(net, x, modes=["zeros", "zero"], **kw)


class _OwnForwardConv(nn.Conv2d):
    """A conv subclass with its own forward: conversion must leave it, and the audit must say so."""

    def forward(self, x):
        return super().forward(x) * 1.0


def test_modes_warn_about_layers_the_conversion_left_alone():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), _OwnForwardConv(4, 4, 3, padding=1))
    rep = audit(net, "synthetic:smooth", input_size=16, images=4, modes=("zeros", "reflect"), progress=False)
    for result in rep.results:
        notes = [w for w in result.warnings if "keeps its original padding" in w]
        assert len(notes) == 1 and "'2'" in notes[0] and "_OwnForwardConv" in notes[0], result.warnings
    assert json.loads(rep.to_json())["results"]["reflect"]["warnings"]
