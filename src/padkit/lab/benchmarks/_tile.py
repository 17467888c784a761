"""``padkit bench tile``: tiled inference on a U-Net-shaped segmentation model, against the whole-image run and the
tilers in use.

* **memory and time** (per image size): peak resident memory and wall time of one whole-image run and of one
  :func:`padkit.tiled` run, each in a fresh worker process (``python -m padkit.lab.benchmarks._tile worker JSON``;
  glibc's mmap threshold pinned, peak read as in :mod:`._harness`), after a warm-up forward on a small image; the
  time ratio tiled / whole next to the theoretical ``(tile + 2 halo)^2 / tile^2`` of an interior tile and the crop
  area of the actual layout over the image's area;
* **seam error** (one image size): ``max |tiled - whole| / max |whole|`` of padkit, of MONAI's
  ``sliding_window_inference`` (default overlap 0.25, constant blending) and of fixed ``tile_pad`` context
  (Real-ESRGAN's tiler: each tile cropped with ``tile_pad`` samples of context, clipped at the image border, run, the
  context cropped off; a crop whose size is not a multiple of the U-Net's total stride is reflect-padded at its end).

The model is segmentation-models-pytorch's ``Unet`` with a ResNet-18 encoder of depth 4 (random init, seed 0).
``python -m padkit.lab.benchmarks._tile figure PATH`` draws the before/after seam picture of docs/tiling.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..._report import REPORT_FORMAT, to_json

__all__ = [
    "TILE_PADS",
    "TileBenchReport",
    "crop_area_ratio",
    "run_tile_bench",
    "seam_figure",
    "tile_pad_run",
    "unet",
]

#: The fixed ``tile_pad`` values measured (Real-ESRGAN's default is 10; 32 is common in its issue threads).
TILE_PADS: tuple[int, ...] = (10, 32)


def unet() -> nn.Module:
    """The benchmark's U-Net: smp ``Unet('resnet18', encoder_depth=4, decoder_channels=(64, 32, 16, 8))``, 2
    classes, random weights (seed 0), eval mode."""
    import segmentation_models_pytorch as smp

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = smp.Unet("resnet18", encoder_weights=None, encoder_depth=4, decoder_channels=(64, 32, 16, 8), classes=2)
    return model.eval()


def image(size: int) -> torch.Tensor:
    """A ``(1, 3, size, size)`` input: uniform noise in ``[0, 1]`` (seed 0)."""
    g = torch.Generator().manual_seed(0)
    return torch.rand((1, 3, size, size), generator=g)


def tile_pad_run(model: nn.Module, x: torch.Tensor, tile: int, tile_pad: int, multiple: int) -> torch.Tensor:
    """Real-ESRGAN's tiler on a scale-1 model: each ``tile`` core cropped with ``tile_pad`` of context (clipped at the
    image), reflect-padded at its end to a multiple of ``multiple``, run, the context cropped off."""
    h, w = x.shape[2:]
    out: torch.Tensor | None = None
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            cy0, cx0 = max(0, y0 - tile_pad), max(0, x0 - tile_pad)
            cy1, cx1 = min(h, y1 + tile_pad), min(w, x1 + tile_pad)
            crop = x[..., cy0:cy1, cx0:cx1]
            ph, pw = -crop.shape[2] % multiple, -crop.shape[3] % multiple
            if ph or pw:
                crop = torch.nn.functional.pad(crop, (0, pw, 0, ph), mode="reflect")
            y = model(crop)
            if out is None:
                out = torch.empty((x.shape[0], y.shape[1], h, w), dtype=y.dtype)
            out[..., y0:y1, x0:x1] = y[..., y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    assert out is not None
    return out


def crop_area_ratio(size: int, tile: int, halo: int) -> float:
    """Sum of the tiles' crop areas over the image's area (square image and tiles, no padded border)."""
    from ...tiling.layout import segments

    per_dim = sum(s.crop_stop - s.crop_start for s in segments(size, tile, halo, 0)) / size
    return per_dim * per_dim


def _methods(model: nn.Module, tile: int, align: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    import padkit

    def monai(x: torch.Tensor) -> torch.Tensor:
        from monai.inferers import sliding_window_inference

        return sliding_window_inference(x, (tile, tile), 1, model)  # type: ignore[return-value]

    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "whole": model,
        "padkit": lambda x: padkit.tiled(model, x, tile, progress=False),
        "monai": monai,
    }

    def with_tile_pad(p: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: tile_pad_run(model, x, tile, p, align)

    for p in TILE_PADS:
        methods[f"tile_pad={p}"] = with_tile_pad(p)
    return methods


@dataclass(frozen=True)
class TileBenchReport:
    """The measurements of ``padkit bench tile``.

    Attributes:
        machine: ``padkit.lab.machine.environment()``-style description (cpu, cores, threads, torch).
        model: what ran; tile, halo, align: padkit's tile, halo and total stride.
        theory: ``(tile + 2 halo)^2 / tile^2``.
        rows: per image size: ``{"size", "whole_bytes", "tiled_bytes", "whole_s", "tiled_s", "layout_ratio"}``.
        errors: per method: ``{"method", "size", "relative", "absolute", "seconds"}``.
        skipped: what could not be measured, and why.
    """

    machine: dict[str, Any]
    model: str
    tile: int
    halo: int
    align: int
    theory: float
    rows: tuple[dict[str, Any], ...]
    errors: tuple[dict[str, Any], ...]
    skipped: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        return to_json({"format": REPORT_FORMAT, "kind": "bench-tile", **self.__dict__}, indent=2)


def _worker(job: dict[str, Any]) -> dict[str, Any]:
    from ._harness import peak_rss_call, pin_malloc

    pinned = pin_malloc()
    torch.set_num_threads(int(job["threads"]))
    model = unet()
    methods = _methods(model, int(job["tile"]), int(job["align"]))
    x = image(int(job["size"]))
    fn = methods[job["method"]]
    with torch.no_grad():
        fn(image(2 * int(job["tile"])))  # warm-up: oneDNN primitives, allocator
        seconds: list[float] = []

        def call() -> None:
            t = time.perf_counter()
            fn(x)
            seconds.append(time.perf_counter() - t)

        peak = peak_rss_call(call) if pinned else None
        if not seconds:
            call()
    return {"peak_bytes": peak, "seconds": seconds[0]}


def _in_worker(job: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "padkit.lab.benchmarks._tile", "worker", json.dumps(job)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"worker for {job['method']} at {job['size']} exited {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_tile_bench(
    sizes: Sequence[int] = (2048, 4096),
    *,
    error_size: int = 2048,
    tile: int = 512,
    threads: int | None = None,
    quick: bool = False,
    log: Callable[[str], None] | None = None,
) -> TileBenchReport:
    """Measure (see the module docstring). ``quick``: sizes 256, error size 256, tile 64 (a smoke run)."""
    from ...lab.machine import environment
    from ...tiling import tiled_run

    if quick:
        sizes, error_size, tile = (256,), 256, 64
    threads = threads or torch.get_num_threads()
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = unet()
        probe = tiled_run(model, image(min(sizes)), tile, progress=False)
        halo, align = probe.halo[0], probe.align[0]
        tile = probe.tile[0]
        skipped: list[str] = []
        rows = []
        for size in sizes:
            row: dict[str, Any] = {"size": size, "layout_ratio": crop_area_ratio(size, tile, halo)}
            for method, key in (("whole", "whole"), ("padkit", "tiled")):
                if log:
                    log(f"bench tile: {method} at {size}x{size} (worker process)")
                try:
                    got = _in_worker({"method": method, "size": size, "tile": tile, "align": align, "threads": threads})
                except RuntimeError as exc:
                    skipped.append(str(exc))
                    got = {"peak_bytes": None, "seconds": None}
                row[f"{key}_bytes"], row[f"{key}_s"] = got["peak_bytes"], got["seconds"]
            rows.append(row)
        errors = []
        x = image(error_size)
        with torch.no_grad():
            methods = _methods(model, tile, align)
            if log:
                log(f"bench tile: seam errors at {error_size}x{error_size}")
            start = time.perf_counter()
            want = methods.pop("whole")(x)
            whole_s = time.perf_counter() - start
            errors.append({"method": "whole", "size": error_size, "relative": 0.0, "absolute": 0.0, "seconds": whole_s})
            scale = float(want.abs().max())
            for name, fn in methods.items():
                if log:
                    log(f"bench tile: {name} at {error_size}x{error_size}")
                start = time.perf_counter()
                out = fn(x)
                seconds = time.perf_counter() - start
                diff = float((out - want).abs().max())
                errors.append(
                    {"method": name, "size": error_size, "relative": diff / scale, "absolute": diff, "seconds": seconds}
                )
        env = environment()
    finally:
        torch.set_num_threads(saved)
    return TileBenchReport(
        machine=env,
        model="smp Unet(resnet18, encoder_depth=4, decoder_channels=(64, 32, 16, 8), classes=2), random init",
        tile=tile,
        halo=halo,
        align=align,
        theory=(tile + 2 * halo) ** 2 / tile**2,
        rows=tuple(rows),
        errors=tuple(errors),
        skipped=tuple(skipped),
    )


def seam_figure(path: str, size: int = 384, tile: int = 128) -> dict[str, float]:
    """Draw the before/after seam picture: the benchmark U-Net's output on a built-in photograph, tiled without a
    halo (``tile_pad=0``) and with padkit, and each one's difference from the whole-image run (one colour scale).
    Returns the worst relative error of each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import padkit

    from ...data import _read_rgb, builtin_image_paths

    rgb = torch.from_numpy(np.ascontiguousarray(_read_rgb(builtin_image_paths()[0]))).permute(2, 0, 1)
    x = rgb[None, :, :size, :size].contiguous()
    model = unet()
    with torch.no_grad():
        want = model(x)
        naive = tile_pad_run(model, x, tile, 0, 16)
        exact = padkit.tiled(model, x, tile, progress=False)
    scale = float(want.abs().max())
    d_naive = (naive - want).abs()[0, 0].numpy() / scale
    d_exact = (exact - want).abs()[0, 0].numpy() / scale
    vmax = max(float(d_naive.max()), 1e-12)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    lo, hi = float(want[0, 0].min()), float(want[0, 0].max())
    panels = [
        (naive[0, 0].numpy(), f"tiles of {tile}, no halo: output", "viridis", lo, hi),
        (d_naive, f"|no halo - whole| (max {d_naive.max():.2g})", "magma", 0.0, vmax),
        (exact[0, 0].numpy(), "padkit.tiled: output", "viridis", lo, hi),
        (d_exact, f"|padkit - whole| (max {d_exact.max():.1g})", "magma", 0.0, vmax),
    ]
    for ax, (img, title, cmap, vmin, vmax_) in zip(axes, panels):
        ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax_)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(0, size + 1, tile))
        ax.set_yticks(range(0, size + 1, tile))
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"Tile seams: smp U-Net (ResNet-18, depth 4, random init), output channel 0 on a {size}x{size} photograph; "
        "differences relative to max |whole|",
        fontsize=10,
    )
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return {"no_halo": float(d_naive.max()), "padkit": float(d_exact.max())}


def main(argv: Sequence[str] | None = None) -> int:
    """``worker JSON`` (one measurement, JSON on stdout) or ``figure PATH``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "worker":
        print(json.dumps(_worker(json.loads(args[1]))))
        return 0
    if len(args) == 2 and args[0] == "figure":
        print(json.dumps(seam_figure(args[1])))
        return 0
    print("usage: python -m padkit.lab.benchmarks._tile worker JSON | figure PATH", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
