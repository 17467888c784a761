"""A padding mode per axis and ``spherical``: padkit.pad, layers, convert, the CLI spelling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import padkit
from padkit import PadkitError, pad
from padkit.nn import (
    PadAvgPool2d,
    PadConv1d,
    PadConv2d,
    PadConv3d,
    PadConvTranspose2d,
    PadMaxPool2d,
)

NP = {"constant": "constant", "reflect": "reflect", "symmetric": "symmetric", "replicate": "edge", "circular": "wrap"}
NP.update({m: m for m in ("linear_ramp", "maximum", "minimum", "mean", "median")})


def np_per_axis(a: np.ndarray, flat: tuple[int, ...], modes: tuple[str, ...], **kw: object) -> np.ndarray:
    """np.pad applied dimension by dimension, last dimension first (the per-axis reference)."""
    for k, m in enumerate(modes):
        d = a.ndim - 1 - k
        widths = [(0, 0)] * a.ndim
        widths[d] = (flat[2 * k], flat[2 * k + 1])
        opts = {key: v for key, v in kw.items() if key == "constant_values" and m == "constant"}
        a = np.pad(a, widths, mode=NP[m], **opts)  # type: ignore[call-overload]
    return a


def np_spherical(a: np.ndarray, left: int, right: int, top: int, bottom: int) -> np.ndarray:
    """Brute-force loop over the spherical formula (rows cell-centred, half a turn beyond each pole)."""
    h, w = a.shape[-2:]
    out = np.empty((*a.shape[:-2], h + top + bottom, w + left + right), a.dtype)
    for r in range(h + top + bottom):
        for c in range(w + left + right):
            i, j = r - top, (c - left) % w
            if i < 0:
                i, j = -i - 1, (j + w // 2) % w
            elif i >= h:
                i, j = 2 * h - 1 - i, (j + w // 2) % w
            out[..., r, c] = a[..., i, j]
    return out


# ---------------------------------------------------------------------------------------------------------------------
# padkit.pad with a mode per dimension
# ---------------------------------------------------------------------------------------------------------------------
def test_issue_example_width_circular_height_reflect() -> None:
    x = torch.arange(12.0).reshape(1, 3, 4)
    got = pad(x, (1, 1, 1, 1), mode=("circular", "reflect"))
    want = np.pad(np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1)), "wrap"), ((0, 0), (1, 1), (0, 0)), "reflect")
    np.testing.assert_array_equal(got.numpy(), want)


def test_corners_pad_last_dimension_first() -> None:
    # an order-dependent pair: the maximum over the height sees the width's means in the corners
    x = torch.tensor([[1.0, 9.0, 2.0], [8.0, 0.0, 3.0]])
    got = pad(x, (2, 1, 1, 2), mode=("mean", "maximum"))
    want = np.pad(np.pad(x.numpy(), ((0, 0), (2, 1)), "mean"), ((1, 2), (0, 0)), "maximum")
    np.testing.assert_allclose(got.numpy(), want)
    first_dim_first = np.pad(np.pad(x.numpy(), ((1, 2), (0, 0)), "maximum"), ((0, 0), (2, 1)), "mean")
    assert not np.allclose(got.numpy(), first_dim_first)


MODES = ["constant", "reflect", "symmetric", "replicate", "circular", "linear_ramp", "maximum", "mean", "median"]


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    data=st.data(),
)
def test_per_axis_matches_numpy_dim_by_dim(shape: list[int], data: st.DataObject) -> None:
    n = data.draw(st.integers(1, len(shape)))
    modes = tuple(data.draw(st.sampled_from(MODES)) for _ in range(n))
    flat = tuple(data.draw(st.integers(0, 6)) for _ in range(2 * n))
    x = torch.randn(shape, dtype=torch.float64)
    kw = {"value": 1.5} if "constant" in modes else {}
    got = pad(x, flat, mode=modes, **kw)
    want = np_per_axis(x.numpy(), flat, modes, constant_values=1.5)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_per_axis_options_go_to_the_dims_whose_mode_takes_them() -> None:
    x = torch.arange(1.0, 7.0).reshape(2, 3)
    got = pad(x, (2, 2, 1, 1), mode=("reflect", "constant"), reflect_type="odd", constant_values=7)
    a = np.pad(x.numpy(), ((0, 0), (2, 2)), "reflect", reflect_type="odd")
    want = np.pad(a, ((1, 1), (0, 0)), "constant", constant_values=7)
    np.testing.assert_array_equal(got.numpy(), want)


def test_per_axis_errors() -> None:
    x = torch.zeros(2, 4, 4)
    with pytest.raises(PadkitError, match=r"mode=.*one mode per pair of pad.*2 mode"):
        pad(x, (1, 1, 1, 1), mode=("reflect",))
    with pytest.raises(PadkitError, match=r"stat_length=3: expected an option of one of mode"):
        pad(x, (1, 1, 1, 1), mode=("reflect", "circular"), stat_length=3)
    with pytest.raises(PadkitError, match=r"value=1: expected None"):
        pad(x, (1, 1), mode=("reflect",), value=1)
    with pytest.raises(PadkitError, match=r"mode\[1\]='spherical'"):
        pad(x, (1, 1, 1, 1), mode=("reflect", "spherical"))
    with pytest.raises(PadkitError, match=r"mode\[0\]='mirror'"):
        pad(x, (1, 1), mode=("mirror",))


def test_per_axis_crops_first() -> None:
    x = torch.arange(30.0).reshape(5, 6)
    got = pad(x, (-1, 2, 3, -2), mode=("circular", "symmetric"))
    want = np_per_axis(x.numpy()[:3, 1:], (0, 2, 3, 0), ("circular", "symmetric"))
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("modes", [("circular", "reflect"), ("replicate", "symmetric"), ("constant", "circular")])
def test_per_axis_gradcheck(modes: tuple[str, str]) -> None:
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    fn = lambda t: pad(t, (2, 1, 3, 2), mode=modes)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


# ---------------------------------------------------------------------------------------------------------------------
# spherical
# ---------------------------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 5),
    half=st.integers(1, 4),
    data=st.data(),
)
def test_spherical_matches_brute_force(h: int, half: int, data: st.DataObject) -> None:
    w = 2 * half
    top, bottom = data.draw(st.integers(0, h)), data.draw(st.integers(0, h))
    left, right = data.draw(st.integers(0, 2 * w + 1)), data.draw(st.integers(0, 2 * w + 1))
    x = torch.randn(2, h, w, dtype=torch.float64)
    got = pad(x, (left, right, top, bottom), mode="spherical")
    np.testing.assert_array_equal(got.numpy(), np_spherical(x.numpy(), left, right, top, bottom))


def test_spherical_formula_by_hand() -> None:
    x = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    # the row beyond the north pole is row 0 shifted by half a turn; the corner wraps around
    assert pad(x, (1, 0, 1, 0), mode="spherical").tolist() == [[2, 3, 4, 1, 2], [4, 1, 2, 3, 4], [8, 5, 6, 7, 8]]


def test_spherical_errors() -> None:
    with pytest.raises(PadkitError, match="an even width"):
        pad(torch.zeros(1, 4, 5), (1, 1, 1, 1), mode="spherical")
    with pytest.raises(PadkitError, match="at most the height 4 rows"):
        pad(torch.zeros(1, 4, 6), (1, 1, 5, 1), mode="spherical")
    with pytest.raises(PadkitError, match="4 entries"):
        pad(torch.zeros(1, 4, 6), (1, 1), mode="spherical")
    with pytest.raises(PadkitError, match="non-negative widths"):
        pad(torch.zeros(1, 4, 6), (1, -1, 1, 1), mode="spherical")
    with pytest.raises(PadkitError, match="reflect_type"):
        pad(torch.zeros(1, 4, 6), (1, 1, 1, 1), mode="spherical", reflect_type="odd")


@pytest.mark.parametrize(("width", "widths"), [(4, (3, 2, 3, 1)), (2, (5, 0, 0, 2)), (6, (0, 0, 2, 3))])
def test_spherical_gradcheck(width: int, widths: tuple[int, int, int, int]) -> None:
    x = torch.randn(2, 3, width, dtype=torch.float64, requires_grad=True)
    fn = lambda t: pad(t, widths, mode="spherical")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


def test_spherical_under_compile_fullgraph() -> None:
    x = torch.randn(1, 2, 4, 6)
    fn = torch.compile(lambda t: pad(t, (2, 2, 1, 1), mode="spherical"), fullgraph=True, backend="eager")
    torch.testing.assert_close(fn(x), pad(x, (2, 2, 1, 1), mode="spherical"))


# ---------------------------------------------------------------------------------------------------------------------
# layers with a mode per spatial dim (dim order) and spherical
# ---------------------------------------------------------------------------------------------------------------------
def np_layer_pad(x: torch.Tensor, pairs: tuple[tuple[int, int], ...], modes: tuple[str, ...]) -> torch.Tensor:
    """Spatial dims (dim order) padded by np.pad one dim at a time, last dim first; zeros = constant 0."""
    a = x.detach().numpy()
    for i in range(len(pairs) - 1, -1, -1):
        widths = [(0, 0)] * a.ndim
        widths[a.ndim - len(pairs) + i] = pairs[i]
        m = {"zeros": "constant"}.get(modes[i], modes[i])
        a = np.pad(a, widths, mode=NP[m])  # type: ignore[call-overload]
    return torch.from_numpy(a.copy())


@pytest.mark.parametrize(
    "modes", [("zeros", "circular"), ("reflect", "zeros"), ("circular", "reflect"), ("replicate", "mean")]
)
def test_conv2d_per_axis_matches_numpy_padding(modes: tuple[str, str]) -> None:
    torch.manual_seed(0)
    conv = PadConv2d(2, 3, (3, 5), padding=(1, 2), padding_mode=modes).double()
    x = torch.randn(2, 2, 6, 7, dtype=torch.float64)
    want = torch.nn.functional.conv2d(np_layer_pad(x, ((1, 1), (2, 2)), modes), conv.weight, conv.bias)
    torch.testing.assert_close(conv(x), want)
    assert conv.padding_mode == modes


def test_conv_per_axis_same_and_asymmetric_zero_dims() -> None:
    torch.manual_seed(0)
    conv = PadConv2d(1, 1, 4, stride=1, padding="same", padding_mode=("zeros", "circular")).double()
    x = torch.randn(1, 1, 5, 6, dtype=torch.float64)
    pairs = conv.explicit_padding((5, 6))
    assert pairs == ((1, 2), (1, 2))
    want = torch.nn.functional.conv2d(np_layer_pad(x, pairs, ("zeros", "circular")), conv.weight, conv.bias)
    torch.testing.assert_close(conv(x), want)


def test_conv3d_and_conv1d_per_axis() -> None:
    torch.manual_seed(0)
    conv = PadConv3d(1, 2, 3, padding=1, padding_mode=("circular", "zeros", "symmetric")).double()
    x = torch.randn(1, 1, 4, 5, 6, dtype=torch.float64)
    pairs = ((1, 1),) * 3
    want = torch.nn.functional.conv3d(np_layer_pad(x, pairs, conv.padding_mode), conv.weight, conv.bias)
    torch.testing.assert_close(conv(x), want)
    assert PadConv1d(1, 1, 3, padding=1, padding_mode=["wrap"]).padding_mode == ("circular",)


def test_layer_mode_reads_back_as_given_with_aliases_resolved() -> None:
    conv = PadConv2d(1, 1, 3, padding=1, padding_mode=["zero", "Wrap"])
    assert conv.padding_mode == ("zeros", "circular")
    assert "padding_mode=('zeros', 'circular')" in repr(conv)
    assert PadConv2d(1, 1, 3, padding=1, padding_mode="spherical").padding_mode == "spherical"
    assert PadMaxPool2d(3, 1, 1, padding_mode=("edge", "zeros")).padding_mode == ("replicate", "zeros")


def test_layer_per_axis_errors() -> None:
    with pytest.raises(PadkitError, match=r"padding_mode=\('zeros',\): expected 2 mode"):
        PadConv2d(1, 1, 3, padding_mode=("zeros",))
    with pytest.raises(PadkitError, match=r"padding_mode\[1\]='partial'"):
        PadConv2d(1, 1, 3, padding_mode=("zeros", "partial"))
    with pytest.raises(PadkitError, match=r"padding_mode\[0\]='spherical'"):
        PadConv2d(1, 1, 3, padding_mode=("spherical", "zeros"))
    with pytest.raises(PadkitError, match="pads 2-D maps only"):
        PadConv1d(1, 1, 3, padding_mode="spherical")
    with pytest.raises(PadkitError, match="stat_length"):
        PadConv2d(1, 1, 3, padding_mode=("zeros", "circular"), padding_options={"stat_length": 2})
    conv = PadConv2d(1, 1, 3, padding=1, padding_mode="spherical")
    with pytest.raises(PadkitError, match="an even width"):
        conv(torch.zeros(1, 1, 4, 5))


def test_per_axis_options_reach_their_dims() -> None:
    torch.manual_seed(0)
    conv = PadConv2d(1, 1, 3, padding=1, padding_mode=("constant", "reflect"), padding_options={"value": 2.0})
    conv = conv.double()
    x = torch.randn(1, 1, 4, 5, dtype=torch.float64)
    a = np.pad(x.numpy(), ((0, 0), (0, 0), (0, 0), (1, 1)), "reflect")
    a = np.pad(a, ((0, 0), (0, 0), (1, 1), (0, 0)), "constant", constant_values=2.0)
    want = torch.nn.functional.conv2d(torch.from_numpy(a), conv.weight, conv.bias)
    torch.testing.assert_close(conv(x), want)


def test_conv2d_spherical_matches_brute_force() -> None:
    torch.manual_seed(0)
    conv = PadConv2d(2, 3, 3, padding=(2, 1), dilation=(2, 1), padding_mode="spherical").double()
    x = torch.randn(1, 2, 5, 8, dtype=torch.float64)
    padded = torch.from_numpy(np_spherical(x.numpy(), 1, 1, 2, 2))
    want = torch.nn.functional.conv2d(padded, conv.weight, conv.bias, dilation=(2, 1))
    torch.testing.assert_close(conv(x), want)


@pytest.mark.parametrize("mode", ["spherical", ("zeros", "circular"), ("reflect", "circular")])
def test_conv_gradcheck(mode: object) -> None:
    torch.manual_seed(0)
    conv = PadConv2d(1, 2, 3, padding=1, padding_mode=mode).double()  # type: ignore[arg-type]
    x = torch.randn(1, 1, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(conv, (x,))
    assert torch.autograd.gradgradcheck(conv, (x,))


def test_max_pool_per_axis_zeros_dim_never_picks_padding() -> None:
    x = -torch.rand(1, 2, 5, 6, dtype=torch.float64) - 1  # all negative: a zero pad would win
    pool = PadMaxPool2d(3, 2, 1, padding_mode=("zeros", "circular"))
    wrapped = torch.from_numpy(np.pad(x.numpy(), ((0, 0), (0, 0), (0, 0), (1, 1)), "wrap"))
    want = torch.nn.functional.max_pool2d(wrapped, 3, 2, padding=(1, 0))
    torch.testing.assert_close(pool(x), want)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avg_pool_per_axis(ceil_mode: bool) -> None:
    x = torch.rand(1, 2, 7, 6, dtype=torch.float64)
    pool = PadAvgPool2d(3, 2, 1, ceil_mode=ceil_mode, padding_mode=("reflect", "circular"))
    got = pool(x)
    ref = PadAvgPool2d(3, 2, 1, ceil_mode=ceil_mode, padding_mode="reflect")(x)
    assert got.shape == ref.shape
    read = pool.explicit_padding((7, 6))
    padded = np_layer_pad(x, read, ("reflect", "circular"))
    want = torch.nn.functional.avg_pool2d(padded, 3, 2)[..., : got.shape[-2], : got.shape[-1]]
    torch.testing.assert_close(got, want)
    # zeros in the width: PyTorch's own padding there (count_include_pad=False divides by the real samples)
    pool = PadAvgPool2d(3, 2, 1, count_include_pad=False, padding_mode=("circular", "zeros"))
    wrapped = torch.from_numpy(np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (0, 0)), "wrap"))
    want = torch.nn.functional.avg_pool2d(wrapped, 3, 2, padding=(0, 1), count_include_pad=False)
    torch.testing.assert_close(pool(x), want)


def test_conv_transpose_per_axis() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64)
    same = PadConvTranspose2d(2, 3, 3, stride=2, padding=1, padding_mode=("reflect", "reflect")).double()
    whole = PadConvTranspose2d(2, 3, 3, stride=2, padding=1, padding_mode="reflect").double()
    whole.load_state_dict(same.state_dict())
    torch.testing.assert_close(same(x), whole(x))
    zeros = PadConvTranspose2d(2, 3, 3, stride=2, padding=1, padding_mode=("zeros", "zero")).double()
    plain = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    plain.load_state_dict(zeros.state_dict())
    torch.testing.assert_close(zeros(x), plain(x))


def test_per_axis_conv_under_compile_fullgraph() -> None:
    torch.manual_seed(0)
    for mode in (("zeros", "circular"), ("reflect", "circular"), "spherical"):
        conv = PadConv2d(1, 2, 3, padding=1, padding_mode=mode)
        x = torch.randn(1, 1, 6, 8)
        fn = torch.compile(conv, fullgraph=True, backend="eager")
        torch.testing.assert_close(fn(x), conv(x))


# ---------------------------------------------------------------------------------------------------------------------
# convert, the layer registry, the CLI spelling
# ---------------------------------------------------------------------------------------------------------------------
def test_convert_per_axis_skips_layers_of_another_rank() -> None:
    from padkit.conversion import convert_report

    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv1d(2, 2, 3, padding=1), nn.MaxPool2d(3, 1, 1))
    new, report = convert_report(net, ("zeros", "circular"))
    assert new[0].padding_mode == ("zeros", "circular")
    assert new[2].padding_mode == ("zeros", "circular")
    assert [c.new for c in report.changes] == ["PadConv2d(zeros+circular)", "PadMaxPool2d(zeros+circular)"]
    assert [s.name for s in report.skipped] == ["1"]
    assert "converted to zeros+circular" in report.format()
    assert padkit.convert(net, "spherical")[1] is not None


def test_registry_reads_per_axis_modes() -> None:
    from padkit.layers import padding_mode, pads_with_zeros

    assert padding_mode(PadConv2d(1, 1, 3, padding=1, padding_mode=("zeros", "circular"))) == ("zeros", "circular")
    assert pads_with_zeros(PadConv2d(1, 1, 3, padding=1, padding_mode=("zeros", "zero")))
    assert not pads_with_zeros(PadConv2d(1, 1, 3, padding=1, padding_mode=("zeros", "reflect")))


def test_cli_spelling() -> None:
    from padkit.commands._types import parse_layer_mode, parse_layer_modes

    assert parse_layer_mode("zero+wrap") == ("zeros", "circular")
    assert parse_layer_mode(" reflect ") == "reflect"
    assert parse_layer_modes("zeros,zeros+circular,spherical") == ("zeros", ("zeros", "circular"), "spherical")
    with pytest.raises(PadkitError, match=r"MODE='zeros\+': expected a padding mode, or modes joined by '\+'"):
        parse_layer_mode("zeros+")
    with pytest.raises(PadkitError, match=r"MODE\[1\]='bogus'"):
        parse_layer_mode("zeros+bogus")


def test_cli_convert_per_axis(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    from padkit.cli import main

    assert main(["convert", "torchvision:resnet18", "zeros+circular"]) == 0
    out = capsys.readouterr().out
    assert "PadConv2d(zeros+circular)" in out
    assert "converted to zeros+circular" in out


@pytest.mark.parametrize("mode", [("zeros", "circular"), ("reflect", "circular"), "spherical"])
def test_onnx_export_matches_onnxruntime(mode: object, tmp_path: object) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    net = nn.Sequential(
        PadConv2d(3, 4, 3, padding=1, padding_mode=mode),  # type: ignore[arg-type]
        PadMaxPool2d(3, 2, 1, padding_mode=mode),  # type: ignore[arg-type]
        PadConvTranspose2d(4, 2, 3, 2, 1, 1, padding_mode=mode),  # type: ignore[arg-type]
    ).eval()
    x = torch.randn(1, 3, 12, 12)
    path = f"{tmp_path}/per_axis.onnx"
    torch.onnx.export(net, (x,), path, dynamo=False)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        ref = net(x).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_experiment_modes_take_per_axis_modes(capsys: pytest.CaptureFixture[str]) -> None:
    from padkit.cli import main
    from padkit.lab.experiments.modes import ModesConfig, SmallCNN

    cfg = ModesConfig(modes=("zeros", ["zero", "wrap"], "spherical"))
    assert cfg.modes == ("zeros", ("zeros", "circular"), "spherical")
    net = SmallCNN(("zeros", "circular"), 3, 4)
    assert net(torch.randn(1, 3, 16, 16)).shape == (1, 4)
    assert main(["experiment", "red-green", "--modes", "zeros+circular"]) == 2
    assert "--modes='zeros+circular': expected only with NAME='modes'" in capsys.readouterr().err
    assert main(["experiment", "modes", "--modes", "zeros+bogus"]) == 2
    assert "--modes[1]='bogus'" in capsys.readouterr().err


def test_plan_and_audit_take_per_axis_and_spherical_modes(tmp_path, capsys) -> None:
    import padkit.nn as pnn
    from padkit.cli import main

    torch.manual_seed(0)
    net = nn.Sequential(
        pnn.PadConv2d(3, 4, 3, padding=1, padding_mode=("zeros", "circular")),
        nn.ReLU(),
        pnn.PadConv2d(4, 4, 3, padding=1, padding_mode="spherical"),
    )
    p = padkit.plan(net, (16, 16), suggest=False)
    assert [lp.note for lp in p.layers] == ["zeros+circular padkit", "spherical padkit"]
    assert p.layers[0].pad_before == (1, 1) and p.layers[1].pad_after == (1, 1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    rep = padkit.audit(
        model,
        "synthetic:smooth",
        modes=["zeros", ("zeros", "circular"), "spherical"],
        input_size=32,
        images=2,
        batch_size=2,
        probe_images=2,
        equivariance_images=1,
        progress=False,
    )
    assert [r.mode for r in rep.results] == ["zeros", "zeros+circular", "spherical"]
    (tmp_path / "net.py").write_text(
        "import torch.nn as nn\ndef build():\n    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())\n"
    )
    args = ["audit", f"{tmp_path / 'net.py'}:build", "--data", "synthetic:smooth", "--images", "2", "--input-size"]
    code = main([*args, "32", "--modes", "zeros,zeros+circular", "--json", "-", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and '"zeros+circular"' in out
