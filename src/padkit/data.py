"""Image sources for audits and experiments that need no download.

Three kinds of source, all lazy ``torch.utils.data.Dataset`` objects whose item ``i`` is a float32 image tensor
``(3, size, size)`` in ``[0, 1]`` that depends only on ``(seed, i)`` (so any shard of the data is reproducible):

- :class:`BuiltinImages`: random crops of real photographs that ship inside installed wheels
  (scikit-image's ``skimage/data/*.png|jpg`` files and scikit-learn's ``load_sample_images`` photos). The files are
  read straight from the package directories with PIL (:func:`photograph`); nothing is ever fetched from the network.
- :class:`SyntheticImages`: ``constant``, ``noise``, ``smooth`` (low-pass noise), ``gradient`` (linear ramps) and
  ``periodic`` (smooth noise that is exactly periodic with period ``size``, for circular-padding checks).
- :class:`FolderImages`: every image file in a folder (PIL), random crops.

:func:`load_data` turns a source name (``builtin``, ``synthetic:KIND``, a folder path) into one of these and
:func:`parse_normalize` turns ``imagenet``, ``none``, ``MEAN,STD`` or a ``(means, stds)`` pair into per-channel
``(mean, std)``; both accept what :func:`padkit.audit` accepts for ``data`` and ``normalize``.

Example:
    >>> ds = SyntheticImages("gradient", n=4, size=32)
    >>> ds[0].shape
    torch.Size([3, 32, 32])
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ._errors import PadkitValueError
from ._validate import bad_type, bad_value, check_choice, check_int

__all__ = [
    "BUILTIN_IMAGES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SYNTHETIC_KINDS",
    "BuiltinImages",
    "FolderImages",
    "SyntheticImages",
    "builtin_image_paths",
    "load_data",
    "parse_normalize",
    "photograph",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: Photographs used by ``builtin`` (file names inside ``skimage/data`` and ``sklearn/datasets/images``).
BUILTIN_IMAGES: tuple[str, ...] = (
    "skimage:astronaut.png",
    "skimage:camera.png",
    "skimage:coffee.png",
    "skimage:chelsea.png",
    "skimage:rocket.jpg",
    "skimage:motorcycle_left.png",
    "skimage:hubble_deep_field.jpg",
    "skimage:brick.png",
    "skimage:grass.png",
    "skimage:gravel.png",
    "skimage:coins.png",
    "skimage:moon.png",
    "skimage:page.png",
    "sklearn:china.jpg",
    "sklearn:flower.jpg",
)

SYNTHETIC_KINDS: tuple[str, ...] = ("constant", "noise", "smooth", "gradient", "periodic")

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def _check_n_size(n: object, size: object) -> tuple[int, int]:
    return check_int(n, "n", minimum=1), check_int(size, "size", minimum=1)


def _package_root(package: str) -> Path | None:
    """The folder holding ``package``'s sample photographs, or ``None`` when the package is not installed."""
    try:
        if package == "skimage":
            import skimage

            return Path(skimage.__file__).parent / "data"
        if package == "sklearn":
            import sklearn

            return Path(sklearn.__file__).parent / "datasets" / "images"
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    raise bad_value("package", package, "'skimage' or 'sklearn'")


_PHOTO_CACHE: dict[str, np.ndarray] = {}


def photograph(name: str) -> np.ndarray:
    """A sample photograph shipped inside an installed wheel, as read-only ``(H, W, 3)`` uint8 RGB pixels.

    Args:
        name: ``"skimage:FILE"`` (a file in ``skimage/data``, e.g. ``"skimage:astronaut.png"``) or
            ``"sklearn:FILE"`` (``sklearn/datasets/images``, e.g. ``"sklearn:china.jpg"``); see
            :data:`BUILTIN_IMAGES`.

    Raises:
        PadkitError: the name is malformed or the installed packages do not ship that file.
    """
    if not isinstance(name, str):
        raise bad_type("name", name, "'skimage:FILE' or 'sklearn:FILE'")
    if name not in _PHOTO_CACHE:
        package, _, file = name.partition(":")
        check_choice(package, "package", ("skimage", "sklearn"))
        root = _package_root(package)
        if root is None or not file or not (root / file).is_file():
            raise bad_value("name", name, f"a photograph that the installed {package} ships")
        pixels = _read_uint8(root / file)
        pixels.flags.writeable = False
        _PHOTO_CACHE[name] = pixels
    return _PHOTO_CACHE[name]


