"""padkit.plan on real and small nets: layer records, reach and foveation maps against independent oracles."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from padkit import PadkitError, PadkitTypeError
from padkit.analysis.plan import plan


def test_resnet18_at_224_matches_mind_the_pad():
    model = torchvision.models.resnet18()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    p = plan(model, 224)
    conv1 = p.layer("conv1")
    assert conv1.pad_before == (3, 3) and conv1.pad_after == (2, 2) and conv1.uneven
    for name in ("layer2.0.conv1", "layer3.0.conv1", "layer4.0.conv1"):
        x = p.layer(name)
        assert x.stride == (2, 2) and x.pad_before == (1, 1) and x.pad_after == (0, 0)
    for name in ("layer2.0.downsample.0", "layer3.0.downsample.0", "layer4.0.downsample.0"):
        assert p.layer(name).unread == (1, 1)
    assert not p.clean
    assert p.suggested_sizes == ((193, 193), (225, 225))
    assert plan(model, 225, suggest=False).clean
    # the user's model is untouched
    assert all(v.device.type == "cpu" for v in model.state_dict().values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    doc = json.loads(p.to_json())
    assert doc["format"] == 1 and doc["layers"][0]["pad_after"] == [2, 2] and doc["suggested_sizes"][1] == [225, 225]


class _Net(nn.Module):
    """Small branching net; with ``padval`` set, padding is done by F.pad(value=padval) (the oracle path)."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.specs = [  # (kernel, stride, padding, dilation)
            (5, 2, 2, 1),
            (3, 1, 2, 2),
            (3, 2, 1, 1),
        ]
        self.w = [torch.rand(1, 1, k, k, generator=g, dtype=torch.float64) + 0.1 for k, _, _, _ in self.specs]
        self.convs = nn.ModuleList(
            nn.Conv2d(1, 1, k, s, p, d, bias=False, dtype=torch.float64) for k, s, p, d in self.specs
        )
        for c, w in zip(self.convs, self.w):
            c.weight.data.copy_(w)
        self.short = nn.Conv2d(1, 1, 1, 2, 0, bias=False, dtype=torch.float64)
        self.short.weight.data.fill_(0.5)
        self.pool = nn.AvgPool2d(3, 2, 1)
        self.padval = None

    def _conv(self, c: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        if self.padval is None:
            return c(x)
        p = c.padding[0]
        return F.conv2d(F.pad(x, (p, p, p, p), value=self.padval), c.weight, None, c.stride, 0, c.dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._conv(self.convs[0], x)
        y = torch.relu(self._conv(self.convs[1], y))
        z = self._conv(self.convs[2], y) + self.short(y)  # ResNet-style branch
        if self.padval is None:
            return self.pool(z)
        return F.avg_pool2d(F.pad(z, (1, 1, 1, 1), value=self.padval), 3, 2, 0)


@pytest.mark.parametrize("size", [(23, 23), (30, 17), (32, 33)])
def test_reach_map_matches_padding_indicator_oracle(size):
    net = _Net()
    p = plan(net, size, in_channels=1, suggest=False)
    x = torch.ones(1, 1, *size, dtype=torch.float64)
    with torch.no_grad():
        net.padval = 0.0
        a = net(x)
        net.padval = 1.0  # padding now carries signal: positions whose receptive field reaches padding change
        b = net(x)
    oracle = (a != b)[0, 0]
    assert torch.equal(p.border_band("pool"), oracle)
    assert p.border_band("pool").shape == a.shape[2:]
    assert 0 < oracle.sum() < oracle.numel() or oracle.all()


def _ones_net_foveation(size, specs_main, spec_short=None, pool=None):
    """Autograd oracle: with all-ones single-channel weights and a sum pool, d(sum out)/dx counts window paths."""
    x = torch.ones(1, 1, *size, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, p, d in specs_main:
        y = F.conv2d(y, torch.ones(1, 1, k, k, dtype=torch.float64), None, s, p, d)
    if spec_short is not None:
        k, s, p, d = spec_short
        y = y + F.conv2d(x, torch.ones(1, 1, k, k, dtype=torch.float64), None, s, p, d)
    if pool is not None:
        y = F.avg_pool2d(y, pool[0], pool[1], pool[2], ceil_mode=pool[3], divisor_override=1)
    y.sum().backward()
    return x.grad[0, 0].numpy()


class _Chain(nn.Module):
    def __init__(self, specs_main, spec_short=None, pool=None):
        super().__init__()
        self.main = nn.Sequential(*[nn.Conv2d(1, 1, k, s, p, d) for k, s, p, d in specs_main])
        self.short = None if spec_short is None else nn.Conv2d(1, 1, *spec_short[:2], spec_short[2], spec_short[3])
        self.pool = None if pool is None else nn.MaxPool2d(pool[0], pool[1], pool[2], ceil_mode=pool[3])

    def forward(self, x):
        y = self.main(x)
        if self.short is not None:
            y = y + self.short(x)
        return y if self.pool is None else self.pool(y)


@pytest.mark.parametrize(
    "specs_main,spec_short,pool,size",
    [
        ([(3, 1, 1, 1), (3, 2, 1, 1)], None, None, (17, 17)),
        ([(5, 2, 2, 1), (3, 1, 2, 2)], None, (3, 2, 1, True), (20, 15)),
        ([(3, 2, 1, 1), (3, 1, 1, 1)], (1, 2, 0, 1), (2, 2, 0, True), (24, 23)),
        ([(7, 2, 3, 1), (3, 2, 1, 1)], (3, 4, 1, 1), None, (32, 32)),
    ],
)
def test_foveation_matches_autograd_path_count(specs_main, spec_short, pool, size):
    net = _Chain(specs_main, spec_short, pool)
    p = plan(net, size, in_channels=1, suggest=False)
    oracle = _ones_net_foveation(size, specs_main, spec_short, pool)
    assert p.foveation is not None
    np.testing.assert_array_equal(p.foveation, oracle)


def test_foveation_brute_force_window_enumeration():
    # one conv k3 s2 p1 on 7x7: count windows per pixel with explicit loops
    n, k, s, pd = 7, 3, 2, 1
    p = plan(nn.Conv2d(1, 1, k, s, pd), (n, n), in_channels=1, suggest=False)
    out = (n + 2 * pd - k) // s + 1
    count = np.zeros((n, n))
    for oy in range(out):
        for ox in range(out):
            for jy in range(k):
                for jx in range(k):
                    y, x = oy * s - pd + jy, ox * s - pd + jx
                    if 0 <= y < n and 0 <= x < n:
                        count[y, x] += 1
    np.testing.assert_array_equal(p.foveation, count)


class _FakePadLayer(nn.Conv2d):
    """Stands in for a padkit layer: pads asymmetrically itself (extra at the start), convolves with padding 0."""

    def __init__(self) -> None:
        super().__init__(1, 1, 4, stride=2, padding=0)
        self.padding_mode = "reflect"

    def explicit_padding(self, size):
        return tuple((2, 1) for _ in size)

    def forward(self, x):
        return F.conv2d(F.pad(x, (2, 1, 2, 1), mode="reflect"), self.weight, self.bias, self.stride)


def test_padkit_layer_duck_typing_and_reflect_foveation():
    p = plan(_FakePadLayer(), (9, 9), in_channels=1, suggest=False)
    (layer,) = p.layers
    assert layer.pad_before == (2, 2) and layer.pad_after == (1, 1) and layer.uneven and "reflect" in layer.note
    # reflect padding: padded taps read mirrored pixels; oracle by autograd through F.pad(reflect)
    x = torch.ones(1, 1, 9, 9, dtype=torch.float64, requires_grad=True)
    F.conv2d(
        F.pad(x, (2, 1, 2, 1), mode="reflect"), torch.ones(1, 1, 4, 4, dtype=torch.float64), stride=2
    ).sum().backward()
    np.testing.assert_array_equal(p.foveation, x.grad[0, 0].numpy())
    assert p.border_band(layer.name)[0].all() and p.border_band(layer.name)[-1].all()


class _Pads(nn.Module):
    def forward(self, x):
        return F.pad(F.pad(F.pad(x, (1, 1, 1, 1)), (1, 1, 1, 1), value=2.0), (1, 1, 1, 1), mode="reflect")


def test_padding_modes_in_layer_names():
    # zero padding is 'zeros' (PyTorch's spelling) in notes and JSON, however the model spells it
    p = plan(_Pads(), 8, in_channels=1, suggest=False)
    assert [x.note for x in p.layers] == ["zeros", "constant", "reflect"]
    assert [x["note"] for x in json.loads(p.to_json())["layers"]] == ["zeros", "constant", "reflect"]
    from padkit.nn import PadConv2d

    notes = {}
    for mode, options in [("zeros", None), ("constant", None), ("constant", {"value": 1.0}), ("edge", None)]:
        conv = PadConv2d(1, 1, 3, padding=1, padding_mode=mode, padding_options=options)
        notes[mode, bool(options)] = plan(conv, 8, suggest=False).layers[0].note
    assert notes == {
        ("zeros", False): "padkit",  # zero padding: no mode in a layer's note
        ("constant", False): "padkit",
        ("constant", True): "constant padkit",
        ("edge", False): "replicate padkit",
    }


def test_timm_conv2d_same_puts_the_extra_at_the_end():
    timm_layers = pytest.importorskip("timm.layers")
    conv = timm_layers.Conv2dSame(3, 4, 3, stride=2)
    p = plan(conv, 224, suggest=False)
    (layer,) = p.layers
    # TF SAME at 224, k3 s2: total padding 1 -> 0 before, 1 after
    assert layer.pad_before == (0, 0) and layer.pad_after == (1, 1) and "TF-same" in layer.note


def test_conv_transpose_and_ceil_pool_records():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, 2, 1), nn.ConvTranspose2d(2, 1, 4, 2, 1), nn.MaxPool2d(3, 2, ceil_mode=True))
    p = plan(net, 11, in_channels=1, suggest=False)
    conv, tconv, pool = p.layers
    assert conv.pad_after == (1, 1)  # (11 + 2 - 3) % 2 = 0
    assert tconv.kind == "conv_transpose" and tconv.pad_before == (2, 2)
    # 12 -> ceil((12 - 3) / 2) + 1 = 6 windows; the last starts at 10 and hangs one sample over the end
    assert pool.note == "ceil_mode" and pool.out_size == (6, 6)
    assert pool.pad_before == (0, 0) and pool.pad_after == (1, 1) and pool.uneven


@pytest.mark.parametrize("ndim", [1, 3])
def test_one_and_three_dimensional_inputs(ndim):
    conv = {1: nn.Conv1d, 3: nn.Conv3d}[ndim]
    pool = {1: nn.MaxPool1d, 3: nn.MaxPool3d}[ndim]
    net = nn.Sequential(conv(2, 4, 3, 2, 1), pool(3, 2, 1))
    p = plan(net, 16, suggest=False)
    assert p.input_size == (16,) * ndim
    assert p.layers[0].pad_after == (0,) * ndim and p.layers[0].uneven
    assert p.foveation is not None and p.foveation.shape == (16,) * ndim
    assert p.border_band("1").shape == (4,) * ndim


class _CumSum(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.cumsum(-1)


def test_unknown_layers_are_listed_not_guessed():
    net = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), _CumSum(), nn.Conv2d(3, 3, 3, padding=1))
    p = plan(net, 16, suggest=False)
    assert not p.clean or p.notes  # tracking lost at the cumulative sum is reported
    assert any("cumsum" in n for n in p.notes)
    assert p.foveation is None
    assert p.layer("2").pad_after == (1, 1) and not p.layer("2").reach_known
    with pytest.raises(PadkitError, match="unknown"):
        p.border_band("2")


def test_squeeze_excitation_is_global_context_not_reach():
    net = torchvision.models.mobilenet_v3_small()
    p = plan(net, 224, suggest=False)
    assert any("global context" in n for n in p.notes)
    assert p.foveation is not None
    band = p.border_band("features.1.block.0.0")
    assert band[0].all() and not band.all()


def test_bad_arguments():
    with pytest.raises(PadkitTypeError, match="model"):
        plan("resnet18", 224)  # type: ignore[arg-type]
    with pytest.raises(PadkitError, match="input_size"):
        plan(nn.Conv2d(1, 1, 3), (0, 4))
    with pytest.raises(PadkitError, match="input_size"):
        plan(nn.Conv2d(1, 1, 3), 2, suggest=False)  # too small: forward fails
    with pytest.raises(PadkitError, match="name="):
        plan(nn.Conv2d(1, 1, 3), 8, suggest=False).layer("nope")


FAST_MODELS = [
    "resnet18",
    "mobilenet_v3_small",
    "densenet121",
    "googlenet",
    "inception_v3",
    "shufflenet_v2_x0_5",
    "squeezenet1_1",
    "vit_b_16",
    "swin_t",
    "efficientnet_b0",
    "convnext_tiny",
    "regnet_y_400mf",
]


def _classification_models():
    return sorted(torchvision.models.list_models(module=torchvision.models))


