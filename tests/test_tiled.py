"""padkit.tiled: exact tiling equals the whole-image run (oracle: ``model(x)``), blending measures its seams."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import padkit
from padkit import PadkitTypeError, PadkitValueError
from padkit.tiling import TiledRun, tiled_run
from padkit.tiling.layout import segments
from padkit.tiling.stitch import relative_error

TOL = 1e-5  # of the output's scale (max |model(x)|), float32


def assert_same(got: object, want: object) -> None:
    """``got`` has the form of ``want`` and each map is within ``TOL`` of its scale."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor)
        assert got.shape == want.shape and got.dtype == want.dtype
        rel, _ = relative_error([got], [want])
        assert rel <= TOL, rel
        return
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want)
        for k in want:
            assert_same(got[k], want[k])
        return
    assert isinstance(got, type(want)) and len(got) == len(want)  # type: ignore[arg-type]
    for g, w in zip(got, want):  # type: ignore[call-overload]
        assert_same(g, w)


def whole(model: nn.Module, x: torch.Tensor) -> object:
    with torch.no_grad():
        return model.eval()(x)


def conv_net(rank: int = 2) -> nn.Module:
    """Strided conv, upsampling by 4 (bilinear/linear), convs: scale 2, total stride 2."""
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[rank - 1]
    bn = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[rank - 1]
    interp = ("linear", "bilinear", "trilinear")[rank - 1]
    torch.manual_seed(0)
    net = nn.Sequential(
        conv(2, 4, 3, padding=1),
        bn(4),
        nn.ReLU(),
        conv(4, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Upsample(scale_factor=4, mode=interp),
        conv(4, 3, 5, padding=2),
    )
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return net.eval()


class Down(nn.Module):
    """Downsampling by 4 (scale 1/4): conv stride 2, max pool 2, 1x1 head."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 4, 5, stride=2, padding=2)
        self.pool = nn.MaxPool2d(2)
        self.b = nn.Conv2d(4, 2, 3, padding=1, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.pool(torch.relu(self.a(x))))


class TwoHeads(nn.Module):
    """A tuple of maps at two scales (a text detector's score and geometry heads)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Conv2d(3, 6, 3, padding=1)
        self.down = nn.Conv2d(6, 2, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(6, 1, 2, stride=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(self.body(x))
        return self.down(h), self.up(h)


@pytest.mark.parametrize("tile", [8, 16, (12, 40)])
def test_exact_equals_whole_image(tile: object) -> None:
    net = conv_net()
    x = torch.randn(2, 2, 70, 51)  # not a multiple of the tile: last tiles are shorter
    run = tiled_run(net, x, tile, progress=False)
    assert run.exact and run.align == (2, 2) and run.scale == (2, 2)
    assert run.halo[0] % 2 == 0 and run.halo[0] >= 4
    assert_same(run.output, whole(net, x))


_SWEEP_NET = Down().eval()


@settings(max_examples=25)
@given(
    h=st.integers(8, 48),
    w=st.integers(8, 48),
    tile=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    batch=st.integers(1, 3),
    mode=st.sampled_from([None, "circular", "replicate"]),
)
def test_exact_sweep(h: int, w: int, tile: tuple[int, int], batch: int, mode: str | None) -> None:
    """Any image size (even one the downsampling leaves unread rows of), tile, batch and border mode."""
    x = torch.randn(1, 1, h, w, generator=torch.Generator().manual_seed(h * 100 + w))
    run = tiled_run(_SWEEP_NET, x, tile, batch=batch, mode=mode, progress=False)
    if mode is None:
        want = whole(_SWEEP_NET, x)
    else:
        p = run.halo[0]
        big = whole(_SWEEP_NET, padkit.pad(x, (p, p, p, p), mode))
        assert isinstance(big, torch.Tensor)
        want = big[..., p // 4 : big.shape[2] - p // 4, p // 4 : big.shape[3] - p // 4]
    assert_same(run.output, want)


def test_batch_groups_tiles_of_one_crop_shape() -> None:
    net = conv_net()
    x = torch.randn(1, 2, 64, 64)
    one = tiled_run(net, x, 16, progress=False)
    four = tiled_run(net, x, 16, batch=4, progress=False)
    assert one.tiles == four.tiles == 16 and one.forwards == 16
    assert four.forwards < one.forwards  # the four interior tiles share a crop shape, so do the edge tiles
    assert_same(four.output, whole(net, x))


@pytest.mark.parametrize("size", [(33, 64), (64, 40), (17, 9)])
def test_downsampling_output_and_odd_sizes(size: tuple[int, int]) -> None:
    torch.manual_seed(1)
    net = Down().eval()
    x = torch.randn(1, 1, *size)
    run = tiled_run(net, x, 8, progress=False)
    assert run.align == (4, 4) and run.scale == (0.25, 0.25)
    assert_same(run.output, whole(net, x))


def test_tuple_output_stitched_per_map() -> None:
    torch.manual_seed(2)
    net = TwoHeads().eval()
    x = torch.randn(1, 3, 48, 36)
    assert_same(padkit.tiled(net, x, 10, progress=False), whole(net, x))


def test_one_and_three_dims() -> None:
    net1 = conv_net(1)
    x1 = torch.randn(3, 2, 301)
    assert_same(padkit.tiled(net1, x1, 32, progress=False), whole(net1, x1))
    net3 = conv_net(3)
    x3 = torch.randn(1, 2, 20, 18, 22)
    assert_same(padkit.tiled(net3, x3, (8, 16, 8), progress=False), whole(net3, x3))


def test_segments_partition_the_image() -> None:
    for size, tile, halo, pad in [(70, 16, 8, 0), (5, 16, 4, 0), (33, 8, 8, 8)]:
        segs = segments(size, tile, halo, pad)
        assert [s.start for s in segs] == list(range(pad, pad + size, tile))
        assert segs[-1].stop == pad + size and all(a.stop == b.start for a, b in zip(segs, segs[1:]))
        assert all(
            s.crop_start == max(0, s.start - halo) and s.crop_stop == min(size + 2 * pad, s.stop + halo) for s in segs
        )


def test_training_mode_is_restored_and_batch_norm_runs_in_eval() -> None:
    net = conv_net().train()
    x = torch.randn(1, 2, 40, 40)
    got = padkit.tiled(net, x, 16, progress=False)
    assert net.training and all(m.training for m in net.modules())
    assert_same(got, whole(net, x))


def test_circular_mode() -> None:
    net = conv_net()
    x = torch.randn(1, 2, 40, 34)
    run = tiled_run(net, x, 16, mode="wrap", progress=False)
    assert run.mode == "circular"
    h = run.halo[0]
    # the zero-padded model: the centre of its output on the circularly padded image
    big = whole(net, padkit.pad(x, (h, h, h, h), "circular"))
    assert isinstance(big, torch.Tensor)
    assert_same(run.output, big[..., 2 * h : 2 * h + 80, 2 * h : 2 * h + 68])
    # a model converted to circular padding: exactly its own output (a seamless texture); bilinear upsampling clamps
    # at the border, so this one upsamples with a pixel shuffle
    torch.manual_seed(10)
    shuffle = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.PixelShuffle(2)
    )
    circ = padkit.convert(shuffle.eval(), "circular")
    assert_same(padkit.tiled(circ, x, 16, mode="circular", progress=False), whole(circ, x))


def test_reflect_mode_is_the_centre_of_the_padded_run() -> None:
    torch.manual_seed(3)
    net = Down().eval()
    x = torch.randn(1, 1, 48, 40)
    run = tiled_run(net, x, 8, mode="reflect", progress=False)
    h = run.halo[0]
    big = whole(net, padkit.pad(x, (h, h, h, h), "reflect"))
    q = h // 4
    assert isinstance(big, torch.Tensor)
    assert_same(run.output, big[..., q:-q, q:-q])


def test_blend_of_a_local_network_is_exact_and_ramps_sum_to_one() -> None:
    net = conv_net()
    x = torch.randn(1, 2, 64, 48)
    with pytest.warns(UserWarning, match="seam error|differ"):
        run = tiled_run(net, x, 16, exact=False, progress=False)
    assert run.seam_error is not None and run.seam_error <= TOL
    assert_same(run.output, whole(net, x))
    # a pointwise model: blended tiles with any halo give back the input (the ramps are a partition of unity)
    point = nn.Conv2d(2, 2, 1, bias=False).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = padkit.tiled(point, x, 16, exact=False, halo=8, progress=False)
    assert_same(out, whole(point, x))


def test_dict_output_torchvision_fcn() -> None:
    from torchvision.models import resnet18
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.fcn import FCN, FCNHead

    torch.manual_seed(4)
    backbone = IntermediateLayerGetter(resnet18(), {"layer2": "out", "layer1": "aux"})
    net = FCN(backbone, FCNHead(128, 3), FCNHead(64, 3)).eval()
    x = torch.randn(1, 3, 224, 176)
    run = tiled_run(net, x, 64, progress=False)
    assert run.halo == (72, 72) and run.align == (8, 8)
    assert_same(run.output, whole(net, x))
    with pytest.raises(PadkitValueError, match=r"interpolate.*multiples of the total stride 8x8"):
        padkit.tiled(net, x[..., :221, :], 64, progress=False)  # FCN resizes to the input size: 221 breaks scale 8


def test_smp_unet() -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    torch.manual_seed(5)
    net = smp.Unet("resnet18", encoder_weights=None, encoder_depth=3, decoder_channels=(32, 16, 8), classes=2).eval()
    x = torch.randn(1, 3, 256, 192)
    run = tiled_run(net, x, 64, batch=2, progress=False)
    assert run.align == (8, 8) and run.tiles == 12
    assert_same(run.output, whole(net, x))


def test_monai_3d_unet() -> None:
    monai = pytest.importorskip("monai.networks.nets")
    torch.manual_seed(6)
    kw = dict(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8, 8), strides=(2, 2), num_res_units=1)
    net = monai.UNet(**kw, norm="batch").eval()
    x = torch.randn(1, 1, 40, 32, 36)
    assert_same(padkit.tiled(net, x, 16, progress=False), whole(net, x))
    inorm = monai.UNet(**kw).eval()  # MONAI's default: instance norm, statistics over all positions
    with pytest.raises(PadkitValueError, match=r"model\.0\.conv\.unit0\.adn\.N.*mixes all positions"):
        padkit.tiled(inorm, x, 16, progress=False)


def test_global_networks_refused_and_blended() -> None:
    from torchvision.models.segmentation import lraspp_mobilenet_v3_large

    torch.manual_seed(7)
    net = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=2).eval()
    x = torch.randn(1, 3, 96, 64)
    with pytest.raises(PadkitValueError, match=r"layer backbone\.\S+ mixes all positions.*exact=False"):
        padkit.tiled(net, x, 32, progress=False)
    with pytest.warns(UserWarning, match="mixes all positions"):
        run = tiled_run(net, x, 32, exact=False, progress=False)
    want = whole(net, x)
    assert isinstance(run.output, dict) and run.output["out"].shape == want["out"].shape  # type: ignore[index]
    assert run.sample == (64, 64) and run.seam_error is not None and run.seam_error > 0


def test_diffusers_vae_decoder() -> None:
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(8)
    vae = diffusers.AutoencoderKL(
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=4,
        layers_per_block=1,
    ).eval()
    z = torch.randn(1, 4, 24, 20)
    with pytest.raises(PadkitValueError, match=r"group_norm mixes all positions"):
        padkit.tiled(vae.decoder, z, 8, progress=False)
    with pytest.warns(UserWarning, match=r"group_norm mixes all positions"):
        run = tiled_run(vae.decoder, z, 16, exact=False, progress=False)
    assert run.scale == (2, 2) and run.halo == (4, 4) and run.sample == (24, 20)
    want = whole(vae.decoder, z)
    assert isinstance(want, torch.Tensor) and run.output.shape == want.shape
    # the sample region is the whole latent here, so the reported error is the error of the output
    rel, err = relative_error([run.output], [want])
    assert run.seam_error == pytest.approx(rel, rel=1e-6) and run.seam_error_abs == pytest.approx(err, rel=1e-6)
    assert 0 < rel < 1


def test_summary_and_result_fields() -> None:
    run = tiled_run(conv_net(), torch.randn(1, 2, 20, 20), 8, progress=False)
    assert isinstance(run, TiledRun)
    assert run.summary().startswith("9 tiles of 8x8 + halo") and "exact" in run.summary()
    assert run.seam_error is None and run.sample is None


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    padkit.tiled(conv_net(), torch.randn(1, 2, 20, 20), 8, progress=True)
    assert "tile" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "net"}, PadkitTypeError, r"model='net' \(str\): expected a torch.nn.Module"),
        ({"x": [1.0]}, PadkitTypeError, r"x=\[1.0\] \(list\): expected a torch.Tensor"),
        ({"x": torch.zeros(2, 3)}, PadkitValueError, r"x='tensor of shape \(2, 3\)'"),
        ({"x": torch.zeros(1, 2, 8, 8, dtype=torch.long)}, PadkitTypeError, r"floating-point"),
        ({"tile": 0}, PadkitValueError, r"tile=0"),
        ({"tile": (8, 8, 8)}, PadkitTypeError, r"tile=\(8, 8, 8\)"),
        ({"tile": "8"}, PadkitTypeError, r"tile='8'"),
        ({"exact": 1}, PadkitTypeError, r"exact=1 \(int\): expected True or False"),
        ({"mode": "zeros"}, PadkitValueError, r"mode='zeros'.*circular"),
        ({"mode": 3}, PadkitTypeError, r"mode=3"),
        ({"batch": 0}, PadkitValueError, r"batch=0: expected an int >= 1"),
        ({"device": "gpu9"}, PadkitValueError, r"device='gpu9'"),
        ({"device": "meta"}, PadkitValueError, r"device='meta'.*the model's parameters \(cpu\)"),
        ({"device": 0}, PadkitTypeError, r"device=0"),
        ({"progress": None}, PadkitTypeError, r"progress=None"),
        ({"halo": -1}, PadkitValueError, r"halo=-1"),
        ({"halo": 2}, PadkitValueError, r"halo=2: expected at least the network's halo"),
    ],
)
def test_argument_errors(kwargs: dict, error: type, match: str) -> None:
    args = {"model": conv_net(), "x": torch.randn(1, 2, 16, 16), "tile": 8, "progress": False} | kwargs
    with pytest.raises(error, match=match):
        padkit.tiled(args.pop("model"), args.pop("x"), args.pop("tile"), **args)


def test_unfollowable_output_refused() -> None:
    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x).flatten(1)

    with pytest.raises(PadkitValueError, match=r"not a spatial map"):
        padkit.tiled(Flat(), torch.randn(1, 1, 16, 16), 8, progress=False)


def test_align_corners_refused() -> None:
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, stride=2),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.Conv2d(2, 1, 3, padding=1),
    )
    with pytest.raises(PadkitValueError, match=r"layer 1:interpolate interpolates with align_corners=True"):
        padkit.tiled(net, torch.randn(1, 1, 32, 32), 8, progress=False)


@pytest.mark.slow
def test_torchvision_fcn_resnet50() -> None:
    from torchvision.models.segmentation import fcn_resnet50

    torch.manual_seed(9)
    net = fcn_resnet50(weights=None, weights_backbone=None, aux_loss=True, num_classes=3).eval()
    x = torch.randn(1, 3, 640, 576)
    run = tiled_run(net, x, 256, progress=False)
    assert run.tiles == 9
    assert_same(run.output, whole(net, x))


UNET = "docs/examples/unet.py:unet"


def test_cli_png_to_npy_and_png(tmp_path, capsys) -> None:
    import json

    import numpy as np
    from PIL import Image

    from padkit.cli import main
    from padkit.models import load_model

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (72, 88, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    out = tmp_path / "out.npy"
    code = main(
        [
            "tile",
            UNET,
            str(tmp_path / "in.png"),
            str(out),
            "--tile",
            "32",
            "--no-progress",
            "--json",
            str(tmp_path / "s.json"),
        ]
    )
    assert code == 0
    line = capsys.readouterr().out
    assert line.startswith(f"padkit tile: {UNET} on 72x88: ") and "exact" in line and "peak memory" in line
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["exact"] and summary["tile"] == [32, 32] and summary["written"][0] == str(out)
    x = torch.from_numpy(np.asarray(Image.open(tmp_path / "in.png").convert("RGB"), dtype=np.float32) / 255)
    want = whole(load_model(UNET), x.permute(2, 0, 1)[None].contiguous())
    assert isinstance(want, torch.Tensor)
    assert_same(torch.from_numpy(np.load(out))[None], want)
    if want.shape[1] in (1, 3):
        assert (tmp_path / "out.png").exists()


def test_cli_npy_blend_and_errors(tmp_path, capsys) -> None:
    import numpy as np

    from padkit.cli import main

    np.save(tmp_path / "in.npy", np.random.default_rng(1).random((3, 40, 48), dtype=np.float32))
    args = ["tile", UNET, str(tmp_path / "in.npy"), str(tmp_path / "o.npy"), "--tile", "16", "--no-progress"]
    assert main([*args, "--blend"]) == 0
    assert "blended, worst seam error 0 " in capsys.readouterr().out
    assert main([*args[:3], str(tmp_path / "o.txt"), "--tile", "16"]) == 2
    assert "OUTPUT=" in capsys.readouterr().err
    assert main([*args[:-3], "--tile", "0"]) == 2
    assert "--tile='0'" in capsys.readouterr().err
    assert main([*args, "--device", "nowhere"]) == 2
    assert "--device='nowhere'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*args, "--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


def test_bench_tile_pad_and_layout_area() -> None:
    from padkit.lab.benchmarks._tile import crop_area_ratio, tile_pad_run

    torch.manual_seed(11)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.Upsample(scale_factor=2)
    ).eval()  # scale 1, as the tiler expects
    x = torch.randn(1, 2, 40, 36)
    halo = tiled_run(net, x, 8, progress=False).halo[0]
    with torch.no_grad():
        # enough context, on the stride grid: Real-ESRGAN's tiler is exact too; none: it is not
        assert_same(tile_pad_run(net, x, 8, halo, 2), whole(net, x))
        rel, _ = relative_error([tile_pad_run(net, x, 8, 0, 2)], [whole(net, x)])  # type: ignore[list-item]
    assert rel > 1e-3
    # crop area over image area, against a brute-force count of covered pixels per crop
    for size, tile, halo in [(2048, 512, 144), (100, 32, 16), (50, 64, 8)]:
        area = sum(min(size, s + tile + halo) - max(0, s - halo) for s in range(0, size, tile)) / size
        assert crop_area_ratio(size, tile, halo) == pytest.approx(area * area)


def test_bench_tile_renderers() -> None:
    from padkit.lab.benchmarks._tile import TileBenchReport
    from padkit.render.tile import format_bytes, tile_bench_markdown, tile_bench_table

    report = TileBenchReport(
        machine={"cpu": "X", "cpu_count": 2, "torch_threads": 1, "torch": "2"},
        model="m",
        tile=512,
        halo=144,
        align=16,
        theory=(512 + 288) ** 2 / 512**2,
        rows=(
            {
                "size": 2048,
                "layout_ratio": 2.0,
                "whole_bytes": 4 << 30,
                "tiled_bytes": 1 << 30,
                "whole_s": 10.0,
                "tiled_s": 20.0,
            },
        ),
        errors=({"method": "monai", "size": 2048, "relative": 0.5, "absolute": 0.1, "seconds": 3.0},),
    )
    text = tile_bench_table(report)
    assert "4.0 GiB" in text and "1.0 GiB" in text and "0.25" in text and "2.44" in text and "monai" in text
    assert sum(line.startswith("|---") for line in tile_bench_markdown(report).splitlines()) == 2
    assert '"kind": "bench-tile"' in report.to_json()
    assert format_bytes(None) == "-" and format_bytes(1536) == "1.5 KiB" and format_bytes(12) == "12 B"
