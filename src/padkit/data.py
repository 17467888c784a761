"""Image, volume and signal sources for audits and experiments that need no download.

Four kinds of source, all lazy ``torch.utils.data.Dataset`` objects whose item ``i`` is a float32 tensor
``(C, *size)`` that depends only on ``(seed, i)`` (so any shard of the data is reproducible):

- :class:`BuiltinImages`: random crops of real photographs that ship inside installed wheels
  (scikit-image's ``skimage/data/*.png|jpg`` files and scikit-learn's ``load_sample_images`` photos). The files are
  read straight from the package directories with PIL (:func:`photograph`); nothing is ever fetched from the network.
- :class:`SyntheticImages`: ``constant``, ``noise``, ``smooth`` (low-pass noise), ``gradient`` (linear ramps) and
  ``periodic`` (smooth noise that is exactly periodic with period ``size``, for circular-padding checks), with any
  number of channels and spatial rank 1 (signals), 2 (images) or 3 (volumes).
- :class:`FolderImages`: every image file in a folder (PIL), random crops.
- :class:`FolderArrays`: every ``.npy`` file in a folder: images, volumes or signals, random crops.

Photographs and image files are RGB in ``[0, 1]``; with ``channels=1`` they become grayscale by the ITU-R BT.601
luma ``Y = 0.299 R + 0.587 G + 0.114 B`` (:func:`luma`). Other channel counts need synthetic data or ``.npy``
arrays (:func:`photo_channels` says so).

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
from typing import Collection, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ._errors import PadkitValueError
from ._validate import bad_type, bad_value, check_choice, check_int, ntuple

__all__ = [
    "BUILTIN_IMAGES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LUMA_BT601",
    "SYNTHETIC_KINDS",
    "BuiltinImages",
    "FolderArrays",
    "FolderImages",
    "SyntheticImages",
    "builtin_image_paths",
    "load_data",
    "luma",
    "parse_normalize",
    "photo_channels",
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

#: ITU-R BT.601 luma weights of R, G, B: the grayscale of a photograph for a 1-channel model.
LUMA_BT601: tuple[float, float, float] = (0.299, 0.587, 0.114)

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def _check_n_size(n: object, size: object, rank: int = 2) -> tuple[int, tuple[int, ...]]:
    """``n`` and ``size`` (an int: the side along every axis, or ``rank`` ints) checked."""
    return check_int(n, "n", minimum=1), ntuple(size, rank, "size", minimum=1)


def _check_rank(rank: object) -> int:
    return check_int(rank, "rank", minimum=1, maximum=3)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """The ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of ``(3, ...)`` RGB values, as ``(1, ...)``."""
    w = torch.tensor(LUMA_BT601, dtype=rgb.dtype, device=rgb.device).reshape(3, *[1] * (rgb.ndim - 1))
    return (rgb * w).sum(0, keepdim=True)


def photo_channels(rgb: torch.Tensor, channels: int, source: str) -> torch.Tensor:
    """An RGB photograph ``(3, H, W)`` with ``channels`` channels: 3 as it is, 1 as its BT.601 luma.

    Raises:
        PadkitValueError: any other channel count (the message names it and what to pass instead).
    """
    if channels == 3:
        return rgb
    if channels == 1:
        return luma(rgb)
    raise _photo_channels_error(channels, source)


def _photo_channels_error(channels: int, source: str) -> PadkitValueError:
    """The error for photographs fed to a model that reads ``channels`` channels (not 1 or 3)."""
    return PadkitValueError(
        f"data={source!r}: photographs have 3 channels (RGB; 1 as BT.601 luma), the model reads {channels}: "
        f"pass data='synthetic:KIND' or a folder of .npy arrays ({channels}, H, W), or channels=1 or 3 "
        "(--channels) when the model's first convolution is not what reads the input"
    )


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


def _random_crop(img: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    """A random ``size`` crop of ``img (H, W, 3)``, upscaled first when the image is smaller; ``(3, *size)``."""
    t = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    return _crop(t, size, rng).clamp(0.0, 1.0).contiguous()


def _crop(t: torch.Tensor, size: Sequence[int], rng: np.random.Generator) -> torch.Tensor:
    """A random ``size`` crop of ``t (C, *spatial)``; (bi/tri)linearly upscaled first where a side is shorter."""
    have = t.shape[1:]
    if any(n < want for n, want in zip(have, size)):
        scale = max(want / n for n, want in zip(have, size))
        new = tuple(max(want, math.ceil(n * scale)) for n, want in zip(have, size))
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(size)]
        t = torch.nn.functional.interpolate(t[None].float(), size=new, mode=mode, align_corners=False)[0]
        have = t.shape[1:]
    starts = [int(rng.integers(0, n - want + 1)) for n, want in zip(have, size)]
    return t[(slice(None), *(slice(a, a + want) for a, want in zip(starts, size)))]


class BuiltinImages(Dataset):
    """Random ``size x size`` crops of real photographs shipped in installed wheels (no download).

    Item ``i`` is photo ``i mod n_photos``, cropped at a position drawn from ``numpy.random.default_rng((seed, i))``.

    Args:
        n: number of images.
        size: crop side in pixels (or ``(H, W)``).
        seed: random seed for the crop positions.
        channels: 3 (RGB) or 1 (BT.601 luma).

    Example:
        >>> BuiltinImages(2, 64)[1].shape
        torch.Size([3, 64, 64])
    """

    def __init__(self, n: int, size: int | tuple[int, int], *, seed: int = 0, channels: int = 3) -> None:
        self.n, self.size = _check_n_size(n, size)
        self.channels = check_int(channels, "channels", minimum=1)
        if self.channels not in (1, 3):
            raise _photo_channels_error(self.channels, "builtin")
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
        crop = _random_crop(self._cache[k], self.size, np.random.default_rng((self.seed, i)))  # type: ignore[arg-type]
        return photo_channels(crop, self.channels, "builtin")


def _folder_files(path: str | os.PathLike[str], suffixes: Collection[str], what: str) -> list[Path]:
    """The files of ``path`` (non-recursive, sorted) with a suffix in ``suffixes``; an error when there are none."""
    root = Path(path)
    if not root.is_dir():
        raise bad_value("data", str(path), "'builtin', 'synthetic:KIND' or an existing folder")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in suffixes and p.is_file())
    if not files:
        raise bad_value("data", str(path), f"a folder holding {what}")
    return files


class FolderImages(Dataset):
    """Random crops of the images in a folder (non-recursive; sorted file names; PIL decodes them).

    Args:
        path: the folder.
        n: number of images (files are reused cyclically when ``n`` exceeds their number).
        size: crop side in pixels, or ``(H, W)`` (smaller images are upscaled first).
        seed: random seed for the crop positions.
        channels: 3 (RGB) or 1 (BT.601 luma).

    Raises:
        PadkitError: the folder does not exist or holds no image file.
    """

    def __init__(
        self, path: str | os.PathLike[str], n: int, size: int | tuple[int, int], *, seed: int = 0, channels: int = 3
    ) -> None:
        self.n, self.size = _check_n_size(n, size)
        self.channels = check_int(channels, "channels", minimum=1)
        if self.channels not in (1, 3):
            raise _photo_channels_error(self.channels, str(path))
        self.paths = _folder_files(path, _IMAGE_SUFFIXES, f"image files ({', '.join(sorted(_IMAGE_SUFFIXES))})")
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < self.n:
            raise IndexError(i)
        img = _read_rgb(self.paths[i % len(self.paths)])
        crop = _random_crop(img, self.size, np.random.default_rng((self.seed, i)))  # type: ignore[arg-type]
        return photo_channels(crop, self.channels, str(self.paths[0].parent))


class FolderArrays(Dataset):
    """Random crops of the ``.npy`` arrays in a folder (non-recursive; sorted file names): images, volumes, signals.

    Each file holds one array ``(C, *spatial)`` or ``(*spatial)`` (one channel) of spatial rank ``rank``; values are
    used as stored (as float32). Item ``i`` is file ``i mod n_files``, cropped to ``size`` at a position drawn from
    ``numpy.random.default_rng((seed, i))`` ((bi/tri)linearly upscaled first where a side is shorter).

    Args:
        path: the folder.
        n: number of items.
        size: crop side along every axis, or one side per axis.
        channels: the channel count every array must have.
        rank: spatial rank: 1 (signals ``(C, L)``), 2 (images ``(C, H, W)``), 3 (volumes ``(C, D, H, W)``).
        seed: random seed for the crop positions.

    Raises:
        PadkitError: the folder holds no ``.npy`` file, or an array of another rank or channel count.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        n: int,
        size: int | Sequence[int],
        *,
        channels: int,
        rank: int = 2,
        seed: int = 0,
    ) -> None:
        self.rank = _check_rank(rank)
        self.n, self.size = _check_n_size(n, size, self.rank)
        self.channels = check_int(channels, "channels", minimum=1)
        self.paths = _folder_files(path, frozenset({".npy"}), ".npy files")
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < self.n:
            raise IndexError(i)
        path = self.paths[i % len(self.paths)]
        arr = np.load(path, allow_pickle=False)
        stored = tuple(arr.shape)
        if arr.ndim == self.rank:
            arr = arr[None]
        axes = ("L",) if self.rank == 1 else ("D", "H", "W")[-self.rank :]
        want = f"({self.channels}, {', '.join(axes)})" + (f" or ({', '.join(axes)})" if self.channels == 1 else "")
        if arr.ndim != self.rank + 1 or arr.shape[0] != self.channels:
            raise PadkitValueError(
                f"data: {path.name} holds an array of shape {stored}: "
                f"expected {want} (the model reads {self.channels} channels, {self.rank}-D)"
            )
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        return _crop(t, self.size, np.random.default_rng((self.seed, i))).contiguous()


