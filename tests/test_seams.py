"""padkit.seam_ratio (oracles: periodic images, ramps, a loop reference) and circular diffusers decoders: rolling the
input rolls the output, a tiled input decodes to the tiled output (seamless both ways)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import padkit
from padkit import PadkitError, PadkitTypeError, PadkitValueError, padding, seam_ratio


def _reference(image: np.ndarray, axis: str) -> float:
    """The definition with explicit loops: |last - first| over |next - this|, averaged over everything else."""
    a = np.asarray(image, dtype=np.float64)
    a = a if a.ndim == 3 else a[None]
    if axis == "y":
        a = a.transpose(0, 2, 1)
    c, h, w = a.shape
    wrap = [abs(a[k, i, w - 1] - a[k, i, 0]) for k in range(c) for i in range(h)]
    steps = [abs(a[k, i, j + 1] - a[k, i, j]) for k in range(c) for i in range(h) for j in range(w - 1)]
    return sum(wrap) / len(wrap) / (sum(steps) / len(steps))


def _periodic(channels: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Rows of sums of sines with integer frequencies (period w) and random phases: tiles seamlessly along x."""
    rng = np.random.default_rng(seed)
    x = np.arange(w) / w
    out = np.zeros((channels, h, w))
    for k in (1, 2, 3, 5):
        phase = rng.uniform(0, 2 * np.pi, size=(channels, h, 1))
        out += rng.normal(size=(channels, h, 1)) * np.sin(2 * np.pi * k * x + phase)
    return out


def test_periodic_image_is_about_one() -> None:
    image = _periodic(3, 128, 64)
    assert 0.85 < seam_ratio(image, "x") < 1.15
    assert 0.85 < seam_ratio(image.transpose(0, 2, 1), "y") < 1.15


def test_ramp_gives_its_length() -> None:
    w = 20
    ramp = np.tile(np.arange(w, dtype=np.float32), (3, 5, 1))  # (C, H, W), 0..w-1 along x
    assert seam_ratio(ramp, "x") == pytest.approx(w - 1)
    assert seam_ratio(ramp, "y") == 1.0  # constant along y
    assert seam_ratio(torch.from_numpy(ramp).transpose(-1, -2), "y") == pytest.approx(w - 1)
    cut = _periodic(1, 64, 64)[:, :, :40]  # a periodic image cut off mid-period shows a seam
    assert seam_ratio(cut, "x") > 2


@pytest.mark.parametrize("shape", [(7, 9), (2, 5, 4), (1, 3, 3)])
@pytest.mark.parametrize("axis", ["x", "y"])
def test_matches_the_loop_reference(shape: tuple[int, ...], axis: str) -> None:
    image = np.random.default_rng(1).normal(size=shape)
    assert seam_ratio(image, axis) == pytest.approx(_reference(image, axis), rel=1e-12)


def test_inputs_and_axis_names() -> None:
    image = np.random.default_rng(2).integers(0, 256, size=(3, 6, 8)).astype(np.uint8)
    expected = _reference(image, "x")
    assert seam_ratio(image, "x") == pytest.approx(expected)
    assert seam_ratio(image, -1) == seam_ratio(image, np.int64(-1)) == seam_ratio(image, "x")
    assert seam_ratio(torch.from_numpy(image), "x") == pytest.approx(expected)
    assert seam_ratio(torch.from_numpy(image).double().tolist(), "x") == pytest.approx(expected)
    assert seam_ratio(image, -2) == seam_ratio(image, "y") == pytest.approx(_reference(image, "y"))
    assert seam_ratio(image[0], "x") == pytest.approx(_reference(image[0], "x"))
    assert isinstance(seam_ratio(torch.ones(4, 4), "x"), float)
    assert seam_ratio(torch.ones(4, 4), "x") == 1.0


@pytest.mark.parametrize(
    ("image", "axis", "error", "match"),
    [
        (np.zeros((4, 4)), 0, PadkitValueError, "axis"),
        (np.zeros((4, 4)), "z", PadkitValueError, "axis"),
        (np.zeros((4, 4)), True, PadkitValueError, "axis"),
        (np.zeros(4), "x", PadkitValueError, "image.shape"),
        (np.zeros((1, 1, 4, 4)), "x", PadkitValueError, "image.shape"),
        (np.zeros((4, 2)), "x", PadkitValueError, "at least 3"),
        ("image", "x", PadkitTypeError, "image"),
    ],
)
def test_bad_arguments(image: object, axis: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        seam_ratio(image, axis)  # type: ignore[arg-type]


# --- diffusers decoders ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vae() -> torch.nn.Module:
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    return diffusers.AutoencoderKL(
        block_out_channels=(32, 32),
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
    ).eval()


@pytest.fixture(scope="module")
def unet() -> torch.nn.Module:
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    return diffusers.UNet2DModel(
        block_out_channels=(32, 32),
        layers_per_block=1,
        norm_num_groups=8,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    ).eval()


def _smooth_periodic(channels: int, n: int, seed: int = 0) -> torch.Tensor:
    """(1, C, n, n): a random combination of cos/sin of frequencies 0..2 along each axis (tiles seamlessly)."""
    g = torch.Generator().manual_seed(seed)
    t = 2 * math.pi * torch.arange(n) / n
    basis = torch.cat([torch.cos(torch.arange(3)[:, None] * t), torch.sin(torch.arange(1, 3)[:, None] * t)])
    return torch.einsum("cij,iy,jx->cyx", torch.randn(channels, 5, 5, generator=g), basis, basis)[None]


def _decode(vae: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return vae.decode(z).sample  # type: ignore[operator]


def _denoise(unet: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return unet(x, 10).sample


def _roll_error(run, x: torch.Tensor, shift: tuple[int, int], scale: int) -> float:  # type: ignore[no-untyped-def]
    """max |run(roll(x, shift)) - roll(run(x), shift * scale)| relative to max |run(x)|."""
    y = run(x)
    rolled = run(torch.roll(x, shift, (-2, -1)))
    expected = torch.roll(y, (shift[0] * scale, shift[1] * scale), (-2, -1))
    return float((rolled - expected).abs().max() / y.abs().max())


def _tile_error(run, x: torch.Tensor) -> float:  # type: ignore[no-untyped-def]
    """max |run(x tiled 2x2) - run(x) tiled 2x2| relative to max |run(x)|: 0 when the output tiles seamlessly."""
    y = run(x)
    return float((run(x.repeat(1, 1, 2, 2)) - y.repeat(1, 1, 2, 2)).abs().max() / y.abs().max())


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
def test_circular_vae_decoder_rolls_with_the_latent_and_tiles(vae: torch.nn.Module) -> None:
    z = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    decoder = vae.decoder  # type: ignore[union-attr]
    run = lambda latent: _decode(vae, latent)  # noqa: E731
    assert _roll_error(run, z, (0, 3), 2) > 1e-2  # zero padding: the border breaks the shift
    assert _tile_error(run, z) > 1e-2
    with padding(decoder, "circular") as scope:
        assert len(scope.report.changes) == 15 and scope.report.skipped == ()  # type: ignore[union-attr]
        for shift in [(0, 3), (5, 0), (5, 3), (0, 8)]:
            assert _roll_error(run, z, shift, 2) <= 1e-5
        assert _tile_error(run, z) <= 1e-5  # seamless both ways
    assert vae.decoder is decoder and type(decoder.conv_in) is torch.nn.Conv2d  # type: ignore[union-attr]


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
def test_circular_unet_rolls_with_the_input_and_tiles(unet: torch.nn.Module) -> None:
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    run = lambda image: _denoise(unet, image)  # noqa: E731
    assert _roll_error(run, x, (0, 2), 1) > 1e-2
    with padding(unet, "circular") as scope:
        assert len(scope.report.changes) == 20 and scope.report.skipped == ()  # type: ignore[union-attr]
        for shift in [(0, 2), (4, 0), (6, 2)]:  # one stride-2 downsampling: shifts by multiples of 2
            assert _roll_error(run, x, shift, 1) <= 1e-5
        assert _roll_error(run, x, (0, 1), 1) > 1e-2  # an odd shift moves the stride-2 sampling grid
        assert _tile_error(run, x) <= 1e-5


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
def test_seam_ratio_on_the_two_networks(vae: torch.nn.Module, unet: torch.nn.Module) -> None:
    """Averaged over 6 smooth periodic inputs (one sample scatters: 1.0 to 2.3 for the zero-padded VAE)."""
    inputs = [(_smooth_periodic(4, 16, seed), _smooth_periodic(3, 32, seed)) for seed in range(6)]

    def ratios() -> np.ndarray:  # (VAE x, VAE y, UNet x, UNet y), mean over the inputs
        out = []
        for z, x in inputs:
            images = (_decode(vae, z)[0], _denoise(unet, x)[0])
            out.append([seam_ratio(im, axis) for im in images for axis in ("x", "y")])
        return np.mean(out, axis=0)

    zeros = ratios()
    with padding(vae.decoder, "circular"), padding(unet, "circular"):  # type: ignore[union-attr]
        circular = ratios()
    assert np.all((circular > 0.8) & (circular < 1.25)), circular
    assert np.all(zeros > 1.5), zeros
    np.testing.assert_array_equal(ratios(), zeros)  # restored


def _per_axis_supported() -> bool:
    try:
        padkit.convert(torch.nn.Conv2d(1, 1, 3, padding=1), ("zeros", "circular"))  # type: ignore[arg-type]
    except (PadkitError, TypeError, ValueError):
        return False
    return True


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
@pytest.mark.skipif(not _per_axis_supported(), reason="per-axis padding modes are not supported by padkit.convert")
def test_per_axis_vae_decoder_is_circular_along_x_only(vae: torch.nn.Module) -> None:
    z = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    run = lambda latent: _decode(vae, latent)  # noqa: E731
    with padding(vae.decoder, ("zeros", "circular")):  # type: ignore[union-attr]
        assert _roll_error(run, z, (0, 3), 2) <= 1e-5
        assert _roll_error(run, z, (3, 0), 2) > 1e-2
        y = run(z)
        tiled_x = run(z.repeat(1, 1, 1, 2))
        assert float((tiled_x - y.repeat(1, 1, 1, 2)).abs().max() / y.abs().max()) <= 1e-5
