"""``padkit audit MODEL``: measure border shift, false edges, spatial bias and padding-aware channels on real images.

The model is fed what it reads (its first convolution's channels and spatial rank, see ``docs/metrics.md``):
photographs as RGB or BT.601 grayscale for 2-D models, synthetic volumes / signals (or ``.npy`` folders) for 3-D /
1-D models.

Under ``torchrun --nproc_per_node=N -m padkit audit ...`` the batches are sharded over the processes
(gloo on CPU, nccl on CUDA), the statistics all-reduced, and rank 0 prints and writes the report.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from .._errors import PadkitValueError
from ._types import int_at_least, parse_layer_modes

__all__ = [
    "GATES",
    "HELP",
    "add_arguments",
    "gate_value",
    "parse_fail_above",
    "parse_input_size",
    "parse_normalize_flag",
    "run",
]

#: What ``--fail-above`` compares with its threshold.
GATES = ("point", "upper")
#: Default of ``--bootstrap`` (the library's; kept here so that ``--help`` needs no torch import).
DEFAULT_BOOTSTRAP = 200

HELP = (
    "measure what padding does to a model on real images: border shift, false edges, spatial bias (per layer, per mode)"
)


def parse_fail_above(items: list[str]) -> list[tuple[str, float]]:
    """``["border_shift=0.5"]`` -> ``[("border_shift", 0.5)]``; the metric must be a summary metric."""
    from ..analysis.audit import METRICS

    out = []
    for item in items:
        metric, sep, value = item.partition("=")
        metric = metric.strip()
        try:
            threshold = float(value)
        except ValueError:
            threshold = math.nan
        if not sep or metric not in METRICS or not math.isfinite(threshold):
            raise PadkitValueError(f"--fail-above={item!r}: expected METRIC=VALUE with METRIC in {', '.join(METRICS)}")
        out.append((metric, threshold))
    return out


def gate_value(summary: Any, metric: str, gate: str) -> float:
    """The figure ``--fail-above`` compares: the point estimate, or with ``gate="upper"`` the upper end of its
    interval (NaN when the summary has none)."""
    if gate == "upper":
        ci = summary.ci.get(metric)
        return float(ci[1]) if ci is not None else math.nan
    return summary.value(metric)


def parse_input_size(text: str) -> int | tuple[int, ...]:
    """``--input-size``: ``N`` (every axis) or ``A,B[,C]`` (one side per spatial axis), each an int >= 1."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or len(values) > 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected N or A,B[,C] with ints >= 1, got {text!r}")
    return values[0] if len(values) == 1 else values


