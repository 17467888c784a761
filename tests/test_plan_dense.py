"""``plan`` through dense-prediction networks: resampling read matrices against PyTorch's own ops, receptive fields and
scales against brute force (perturb one input row or column, see which outputs change), global layers, notes."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from padkit import PadkitError
from padkit.analysis.plan import plan
from padkit.analysis.plan.interp import interp_op
from padkit.analysis.plan.trace import trace_at

# -- interpolation read matrices against the real op -------------------------------------------------------------

_SPECS = ["s0.5", "s1.5", "s2", "s3", "s0.3", "s1.7", "o1", "o2", "o4", "o9", "o11", "o17", "o32"]


def _real_weights(mode: str, n: int, spec: str, align: bool | None) -> np.ndarray:
    """``(n_out, n)`` weights of F.interpolate along one axis, from one-hot inputs (the other axis has size 1)."""
    x = torch.eye(n).reshape(n, 1, n, 1)
    kw: dict[str, object] = {"mode": mode}
    if align is not None:
        kw["align_corners"] = align
    if spec[0] == "s":
        kw["scale_factor"] = (float(spec[1:]), 1.0)
    else:
        kw["size"] = (int(spec[1:]), 1)
    y = F.interpolate(x, **kw)  # type: ignore[arg-type]
    return y.reshape(n, -1).T.numpy()


@pytest.mark.parametrize(
    "mode,align",
    [
        ("nearest", None),
        ("nearest-exact", None),
        ("bilinear", False),
        ("bilinear", True),
        ("bicubic", False),
        ("bicubic", True),
    ],
)
def test_interpolation_reads_what_the_real_op_reads(mode, align):
    ours = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    for n in (1, 2, 3, 5, 7, 8, 13, 16, 31):
        for spec in _SPECS:
            if spec[0] == "s" and int(n * float(spec[1:])) < 1:
                continue
            real = _real_weights(mode, n, spec, align)
            scale = float(spec[1:]) if spec[0] == "s" else None
            rec, dop = interp_op(ours, n, real.shape[0], bool(align), scale)
            assert dop is not None and rec.out_size == real.shape[0]
            diff = (dop.read > 0) != (real != 0)
            # Keys' cubic kernel is 0 at the integers: a weight of float32 rounding noise may be 0 or not
            assert not diff.any() or (ours == "cubic" and np.abs(real[diff]).max() < 1e-6), (n, spec)


def test_interpolation_clamps_are_replicate_padding():
    rec, dop = interp_op("linear", 8, 16, False, 2.0)
    assert (rec.pad_before, rec.pad_after) == (1, 1)
    assert dop is not None and dop.pad_taps.tolist() == [True] + [False] * 14 + [True]
    rec, dop = interp_op("linear", 8, 16, True, 2.0)
    assert (rec.pad_before, rec.pad_after) == (0, 0) and dop is not None and not dop.pad_taps.any()
    rec, _ = interp_op("nearest", 8, 4, False, 0.5)  # reads 0, 2, 4, 6: the last sample is unread
    assert rec.unread == 1 and (rec.pad_before, rec.pad_after) == (0, 0)
    rec, _ = interp_op("cubic", 8, 16, False, None)
    assert (rec.pad_before, rec.pad_after) == (2, 2)


# -- receptive field and scale against brute force ---------------------------------------------------------------


def _positive(net: nn.Module) -> nn.Module:
    """Positive weights and no bias: every input a window reads changes its output."""
    torch.manual_seed(0)
    for mod in net.modules():
        if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
            nn.init.uniform_(mod.weight, 0.1, 1.0)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    return net.double().eval()


def _brute_spans(net: nn.Module, size: tuple[int, ...], channels: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per axis, per output position, the first and last input row (column, ...) whose perturbation changes it."""
    x = torch.rand(1, channels, *size, dtype=torch.float64) + 1
    with torch.no_grad():
        base = net(x)
        spans = []
        for a, n in enumerate(size):
            dep = np.zeros((base.shape[2 + a], n), bool)
            for i in range(n):
                x2 = x.clone()
                x2.select(2 + a, i).add_(100.0)
                changed = (net(x2) - base).abs() > 1e-9
                other = [d for d in range(changed.dim()) if d != 2 + a]
                dep[:, i] = changed.any(dim=tuple(other)).numpy() if other else changed.numpy()
            idx = np.arange(n)
            lo = np.where(dep, idx[None, :], n + 10).min(1)
            hi = np.where(dep, idx[None, :], -1).max(1)
            spans.append((lo, hi))
    return spans


