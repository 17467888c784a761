"""``padkit demo``: plan, audit and two short experiments on ResNet-18 (random init), one HTML report, offline."""

from __future__ import annotations

import argparse
import sys

__all__ = ["HELP", "add_arguments", "run"]

HELP = (
    "two-minute tour, offline: plan ResNet-18, audit zeros vs reflect vs partial padding on built-in photographs, "
    "run short red-green and normalisation experiments, write an HTML report"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", metavar="DIR", default="padkit-demo", help="folder for report.html and the PNGs (default padkit-demo)"
    )
    parser.add_argument("--quick", action="store_true", help="shrink every step to a few seconds (smoke test)")
    parser.add_argument("--json", metavar="PATH", default=None, help="write the results as JSON ('-' for stdout)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..cli import EXIT_OK
    from ..lab.demo import run_demo
    from ..render.demo import render_summary

    result = run_demo(args.out, quick=args.quick, progress=not args.no_progress)
    if args.json == "-":
        print(result.to_json())
    else:
        print(render_summary(result))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(result.to_json() + "\n")
            print(f"wrote {args.json}", file=sys.stderr)
    return EXIT_OK
