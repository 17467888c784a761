"""``padkit experiment NAME``: run one of the published-finding reproductions and write its table and figure."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._report import REPORT_FORMAT, to_json
from .._validate import bad_value, check_choice
from ._types import int_at_least, parse_layer_modes

__all__ = ["HELP", "NAMES", "add_arguments", "run"]

#: Experiment names, spelled out so building the parser does not import the experiments (a test keeps it in sync).
NAMES: tuple[str, ...] = ("red-green", "position", "modes", "normalization", "boundary", "agreement")

HELP = (
    "reproduce a published padding finding on CPU with offline data: red-green, position, modes, normalization, "
    "boundary, agreement ('list' shows them)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = list(NAMES)
    parser.add_argument("name", metavar="NAME", help=f"experiment: {', '.join(names)}; or 'list'")
    parser.add_argument(
        "--seeds", type=int_at_least(1), default=None, help="number of seeds (default: the experiment's)"
    )
    parser.add_argument(
        "--epochs", type=int_at_least(1), default=None, help="training epochs (default: the experiment's)"
    )
    parser.add_argument(
        "--seed-start",
        type=int_at_least(0),
        default=None,
        help="red-green: first seed; runs over disjoint seeds join with padkit.lab.experiments.merge_results "
        "(default 0)",
    )
    parser.add_argument(
        "--protocol",
        default="cpu",
        help="settings preset: 'cpu' (the experiment's defaults, minutes on 2 cores) or 'paper' (the published "
        "protocol, red-green only: the authors' data, 10 seeds, up to 50 epochs; docs/EXPERIMENTS.md) "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--variants",
        default=None,
        help="red-green variants to run, comma-separated (valid, same-zeros, same-reflect, ..., full-zeros) "
        "(default: the protocol's)",
    )
    parser.add_argument(
        "--modes",
        default=None,
        help="padding modes the 'modes' experiment compares, comma-separated; one mode per spatial dim joined by '+' "
        "(zeros+circular: height zeros, width circular; docs/nn.md) (default: the experiment's)",
    )
    parser.add_argument("--json", metavar="PATH", default=None, help="write the result as JSON ('-' for stdout)")
    parser.add_argument(
        "--out", metavar="DIR", default="padkit-experiments", help="where NAME.md and NAME.png go (default %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")


def _catalogue() -> list[dict[str, object]]:
    """One entry per experiment: name, default seeds and epochs, and the first line of its docstring."""
    from ..lab.experiments import EXPERIMENTS, PROTOCOLS

    entries: list[dict[str, object]] = []
    for name, (config_cls, run_fn) in EXPERIMENTS.items():
        cfg = config_cls()
        summary = (run_fn.__doc__ or "").strip().splitlines()[0]
        entries.append(
            {
                "name": name,
                "seeds": cfg.seeds,
                "epochs": cfg.epochs,
                "protocols": list(PROTOCOLS[name]),
                "summary": summary,
            }
        )
    return entries


def _list() -> str:
    return "\n".join(
        f"{e['name']:<14} seeds={e['seeds']} epochs={e['epochs']} protocols={','.join(e['protocols'])}  {e['summary']}"  # type: ignore[arg-type]
        for e in _catalogue()
    )


def run(args: argparse.Namespace) -> int:
    from ..cli import EXIT_OK
    from ..lab.experiments import EXPERIMENTS, experiment_config
    from ..render.experiments import render_markdown, render_png

    if args.name == "list":
        if args.json is not None:
            text = to_json({"format": REPORT_FORMAT, "experiments": _catalogue()}, indent=2)
            if args.json == "-":
                print(text)
            else:
                Path(args.json).write_text(text + "\n", encoding="utf-8")
                print(_list())
        else:
            print(_list())
        return EXIT_OK
    check_choice(args.name, "NAME", (*EXPERIMENTS, "list"))
    run_fn = EXPERIMENTS[args.name][1]
    overrides: dict[str, object] = {k: getattr(args, k) for k in ("seeds", "epochs") if getattr(args, k) is not None}
    if getattr(args, "modes", None) is not None:
        if args.name != "modes":
            raise bad_value("--modes", args.modes, f"only with NAME='modes' (NAME={args.name!r} compares no modes)")
        overrides["modes"] = parse_layer_modes(args.modes)
    if getattr(args, "seed_start", None) is not None:
        if args.name != "red-green":
            raise bad_value("--seed-start", args.seed_start, f"only with NAME='red-green' (NAME={args.name!r})")
        overrides["seed_start"] = args.seed_start
    if getattr(args, "variants", None) is not None:
        if args.name != "red-green":
            raise bad_value("--variants", args.variants, f"only with NAME='red-green' (NAME={args.name!r})")
        overrides["variants"] = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    config = experiment_config(args.name, getattr(args, "protocol", "cpu"), **overrides)
    result = run_fn(config, progress=not args.no_progress)
    table = render_markdown(result)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md_path, png_path = out / f"{args.name}.md", out / f"{args.name}.png"
    md_path.write_text(table, encoding="utf-8")
    render_png(result, png_path)
    if args.json == "-":
        sys.stdout.write(result.to_json())
        sys.stdout.write("\n")
    else:
        print(table)
        if args.json:
            Path(args.json).write_text(result.to_json() + "\n", encoding="utf-8")
    print(f"wrote {md_path} and {png_path}", file=sys.stderr)
    return EXIT_OK