def _lowpass(noise: np.ndarray, sigmas: Sequence[float], *, wrap: bool) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(noise, sigma=(0, *sigmas), mode="wrap" if wrap else "reflect")


def _rescale01(x: np.ndarray) -> np.ndarray:
    axes = tuple(range(1, x.ndim))
    lo = x.min(axis=axes, keepdims=True)
    hi = x.max(axis=axes, keepdims=True)
    return (x - lo) / np.maximum(hi - lo, 1e-12)


class SyntheticImages(Dataset):
    """Procedural images, volumes or signals in ``[0, 1]``, item ``i`` drawn from ``numpy.random.default_rng((seed,
    i))``.

    Kinds:
        ``constant``: one random value per channel. ``noise``: i.i.d. uniform. ``smooth``: Gaussian low-pass noise
        (sigma = side / 16 along each axis) rescaled to [0, 1]. ``gradient``: a linear ramp in a random direction.
        ``periodic``: like ``smooth`` but filtered with wrap-around so the image tiles exactly (period ``size``);
        with circular padding every position sees a statistically identical neighbourhood.

    Args:
        kind: one of :data:`SYNTHETIC_KINDS`.
        n: number of items.
        size: side along every axis, or one side per axis.
        channels: number of channels (default 3).
        seed: random seed.
        rank: spatial rank: 2 (images ``(C, H, W)``, default), 3 (volumes ``(C, D, H, W)``) or 1 (signals
            ``(C, L)``).
    """

    def __init__(
        self, kind: str, n: int, size: int | Sequence[int], *, channels: int = 3, seed: int = 0, rank: int = 2
    ) -> None:
        self.kind = check_choice(kind, "kind", SYNTHETIC_KINDS)
        self.rank = _check_rank(rank)
        self.n, self.size = _check_n_size(n, size, self.rank)
        self.channels = check_int(channels, "channels", minimum=1)
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < self.n:
            raise IndexError(i)
        rng = np.random.default_rng((self.seed, i))
        c, size = self.channels, self.size
        shape = (c, *size)
        if self.kind == "constant":
            x = np.broadcast_to(rng.random((c, *[1] * self.rank)), shape)
        elif self.kind == "noise":
            x = rng.random(shape)
        elif self.kind in ("smooth", "periodic"):
            sigmas = [max(s / 16.0, 0.5) for s in size]
            x = _rescale01(_lowpass(rng.standard_normal(shape), sigmas, wrap=self.kind == "periodic"))
        elif self.rank == 2:  # gradient: a random angle per channel
            theta = rng.uniform(0.0, 2.0 * math.pi, size=c)
            h, w = size
            yy = np.arange(h)[:, None] / max(h - 1, 1)
            xx = np.arange(w)[None, :] / max(w - 1, 1)
            ramp = np.cos(theta)[:, None, None] * xx + np.sin(theta)[:, None, None] * yy
            x = _rescale01(ramp) if max(size) > 1 else np.zeros(shape)
        else:  # gradient: a random unit direction per channel
            direction = rng.standard_normal((c, self.rank))
            direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
            coords = np.meshgrid(*(np.arange(s) / max(s - 1, 1) for s in size), indexing="ij")
            ramp = sum(direction[:, a].reshape(c, *[1] * self.rank) * coords[a] for a in range(self.rank))
            x = _rescale01(np.broadcast_to(ramp, shape)) if max(size) > 1 else np.zeros(shape)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def load_data(
    spec: str, n: int, size: int | Sequence[int], *, seed: int = 0, channels: int = 3, rank: int = 2
) -> Dataset:
    """Build an image (volume, signal) source from a spec string.

    Args:
        spec: ``builtin``, ``synthetic:KIND`` (KIND in :data:`SYNTHETIC_KINDS`) or a folder path: a folder holding
            ``.npy`` files is read as arrays (:class:`FolderArrays`), any other as image files.
        n: number of items.
        size: side along every axis, or one side per axis.
        seed: random seed.
        channels: channels of each item: photographs and image files give 3 (RGB) or 1 (BT.601 luma).
        rank: spatial rank: 2 (images), 3 (volumes) or 1 (signals); ranks 1 and 3 read synthetic data or ``.npy``.

    Returns:
        A dataset whose items are float32 ``(channels, *size)`` tensors (in ``[0, 1]`` except ``.npy`` arrays).

    Raises:
        PadkitError: unknown spec, unknown synthetic kind, a folder without images, a channel count photographs
            cannot give, or photographs for a rank other than 2.
    """
    if not isinstance(spec, str):
        raise bad_type("data", spec, "'builtin', 'synthetic:KIND' or a folder path")
    rank = _check_rank(rank)
    if spec.startswith("synthetic:"):
        return SyntheticImages(spec.split(":", 1)[1], n, size, seed=seed, channels=channels, rank=rank)
    if spec == "synthetic":
        raise bad_value("data", spec, f"synthetic:KIND with KIND one of {', '.join(SYNTHETIC_KINDS)}")
    folder = Path(spec)
    if spec != "builtin" and folder.is_dir() and any(p.suffix.lower() == ".npy" for p in folder.iterdir()):
        return FolderArrays(spec, n, size, channels=channels, rank=rank, seed=seed)
    if rank != 2:
        what = "volumes" if rank == 3 else "signals"
        raise bad_value(
            "data", spec, f"'synthetic:KIND' or a folder of .npy {what} for a {rank}-D model (photographs are 2-D)"
        )
    if spec == "builtin":
        return BuiltinImages(n, size, seed=seed, channels=channels)  # type: ignore[arg-type]
    return FolderImages(spec, n, size, seed=seed, channels=channels)  # type: ignore[arg-type]


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