def builtin_image_paths() -> list[Path]:
    """Paths of the :data:`BUILTIN_IMAGES` photographs that exist in the installed packages.

    Returns:
        The files, in :data:`BUILTIN_IMAGES` order (missing ones are skipped; an error if none is found).

    Raises:
        PadkitError: neither scikit-image nor scikit-learn ships any of the photographs.
    """
    roots = {package: _package_root(package) for package in ("skimage", "sklearn")}
    paths = []
    for entry in BUILTIN_IMAGES:
        pkg, name = entry.split(":")
        root = roots[pkg]
        if root is not None and (root / name).is_file():
            paths.append(root / name)
    if not paths:
        raise PadkitValueError(
            "data='builtin' needs scikit-image or scikit-learn installed (their wheels ship sample photographs); "
            "install padkit[data] or pass data='synthetic:KIND' or a folder of images"
        )
    return paths


def _read_uint8(path: Path) -> np.ndarray:
    """The first frame of an image file as ``(H, W, 3)`` uint8 RGB."""
    from PIL import Image

    with Image.open(path) as im:
        im.seek(0)
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _read_rgb(path: Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` float32 RGB in ``[0, 1]``."""
    return _read_uint8(path).astype(np.float32) / 255.0


def _random_crop(img: np.ndarray, size: int, rng: np.random.Generator) -> torch.Tensor:
    """A random ``size x size`` crop of ``img (H, W, 3)``, upscaled first when the image is smaller; ``(3, S, S)``."""
    h, w = img.shape[:2]
    t = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    if min(h, w) < size:
        scale = size / min(h, w)
        nh, nw = max(size, math.ceil(h * scale)), max(size, math.ceil(w * scale))
        t = torch.nn.functional.interpolate(t[None], size=(nh, nw), mode="bilinear", align_corners=False)[0]
        h, w = nh, nw
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    return t[:, top : top + size, left : left + size].clamp(0.0, 1.0).contiguous()


class BuiltinImages(Dataset):
    """Random ``size x size`` crops of real photographs shipped in installed wheels (no download).

    Item ``i`` is photo ``i mod n_photos``, cropped at a position drawn from ``numpy.random.default_rng((seed, i))``.

    Args:
        n: number of images.
        size: crop side in pixels.
        seed: random seed for the crop positions.

    Example:
        >>> BuiltinImages(2, 64)[1].shape
        torch.Size([3, 64, 64])
    """

    def __init__(self, n: int, size: int, *, seed: int = 0) -> None:
        self.n, self.size = _check_n_size(n, size)
        self.seed = int(seed)
        self.paths = builtin_image_paths()
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < self.n:
            raise IndexError(i)
        k = i % len(self.paths)
        if k not in self._cache:
            self._cache[k] = _read_rgb(self.paths[k])
        return _random_crop(self._cache[k], self.size, np.random.default_rng((self.seed, i)))


class FolderImages(Dataset):
    """Random crops of the images in a folder (non-recursive; sorted file names; PIL decodes them).

    Args:
        path: the folder.
        n: number of images (files are reused cyclically when ``n`` exceeds their number).
        size: crop side in pixels (smaller images are upscaled first).
        seed: random seed for the crop positions.

    Raises:
        PadkitError: the folder does not exist or holds no image file.
    """

    def __init__(self, path: str | os.PathLike[str], n: int, size: int, *, seed: int = 0) -> None:
        self.n, self.size = _check_n_size(n, size)
        root = Path(path)
        if not root.is_dir():
            raise bad_value("data", str(path), "'builtin', 'synthetic:KIND' or an existing folder")
        self.paths = sorted(p for p in root.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
        if not self.paths:
            raise bad_value("data", str(path), f"a folder holding image files ({', '.join(sorted(_IMAGE_SUFFIXES))})")
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < self.n:
            raise IndexError(i)
        img = _read_rgb(self.paths[i % len(self.paths)])
        return _random_crop(img, self.size, np.random.default_rng((self.seed, i)))


def _lowpass(noise: np.ndarray, sigma: float, *, wrap: bool) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(noise, sigma=(0, sigma, sigma), mode="wrap" if wrap else "reflect")


def _rescale01(x: np.ndarray) -> np.ndarray:
    lo = x.min(axis=(1, 2), keepdims=True)
    hi = x.max(axis=(1, 2), keepdims=True)
    return (x - lo) / np.maximum(hi - lo, 1e-12)


class SyntheticImages(Dataset):
    """Procedural images in ``[0, 1]``, item ``i`` drawn from ``numpy.random.default_rng((seed, i))``.

    Kinds:
        ``constant``: one random value per channel. ``noise``: i.i.d. uniform. ``smooth``: Gaussian low-pass noise
        (sigma = size / 16) rescaled to [0, 1]. ``gradient``: a linear ramp in a random direction.
        ``periodic``: like ``smooth`` but filtered with wrap-around so the image tiles exactly (period ``size``);
        with circular padding every position sees a statistically identical neighbourhood.

    Args:
        kind: one of :data:`SYNTHETIC_KINDS`.
        n: number of images.
        size: side in pixels.
        channels: number of channels (default 3).
        seed: random seed.
    """

    def __init__(self, kind: str, n: int, size: int, *, channels: int = 3, seed: int = 0) -> None:
        self.kind = check_choice(kind, "kind", SYNTHETIC_KINDS)
        self.n, self.size = _check_n_size(n, size)
        self.channels = check_int(channels, "channels", minimum=1)
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < self.n:
            raise IndexError(i)
        rng = np.random.default_rng((self.seed, i))
        c, s = self.channels, self.size
        if self.kind == "constant":
            x = np.broadcast_to(rng.random((c, 1, 1)), (c, s, s))
        elif self.kind == "noise":
            x = rng.random((c, s, s))
        elif self.kind in ("smooth", "periodic"):
            x = _rescale01(_lowpass(rng.standard_normal((c, s, s)), max(s / 16.0, 0.5), wrap=self.kind == "periodic"))
        else:  # gradient
            theta = rng.uniform(0.0, 2.0 * math.pi, size=c)
            yy, xx = np.mgrid[0:s, 0:s] / max(s - 1, 1)
            ramp = np.cos(theta)[:, None, None] * xx + np.sin(theta)[:, None, None] * yy
            x = _rescale01(ramp) if s > 1 else np.zeros((c, s, s))
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def load_data(spec: str, n: int, size: int, *, seed: int = 0) -> Dataset:
    """Build an image source from a spec string.

    Args:
        spec: ``builtin``, ``synthetic:KIND`` (KIND in :data:`SYNTHETIC_KINDS`) or a folder path.
        n: number of images.
        size: image side in pixels.
        seed: random seed.

    Returns:
        A dataset whose items are float32 ``(3, size, size)`` tensors in ``[0, 1]``.

    Raises:
        PadkitError: unknown spec, unknown synthetic kind, or a folder without images.
    """
    if not isinstance(spec, str):
        raise bad_type("data", spec, "'builtin', 'synthetic:KIND' or a folder path")
    if spec == "builtin":
        return BuiltinImages(n, size, seed=seed)
    if spec.startswith("synthetic:"):
        return SyntheticImages(spec.split(":", 1)[1], n, size, seed=seed)
    if spec == "synthetic":
        raise bad_value("data", spec, f"synthetic:KIND with KIND one of {', '.join(SYNTHETIC_KINDS)}")
    return FolderImages(spec, n, size, seed=seed)


_NORMALIZE_RULE = "'imagenet', 'none', 'MEAN,STD', 'M1,..,Mk,S1,..,Sk' or a (means, stds) pair"


def parse_normalize(spec: str | Sequence[Sequence[float]] | None) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """Parse a normalisation spec into ``(mean, std)`` per channel, or ``None`` for no normalisation.

    Args:
        spec: ``"imagenet"``, ``"none"`` / ``None``, ``"MEAN,STD"`` (one value for every channel),
            ``"M1,M2,M3,S1,S2,S3"`` (per channel), or a pair ``(means, stds)``.

    Returns:
        ``(mean, std)`` tuples (applied as ``(x - mean) / std``), or ``None``.

    Raises:
        PadkitError: malformed spec or a non-positive std.

    Example:
        >>> parse_normalize("0.5,0.25")
        ((0.5,), (0.25,))
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key == "none":
            return None
        if key == "imagenet":
            return IMAGENET_MEAN, IMAGENET_STD
        try:
            values = [float(v) for v in key.split(",")]
        except ValueError:
            values = []
        if len(values) < 2 or len(values) % 2:
            raise bad_value("normalize", spec, _NORMALIZE_RULE)
        half = len(values) // 2
        mean, std = tuple(values[:half]), tuple(values[half:])
    else:
        try:
            mean, std = (tuple(float(v) for v in spec[0]), tuple(float(v) for v in spec[1]))
        except (TypeError, IndexError, ValueError) as exc:
            raise bad_value("normalize", spec, _NORMALIZE_RULE) from exc
        if len(mean) != len(std) or not mean:
            raise bad_value("normalize", spec, "means and stds of the same, non-zero length")
    if any(not math.isfinite(s) or s <= 0 for s in std) or any(not math.isfinite(m) for m in mean):
        raise bad_value("normalize", spec, "finite means and finite stds > 0")
    return mean, std
