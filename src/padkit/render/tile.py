"""Renderers for tiled inference: the ``padkit tile`` summary and the ``padkit bench tile`` tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._report import REPORT_FORMAT
from .text import text_table

if TYPE_CHECKING:
    from ..lab.benchmarks._tile import TileBenchReport
    from ..tiling import TiledRun

__all__ = ["format_bytes", "tile_bench_markdown", "tile_bench_table", "tile_summary"]


def format_bytes(value: int | None) -> str:
    """``1536 -> '1.5 KiB'``; None -> ``-``."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def tile_summary(
    run: TiledRun, model: str, input_shape: tuple[int, ...], peak_bytes: int | None, peak_of: str, seconds: float
) -> dict[str, Any]:
    """The ``padkit tile`` summary as JSON-ready data, its one-line form under ``"line"``."""
    line = (
        f"padkit tile: {model} on {'x'.join(map(str, input_shape[2:]))}: {run.summary()}; "
        f"peak memory {format_bytes(peak_bytes)} ({peak_of}), {seconds:.2f} s"
    )
    return {
        "format": REPORT_FORMAT,
        "model": model,
        "input_shape": list(input_shape),
        "tiles": run.tiles,
        "forwards": run.forwards,
        "tile": list(run.tile),
        "halo": list(run.halo),
        "align": list(run.align),
        "scale": [float(s) for s in run.scale],
        "exact": run.exact,
        "mode": run.mode,
        "global_at": run.global_at,
        "seam_error": run.seam_error,
        "seam_error_abs": run.seam_error_abs,
        "sample": None if run.sample is None else list(run.sample),
        "peak_bytes": peak_bytes,
        "peak_of": peak_of,
        "seconds": seconds,
        "line": line,
    }


def _tables(report: TileBenchReport) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
    head = [
        "image",
        "whole peak",
        "tiled peak",
        "memory tiled/whole",
        "whole s",
        "tiled s",
        "time tiled/whole",
        "layout crop area",
        "(t+2h)^2/t^2",
    ]
    rows = []
    for r in report.rows:
        mem = r["tiled_bytes"] / r["whole_bytes"] if r["tiled_bytes"] and r["whole_bytes"] else None
        t = r["tiled_s"] / r["whole_s"] if r["tiled_s"] and r["whole_s"] else None
        rows.append(
            [
                f"{r['size']}x{r['size']}",
                format_bytes(r["whole_bytes"]),
                format_bytes(r["tiled_bytes"]),
                "-" if mem is None else f"{mem:.2f}",
                "-" if r["whole_s"] is None else f"{r['whole_s']:.1f}",
                "-" if r["tiled_s"] is None else f"{r['tiled_s']:.1f}",
                "-" if t is None else f"{t:.2f}",
                f"{r['layout_ratio']:.2f}",
                f"{report.theory:.2f}",
            ]
        )
    ehead = ["method", "image", "max |tiled - whole| / max |whole|", "max |tiled - whole|", "time s"]
    erows = [
        [e["method"], f"{e['size']}x{e['size']}", f"{e['relative']:.2g}", f"{e['absolute']:.2g}", f"{e['seconds']:.1f}"]
        for e in report.errors
    ]
    return head, rows, ehead, erows


def _header(report: TileBenchReport) -> list[str]:
    m = report.machine
    return [
        f"padkit bench tile: {report.model}",
        f"tile {report.tile}, padkit halo {report.halo}, total stride {report.align}; "
        f"{m.get('cpu')} ({m.get('cpu_count')} cores, {m.get('torch_threads')} torch threads), torch {m.get('torch')}",
    ]


def tile_bench_table(report: TileBenchReport) -> str:
    """Plain-text tables: memory and time per image size, seam error per method."""
    head, rows, ehead, erows = _tables(report)
    lines = [*_header(report), "", *text_table(head, rows), "", *text_table(ehead, erows)]
    lines += [f"skipped: {s}" for s in report.skipped]
    return "\n".join(lines) + "\n"


def tile_bench_markdown(report: TileBenchReport) -> str:
    """The same tables in Markdown."""
    head, rows, ehead, erows = _tables(report)

    def md(h: list[str], rs: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(h) + " |", "|" + "---|" * len(h)] + ["| " + " | ".join(r) + " |" for r in rs]

    lines = [s + "  " for s in _header(report)] + [""] + md(head, rows) + [""] + md(ehead, erows)
    lines += [f"skipped: {s}" for s in report.skipped]
    return "\n".join(lines) + "\n"