def _check(net: nn.Module, size: tuple[int, ...], scale: float | None = 1, channels: int = 2) -> None:
    net = _positive(net)
    want = _brute_spans(net, size, channels)
    trace = trace_at(copy.deepcopy(net).to("meta").float(), size, channels, maps=True)
    assert not trace.losses, trace.losses
    got = trace.outputs[0].rf
    assert got is not None
    for (glo, ghi), (wlo, whi) in zip(got, want):
        live = whi >= 0
        assert np.array_equal(ghi >= glo, live)
        assert np.array_equal(glo[live], wlo[live]) and np.array_equal(ghi[live], whi[live])
    p = plan(net.float(), size, in_channels=channels, suggest=False)
    assert p.receptive_field == tuple(int((hi - lo + 1)[hi >= lo].max()) for lo, hi in want)
    assert p.ended_at is None and (scale is None or p.scale == (scale,) * len(size))


class _UNet(nn.Module):
    """Two levels: conv, max pool, strided conv, upsampling by ``mode``, concatenation with the skips."""

    def __init__(self, mode: str, align: bool | None, by_size: bool) -> None:
        super().__init__()
        self.mode, self.align, self.by_size = mode, align, by_size
        self.enc1 = nn.Conv2d(2, 3, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.enc2 = nn.Conv2d(3, 3, 3, padding=1)
        self.down = nn.Conv2d(3, 3, 3, stride=2, padding=1)
        self.dec2 = nn.Conv2d(6, 3, 3, padding=1)
        self.dec1 = nn.Conv2d(6, 2, 1)

    def _up(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        kw = {} if self.align is None else {"align_corners": self.align}
        if self.by_size:
            return F.interpolate(x, size=like.shape[-2:], mode=self.mode, **kw)
        y = F.interpolate(x, scale_factor=2, mode=self.mode, **kw)
        return y[..., : like.shape[-2], : like.shape[-1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.down(e2)
        d2 = self.dec2(torch.cat([self._up(b, e2), e2], 1))
        return self.dec1(torch.cat([self._up(d2, e1), e1], 1))


@pytest.mark.parametrize(
    "mode,align",
    [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True), ("bicubic", False)],
)
@pytest.mark.parametrize("by_size", [True, False])
def test_unet_receptive_field_matches_brute_force(mode, align, by_size):
    # by size from a floor-pooled map the rate is exact, not nominal: 17 columns -> 8 -> 4 -> 8 -> 17 is 17/16
    _check(_UNet(mode, align, by_size), (20, 17) if by_size else (20, 16), None if by_size else 1)


class _CropUNet(nn.Module):
    """The original U-Net's shape: valid convs, crop-and-concat of the skip, a transposed-conv upsampling."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Conv2d(2, 3, 3)
        self.pool = nn.MaxPool2d(2)
        self.mid = nn.Conv2d(3, 3, 3)
        self.up = nn.ConvTranspose2d(3, 3, 2, stride=2)
        self.dec = nn.Conv2d(6, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.enc(x)
        u = self.up(self.mid(self.pool(e)))
        d = (e.shape[-1] - u.shape[-1]) // 2
        return self.dec(torch.cat([u, e[..., d : d + u.shape[-2], d : d + u.shape[-1]]], 1))


class _Decoder(nn.Module):
    """F.pad in forward (reflect, then a valid conv), pixel shuffle, pixel unshuffle, average pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 8, 3)
        self.b = nn.Conv2d(2, 2, 3, padding=1)
        self.c = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(F.pad(x, (1, 1, 2, 0), mode="reflect"))
        y = F.avg_pool2d(self.b(F.pixel_shuffle(y, 2)), 3, stride=2, padding=1)
        return self.c(F.pixel_unshuffle(y, 2))


def test_crop_and_concat_unet_matches_brute_force():
    _check(_CropUNet(), (28, 28), scale=1)


def test_pad_shuffle_decoder_matches_brute_force():
    _check(_Decoder(), (12, 10), scale=0.5)


def test_trilinear_and_linear_match_brute_force():
    class Net(nn.Module):
        def __init__(self, nd: int) -> None:
            super().__init__()
            self.nd = nd
            self.conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[nd - 1](2, 2, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mode = ("linear", "bilinear", "trilinear")[self.nd - 1]
            return self.conv(F.interpolate(x, scale_factor=1.5, mode=mode))

    _check(Net(1), (9,), scale=1.5)
    _check(Net(3), (5, 6, 4), scale=1.5)


def test_scale_of_encoders_decoders_and_unets():
    p = plan(_UNet("bilinear", False, True), (64, 48), in_channels=2, suggest=False)
    assert p.scale == (1, 1) and p.ended_at is None and p.global_at is None
    assert p.foveation is not None and not p.notes
    up = p.layer("(root):interpolate#2")
    assert up.kind == "interpolate" and "bilinear" in up.note and "clamp=replicate" in up.note
    assert up.scale == (1, 1) and p.layer("down").scale == (0.25, 0.25)
    decoder = nn.Sequential(nn.ConvTranspose2d(4, 4, 4, 2, 1), nn.Upsample(scale_factor=4), nn.PixelShuffle(1))
    assert plan(decoder, 8, in_channels=4, suggest=False).scale == (8, 8)


# -- global layers, declared sizes, notes -------------------------------------------------------------------------


def test_classifier_scale_is_its_last_map_and_global_at_the_pool():
    p = plan(torchvision.models.resnet18(), 224, suggest=False)
    assert p.scale == (1 / 32, 1 / 32) and p.global_at == "avgpool" and p.ended_at == "(root)"
    assert p.receptive_field == (224, 224) and p.layer("avgpool").global_at == "avgpool"
    assert p.layer("layer1.0.conv1").receptive_field == (19, 19) and p.layer("layer1.0.conv1").reach == (9, 9)
    assert p.layer("layer1.0.conv1").global_at is None


def test_norms_over_positions_make_the_network_global():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.Conv2d(8, 3, 3, padding=1))
    p = plan(net, 32, suggest=False)
    assert p.global_at == "1:group_norm" and p.receptive_field == (32, 32) and p.ended_at is None
    assert p.layer("0").global_at is None and p.layer("2").global_at == "1:group_norm"
    inst = plan(nn.Sequential(nn.Conv2d(3, 3, 3), nn.InstanceNorm2d(3)), 16, suggest=False)
    assert inst.global_at is not None and any("instance norm" in n for n in inst.notes)
    local = plan(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)), 32, suggest=False)
    assert local.global_at is None and local.receptive_field == (3, 3)


