"""``padkit plan MODEL --input-size 224``: static padding analysis of a model at one input size."""

from __future__ import annotations

import argparse
import sys

from .._validate import bad_value
from ._types import int_at_least

__all__ = ["HELP", "add_arguments", "parse_input_size", "run"]

HELP = "show what a model's padding does at one input size: uneven padding, unread rows, clean sizes, reach, foveation"


def parse_input_size(text: str) -> tuple[int, ...]:
    """``224`` -> ``(224,)`` (same along every spatial dim); ``224,320`` or ``224x320`` -> ``(224, 320)``."""
    parts = text.replace("x", ",").split(",")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        raise bad_value("--input-size", text, "a spatial size such as 224 or 224,320") from None
    if not 1 <= len(size) <= 3 or min(size) < 1:
        raise bad_value("--input-size", text, "1 to 3 positive ints (spatial size, no channels)")
    return size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", metavar="MODEL", help="torchvision:NAME, timm:NAME, package.module:factory, or a .pt/.pth/.pt2 file"
    )
    parser.add_argument(
        "--input-size",
        default=None,
        help="spatial size: 224 (every dim) or 224,320 (default: the size the model declares, else 224)",
    )
    parser.add_argument(
        "--channels", type=int_at_least(1), default=None, help="input channels (default: the first conv's)"
    )
    parser.add_argument("--weights", default=None, help="state_dict file (loaded with weights_only=True)")
    parser.add_argument("--json", metavar="PATH", default=None, help="write the plan as JSON ('-' for stdout)")
    parser.add_argument("--plot", metavar="PATH", default=None, help="write a PNG of the foveation and reach maps")
    parser.add_argument(
        "--fail-on",
        choices=("uneven", "unread", "unclean"),
        action="append",
        default=[],
        help="exit 1 when a layer has that problem (repeatable; unclean = either or unknown)",
    )
    parser.add_argument("--all", action="store_true", help="list every spatial layer, not only those that pad")
    parser.add_argument("--no-suggest", action="store_true", help="skip the search for clean sizes")


def run(args: argparse.Namespace) -> int:
    from ..analysis.plan import plan
    from ..cli import EXIT_FAIL, EXIT_OK
    from ..models import load_model, load_model_meta
    from ..render.plan import plan_table, write_plan_json, write_plan_png

    size = None if args.input_size is None else parse_input_size(args.input_size)
    model = load_model_meta(args.model) if args.weights is None else load_model(args.model, args.weights)
    result = plan(
        model,
        None if size is None else size[0] if len(size) == 1 else size,
        in_channels=args.channels,
        name=args.model,
        suggest=not args.no_suggest,
    )
    if args.json != "-":
        print(plan_table(result, all_layers=args.all))
    if args.json:
        write_plan_json(result, args.json)
    if args.plot:
        write_plan_png(result, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    failed = []
    if "uneven" in args.fail_on and result.uneven_layers:
        failed.append(f"{len(result.uneven_layers)} layers pad unevenly")
    if "unread" in args.fail_on and result.unread_layers:
        failed.append(f"{len(result.unread_layers)} layers leave input unread")
    if "unclean" in args.fail_on and not result.clean:
        failed.append("the input size is not clean")
    if failed:
        print(f"padkit plan: fail: {'; '.join(failed)}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK
