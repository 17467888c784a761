"""``padkit convert MODEL MODE``: show which layers ``padkit.convert`` replaces, and what that does to the output."""

from __future__ import annotations

import argparse
import sys

from .._errors import PadkitValueError
from ._types import parse_layer_mode

__all__ = ["HELP", "add_arguments", "run"]

HELP = "switch every padded conv/pool of a model to another padding mode and list what changed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", metavar="MODEL", help="torchvision:NAME, timm:NAME, package.module:factory, or a .pt/.pth/.pt2 file"
    )
    parser.add_argument(
        "mode",
        metavar="MODE",
        help="zeros, reflect, symmetric, replicate, circular, partial, spherical, ...; or one mode per spatial dim "
        "joined by '+' (zeros+circular: height zeros, width circular; docs/nn.md)",
    )
    parser.add_argument("--weights", default=None, help="state_dict file (loaded with weights_only=True)")
    parser.add_argument("--include", action="append", default=None, help="only layers matching this name pattern")
    parser.add_argument("--exclude", action="append", default=None, help="skip layers matching this name pattern")
    parser.add_argument(
        "--input-size",
        default=None,
        help="also run one random input of this spatial size through both models and print the output change",
    )
    parser.add_argument("--json", metavar="PATH", default=None, help="write the change list as JSON ('-' for stdout)")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..cli import EXIT_OK
    from ..conversion import convert_report
    from ..models import load_model
    from .plan import parse_input_size

    mode = parse_layer_mode(args.mode)
    size = parse_input_size(args.input_size) if args.input_size else None  # bad input before any output
    model = load_model(args.model, args.weights)  # already in eval mode (torch.export modules refuse .eval())
    if isinstance(model, torch.jit.ScriptModule):
        raise PadkitValueError(
            f"MODEL={args.model!r} is TorchScript: its layers are compiled and cannot be replaced; allowed: a "
            "torchvision:/timm: spec, a package.module:factory (with --weights), or a torch.export .pt2 file"
        )
    if isinstance(model, torch.fx.GraphModule) and not any(
        isinstance(m, torch.nn.modules.conv._ConvNd) for m in model.modules()
    ):
        raise PadkitValueError(
            f"MODEL={args.model!r} is a torch.export program: its convolutions are graph ops, not layers, so there is "
            "nothing to replace; allowed: a torchvision:/timm: spec or a package.module:factory (with --weights)"
        )
    converted, report = convert_report(model, mode, include=args.include, exclude=args.exclude)
    if args.json == "-":
        print(report.to_json())
    else:
        print(report.format())
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(report.to_json() + "\n")
    if size is not None:
        first = next((m for m in model.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)), None)
        channels = first.in_channels if first is not None else 3
        dims = len(first.kernel_size) if first is not None else 2
        shape = (1, channels, *(size * dims if len(size) == 1 else size))
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            a, b = model(x), converted(x)
        if isinstance(a, dict):  # segmentation models return {"out": ...}
            a, b = a["out"], b["out"]
        rel = float((a - b).norm() / a.norm().clamp_min(1e-12))
        out = sys.stderr if args.json == "-" else sys.stdout
        print(f"output change on one random {tuple(shape)} input: relative L2 {rel:.3g}", file=out)
    return EXIT_OK
