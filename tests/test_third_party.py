"""padkit on the architectures people ship, built by their own packages at random init (nothing downloaded).

diffusers (AutoencoderKL, UNet2DModel), segmentation-models-pytorch (Unet), MONAI (UNet 2-D with 1 channel, 3-D),
timm (TF 'same' padding, HRNet). For each: ``convert`` changes the padded layers, keeps ``state_dict`` keys (a strict
load from the original works), changes the output, and converting back to ``zeros`` gives the original output; and
``audit`` runs on data it builds for what the model reads (channels, spatial rank).
"""

from __future__ import annotations

from typing import Callable

import pytest
import torch
from torch import nn

import padkit

Case = tuple[Callable[[], nn.Module], Callable[[], torch.Tensor]]


class _Call(nn.Module):
    """``model(x)`` for models whose forward takes more than the image or returns a dataclass."""

    def __init__(self, model: nn.Module, kind: str) -> None:
        super().__init__()
        self.model, self.kind = model, kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "unet2d":
            return self.model(x, 10).sample
        if self.kind == "vae":
            return self.model(x).sample
        return self.model(x)


def _vae() -> nn.Module:
    diffusers = pytest.importorskip("diffusers")
    vae = diffusers.AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 32),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
    )
    return _Call(vae, "vae")


def _unet2d() -> nn.Module:
    diffusers = pytest.importorskip("diffusers")
    unet = diffusers.UNet2DModel(
        sample_size=16,
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )
    return _Call(unet, "unet2d")


def _smp_unet() -> nn.Module:
    smp = pytest.importorskip("segmentation_models_pytorch")
    return smp.Unet(
        encoder_name="resnet18",
        encoder_weights=None,
        in_channels=3,
        classes=2,
        encoder_depth=3,
        decoder_channels=(32, 16, 8),
    )


def _monai_unet(dims: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        nets = pytest.importorskip("monai.networks.nets")
        return nets.UNet(spatial_dims=dims, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2))

    return build


def _timm(name: str, **kwargs: object) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        timm = pytest.importorskip("timm")
        return timm.create_model(name, pretrained=False, **kwargs)

    return build


CASES: dict[str, Case] = {
    "diffusers-AutoencoderKL": (_vae, lambda: torch.randn(1, 3, 32, 32)),
    "diffusers-UNet2DModel": (_unet2d, lambda: torch.randn(1, 3, 16, 16)),
    "smp-Unet": (_smp_unet, lambda: torch.randn(1, 3, 64, 64)),
    "monai-UNet-2d-1ch": (_monai_unet(2), lambda: torch.randn(1, 1, 32, 32)),
    "monai-UNet-3d": (_monai_unet(3), lambda: torch.randn(1, 1, 16, 16, 16)),
    "timm-efficientnet-same": (_timm("efficientnet_b0", pad_type="same"), lambda: torch.randn(1, 3, 65, 63)),
    "timm-hrnet": (_timm("hrnet_w18_small"), lambda: torch.randn(1, 3, 64, 64)),
}


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_convert_round_trips_on_third_party_models(name: str) -> None:
    build, make_input = CASES[name]
    torch.manual_seed(0)
    model = build().eval()
    x = make_input()
    with torch.no_grad():
        want = model(x)
    converted, report = padkit.convert_report(model, "reflect")
    assert report.changes, "no layer converted"
    assert not report.skipped or all(s.reason for s in report.skipped)
    assert list(converted.state_dict()) == list(model.state_dict())
    converted.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        got = converted(x)
        back = padkit.convert(converted, "zeros")(x)
    assert got.shape == want.shape
    assert not torch.allclose(got, want), "reflect padding did not change the output"
    torch.testing.assert_close(back, want, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_audit_runs_on_third_party_models(name: str) -> None:
    build, make_input = CASES[name]
    torch.manual_seed(0)
    model = build().eval()
    x = make_input()
    rep = padkit.audit(
        model,
        "synthetic:smooth",
        modes=["zeros", "reflect"],
        input_size=tuple(x.shape[2:]),
        images=2,
        batch_size=2,
        probe_images=2,
        equivariance_images=1,
        progress=False,
    )
    assert rep.input_size == tuple(x.shape[2:]) and rep.images == 2
    for res in rep.results:
        assert res.layers, res.warnings
        assert all(lr.shape[0] >= 1 and len(lr.shape) == x.ndim - 1 for lr in res.layers)
        assert res.summary.border_shift >= 0
    planar = x.ndim == 4
    for res in rep.results:
        assert all((lr.false_edge_ratio == lr.false_edge_ratio) or not planar for lr in res.layers[:1])
        if not planar:
            assert all(lr.false_edge_ratio != lr.false_edge_ratio for lr in res.layers)  # NaN: not applicable


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_plan_gives_scale_and_reach_or_names_the_global_layer(name: str) -> None:
    """The plan's output scale is the real output/input size ratio; its receptive field is known or a layer is named."""
    from fractions import Fraction

    build, make_input = CASES[name]
    torch.manual_seed(0)
    model = build().eval()
    x = make_input()
    p = padkit.plan(model, tuple(x.shape[2:]), suggest=False)
    assert p.layers and not p.unknown_layers, [lp.name for lp in p.unknown_layers]
    assert p.scale, "no output scale"
    if p.ended_at is None:  # the output is a map: its scale is what the model really returns
        with torch.no_grad():
            out = model(x)
        if isinstance(out, torch.Tensor):
            want = tuple(Fraction(o, i) for o, i in zip(out.shape[2:], x.shape[2:]))
            assert tuple(p.scale) == want
    assert p.receptive_field is not None or p.global_at is not None
    if p.global_at is not None:
        assert p.global_at.split(":")[0] in dict(model.named_modules()), p.global_at  # "layer" or "layer:what"
