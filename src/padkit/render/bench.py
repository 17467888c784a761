"""Renderers for :class:`~padkit.lab.benchmarks.Report`: a terminal table and Markdown (JSON is ``Report.to_json``).

The report is data; everything here only presents it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .text import text_table

if TYPE_CHECKING:
    from ..lab.benchmarks import Report

__all__ = ["render_markdown", "render_table"]


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _target(value: float | None) -> str:
    return "" if value is None else f"<={value:g}"


def _met(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "NO")


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f}"


def _machine_lines(report: Report) -> list[str]:
    m = report.machine
    lines = [
        f"machine: {m.device} {m.device_name} | CPU {m.cpu}, {m.cores} cores, {m.threads} torch threads"
        f" | torch {m.torch} | Python {m.python} | {m.platform}",
        f"load average (1 min): {m.load_before} at start, {m.load_after} at end"
        " (a load above the core count means other processes shared the machine: trust ratios, not absolute times)",
        f"memory: peak = {m.memory_method}; kept = bytes of the distinct storages autograd saves for backward"
        " (saved-tensor hooks)",
        f"settings: {', '.join(f'{k}={v}' for k, v in report.settings.items())}",
    ]
    return lines


def _rows(report: Report) -> tuple[list[str], list[list[str]]]:
    head = ["suite", "case", "ratio", "time", "target", "peak mem", "target", "kept", "target", "met"]
    rows = []
    for case in report.cases:
        for r in case.ratios:
            rows.append(
                [
                    case.suite,
                    case.case,
                    r.label,
                    _x(r.time),
                    _target(r.time_target),
                    _x(r.memory),
                    _target(r.memory_target),
                    _x(r.kept),
                    _target(r.kept_target),
                    _met(r.met),
                ]
            )
        for b in case.budgets:
            rows.append(
                [
                    case.suite,
                    case.case,
                    b.variant,
                    f"{b.seconds:.3f} s",
                    f"<={b.limit_s:g} s",
                    "",
                    "",
                    "",
                    "",
                    _met(b.met),
                ]
            )
    return head, rows


def _variant_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    head = ["suite", "case", "variant", "median ms", "q1-q3 ms", "calls/sample", "samples", "peak MiB", "kept MiB"]
    rows = []
    for case in report.cases:
        for v in case.variants:
            rows.append(
                [
                    case.suite,
                    case.case,
                    v.name,
                    f"{v.median_s * 1e3:.3f}",
                    f"{v.q1_s * 1e3:.3f}-{v.q3_s * 1e3:.3f}",
                    str(v.inner),
                    str(len(v.samples_s)),
                    _mib(v.peak_bytes),
                    _mib(v.kept_bytes),
                ]
            )
    return head, rows


def _grid(head: list[str], rows: list[list[str]]) -> list[str]:
    return text_table(head, rows, align_left=len(head))


def render_table(report: Report, *, variants: bool = True) -> str:
    """The report as a plain-text table: machine, ratios with targets and verdicts, then (optionally) every variant."""
    lines = ["padkit bench", *_machine_lines(report), ""]
    lines += _grid(*_rows(report))
    if variants:
        lines += ["", *_grid(*_variant_rows(report))]
    if report.skipped:
        lines += ["", "not measured:"] + [f"  {what}: {why}" for what, why in report.skipped]
    met = [r.met for _, r in report.ratios() if r.met is not None] + [b.met for c in report.cases for b in c.budgets]
    lines += ["", f"targets met: {sum(met)} of {len(met)}"]
    return "\n".join(lines) + "\n"


def _md(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return out + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]


def render_markdown(report: Report, *, variants: bool = False) -> str:
    """The report as Markdown tables (for docs/BENCHMARKS.md)."""
    lines = [f"- {line}" for line in _machine_lines(report)] + [""]
    lines += _md(*_rows(report))
    if variants:
        lines += ["", *_md(*_variant_rows(report))]
    if report.skipped:
        lines += ["", "Not measured:"] + [f"- {what}: {why}" for what, why in report.skipped]
    return "\n".join(lines) + "\n"
