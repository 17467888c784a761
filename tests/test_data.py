"""padkit.data: builtin photographs, synthetic images, folders, normalisation specs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from padkit import PadkitError
from padkit.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SYNTHETIC_KINDS,
    BuiltinImages,
    FolderImages,
    SyntheticImages,
    builtin_image_paths,
    load_data,
    parse_normalize,
    photograph,
)


def test_builtin_photos_ship_inside_installed_packages():
    from pathlib import Path

    import skimage
    import sklearn

    roots = (Path(skimage.__file__).parent, Path(sklearn.__file__).parent)
    paths = builtin_image_paths()
    assert len(paths) >= 10
    for p in paths:
        assert p.is_file()
        assert any(root in p.parents for root in roots), p  # inside the wheel, not a pooch cache


def test_builtin_crops_are_seeded_real_pixels():
    from PIL import Image

    ds = BuiltinImages(3, 48, seed=5)
    a, b = ds[1], BuiltinImages(3, 48, seed=5)[1]
    assert a.shape == (3, 48, 48) and a.dtype == torch.float32
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, BuiltinImages(3, 48, seed=6)[1])
    # the crop is an exact window of the photo (oracle: search the photo for it)
    with Image.open(ds.paths[1]) as im:
        photo = np.asarray(im.convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0
    rng = np.random.default_rng((5, 1))
    top = int(rng.integers(0, photo.shape[1] - 48 + 1))
    left = int(rng.integers(0, photo.shape[2] - 48 + 1))
    np.testing.assert_array_equal(a.numpy(), photo[:, top : top + 48, left : left + 48])


def test_photograph_is_the_shipped_file_as_uint8():
    from pathlib import Path

    import skimage
    from PIL import Image

    root = Path(skimage.__file__).parent / "data"
    for file in ("astronaut.png", "rocket.jpg", "ihc.png"):
        with Image.open(root / file) as im:
            want = np.asarray(im.convert("RGB"))
        got = photograph(f"skimage:{file}")
        assert got.dtype == np.uint8 and got.shape == want.shape and not got.flags.writeable
        np.testing.assert_array_equal(got, want)
    for bad in ("astronaut", "skimage:nothing.png", "pillow:astronaut.png"):
        with pytest.raises(PadkitError, match="expected"):
            photograph(bad)


def test_builtin_upscales_small_photos():
    ds = BuiltinImages(1, 700, seed=0)  # larger than the 512x512 astronaut
    x = ds[0]
    assert x.shape == (3, 700, 700)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


@pytest.mark.parametrize("kind", SYNTHETIC_KINDS)
def test_synthetic_kinds(kind):
    ds = SyntheticImages(kind, 2, 24, seed=1)
    x = ds[0].double().numpy()
    assert x.shape == (3, 24, 24)
    assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_array_equal(x, SyntheticImages(kind, 2, 24, seed=1)[0].double().numpy())
    if kind == "constant":
        assert np.ptp(x, axis=(1, 2)).max() == 0.0
    if kind == "gradient":  # a linear ramp: second differences vanish
        np.testing.assert_allclose(np.diff(x, 2, axis=2), 0.0, atol=1e-5)
        np.testing.assert_allclose(np.diff(x, 2, axis=1), 0.0, atol=1e-5)
    if kind == "periodic":  # oracle: the same noise filtered by scipy with wrap-around on a 3x tiled image
        from scipy import ndimage

        rng = np.random.default_rng((1, 0))
        noise = rng.standard_normal((3, 24, 24))
        tiled = ndimage.gaussian_filter(np.tile(noise, (1, 3, 3)), sigma=(0, 1.5, 1.5), mode="reflect")
        centre = tiled[:, 24:48, 24:48]
        lo = centre.min(axis=(1, 2), keepdims=True)
        hi = centre.max(axis=(1, 2), keepdims=True)
        np.testing.assert_allclose(x, (centre - lo) / (hi - lo), atol=1e-5)


def test_folder_images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    arrs = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(2)]
    for k, a in enumerate(arrs):
        Image.fromarray(a).save(tmp_path / f"img{k}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    ds = FolderImages(tmp_path, 3, 32, seed=2)
    assert len(ds.paths) == 2
    x = ds[2].numpy()  # file 0 again
    r = np.random.default_rng((2, 2))
    top, left = int(r.integers(0, 40 - 32 + 1)), int(r.integers(0, 50 - 32 + 1))
    np.testing.assert_allclose(x, arrs[0][top : top + 32, left : left + 32].transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_load_data_specs(tmp_path):
    assert isinstance(load_data("builtin", 2, 16), BuiltinImages)
    assert isinstance(load_data("synthetic:noise", 2, 16), SyntheticImages)
    with pytest.raises(PadkitError, match="synthetic:KIND"):
        load_data("synthetic", 2, 16)
    with pytest.raises(PadkitError, match="kind='plaid': expected one of"):
        load_data("synthetic:plaid", 2, 16)
    with pytest.raises(PadkitError, match="existing folder"):
        load_data(str(tmp_path / "missing"), 2, 16)
    with pytest.raises(PadkitError, match="a folder holding image files"):
        load_data(str(tmp_path), 2, 16)
    with pytest.raises(PadkitError, match="n=0: expected an int >= 1"):
        SyntheticImages("noise", 0, 16)


def test_parse_normalize():
    assert parse_normalize("imagenet") == (IMAGENET_MEAN, IMAGENET_STD)
    assert parse_normalize("none") is None
    assert parse_normalize(None) is None
    assert parse_normalize("0.5,0.25") == ((0.5,), (0.25,))
    assert parse_normalize("1,2,3,4,5,6") == ((1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
    assert parse_normalize(([0.1, 0.2], [1, 2])) == ((0.1, 0.2), (1.0, 2.0))
    for bad in ("imagenett", "0.5", "1,2,3", "0.5,0", "0.5,-1", "a,b"):
        with pytest.raises(PadkitError, match="normalize"):
            parse_normalize(bad)
