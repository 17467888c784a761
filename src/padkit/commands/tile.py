"""``padkit tile MODEL INPUT OUTPUT --tile 512``: a model on an image of any size, tile by tile."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validate import bad_value
from ._types import int_at_least

__all__ = ["HELP", "add_arguments", "output_maps", "parse_tile", "read_input", "run", "write_outputs"]

HELP = "run a model on an image of any size tile by tile: exactly the whole-image result, in memory bounded by the tile"

#: Image files read with Pillow (first frame, RGB); anything else must be ``.npy``.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def parse_tile(text: str) -> int | tuple[int, ...]:
    """``512`` -> ``512`` (every spatial dim); ``512,256`` or ``512x256`` -> ``(512, 256)``."""
    try:
        size = tuple(int(p) for p in text.replace("x", ",").split(","))
    except ValueError:
        raise bad_value("--tile", text, "a tile size such as 512 or 512,256") from None
    if not 1 <= len(size) <= 3 or min(size) < 1:
        raise bad_value("--tile", text, "1 to 3 positive ints")
    return size[0] if len(size) == 1 else size


def read_input(path: str, channels: int) -> torch.Tensor:
    """``(1, C, *spatial)`` float32: an image file as RGB in ``[0, 1]`` (its BT.601 luma for a 1-channel model), or a
    ``.npy`` array ``(C, *spatial)`` (a 2-D array ``(H, W)`` is one channel)."""
    from ..data import _read_rgb, photo_channels

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        arr = np.load(p, allow_pickle=False)
        if arr.ndim == 2:
            arr = arr[None]
        if not 2 <= arr.ndim <= 4 or not np.issubdtype(arr.dtype, np.number):
            raise bad_value(
                "INPUT", path, f"a numeric .npy array (C, *spatial) with 1 to 3 spatial dims, not {arr.shape}"
            )
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[None]
    if suffix not in IMAGE_SUFFIXES:
        raise bad_value("INPUT", path, f"an image ({', '.join(IMAGE_SUFFIXES)}) or a .npy array")
    rgb = torch.from_numpy(_read_rgb(p)).permute(2, 0, 1)
    return photo_channels(rgb, channels, f"INPUT={path!r}")[None].contiguous()


def output_maps(output: Any) -> list[tuple[str, torch.Tensor]]:
    """``(name, map)`` per output map: ``""`` for a tensor, the key or index for a dict, tuple or list."""
    if isinstance(output, torch.Tensor):
        return [("", output)]
    items = output.items() if isinstance(output, dict) else enumerate(output)
    return [(str(k), v) for k, v in items if isinstance(v, torch.Tensor)]


def _to_png(arr: np.ndarray, path: Path) -> None:
    from PIL import Image

    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 1:  # not an image in [0, 1] (logits, features): min-max scaled
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    pixels = np.clip(np.rint(arr * 255), 0, 255).astype(np.uint8)
    Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)).save(path)


def write_outputs(output: Any, path: str) -> list[str]:
    """Write each output map of the first image as ``.npy`` (``OUTPUT``, then ``STEM-NAME.npy`` for the other maps of
    a tuple or dict) and, for a 2-D map with 1 or 3 channels, a PNG beside it. Returns the paths written."""
    out = Path(path)
    written = []
    for i, (name, tensor) in enumerate(output_maps(output)):
        target = out if i == 0 else out.with_name(f"{out.stem}-{name}.npy")
        arr = tensor[0].detach().float().cpu().numpy()
        np.save(target, arr)
        written.append(str(target))
        if arr.ndim == 3 and arr.shape[0] in (1, 3) and np.isfinite(arr).all():
            png = target.with_suffix(".png")
            _to_png(arr, png)
            written.append(str(png))
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", metavar="MODEL", help="torchvision:NAME, timm:NAME, package.module:factory, or a .pt/.pth/.pt2 file"
    )
    parser.add_argument("input", metavar="INPUT", help="an image (PNG/JPEG/TIFF, read as RGB in [0, 1]) or a .npy")
    parser.add_argument("output", metavar="OUTPUT", help="the output map as .npy (and a PNG for 1 or 3 channels)")
    parser.add_argument("--tile", required=True, help="tile core size: 512 (every dim) or 512,256")
    parser.add_argument("--weights", default=None, help="state_dict file (loaded with weights_only=True)")
    parser.add_argument("--device", default=None, help="where the tiles run: cpu, cuda, cuda:1 (default: cpu)")
    exact = parser.add_mutually_exclusive_group()
    exact.add_argument("--exact", dest="exact", action="store_true", default=True, help="equal the whole run (default)")
    exact.add_argument(
        "--blend", dest="exact", action="store_false", help="overlap and blend tiles, report the seam error"
    )
    parser.add_argument(
        "--mode", default=None, help="fill the halo beyond the image border: circular, reflect, symmetric, replicate"
    )
    parser.add_argument("--halo", type=int_at_least(0), default=None, help="halo per side (default: the reach)")
    parser.add_argument("--batch", type=int_at_least(1), default=1, help="tiles per forward (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", metavar="PATH", default=None, help="write the run's summary as JSON ('-' for stdout)")


def run(args: argparse.Namespace) -> int:
    import warnings

    from ..analysis.plan import _spatial_rank
    from ..cli import EXIT_OK
    from ..models import load_model
    from ..render.tile import tile_summary
    from ..tiling import tiled_run

    if Path(args.output).suffix.lower() != ".npy":
        raise bad_value("OUTPUT", args.output, "a .npy path")
    tile = parse_tile(args.tile)
    model = load_model(args.model, args.weights)
    x = read_input(args.input, _spatial_rank(model)[1])
    if args.device is not None:
        try:
            dev = torch.device(args.device)
        except RuntimeError:
            raise bad_value("--device", args.device, "a device such as cpu, cuda or cuda:1") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise bad_value("--device", args.device, "cpu (CUDA is not available here)")
        model = model.to(dev)
    cuda = torch.device(args.device).type == "cuda" if args.device else False
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the seam error is in the summary
        result = tiled_run(
            model,
            x,
            tile,
            exact=args.exact,
            mode=args.mode,
            batch=args.batch,
            device=args.device,
            progress=not args.no_progress,
            halo=args.halo,
        )
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    written = write_outputs(result.output, args.output)
    summary = tile_summary(result, args.model, tuple(x.shape), peak, "GPU" if cuda else "process", seconds)
    if args.json != "-":
        print(summary["line"])
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        text = json.dumps(summary | {"written": written}, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return EXIT_OK
