"""The library never imports the lab (experiments, demo, benchmarks): ``padkit.lab`` stays out of every core import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import padkit

PACKAGE = Path(padkit.__file__).parent
#: Folders outside the core: the lab itself, and the presentation and CLI layers that may use it.
NOT_CORE = ("lab", "render", "commands")


def _core_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in NOT_CORE or rel.name == "__main__.py":
            continue
        parts = ["padkit", *rel.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def test_core_modules_do_not_import_the_lab():
    modules = _core_modules()
    assert {"padkit", "padkit.nn", "padkit.analysis.plan", "padkit.analysis.audit", "padkit.data"} <= set(modules)
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'padkit.lab' or m.startswith('padkit.lab.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_building_the_cli_parser_does_not_import_the_lab():
    script = (
        "import json, sys\n"
        "from padkit import cli\n"
        "cli._build_parser()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('padkit.lab'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
