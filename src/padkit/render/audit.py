"""Renderers for :class:`~padkit.analysis.audit.AuditReport`: terminal table, JSON, self-contained HTML, PNG.

The report is data; everything here only presents it. matplotlib is imported lazily with the Agg backend; the HTML
template (``padkit/templates/audit.html.j2``) is rendered by jinja2 with autoescaping on, so every string taken from
the model or the data (layer names, warnings) is escaped. Figures are embedded as base64 PNGs: the file needs
nothing else.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any, Sequence

from .._errors import PadkitValueError
from ..analysis.audit.report import METRICS, AuditReport, LayerResult, Summary
from .text import format_number, text_table

__all__ = [
    "comparison_figure",
    "difference_lines",
    "format_interval",
    "heatmap_figure",
    "pick_layers",
    "profiles_figure",
    "render_html",
    "render_json",
    "render_table",
    "save_heatmap_png",
    "summary_cell",
]

_HEADERS = (
    "layer",
    "C×H×W",
    "band",
    "shift",
    "var×",
    "W1",
    "edge×",
    "equiv×",
    "eq border",
    "eq interior",
    "pos R²",
    "PA",
)
#: The shape column's header by spatial rank.
_SHAPE_HEADERS = {1: "C×L", 2: "C×H×W", 3: "C×D×H×W"}
#: Decimals per metric in tables.
_DIGITS = {"equivariance_gap": 1, "equivariance_border": 3, "equivariance_interior": 3, "padding_aware_channels": 0}
#: The mark of a paired difference whose 95% interval excludes 0.
_MARK = "*"


def format_interval(value: float | int | None, ci: tuple[float, float] | None, digits: int = 2) -> str:
    """``0.30 [0.28, 0.35]``: a value and its interval (the value alone when there is none, ``n/a`` for None)."""
    if value is None:
        return "n/a"

    def fmt(v: float | int) -> str:  # digits 0: a count, written as an int
        return str(round(v)) if digits == 0 and math.isfinite(v) else format_number(v, digits)

    text = fmt(value)
    if ci is None or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in ci):
        return text
    return f"{text} [{fmt(ci[0])}, {fmt(ci[1])}]"


def _cell(lr: LayerResult, metric: str, digits: int = 2) -> str:
    return format_interval(getattr(lr, metric), lr.ci.get(metric), digits)


def _layer_row(lr: LayerResult) -> tuple[str, ...]:
    band = f"{lr.band_source[:2]}:{max(lr.band_widths)}"
    return (
        lr.name,
        "×".join(str(s) for s in lr.shape),
        band,
        _cell(lr, "border_shift"),
        format_number(lr.var_ratio),
        format_number(lr.wasserstein),
        _cell(lr, "false_edge_ratio"),
        _cell(lr, "equivariance_gap", 1),
        format_number(lr.equivariance_border, 3),
        format_number(lr.equivariance_interior, 3),
        _cell(lr, "position_r2"),
        str(lr.padding_aware_channels),
    )


def summary_cell(summary: Summary, metric: str) -> str:
    """A summary figure with its interval (``n/a`` when the summary is not applicable)."""
    if summary.note is not None:
        return "n/a"
    value = getattr(summary, metric)
    return format_interval(value, summary.ci.get(metric), _DIGITS.get(metric, 2))


def difference_lines(report: AuditReport) -> list[str]:
    """One line per non-baseline mode and metric: ``reflect − zeros: border_shift −0.15 [−0.18, −0.12] *``."""
    lines = []
    for res in report.results:
        if res.baseline is None:
            continue
        parts = []
        for d in res.differences:
            cell = format_interval(d.value, d.ci, _DIGITS.get(d.metric, 2))
            parts.append(f"{d.metric} {cell}{' ' + _MARK if d.excludes_zero else ''}")
        lines.append(f"{res.mode} − {res.baseline}: " + "; ".join(parts))
    return lines


def render_table(report: AuditReport, *, top: int = 10, sort_by: str = "border_shift") -> str:
    """Terminal table: per mode, the summary and the ``top`` layers with the largest ``sort_by``.

    Columns: border shift (mean |SMD|), variance ratio, Wasserstein-1 (in std units), false-edge ratio,
    equivariance gap with its border and interior errors, position-probe R², padding-aware channels; ``[lo, hi]``
    after a value is its 95% bootstrap interval. A mode-comparison table and the paired differences against the
    baseline mode follow when several modes were audited.
    """
    lines = [
        f"padkit audit: {report.model} | data {report.data} | {report.images} images "
        f"{'x'.join(str(v) for v in report.input_size)} | normalize {report.normalize} | border {report.border}"
    ]
    headers = (_HEADERS[0], _SHAPE_HEADERS.get(len(report.input_size), "shape"), *_HEADERS[2:])
    i = report.input_stats
    z = ", ".join(f"{v:+.2f}" for v in i.zero_z)
    lines.append(f"input border: zero sits at z = {z} ({'centred' if i.centred else 'NOT centred: zero = dark'})")
    if report.bootstrap:
        b = report.bootstrap
        lines.append(
            f"[lo, hi]: 95% bootstrap intervals over images ({b['replicates']} replicates over {b['groups']} image "
            f"groups, seed {b['seed']})"
        )
    for res in report.results:
        lines.append("")
        s = res.summary
        if s.note is not None:
            lines.append(f"[{res.mode}] n/a: {s.note} ({len(res.layers)} layers)")
        else:
            lines.append(
                f"[{res.mode}] "
                + "  ".join(
                    f"{m} {summary_cell(s, m)}" for m in ("border_shift", "false_edge_ratio", "equivariance_gap")
                )
                + f" (border {format_number(s.equivariance_border, 3)}, interior "
                f"{format_number(s.equivariance_interior, 3)})  position_r2 {summary_cell(s, 'position_r2')}  "
                f"padding_aware_channels {summary_cell(s, 'padding_aware_channels')}  ({len(res.layers)} layers)"
            )

        def key(lr: LayerResult) -> float:
            v = float(getattr(lr, sort_by))
            return v if math.isfinite(v) else (math.inf if v > 0 else -math.inf)

        ranked = sorted(res.layers, key=key, reverse=True)[:top]
        lines.extend(text_table(headers, [_layer_row(lr) for lr in ranked]))
        for w in res.warnings:
            lines.append(f"warning: {w}")
    if len(report.results) > 1:
        lines.append("")
        lines.append(
            "mode comparison (means over layers; equivariance_gap: mean border over mean interior error; "
            "padding_aware_channels: total)"
        )
        rows = [(r.mode, *(summary_cell(r.summary, m) for m in METRICS)) for r in report.results]
        lines.extend(text_table(("mode", *METRICS), rows))
        diffs = difference_lines(report)
        if diffs:
            lines.append("")
            lines.append(
                f"paired differences over the same images ({_MARK}: the 95% interval excludes 0)"
                if report.bootstrap
                else "differences (no intervals: bootstrap off)"
            )
            lines.extend(diffs)
    for w in report.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def render_json(report: AuditReport, *, include_maps: bool = False) -> str:
    """The report as strict JSON (``"format": padkit._report.REPORT_FORMAT``)."""
    return report.to_json(include_maps=include_maps)


# ------------------------------------------------------------------------------------------------ figures
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def pick_layers(report: AuditReport, max_layers: int) -> list[str]:
    """Up to ``max_layers`` layer names spread evenly over the depth of the first mode."""
    names = [lr.name for lr in report.results[0].layers if lr.mean_map is not None]
    if len(names) <= max_layers:
        return names
    step = (len(names) - 1) / (max_layers - 1)
    return [names[round(k * step)] for k in range(max_layers)]


def heatmap_figure(report: AuditReport, layers: Sequence[str], which: str = "mean") -> Any:
    """A matplotlib figure of per-position maps (rows: modes, columns: ``layers``); ``which``: "mean" or "std"."""
    plt = _plt()
    modes = report.results
    fig, axes = plt.subplots(
        len(modes), len(layers), figsize=(1.9 * len(layers) + 0.6, 1.9 * len(modes) + 0.4), squeeze=False
    )
    for r, res in enumerate(modes):
        by_name = {lr.name: lr for lr in res.layers}
        for c, name in enumerate(layers):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            lr = by_name.get(name)
            data = None if lr is None else (lr.mean_map if which == "mean" else lr.std_map)
            if data is None:
                ax.set_axis_off()
                continue
            if which == "mean":
                lim = max(float(abs(data).max()), 1e-6)
                im = ax.imshow(data, cmap="RdBu_r", vmin=-lim, vmax=lim)
            else:
                im = ax.imshow(data, cmap="magma")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title(name if len(name) <= 22 else "…" + name[-21:], fontsize=7)
            if c == 0:
                ax.set_ylabel(res.mode, fontsize=8)
    title = (
        "per-position mean, standardised per channel (channel mean 0, std 1; averaged over channels)"
        if which == "mean"
        else "per-position std / channel std (averaged over channels)"
    )
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig


def save_heatmap_png(report: AuditReport, path: str | Path, *, layers: Sequence[str] | None = None) -> Path:
    """Save the per-position mean heat maps (rows: modes, columns: layers) as a PNG file.

    Raises:
        PadkitValueError: no layer has a heat map (they exist for 2-D outputs with non-constant channels).
    """
    names = list(layers) if layers is not None else pick_layers(report, 6)
    if not names:
        raise PadkitValueError(
            f"plot: no layer has a per-position heat map (they exist for 2-D maps; the report's input is "
            f"{'x'.join(map(str, report.input_size))})"
        )
    fig = heatmap_figure(report, names, "mean")
    out = Path(path)
    fig.savefig(out, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return out


def profiles_figure(report: AuditReport, name: str) -> Any:
    """A matplotlib figure of layer ``name``'s border-vs-interior profiles and equivariance error vs distance."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.6))
    for res in report.results:
        try:
            lr = res.layer(name)
        except KeyError:
            continue
        axes[0].plot(range(len(lr.shift_profile)), lr.shift_profile, marker=".", label=res.mode)
        axes[1].plot(range(1, len(lr.edge_profile) + 1), lr.edge_profile, marker=".", label=res.mode)
        axes[2].plot(range(len(lr.equivariance_curve)), lr.equivariance_curve, marker=".", label=res.mode)
    axes[0].set_title("|mean shift| vs interior (std units)", fontsize=8)
    axes[1].set_title("edge energy / interior", fontsize=8)
    axes[2].set_title("equivariance error (relative)", fontsize=8)
    for ax in axes:
        ax.set_xlabel("distance to border (output positions)", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[1].axhline(1.0, color="grey", lw=0.5)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def comparison_figure(report: AuditReport) -> Any:
    """A matplotlib figure with one bar chart per summary metric, one bar per mode."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(METRICS), figsize=(2.4 * len(METRICS), 2.4))
    modes = [r.mode for r in report.results]
    for ax, metric in zip(axes, METRICS):
        vals = [r.summary.value(metric) for r in report.results]
        vals = [v if math.isfinite(v) else 0.0 for v in vals]
        ax.bar(range(len(modes)), vals, color=[f"C{k}" for k in range(len(modes))])
        ax.set_xticks(range(len(modes)))
        ax.set_xticklabels(modes, rotation=45, ha="right", fontsize=7)
        ax.set_title(metric, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def render_html(report: AuditReport, *, max_layers: int = 8) -> str:
    """A self-contained HTML report: summary tables, mode comparison, heat maps and per-layer profiles.

    Args:
        report: the audit.
        max_layers: how many layers (spread over the depth) get heat maps and profile plots.

    Returns:
        The HTML document as a string (all figures inline as base64 PNG; all text escaped).
    """
    import jinja2

    template_text = (Path(__file__).resolve().parent.parent / "templates" / "audit.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = format_number
    template = env.from_string(template_text)
    names = pick_layers(report, max_layers)
    figures = {
        "comparison": _png(comparison_figure(report)) if len(report.results) > 1 else None,
        "mean": _png(heatmap_figure(report, names, "mean")) if names else None,
        "std": _png(heatmap_figure(report, names, "std")) if names else None,
        "profiles": [(n, _png(profiles_figure(report, n))) for n in names],
    }
    return template.render(
        report=report,
        metrics=METRICS,
        figures=figures,
        table=render_table(report, top=10**6),
        headers=_HEADERS,
        rows={r.mode: [_layer_row(lr) for lr in r.layers] for r in report.results},
        summary_cells={r.mode: [summary_cell(r.summary, m) for m in METRICS] for r in report.results},
        differences=difference_lines(report),
        mark=_MARK,
    )