def _plan_named(name):
    with torch.device("meta"):
        try:
            model = torchvision.models.get_model(name, weights=None)
        except NotImplementedError:  # a builder that computes on tensors at init (regnet) cannot run on meta
            model = None
    if model is None:
        model = torchvision.models.get_model(name, weights=None)
    size = 299 if name == "inception_v3" else 224
    return plan(model, size, suggest=False)


@pytest.mark.parametrize("name", FAST_MODELS)
def test_torchvision_models_plan(name):
    p = _plan_named(name)
    assert p.layers and p.layers[0].kind in ("conv", "pad")
    assert json.loads(p.to_json())["model"]


@pytest.mark.parametrize("name", _classification_models())
def test_every_torchvision_classification_model_plans(name):
    p = _plan_named(name)
    assert p.layers and p.layers[0].in_size == p.input_size


def test_torchscript_model_is_traced_op_by_op():
    net = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.ReLU()))
    p = plan(net, 16, suggest=False)
    (layer,) = p.layers
    assert layer.kind == "conv" and layer.pad_before == (1, 1) and layer.pad_after == (0, 0)


@pytest.mark.parametrize("mode", ["reflect", "partial", "circular"])
def test_converted_models_plan_like_the_original(mode):
    """padkit layers (partial padding included) trace on the meta device and keep the original's geometry."""
    from padkit.conversion import convert

    model = torchvision.models.resnet18(weights=None)
    ref, got = plan(model, 64, suggest=False), plan(convert(model, mode), 64, suggest=False)
    strip = [(lp.name, lp.in_size, lp.out_size, lp.pad_before, lp.pad_after, lp.unread) for lp in ref.layers]
    assert [(lp.name, lp.in_size, lp.out_size, lp.pad_before, lp.pad_after, lp.unread) for lp in got.layers] == strip


