"""Renderers for :class:`~padkit.lab.demo.DemoResult`: the terminal summary, the audit's PNG figures and the
self-contained HTML report.

The result is data; everything here only presents it. The HTML template (``padkit/templates/demo.html.j2``) is
rendered by jinja2 with autoescaping on; figures are read from the PNG files the demo wrote and inlined as base64
data URIs, so the file needs nothing else.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..analysis.audit import METRICS
from .audit import difference_lines, summary_cell
from .experiments import metric_headers, result_rows
from .text import text_table

if TYPE_CHECKING:
    from ..analysis.audit import AuditReport
    from ..lab.demo import DemoResult
    from ..lab.experiments.result import ExperimentResult

__all__ = ["audit_rows", "experiment_metrics", "render_html", "render_summary", "write_audit_figures"]


def audit_rows(result: DemoResult) -> list[list[str]]:
    """One row per audited mode: its name and the summary metrics (``padding_aware_channels``: a total), each with
    its 95% bootstrap interval."""
    return [[r.mode, *(summary_cell(r.summary, m) for m in METRICS)] for r in result.audit.results]


def experiment_metrics(res: ExperimentResult, compact: bool) -> list[str]:
    """All metrics, or (compact) the plotted ones each followed by its ``(trained)`` counterpart when there is one."""
    if not compact or not res.plot_metrics:
        return list(res.metrics)
    out: list[str] = []
    for m in res.plot_metrics:
        for cand in (m, m.replace("(init)", "(trained)")):
            if cand in res.metrics and cand not in out:
                out.append(cand)
    return out


def _experiment_caption(res: ExperimentResult) -> str:
    cfg = res.config
    return f"{cfg.get('seeds')} seed(s), {cfg.get('epochs')} epoch(s), {cfg.get('n_train')} training images"


def render_summary(result: DemoResult) -> str:
    """The terminal summary: the plan verdict, the audit per mode, the two experiment tables and the report's path."""
    p, a = result.plan, result.audit
    size = "x".join(map(str, p.input_size))
    lines = [
        f"padkit demo: {result.model} with RANDOM weights (seeded init; nothing downloaded or trained)",
        "",
        f"plan at {size}: {'CLEAN' if p.clean else 'NOT CLEAN'}: {len(p.uneven_layers)} layers pad unevenly, "
        f"{len(p.unread_layers)} leave input rows/columns unread"
        + (
            f"; nearest clean sizes {' or '.join('x'.join(map(str, s)) for s in p.suggested_sizes)}"
            if p.suggested_sizes
            else ""
        ),
        "",
        f"audit: {a.images} built-in photographs at {a.input_size[0]}x{a.input_size[1]}, normalize {a.normalize}; "
        f"means over {len(a.results[0].layers)} layers (padding_aware_channels: total)",
    ]
    if a.bootstrap:
        lines.append(
            f"[lo, hi]: 95% bootstrap intervals over the images ({a.bootstrap['replicates']} replicates); "
            "paired differences against zeros over the same images (*: the interval excludes 0)"
        )
    lines += text_table(["mode", *METRICS], audit_rows(result))
    lines += difference_lines(a)
    for res, label in ((result.red_green, "red-green"), (result.normalization, "normalization")):
        metrics = experiment_metrics(res, compact=True)
        lines += ["", f"{label}: {res.title} [{_experiment_caption(res)}]"]
        lines += text_table(["variant", *metric_headers(res, metrics)], result_rows(res, metrics))
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items() if k != "total")
    cpu = result.cpu_seconds.get("total")
    lines += [
        "",
        f"took {result.seconds.get('total', math.nan):.0f} s wall ({steps})"
        + ("" if cpu is None else f", {cpu:.0f} s CPU with {result.env.get('torch_threads', '?')} torch thread(s)"),
        f"report: {result.report_path}",
    ]
    return "\n".join(lines)


def _save(fig: Any, path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig.savefig(path, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def write_audit_figures(report: AuditReport, out: Path, max_profiles: int) -> dict[str, str]:
    """Write the audit's own figures (:mod:`padkit.render.audit`) into the folder ``out`` as PNG files.

    Returns:
        figure name -> path: ``audit_comparison`` (several modes), ``audit_mean``, ``audit_std`` and
        ``audit_profiles_<layer>`` for up to ``max_profiles`` layers spread over the depth.
    """
    from . import audit as render_audit

    files: dict[str, str] = {}
    if len(report.results) > 1:
        files["audit_comparison"] = _save(render_audit.comparison_figure(report), out / "audit_comparison.png")
    names = render_audit.pick_layers(report, 6)
    if names:
        files["audit_mean"] = str(render_audit.save_heatmap_png(report, out / "audit_mean.png", layers=names))
        files["audit_std"] = _save(render_audit.heatmap_figure(report, names, "std"), out / "audit_std.png")
    for name in render_audit.pick_layers(report, max_profiles):
        key = f"audit_profiles_{_safe_name(name)}"
        files[key] = _save(render_audit.profiles_figure(report, name), out / f"{key}.png")
    return files


def _data_uri(path: str) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _experiment_section(key: str, res: ExperimentResult, image: str | None) -> dict[str, Any]:
    metrics: Sequence[str] = experiment_metrics(res, compact=False)
    return {
        "key": key,
        "title": res.title,
        "caption": _experiment_caption(res),
        "headers": metric_headers(res, metrics),
        "rows": result_rows(res, metrics),
        "notes": list(res.notes),
        "seconds": res.seconds,
        "image": image,
    }


def render_html(result: DemoResult) -> str:
    """The self-contained HTML report (figures inline as base64 PNG data URIs; all text escaped by jinja2).

    The figures are read from the PNG files listed in ``result.figures``.
    """
    import jinja2

    from .audit import render_table as audit_table
    from .plan import plan_table

    template_text = (Path(__file__).resolve().parent.parent / "templates" / "demo.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(template_text)
    images = {name: _data_uri(path) for name, path in result.figures.items()}
    profiles = [(k[len("audit_profiles_") :], uri) for k, uri in images.items() if k.startswith("audit_profiles_")]
    experiments = [
        _experiment_section(key, res, images.get(key))
        for key, res in (("red_green", result.red_green), ("normalization", result.normalization))
    ]
    return template.render(
        result=result,
        plan=result.plan,
        audit=result.audit,
        metrics=METRICS,
        audit_rows=audit_rows(result),
        audit_differences=difference_lines(result.audit),
        plan_text=plan_table(result.plan),
        audit_text=audit_table(result.audit, top=10),
        images=images,
        profiles=profiles,
        experiments=experiments,
        seconds=result.seconds,
        summary_text=render_summary(result),
    )