def test_squeeze_excitation_makes_the_network_global_and_notes_are_grouped():
    p = plan(torchvision.models.mobilenet_v3_small(), 224, suggest=False)
    assert p.global_at == "features.1.block.1.avgpool"
    context = [n for n in p.notes if "globally pooled" in n]
    assert len(context) == 1 and "and " in context[0] and "more" in context[0]


def test_declared_input_size_is_the_default_and_named_when_the_forward_fails():
    timm = pytest.importorskip("timm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = timm.create_model("vit_tiny_patch16_384", pretrained=False)
    p = plan(model, suggest=False)
    assert p.input_size == (384, 384)
    assert p.ended_at is not None and p.global_at is not None and p.scale == (1 / 16, 1 / 16)
    with pytest.raises(PadkitError, match="declares input size 384x384"):
        plan(model, 224, suggest=False)
    assert plan(nn.Conv2d(3, 3, 3), suggest=False).input_size == (224, 224)


def test_json_has_scale_reach_and_global_fields():
    import json

    doc = json.loads(plan(torchvision.models.resnet18(), 64, suggest=False).to_json())
    # at 64 pixels the receptive field covers the input before the pooling: the network is global from layer3
    assert doc["format"] == 1 and doc["scale"] == [1 / 32, 1 / 32] and doc["global_at"] == "layer3.0.conv2"
    assert doc["receptive_field"] == [64, 64] and doc["reach"] == [31.5, 31.5] and doc["ended_at"] == "(root)"
    conv1 = doc["layers"][0]
    assert conv1["scale"] == [0.5, 0.5] and conv1["receptive_field"] == [7, 7] and conv1["reach"] == [3.0, 3.0]
    assert conv1["global_at"] is None


def test_docs_unet_matches_brute_force():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parent.parent / "docs" / "examples" / "unet.py"
    spec = importlib.util.spec_from_file_location("docs_unet", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.UNet(channels=(3, 4, 4, 5))
    net.enc[0][0] = nn.Conv2d(2, 3, 3, padding=1)
    _check(net, (40, 37), scale=None)


# -- third-party dense-prediction models (the builders of test_third_party) ----------------------------------------


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
@pytest.mark.parametrize(
    "name,scale,global_at",
    [
        ("diffusers-AutoencoderKL", 1, "model.encoder.down_blocks.0.resnets.0.norm1:group_norm"),
        ("diffusers-UNet2DModel", 1, "model.down_blocks.0.resnets.0.norm1:group_norm"),
        ("smp-Unet", 1, None),
        ("monai-UNet-2d-1ch", 1, "model.0.adn.N:norm_statistics"),
        ("monai-UNet-3d", 1, "model.0.adn.N:norm_statistics"),
        ("timm-efficientnet-same", 1 / 32, "blocks.0.0.se:global_mean"),
        ("timm-hrnet", 1 / 32, None),
    ],
)
def test_third_party_models_plan_with_known_foveation(name, scale, global_at):
    from test_third_party import CASES

    build, make_input = CASES[name]
    x = make_input()
    p = plan(build(), tuple(x.shape[2:]), in_channels=x.shape[1], suggest=False)
    assert p.foveation is not None
    assert not any("tracking lost" in n or "structure ends" in n for n in p.notes) or p.ended_at, p.notes
    if scale is not None:
        assert p.scale == (scale,) * (x.dim() - 2)
    if global_at is not None:
        assert p.global_at == global_at
    else:
        assert p.global_at is not None or p.receptive_field is not None


def test_attention_over_all_positions_is_global_and_the_map_goes_on():
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(4, 12)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, c, h, w = x.shape
            q, k, v = self.qkv(x.flatten(2).transpose(1, 2)).chunk(3, dim=-1)
            y = F.scaled_dot_product_attention(q, k, v)
            return x + y.transpose(1, 2).reshape(b, c, h, w)

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Attention(), nn.Conv2d(4, 2, 3, padding=1))
    p = plan(net, 16, suggest=False)
    assert p.global_at == "1" and p.ended_at is None and p.scale == (1, 1) and p.receptive_field == (16, 16)
    assert p.foveation is not None and p.layer("0").global_at is None and p.layer("2").global_at == "1"
    assert any("1: attention" in n for n in p.notes)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
def test_vae_decoder_scale_is_eight():
    diffusers = pytest.importorskip("diffusers")
    vae = diffusers.AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
    )

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vae = vae

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.vae.decode(z).sample

    p = plan(Decoder(), 8, in_channels=4, suggest=False)
    assert p.scale == (8, 8) and p.ended_at is None and p.foveation is not None
    assert p.global_at == "vae.decoder.mid_block.resnets.0.norm1:group_norm"


def test_channel_l2_norm_keeps_the_map_local():
    class L2Norm(nn.Module):  # SSD's
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x / torch.linalg.vector_norm(x, dim=1, keepdim=True)

    p = plan(nn.Sequential(nn.Conv2d(3, 5, 3), L2Norm(), nn.Conv2d(5, 2, 3)), 16, suggest=False)
    assert not p.notes and p.foveation is not None and p.receptive_field == (5, 5) and p.global_at is None


def test_detection_models_name_the_part_to_plan():
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None)
    with pytest.raises(PadkitError, match=r"model\.backbone"):
        plan(model, 320, suggest=False)
    p = plan(model.backbone, 320, suggest=False)
    assert p.foveation is not None and p.ended_at is None