def _dim_clean_full(model, size, in_channels):
    """Per spatial dim: clean at ``size`` by a full plan (no early stop); None when the forward fails."""
    try:
        p = plan(model, size, in_channels=in_channels, suggest=False)
    except PadkitError:
        return None
    return [
        all(x.kind != "unknown" and x.pad_before[a] == x.pad_after[a] and not x.unread[a] for x in p.layers)
        for a in range(len(size))
    ]


def _suggest_brute_force(model, size, in_channels, search):
    found = []
    for sign in (-1, 1):
        best = [None] * len(size)
        for delta in range(1, search + 1):
            trial = tuple(s + sign * delta for s in size)
            if min(trial) < 1:
                break
            ok = _dim_clean_full(model, trial, in_channels)
            for a, clean in enumerate(ok or []):
                if clean and best[a] is None:
                    best[a] = trial[a]
            if None not in best:
                found.append(tuple(best))
                break
    return tuple(found)


class _NeedsEven(nn.Module):
    """Refuses heights 3 mod 4 (a forward that fails at some sizes); height and width are clean at different sizes."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 2, 3, stride=2, padding=1)
        self.b = nn.Conv2d(2, 2, (1, 5), stride=(1, 3), padding=(0, 2))
        self.c = nn.MaxPool2d(3, 2, 1)

    def forward(self, x):
        if x.shape[-2] % 4 == 3:
            raise ValueError("height 3 mod 4")
        return self.c(self.b(self.a(x)))


class _BNPool(nn.BatchNorm2d):
    """A batch norm subclass whose own forward also pools: the search must not replace it."""

    def forward(self, x):
        return F.max_pool2d(super().forward(x), 3, 2, 1)


class _BF16(nn.Module):
    """bf16 convs around a batch norm: the search's cheap batch norm must keep the activation dtype."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, 1, 1)
        self.bn = nn.BatchNorm2d(4)
        self.b = nn.Conv2d(4, 4, 3, 2, 1)

    def forward(self, x):
        return self.b(self.bn(self.a(x.to(self.a.weight.dtype))))


