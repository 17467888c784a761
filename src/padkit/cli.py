"""The ``padkit`` command line: a thin layer over the API.

Each subcommand lives in ``padkit.commands.<name>`` and defines ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Results go to stdout, diagnostics to stderr. Exit codes are named below.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from ._errors import PadkitError, PadkitValueError

__all__ = ["EXIT_ERROR", "EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0  #: success
EXIT_FAIL = 1  #: the run worked and a --fail-on / --fail-above gate tripped
EXIT_USAGE = 2  #: bad arguments or bad input (argparse uses 2 too)
EXIT_ERROR = 3  #: an unexpected error

#: Subcommand name -> module under padkit.commands. Imported lazily so `padkit plan` never pays for the audit.
SUBCOMMANDS: dict[str, str] = {
    "plan": "plan",
    "convert": "convert",
    "audit": "audit",
    "experiment": "experiment",
    "demo": "demo",
    "bench": "bench",
    "tile": "tile",
}


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="padkit",
        description="Padding for CNNs that is not 'nothing': analyse, measure and fix the border of your model.",
    )
    parser.add_argument("--version", action="version", version=f"padkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f"padkit.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _prepare_outputs(args: argparse.Namespace) -> None:
    """Check output paths before any work: files (``--json``/``--html``/``--plot``) get their folder made and may not
    be directories; ``--out`` folders may not be files."""
    from pathlib import Path

    for attr in ("json", "html", "plot"):
        value = getattr(args, attr, None)
        if value is None or str(value) == "-":
            continue
        path = Path(value)
        if path.is_dir():
            raise PadkitValueError(f"--{attr}={str(value)!r} is a folder; expected a file path")
        path.parent.mkdir(parents=True, exist_ok=True)
    out = getattr(args, "out", None)
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise PadkitValueError(f"--out={str(out)!r} is a file; expected a folder")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (``sys.exit(main())`` in scripts).

    What the library logs on the ``padkit`` logger at level INFO or above (e.g. which state dict ``--weights`` loaded
    and which prefix it stripped) goes to stderr while the command runs.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    logger = logging.getLogger("padkit")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"padkit {args.command}: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        return _run(args)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _run(args: argparse.Namespace) -> int:
    try:
        _prepare_outputs(args)
        return int(args._run(args))
    except PadkitError as exc:
        print(f"padkit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a path that cannot be read or written (missing folder, a directory, permissions)
        print(f"padkit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception:  # a bug or an error inside the user's model: the traceback, and 3 (never the gate's 1)
        import traceback

        traceback.print_exc()
        print(f"padkit {args.command}: unexpected error (exit {EXIT_ERROR}); the traceback is above", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
