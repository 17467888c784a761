"""padkit audit feeds what the model reads: channels and spatial rank of its first convolution, the default size,
grayscale photographs, .npy folders, 1-D and 3-D models, and clear errors (exit 2) for data it cannot give."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from padkit import PadkitValueError, cli
from padkit.analysis.audit import audit
from padkit.analysis.audit.core import collapse
from padkit.analysis.audit.inputs import ModelInput, model_input
from padkit.data import BuiltinImages, FolderArrays, FolderImages, SyntheticImages, load_data

_KW = {"images": 2, "batch_size": 2, "probe_images": 2, "equivariance_images": 1, "progress": False}

_MONAI_FACTORY = """
from monai.networks.nets import UNet


def build():
    return UNet(spatial_dims={dims}, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2))
"""


def _monai(dims: int) -> nn.Module:
    nets = pytest.importorskip("monai.networks.nets")
    torch.manual_seed(0)
    return nets.UNet(spatial_dims=dims, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2))


@pytest.fixture
def padkit_audit(monkeypatch):
    monkeypatch.setitem(cli.SUBCOMMANDS, "audit", "audit")
    return lambda *argv: cli.main(["audit", *argv])


def test_model_input_reads_the_first_convolution() -> None:
    net = nn.Sequential(nn.Conv3d(1, 4, 3), nn.ReLU(), nn.Conv3d(4, 4, 3))
    assert model_input(net) == ModelInput(1, 3, "0", None)
    assert model_input(nn.Sequential(nn.Conv1d(2, 3, 3))).rank == 1
    assert model_input(nn.Sequential(nn.Linear(4, 4))) == ModelInput(3, 2, None, None)
    assert model_input(nn.Sequential(nn.Conv3d(1, 4, 3))).default_size() == (64, 64, 64)
    assert model_input(nn.Sequential(nn.Conv1d(1, 4, 3))).default_size() == (1024,)


class _HeadFirst(nn.Module):
    """A model whose output convolution is registered before its stem."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Conv2d(8, 2, 1)
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(self.norm(x)))


def test_model_input_probe_finds_the_convolution_the_input_reaches() -> None:
    net = _HeadFirst().train()
    assert model_input(net) == ModelInput(1, 2, "stem", None)
    assert model_input(net, probe=False) == ModelInput(8, 2, "head", None)  # module order
    assert net.training and int(net.norm.num_batches_tracked) == 0  # the probe ran in eval mode, flags restored
    assert not net.stem._forward_pre_hooks
    rep = audit(net, "builtin", input_size=12, **_KW)
    assert sorted(lr.name for lr in rep.results[0].layers) == ["head", "stem"]


def test_grayscale_photographs_are_bt601_luma(tmp_path) -> None:
    from PIL import Image

    Image.fromarray(np.full((8, 8, 3), (200, 100, 50), dtype=np.uint8)).save(tmp_path / "a.png")
    gray = FolderImages(tmp_path, 1, 4, channels=1)[0]
    assert gray.shape == (1, 4, 4)
    want = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255  # ITU-R BT.601 luma by hand
    torch.testing.assert_close(gray, torch.full((1, 4, 4), want), rtol=1e-6, atol=1e-6)
    rgb = BuiltinImages(1, 16, seed=3)[0].double().numpy()
    lum = BuiltinImages(1, 16, seed=3, channels=1)[0].double().numpy()
    np.testing.assert_allclose(lum[0], 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2], rtol=1e-5, atol=1e-6)


def test_synthetic_volumes_and_signals_are_seeded() -> None:
    for kind in ("constant", "noise", "smooth", "gradient", "periodic"):
        vol = SyntheticImages(kind, 2, 6, channels=2, rank=3, seed=1)
        assert vol[1].shape == (2, 6, 6, 6) and torch.equal(
            vol[1], SyntheticImages(kind, 2, 6, channels=2, rank=3, seed=1)[1]
        )
        assert float(vol[1].min()) >= 0 and float(vol[1].max()) <= 1
        assert SyntheticImages(kind, 1, 10, channels=1, rank=1)[0].shape == (1, 10)
    ramp = SyntheticImages("gradient", 1, 5, channels=1, rank=1)[0][0]
    steps = ramp[1:] - ramp[:-1]
    assert bool((steps > 0).all() or (steps < 0).all()) and torch.allclose(steps, steps[0].expand_as(steps))


def test_folder_of_npy_volumes_is_read(tmp_path) -> None:
    a = np.arange(10 * 12 * 14, dtype=np.float32).reshape(10, 12, 14)
    np.save(tmp_path / "a.npy", a[None])  # (C, D, H, W)
    np.save(tmp_path / "b.npy", a + 1)  # (D, H, W): one channel
    ds = load_data(str(tmp_path), 3, 8, channels=1, rank=3, seed=0)
    assert isinstance(ds, FolderArrays) and len(ds) == 3
    for i, base in ((0, a), (1, a + 1), (2, a)):
        item = ds[i]
        assert item.shape == (1, 8, 8, 8)
        d, h, w = np.unravel_index(int(item[0, 0, 0, 0]) - int(base[0, 0, 0]), a.shape)  # the crop's corner
        np.testing.assert_array_equal(item[0].numpy(), base[d : d + 8, h : h + 8, w : w + 8])
    with pytest.raises(PadkitValueError, match=r"shape \(1, 10, 12, 14\): expected \(2, D, H, W\)"):
        FolderArrays(tmp_path, 1, 8, channels=2, rank=3)[0]
    net = nn.Sequential(nn.Conv3d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv3d(3, 3, 3, padding=1))
    rep = audit(net, str(tmp_path), input_size=8, **_KW)
    assert rep.input_size == (8, 8, 8) and rep.results[0].layers[0].shape == (3, 8, 8, 8)