@pytest.mark.parametrize(
    "make, size, ch, search",
    [
        (lambda: torchvision.models.resnet18(), (64, 64), 3, 40),
        (lambda: nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1), _BNPool(4), nn.Conv2d(4, 4, 3, 2, 1)).eval(), (24, 24), 3, 8),
        (lambda: _BF16().to(torch.bfloat16).eval(), (31, 31), 3, 6),
        (lambda: torchvision.models.mobilenet_v3_small(), (57, 90), 3, 40),
        (lambda: _NeedsEven(), (30, 41), 1, 30),
        (lambda: nn.Sequential(nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, 3, 1)), (20, 23), 1, 30),
    ],
)
def test_clean_size_search_with_early_stop_equals_full_traces(make, size, ch, search):
    # the search abandons each candidate's forward at the first layer that settles it; the answer must be the one
    # full traces give (per dim, nearest clean size below and above; failing sizes skipped)
    with torch.device("meta"):
        model = make()
    got = plan(model, size, in_channels=ch, search=search).suggested_sizes
    assert got == _suggest_brute_force(model, size, ch, search)
    assert got  # each case has clean sizes within reach


def test_clean_size_search_stops_candidates_early(monkeypatch):
    from padkit.analysis.plan import trace as trace_module

    seen = []
    real = trace_module.run_trace

    def counting(model, x, *, maps, stop=None, hooks=None):
        try:
            trace, out = real(model, x, maps=maps, stop=stop, hooks=hooks)
        except trace_module.StopTrace as done:
            seen.append(len(done.trace.layers))
            raise
        seen.append(len(trace.layers))
        return trace, out

    monkeypatch.setattr(trace_module, "run_trace", counting)
    with torch.device("meta"):
        model = torchvision.models.resnet18()
    p = plan(model, 224)
    assert p.suggested_sizes == ((193, 193), (225, 225))
    full = seen[0]
    # 193..223 fail at conv1 (stride 2, odd padding) or a later strided layer; only the clean sizes run to the end
    tried = seen[1:]
    assert max(tried) == full and sum(n == full for n in tried) == 2
    assert sorted(tried)[len(tried) // 2] < full // 2


def test_trace_hooks_are_removed_after_a_stop_or_a_failing_forward():
    from padkit.analysis.plan.trace import ModelHooks, StopTrace, run_trace

    net = _NeedsEven()
    x_ok, x_bad = torch.empty(1, 1, 8, 8, device="meta"), torch.empty(1, 1, 7, 8, device="meta")
    with pytest.raises(StopTrace) as stopped:
        run_trace(net, x_ok, maps=False, stop=lambda rec: True)
    assert [r.name for r in stopped.value.trace.layers] == ["a"]
    with pytest.raises(ValueError, match="3 mod 4"):
        run_trace(net, x_bad, maps=False)
    with ModelHooks(net) as hooks:  # reused across traces, including after a failure
        with pytest.raises(ValueError):
            run_trace(net, x_bad, maps=False, hooks=hooks)
        trace, _ = run_trace(net, x_ok, maps=False, hooks=hooks)
        assert [r.name for r in trace.layers] == ["a", "b", "c"]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
