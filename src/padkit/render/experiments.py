"""Renderers for :class:`~padkit.lab.experiments.ExperimentResult`: Markdown tables, table cells, a PNG bar chart.

The result is data; everything here only presents it. matplotlib is imported lazily with the Agg backend.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..lab.experiments.result import ExperimentResult

__all__ = [
    "metric_headers",
    "reference_rows",
    "render_markdown",
    "render_png",
    "result_cells",
    "result_rows",
    "split_row",
]


def split_row(row: str) -> tuple[str, str]:
    """``"group/variant"`` -> ``("group", "variant")``; a row without a group -> ``("", row)``."""
    group, _, variant = row.rpartition("/")
    return group, variant


def metric_headers(result: ExperimentResult, metrics: Sequence[str]) -> list[str]:
    """Column headings: each metric with its unit in parentheses where it has one."""
    return [f"{m} ({result.units[m]})" if result.units.get(m) else m for m in metrics]


def result_cells(result: ExperimentResult, row: str, metrics: Sequence[str], digits: int = 1) -> list[str]:
    """``mean ± std`` of each metric of ``row`` (``–`` where the row lacks it), at the metric's precision."""
    cols = result.results[row]
    return ["–" if cols.get(m) is None else cols[m].format(result.precision.get(m, digits)) for m in metrics]


def result_rows(result: ExperimentResult, metrics: Sequence[str], digits: int = 1) -> list[list[str]]:
    """One row of cells per result row, led by the full row name (``"group/variant"``)."""
    return [[row, *result_cells(result, row, metrics, digits)] for row in result.rows]


def reference_rows(result: ExperimentResult, digits: int = 1) -> list[list[str]]:
    """Rows ``[row, metric, mean ± std, 95% t interval, published, mean − published]`` for every published value in
    ``result.reference`` whose row and metric the result has (the interval is Student-t over seeds,
    :func:`~padkit.lab.experiments.stats.t_interval`; ``n/a`` with fewer than 2 seeds or a NaN)."""
    from ..lab.experiments.stats import t_interval

    out: list[list[str]] = []
    for row, cols in result.reference.items():
        for metric, published in cols.items():
            st = result.results.get(row, {}).get(metric)
            if st is None:
                continue
            d = result.precision.get(metric, digits)
            finite = [v for v in st.values if math.isfinite(v)]
            ok = len(finite) == len(st.values) >= 2
            lo, hi = t_interval(finite) if ok else (math.nan, math.nan)
            interval = f"[{lo:.{d}f}, {hi:.{d}f}]" if math.isfinite(lo) else "n/a"
            diff = st.mean - published
            out.append(
                [
                    row,
                    metric,
                    st.format(d),
                    interval,
                    f"{published:.{d}f}",
                    f"{diff:+.{d}f}" if math.isfinite(diff) else "n/a",
                ]
            )
    return out


def _groups(result: ExperimentResult) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for row in result.rows:
        groups.setdefault(split_row(row)[0], []).append(row)
    return groups


def render_markdown(result: ExperimentResult, digits: int = 1) -> str:
    """Markdown tables (one per row group) of ``mean ± std`` over seeds, plus comparisons and notes."""
    out: list[str] = [f"### {result.title}", ""]
    for group, rows in _groups(result).items():
        if group:
            out += [f"**{group}**", ""]
        heads = metric_headers(result, result.metrics)
        out.append("| variant | " + " | ".join(heads) + " |")
        out.append("|---|" + "---|" * len(heads))
        for row in rows:
            cells = result_cells(result, row, result.metrics, digits)
            out.append(f"| {split_row(row)[1]} | " + " | ".join(cells) + " |")
        out.append("")
    if result.comparisons:
        out += [
            "Paired comparisons against the baseline (same seeds); * = |mean diff| > 2 SE and paired t-test p < 0.05:",
            "",
        ]
        out.append("| group | metric | variant − baseline | mean diff ± std | p | significant |")
        out.append("|---|---|---|---|---|---|")
        for c in result.comparisons:
            p = "–" if not math.isfinite(c.p_value) else f"{c.p_value:.3f}"
            out.append(
                f"| {c.group or '–'} | {c.metric} | {c.variant} − {c.baseline} | {c.mean_diff:+.3f} ± {c.std_diff:.3f} "
                f"| {p} | {'*' if c.significant else 'no'} |"
            )
        out.append("")
    ref = reference_rows(result, digits)
    if ref:
        out += [f"Beside the published numbers ({result.reference_source or 'reference'}):", ""]
        out.append("| variant | metric | here: mean ± std | here: 95% t interval | published | here − published |")
        out.append("|---|---|---|---|---|---|")
        out += ["| " + " | ".join(r) + " |" for r in ref]
        out.append("")
    n_seeds = result.config.get("seeds")
    env = result.env
    out.append(
        f"_{n_seeds} seed(s); mean ± sample std over seeds; "
        f"{result.seconds:.0f} s wall ({result.cpu_seconds:.0f} s CPU) on {env.get('cpu')} "
        f"({env.get('cpu_count')} cores) "
        f"with {env.get('torch_threads')} torch thread(s), torch {env.get('torch')}._"
    )
    for note in result.notes:
        out += ["", note]
    return "\n".join(out) + "\n"


def render_png(result: ExperimentResult, path: str | Path, metrics: Sequence[str] | None = None) -> Path:
    """Grouped bar chart (error bars = std over seeds) of ``metrics`` per row group.

    ``metrics`` defaults to ``result.plot_metrics`` (all metrics when that is empty); rows that have none of them
    are not drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(metrics or result.plot_metrics or result.metrics)
    groups = {
        g: kept
        for g, rows in _groups(result).items()
        if (kept := [r for r in rows if any(m in result.results[r] for m in metrics)])
    }  # rows without any plotted metric (e.g. summary rows) are left out
    fig, axes = plt.subplots(
        len(groups), len(metrics), figsize=(3.6 * len(metrics) + 0.5, 2.8 * len(groups) + 0.4), squeeze=False
    )
    for gi, (group, rows) in enumerate(groups.items()):
        labels = [split_row(r)[1] for r in rows]
        for mi, metric in enumerate(metrics):
            ax = axes[gi][mi]
            means = [result.results[r][metric].mean if metric in result.results[r] else np.nan for r in rows]
            stds = [result.results[r][metric].std if metric in result.results[r] else 0.0 for r in rows]
            ax.bar(range(len(rows)), means, yerr=stds, capsize=3, color="#4c72b0")
            ax.set_xticks(range(len(rows)))
            ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
            unit = result.units.get(metric, "")
            ax.set_title(f"{group + ': ' if group else ''}{metric}{f' ({unit})' if unit else ''}", fontsize=8)
            ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(result.title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