parse_input_size.__name__ = "size"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="torchvision:NAME, timm:NAME, package.module:factory, or a file")
    parser.add_argument("--weights", default=None, help="state_dict file (loaded with weights_only=True)")
    parser.add_argument(
        "--data",
        default=None,
        help="builtin, synthetic:KIND (constant, noise, smooth, gradient, periodic), or a folder of images or .npy "
        "arrays (C, *spatial); default: builtin for 2-D models, synthetic:smooth for 3-D (volumes) and 1-D (signals)",
    )
    parser.add_argument("--images", type=int_at_least(1), default=64, help="number of images (default 64)")
    parser.add_argument(
        "--input-size",
        type=parse_input_size,
        default=None,
        help="N or A,B[,C]: the side of every axis, or one per axis (default: the size the model declares, else 224 "
        "for images, 64 for volumes, 1024 for signals)",
    )
    parser.add_argument(
        "--channels",
        type=int_at_least(1),
        default=None,
        help="channels fed to the model (default: its first convolution's in_channels); photographs give 3 (RGB) or "
        "1 (BT.601 luma), other counts need synthetic:KIND or .npy data",
    )
    parser.add_argument(
        "--normalize",
        default="auto",
        help="auto (default: imagenet for 3-channel images, none otherwise), imagenet, none, or MEAN,STD",
    )
    parser.add_argument(
        "--modes",
        default=None,
        help="comma list of padding modes to compare (per axis: MODE+MODE in dim order; default: as-is)",
    )
    parser.add_argument("--layers", default=None, help="comma list of module names (default: all conv/pool layers)")
    parser.add_argument("--border", default="auto", help="auto (receptive-field band) or a width in input pixels")
    parser.add_argument("--batch-size", type=int_at_least(1), default=16, help="images per forward pass (default 16)")
    parser.add_argument(
        "--probe-images", type=int_at_least(0), default=64, help="images for the position probe (default 64)"
    )
    parser.add_argument(
        "--equivariance-images", type=int_at_least(0), default=8, help="images for the crop-shift check"
    )
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1 ... (default: cpu; under torchrun with CUDA: cuda:LOCAL_RANK)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the image crops, probe projections and bootstrap replicates"
    )
    parser.add_argument(
        "--bootstrap",
        type=int_at_least(0),
        default=DEFAULT_BOOTSTRAP,
        metavar="N",
        help=f"bootstrap replicates over images for the 95%% intervals and paired differences (default "
        f"{DEFAULT_BOOTSTRAP}; 0: none)",
    )
    parser.add_argument("--json", metavar="PATH", default=None, help="write the report as JSON ('-' for stdout)")
    parser.add_argument("--html", metavar="PATH", default=None, help="write a self-contained HTML report")
    parser.add_argument("--plot", metavar="PATH", default=None, help="write a PNG of per-position mean heatmaps")
    parser.add_argument(
        "--top", type=int_at_least(1), default=10, help="layers shown per mode in the table (default 10)"
    )
    parser.add_argument(
        "--fail-above",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="exit 1 when a mode's summary METRIC exceeds VALUE (repeatable; see --gate)",
    )
    parser.add_argument(
        "--gate",
        choices=GATES,
        default="point",
        help="what --fail-above compares: the point estimate (default) or the upper end of its 95%% interval "
        "(upper; needs --bootstrap > 0)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_normalize_flag(value: str) -> Any:
    """``--normalize``: the names ``auto``, ``imagenet`` and ``none`` as they are, ``MEAN,STD`` /
    ``M1,..,Mk,S1,..,Sk`` as a ``(means, stds)`` pair."""
    from ..data import parse_normalize

    if value.strip().lower() in ("imagenet", "none", "auto"):
        return value
    try:
        return parse_normalize(value)
    except PadkitValueError:
        raise PadkitValueError(
            f"--normalize={value!r}: expected auto, imagenet, none, MEAN,STD or M1,..,Mk,S1,..,Sk (stds > 0)"
        ) from None


def run(args: argparse.Namespace) -> int:
    import torch

    from ..analysis.audit import audit
    from ..analysis.audit.distributed import broadcast_parameters, init_from_env, process_group
    from ..analysis.audit.inputs import model_input
    from ..cli import EXIT_FAIL, EXIT_OK
    from ..models import load_model
    from ..render.audit import render_html, render_json, render_table, save_heatmap_png

    gates = parse_fail_above(args.fail_above)
    if args.gate == "upper" and args.bootstrap == 0:
        raise PadkitValueError("--gate=upper: expected --bootstrap N with N >= 1 (the upper bound needs intervals)")
    border: str | int = args.border
    if border != "auto":
        try:
            border = int(border)
        except ValueError:
            raise PadkitValueError(f"--border={args.border!r}: expected auto or a width in pixels") from None
    normalize = parse_normalize_flag(args.normalize)
    modes = None if args.modes is None else parse_layer_modes(args.modes)
    layers = None if args.layers is None else [n for n in args.layers.split(",") if n.strip()]
    if not 0 <= args.seed < 2**32:
        raise PadkitValueError(f"--seed={args.seed}: expected an int from 0 to 2**32 - 1")
    if args.device is not None:
        try:
            dev = torch.device(args.device)
        except RuntimeError:
            raise PadkitValueError(f"--device={args.device!r}: not a device; allowed: cpu, cuda, cuda:N") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise PadkitValueError(f"--device={args.device!r}: CUDA is not available here; allowed: cpu")
    started, device = init_from_env(args.device)
    try:
        model = load_model(args.model, args.weights)
        if device is not None:
            model = model.to(device)
        if started:  # every rank must audit the same weights: take rank 0's
            broadcast_parameters(model)
        reads = model_input(model)
        if args.plot and reads.rank != 2:
            raise PadkitValueError(f"--plot: per-position heat maps exist for 2-D models, not {reads.rank}-D ones")
        channels = reads.channels if args.channels is None else args.channels
        if isinstance(normalize, str) and normalize.strip().lower() == "auto":
            normalize = "imagenet" if channels == 3 and reads.rank == 2 else "none"
        data = args.data if args.data is not None else "builtin" if reads.rank == 2 else "synthetic:smooth"
        report = audit(
            model,
            data,
            modes=modes,
            layers=layers,
            input_size=args.input_size,
            channels=args.channels,
            images=args.images,
            batch_size=args.batch_size,
            border=border,
            normalize=normalize,
            probe_images=args.probe_images,
            equivariance_images=args.equivariance_images,
            device=device,
            seed=args.seed,
            progress=not args.no_progress,
            model_name=args.model,
            bootstrap=args.bootstrap,
        )
        rank = process_group()[0]
        if rank == 0:
            if args.json != "-":
                print(render_table(report, top=args.top))
            if args.json == "-":
                print(render_json(report))
            elif args.json:
                Path(args.json).write_text(render_json(report) + "\n", encoding="utf-8")
                print(f"wrote {args.json}", file=sys.stderr)
            if args.html:
                Path(args.html).write_text(render_html(report), encoding="utf-8")
                print(f"wrote {args.html}", file=sys.stderr)
            if args.plot:
                save_heatmap_png(report, args.plot)
                print(f"wrote {args.plot}", file=sys.stderr)
    finally:
        if started:
            torch.distributed.destroy_process_group()
    failed = []
    for metric, threshold in gates:
        for res in report.results:
            if res.summary.note is not None:  # not applicable: nothing to gate
                continue
            value = gate_value(res.summary, metric, args.gate)
            if math.isnan(value) or value > threshold:
                what = metric if args.gate == "point" else f"{metric} upper bound"
                failed.append(f"[{res.mode}] {what} = {value:.4g} > {threshold:g}")
    if failed:
        if rank == 0:
            print(f"padkit audit: fail: {'; '.join(failed)}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK
