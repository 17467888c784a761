"""``padkit bench``: time padkit's padding against zero padding and PyTorch's own modes; print ratios."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._types import int_at_least

__all__ = ["HELP", "SUITES", "add_arguments", "run"]

HELP = "benchmark padkit padding against zero padding and PyTorch (ratios from one interleaved run)"

#: Suite names, spelled out so building the parser does not import the benchmarks (a test keeps it in sync).
SUITES: tuple[str, ...] = ("pad", "conv", "model", "audit", "plan")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``padkit bench`` arguments."""
    parser.add_argument(
        "suite",
        nargs="?",
        default="all",
        choices=(*SUITES, "tile", "all"),
        help="what to benchmark (tile: tiled inference, minutes; not part of all)",
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device to run on (default cpu)")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH ('-': stdout, no table)")
    parser.add_argument("--no-progress", action="store_true", help="no per-case progress lines on stderr")
    parser.add_argument(
        "--repeats", type=int_at_least(1), metavar="N", help="timed samples per variant (default: per case)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny shapes, few repeats: a smoke run in seconds")
    parser.add_argument(
        "--threads",
        type=int_at_least(1),
        metavar="N",
        help="torch CPU threads (default: torch's; 1 on a shared machine)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip peak-memory measurement")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables instead of plain text")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table to stdout (progress to stderr), write JSON if asked."""
    from ..cli import EXIT_OK
    from ..lab.benchmarks import run_benchmarks
    from ..render.bench import render_markdown, render_table

    if args.suite == "tile":
        return _run_tile(args)
    report = run_benchmarks(
        [args.suite],
        device=args.device,
        repeats=args.repeats,
        quick=args.quick,
        memory=not args.no_memory,
        threads=args.threads,
        log=None if args.no_progress else (lambda line: print(line, file=sys.stderr, flush=True)),
    )
    if args.json == "-":
        print(report.to_json())
        return EXIT_OK
    print(render_markdown(report, variants=True) if args.markdown else render_table(report), end="")
    if args.json is not None:
        Path(args.json).write_text(report.to_json() + "\n")
    return EXIT_OK


def _run_tile(args: argparse.Namespace) -> int:
    """``padkit bench tile``: memory, time and seam error of tiled inference (:mod:`padkit.lab.benchmarks._tile`)."""
    from ..cli import EXIT_OK
    from ..lab.benchmarks._tile import run_tile_bench
    from ..render.tile import tile_bench_markdown, tile_bench_table

    log = None if args.no_progress else (lambda line: print(line, file=sys.stderr, flush=True))
    report = run_tile_bench(threads=args.threads, quick=args.quick, log=log)
    if args.json == "-":
        print(report.to_json())
        return EXIT_OK
    print(tile_bench_markdown(report) if args.markdown else tile_bench_table(report), end="")
    if args.json is not None:
        Path(args.json).write_text(report.to_json() + "\n")
    return EXIT_OK