def test_monai_unet_1_channel_2d_audits() -> None:
    rep = audit(_monai(2), "builtin", modes=["zeros", "reflect"], input_size=16, **_KW)
    for res in rep.results:
        assert res.layers and all(lr.shape[1:] in {(16, 16), (8, 8), (4, 4)} for lr in res.layers)
        assert math.isfinite(res.summary.border_shift) and math.isfinite(res.summary.false_edge_ratio)
    assert rep.result("reflect").summary.border_shift < rep.result("zeros").summary.border_shift


def test_monai_unet_3d_audits_with_not_applicable_2d_metrics() -> None:
    rep = audit(_monai(3), "synthetic:smooth", modes=["zeros", "reflect"], input_size=16, **_KW)
    assert rep.input_size == (16, 16, 16)
    for res in rep.results:
        assert res.layers and all(len(lr.shape) == 4 and len(lr.band_widths) == 6 for lr in res.layers)
        assert math.isfinite(res.summary.border_shift)
        assert math.isnan(res.summary.false_edge_ratio) and math.isnan(res.summary.position_r2)
        assert all(any("not applicable to 3-D" in n for n in lr.notes) for lr in res.layers)
    d = rep.to_dict()
    assert d["results"]["zeros"]["summary"]["false_edge_ratio"] is None
    assert any("not applicable to 3-D" in w for w in d["warnings"])


def test_1d_conv_net_audits_with_band_from_the_plan() -> None:
    net = nn.Sequential(nn.Conv1d(2, 4, 5, padding=2), nn.ReLU(), nn.Conv1d(4, 4, 3, padding=1, stride=2))
    rep = audit(net, "synthetic:noise", **_KW)
    assert rep.input_size == (1024,)
    first, second = rep.results[0].layers
    assert first.shape == (4, 1024) and second.shape == (4, 512) and second.stride == (2,)
    assert first.band_source == "receptive-field" and first.band_widths == (2, 2)
    assert first.n_border == 4 and first.n_interior == 1020
    assert math.isfinite(first.border_shift) and math.isnan(first.equivariance_gap)
    assert all(p.side in ("left", "right") for p in first.padding_aware)


def test_folder_of_npy_signals_is_read(tmp_path) -> None:
    np.save(tmp_path / "s.npy", np.linspace(0, 1, 50, dtype=np.float32)[None].repeat(2, 0))  # (C, L)
    net = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1))
    rep = audit(net, str(tmp_path), input_size=32, **_KW)
    assert rep.input_size == (32,) and rep.data == str(tmp_path)
    item = load_data(str(tmp_path), 1, 32, channels=2, rank=1)[0]
    start = round(float(item[0, 0]) * 49)
    torch.testing.assert_close(item, torch.linspace(0, 1, 50)[start : start + 32].expand(2, 32))
    with pytest.raises(PadkitValueError, match=r"'synthetic:KIND' or a folder of \.npy signals for a 1-D model"):
        audit(net, "builtin", **_KW)


def test_1d_tensor_data(tmp_path) -> None:
    net = nn.Sequential(nn.Conv1d(1, 2, 3, padding=1))
    rep = audit(net, torch.rand(3, 1, 40), probe_images=2, progress=False)
    assert rep.input_size == (40,) and rep.images == 3
    with pytest.raises(PadkitValueError, match=r"expected \(N, C, L\) for a 1-D model"):
        audit(net, torch.rand(3, 1, 8, 8), progress=False)


def test_wrong_channel_count_is_a_clear_error(tmp_path, padkit_audit, capsys) -> None:
    net = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1))
    with pytest.raises(PadkitValueError, match=r"the model reads 4: pass data='synthetic:KIND' or a folder of \.npy"):
        audit(net, "builtin", **_KW)
    assert audit(net, "synthetic:noise", input_size=12, **_KW).results[0].layers[0].shape == (4, 12, 12)
    factory = tmp_path / "four.py"
    factory.write_text(
        "from torch import nn\n\n\ndef build():\n    return nn.Sequential(nn.Conv2d(4, 4, 3, padding=1))\n"
    )
    assert padkit_audit(f"{factory}:build", "--images", "2", "--input-size", "12", "--no-progress") == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "the model reads 4" in err and "--channels" in err and "Traceback" not in err


def test_cli_input_size_per_axis_and_its_errors(padkit_audit, tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    argv = ["test_audit_cli:tiny_net", "--images", "2", "--probe-images", "2", "--no-progress", "--json", str(out)]
    assert padkit_audit(*argv, "--input-size", "12,16") == cli.EXIT_OK
    assert json.loads(out.read_text())["input_size"] == [12, 16]
    for bad in ("0", "12,x", "1,2,3,4"):
        with pytest.raises(SystemExit) as exc:
            padkit_audit(*argv, "--input-size", bad)
        assert exc.value.code == cli.EXIT_USAGE
    assert "expected N or A,B[,C] with ints >= 1" in capsys.readouterr().err


def test_imagenet_statistics_on_one_channel_are_refused() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1))
    with pytest.raises(PadkitValueError, match=r"normalize='imagenet': expected 1 value per statistic"):
        audit(net, "builtin", input_size=8, normalize="imagenet", **_KW)


def test_forward_failure_names_the_declared_size() -> None:
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 20 * 20, 3))
    net.pretrained_cfg = {"input_size": (3, 20, 20)}
    rep = audit(net, "synthetic:noise", layers=["0"], **_KW)
    assert rep.input_size == (20, 20)  # the declared size is the default
    with pytest.raises(PadkitValueError, match=r"its forward fails .* it declares input size 20x20"):
        audit(net, "synthetic:noise", layers=["0"], input_size=24, **_KW)


def test_eval_mode_during_the_audit_and_flags_restored() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, padding=1)).train()
    audit(net, "synthetic:noise", input_size=12, **_KW)
    assert net.training and all(m.training for m in net.modules())
    assert torch.equal(net[1].running_mean, torch.zeros(4)) and int(net[1].num_batches_tracked) == 0


def test_repeated_notes_collapse_into_one_line() -> None:
    assert collapse(["a", "b", "a", "a"]) == ["a (x3)", "b"]
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(2), *(nn.Conv2d(4, 4, 1, padding=0) for _ in range(3))
    )
    rep = audit(net, "synthetic:noise", input_size=12, layers=["0", "2", "3", "4"], **_KW)
    notes = [w for w in rep.results[0].warnings if "not audited" in w]
    assert notes == ["3 layers ('2', '3', '4') not audited: output 2x2 is too small to split into border and interior"]
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), *(nn.ConvTranspose2d(4, 4, 3, padding=1) for _ in range(4)))
    rep = audit(net, "synthetic:noise", input_size=12, modes=["partial"], **_KW)
    kept = [w for w in rep.results[0].warnings if "original padding" in w]
    assert kept == [
        "4 layers ('1', '2', '3', ...) (ConvTranspose2d) keep their original padding under mode 'partial': "
        "partial padding is not defined for transposed convolution"
    ]


def test_monai_cli_with_a_factory_file(tmp_path, padkit_audit, capsys) -> None:
    pytest.importorskip("monai.networks.nets")
    for dims in (2, 3):
        factory = tmp_path / f"unet{dims}d.py"
        factory.write_text(_MONAI_FACTORY.format(dims=dims))
        out = tmp_path / f"r{dims}.json"
        argv = [f"{factory}:build", "--images", "2", "--batch-size", "2", "--input-size", "16", "--no-progress"]
        html = tmp_path / f"r{dims}.html"
        assert padkit_audit(*argv, "--probe-images", "2", "--json", str(out), "--html", str(html)) == cli.EXIT_OK
        assert html.read_text().count("<table") >= 1
        d = json.loads(out.read_text())
        assert d["input_size"] == [16] * dims and d["normalize"] == "none"
        assert d["data"] == ("builtin" if dims == 2 else "synthetic:smooth")
        assert d["results"]["as-is"]["layers"]
    assert padkit_audit(*argv, "--plot", str(tmp_path / "p.png")) == cli.EXIT_USAGE  # heat maps are 2-D
    err = capsys.readouterr().err
    assert "--plot: per-position heat maps exist for 2-D models, not 3-D ones" in err and "Traceback" not in err


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_border_shift_in_every_rank_matches_a_hand_computation(rank: int) -> None:
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[rank](1, 1, 3, padding=1, bias=False)
    nn.init.ones_(conv.weight)  # a box sum with zero padding: the outer face sees fewer values
    x = torch.rand((6, 1, *[8] * rank), generator=torch.Generator().manual_seed(rank))
    lr = audit(nn.Sequential(conv), x, probe_images=0, equivariance_images=0, progress=False).results[0].layers[0]
    with torch.no_grad():
        y = conv(x).double().numpy()[:, 0]
    # the band: positions on the outer face (their 3-wide window reaches the padding), by hand from the index grid
    grid = np.indices(y.shape[1:])
    face = np.zeros(y.shape[1:], dtype=bool)
    for axis in grid:
        face |= (axis == 0) | (axis == 7)
    b, i = y[:, face], y[:, ~face]
    smd = (b.mean() - i.mean()) / math.sqrt((b.var() + i.var()) / 2)
    assert lr.band_source == "receptive-field" and lr.n_border == int(face.sum())
    assert lr.border_shift == pytest.approx(abs(smd), rel=1e-6)
    assert lr.var_ratio == pytest.approx(b.var() / i.var(), rel=1e-6)
    assert len(lr.band_widths) == 2 * rank and set(lr.band_widths) == {1}
