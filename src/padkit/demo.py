"""``padkit demo``: the whole tool on one real architecture in about two minutes, offline.

:func:`run_demo` plans torchvision's ResNet-18 at 224x224 (:func:`padkit.analysis.plan.plan`), audits it under zero,
reflect and partial-convolution padding on the built-in photographs (:func:`padkit.analysis.audit.audit`), runs short
versions of the Red-Green location test and of the input-normalisation experiment
(:mod:`padkit.experiments`), and writes one self-contained HTML report plus its figures as PNG files. The
network's weights are **random** (seeded Kaiming init, nothing downloaded, nothing trained): the audit shows what the
architecture and its padding do to activations, not what a trained ResNet-18 does.

The result is data (:class:`DemoResult`); :func:`render_summary` and :func:`render_html` present it.

Example:
    >>> result = run_demo("/tmp/padkit-demo", quick=True, progress=False)  # doctest: +SKIP
    >>> print(render_summary(result))  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ._errors import PadkitTypeError, PadkitValueError
from .analysis.audit import METRICS, AuditReport
from .analysis.plan import Plan
from .experiments.common import ExperimentResult

__all__ = [
    "DEMO_MODEL",
    "DEMO_MODES",
    "JSON_FORMAT",
    "DemoResult",
    "demo_settings",
    "render_html",
    "render_summary",
    "run_demo",
]

#: Version of the JSON written by :meth:`DemoResult.to_json`.
JSON_FORMAT = 1
#: The architecture the demo plans and audits (random init, see the module docstring).
DEMO_MODEL = "torchvision:resnet18"
#: Padding modes the audit compares (as a user types them; the report holds their canonical names).
DEMO_MODES: tuple[str, ...] = ("zeros", "reflect", "partial")
#: Seed of the model's random initialisation, the audit's image crops and the experiments.
_SEED = 0
_STEPS = ("plan", "audit", "red-green", "normalization", "report")


def demo_settings(quick: bool = False) -> dict[str, dict[str, Any]]:
    """The settings of every demo step: ``{"plan": {...}, "audit": {...}, "red_green": {...}, "normalization": {...}}``.

    The full settings are tuned to take about two minutes on 2 CPU cores; ``quick=True`` shrinks every step (smaller
    audit input, fewer images, one epoch, two variants) so the whole demo runs in seconds (for tests).
    """
    if quick:
        return {
            "plan": {"input_size": 224, "suggest": False},
            "audit": {
                "input_size": 64,
                "images": 4,
                "batch_size": 4,
                "probe_images": 4,
                "equivariance_images": 2,
                "normalize": "imagenet",
            },
            "red_green": {
                "seeds": 1,
                "epochs": 1,
                "variants": ("same-zeros", "full-zeros"),
                "n_train": 200,
                "n_val": 100,
                "n_test": 100,
            },
            "normalization": {
                "seeds": 1,
                "epochs": 1,
                "settings": ("raw 0-255 + zeros", "standardised + zeros"),
                "n_train": 100,
                "n_test": 50,
                "audit_images": 8,
            },
        }
    return {
        "plan": {"input_size": 224, "suggest": True},
        "audit": {
            "input_size": 224,
            "images": 48,
            "batch_size": 16,
            "probe_images": 48,
            "equivariance_images": 8,
            "normalize": "imagenet",
        },
        "red_green": {
            "seeds": 2,
            "epochs": 6,
            "variants": ("valid", "same-zeros", "same-reflect", "same-circular", "same-partial", "full-zeros"),
            "n_train": 2000,
            "n_val": 1000,
            "n_test": 1000,
        },
        "normalization": {
            "seeds": 2,
            "epochs": 3,
            "n_train": 1500,
            "n_test": 500,
            "audit_images": 32,
        },
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class DemoResult:
    """Everything one demo run measured and wrote.

    Attributes:
        out_dir: the folder the report and figures were written to.
        report_path: the HTML report (``out_dir/report.html``).
        figures: figure name -> PNG path (``plan``, ``audit_comparison``, ``audit_mean``, ``audit_std``,
            ``audit_profiles_<layer>``, ``red_green``, ``normalization``).
        model: the architecture (:data:`DEMO_MODEL`).
        weights: how the weights came about (random init with a seed; never downloaded).
        quick: whether the shrunken settings were used.
        settings: :func:`demo_settings` as run.
        plan: the plan of the model at the plan input size.
        audit: the audit under :data:`DEMO_MODES`.
        red_green: the short Red-Green run.
        normalization: the short normalisation run.
        seconds: wall-clock seconds per step and ``"total"``.
        cpu_seconds: CPU seconds of this process (all threads) per step and ``"total"``; on a shared machine the
            wall clock depends on the other load, the CPU time much less.
        env: machine facts (:func:`padkit.experiments.common.environment`).
    """

    out_dir: str
    report_path: str
    figures: Mapping[str, str]
    model: str
    weights: str
    quick: bool
    settings: Mapping[str, Any]
    plan: Plan
    audit: AuditReport
    red_green: ExperimentResult
    normalization: ExperimentResult
    seconds: Mapping[str, float]
    cpu_seconds: Mapping[str, float] = field(default_factory=dict)
    env: Mapping[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """Audit summary per mode (canonical name): ``{mode: {metric: value}}`` for every metric in ``METRICS``."""
        return {r.mode: {m: r.summary.value(m) for m in METRICS} for r in self.audit.results}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``"format": 1``); non-finite numbers become ``null``."""

        def means(res: ExperimentResult) -> dict[str, dict[str, float]]:
            return {row: {m: s.mean for m, s in cols.items()} for row, cols in res.results.items()}

        return _jsonable(
            {
                "format": JSON_FORMAT,
                "tool": "padkit demo",
                "model": self.model,
                "weights": self.weights,
                "quick": self.quick,
                "out_dir": self.out_dir,
                "report": self.report_path,
                "figures": dict(self.figures),
                "settings": self.settings,
                "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
                "cpu_seconds": {k: round(v, 2) for k, v in self.cpu_seconds.items()},
                "environment": dict(self.env),
                "summary": {
                    "plan": {
                        "input_size": list(self.plan.input_size),
                        "clean": self.plan.clean,
                        "uneven_layers": len(self.plan.uneven_layers),
                        "unread_layers": len(self.plan.unread_layers),
                        "suggested_sizes": [list(s) for s in self.plan.suggested_sizes],
                    },
                    "audit": self.summary,
                    "red_green": means(self.red_green),
                    "normalization": means(self.normalization),
                },
                "plan": self.plan.to_dict(),
                "audit": self.audit.to_dict(),
                "red_green": self.red_green.to_dict(),
                "normalization": self.normalization.to_dict(),
            }
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """The result as strict JSON (no NaN/Infinity tokens)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


# ---------------------------------------------------------------------------------------------------- the run
def _check_out_dir(out_dir: Any) -> Path:
    if not isinstance(out_dir, (str, os.PathLike)):
        raise PadkitTypeError(f"out_dir must be a str or os.PathLike, got {type(out_dir).__name__}")
    path = Path(out_dir)
    if str(out_dir) == "":
        raise PadkitValueError("out_dir must be a folder path, got ''")
    if path.exists() and not path.is_dir():
        raise PadkitValueError(f"out_dir={str(out_dir)!r} exists and is not a folder")
    return path


def _save(fig: Any, path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig.savefig(path, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def _audit_figures(report: AuditReport, out: Path, max_profiles: int) -> dict[str, str]:
    """Write the audit's own figures (:mod:`padkit.render.audit`) as PNG files."""
    from .render import audit as render_audit

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


def run_demo(
    out_dir: str | os.PathLike[str] = "padkit-demo", *, quick: bool = False, progress: bool = True
) -> DemoResult:
    """Plan, audit and experiment on ResNet-18 (random init), then write ``out_dir/report.html`` and PNG figures.

    Steps: :func:`padkit.analysis.plan.plan` at 224x224; :func:`padkit.analysis.audit.audit` under
    :data:`DEMO_MODES` on the built-in photographs (ImageNet normalisation); short
    :func:`~padkit.experiments.red_green.run_red_green` and
    :func:`~padkit.experiments.normalization.run_normalization` runs (settings: :func:`demo_settings`). Nothing is
    downloaded. Existing files of the same names in ``out_dir`` are overwritten.

    Args:
        out_dir: folder for ``report.html`` and the PNGs (created when missing).
        quick: shrink every step so the demo takes seconds (for tests); the numbers then mean little.
        progress: show progress bars on stderr.

    Returns:
        A :class:`DemoResult`.

    Raises:
        PadkitTypeError / PadkitError: ``out_dir`` is not a path or names an existing file; ``quick``/``progress``
            are not bools.
    """
    for argname, value in (("quick", quick), ("progress", progress)):
        if not isinstance(value, bool):
            raise PadkitTypeError(f"{argname} must be a bool, got {value!r}")
    out = _check_out_dir(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    import torchvision
    from tqdm.auto import tqdm

    from .analysis.audit import audit
    from .analysis.plan import plan
    from .experiments.common import environment, render_png
    from .experiments.normalization import NormalizationConfig, run_normalization
    from .experiments.red_green import RedGreenConfig, run_red_green
    from .render.plan import write_plan_png

    settings = demo_settings(quick)
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    figures: dict[str, str] = {}
    start, cpu_start = time.perf_counter(), time.process_time()
    bar = tqdm(total=len(_STEPS), desc="padkit demo", unit="step", file=sys.stderr, disable=not progress, leave=False)
    try:

        def step(name: str) -> tuple[float, float]:
            bar.set_description(f"padkit demo: {name}")
            return time.perf_counter(), time.process_time()

        def done(name: str, t0: tuple[float, float]) -> None:
            seconds[name] = time.perf_counter() - t0[0]
            cpu[name] = time.process_time() - t0[1]
            bar.update(1)

        torch.manual_seed(_SEED)
        model = torchvision.models.resnet18(weights=None)
        model.eval()

        t0 = step("plan")
        ps = settings["plan"]
        the_plan = plan(model, ps["input_size"], name=DEMO_MODEL, suggest=ps["suggest"])
        write_plan_png(the_plan, str(out / "plan.png"), title=f"{DEMO_MODEL} (random init) at {ps['input_size']}")
        figures["plan"] = str(out / "plan.png")
        done("plan", t0)

        t0 = step("audit")
        report = audit(
            model,
            "builtin",
            modes=list(DEMO_MODES),
            seed=_SEED,
            progress=progress,
            model_name=f"{DEMO_MODEL} (random init)",
            **settings["audit"],
        )
        figures.update(_audit_figures(report, out, 2 if quick else 3))
        done("audit", t0)

        t0 = step("red-green")
        rg = run_red_green(RedGreenConfig(**settings["red_green"]), progress=progress)
        figures["red_green"] = str(render_png(rg, out / "red_green.png"))
        done("red-green", t0)

        t0 = step("normalization")
        norm = run_normalization(NormalizationConfig(**settings["normalization"]), progress=progress)
        figures["normalization"] = str(render_png(norm, out / "normalization.png"))
        done("normalization", t0)

        t0 = step("report")
        report_path = out / "report.html"
        seconds["total"] = time.perf_counter() - start
        cpu["total"] = time.process_time() - cpu_start
        result = DemoResult(
            out_dir=str(out),
            report_path=str(report_path),
            figures=figures,
            model=DEMO_MODEL,
            weights=f"random init (torch.manual_seed({_SEED}), torchvision's init): not downloaded, not trained",
            quick=quick,
            settings=settings,
            plan=the_plan,
            audit=report,
            red_green=rg,
            normalization=norm,
            seconds=dict(seconds),
            cpu_seconds=dict(cpu),
            env=environment(),
        )
        report_path.write_text(render_html(result), encoding="utf-8")
        done("report", t0)
        seconds["total"] = time.perf_counter() - start
        cpu["total"] = time.process_time() - cpu_start
        result = dataclasses.replace(result, seconds=dict(seconds), cpu_seconds=dict(cpu))
    finally:
        bar.close()
    return result


# ---------------------------------------------------------------------------------------------------- renderers
def _fmt(v: float, digits: int = 2) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if v is None or math.isnan(v):
        return "–"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}f}"


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _audit_rows(result: DemoResult) -> list[list[str]]:
    rows = []
    for r in result.audit.results:
        cells = [r.mode]
        for m in METRICS:
            cells.append(_fmt(r.summary.value(m), 1 if m == "equivariance_gap" else 2))
        cells[-1] = str(r.summary.padding_aware_channels)
        rows.append(cells)
    return rows


def _experiment_metrics(res: ExperimentResult, compact: bool) -> list[str]:
    """All metrics, or (compact) the plotted ones each followed by its ``(trained)`` counterpart when there is one."""
    if not compact or not res.plot_metrics:
        return list(res.metrics)
    out: list[str] = []
    for m in res.plot_metrics:
        for cand in (m, m.replace("(init)", "(trained)")):
            if cand in res.metrics and cand not in out:
                out.append(cand)
    return out


def _experiment_rows(res: ExperimentResult, metrics: Sequence[str]) -> list[list[str]]:
    rows = []
    for row, cols in res.results.items():
        cells = [row]
        for m in metrics:
            s = cols.get(m)
            cells.append("–" if s is None else s.format(res.precision.get(m, 1)))
        rows.append(cells)
    return rows


def _experiment_headers(res: ExperimentResult, metrics: Sequence[str]) -> list[str]:
    return [f"{m} ({res.units[m]})" if res.units.get(m) else m for m in metrics]


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
        f"means over {len(a.results[0].layers)} layers (padding_aware_channels: total; constant = zero padding)",
    ]
    lines += _text_table(["mode", *METRICS], _audit_rows(result))
    for res, label in ((result.red_green, "red-green"), (result.normalization, "normalization")):
        metrics = _experiment_metrics(res, compact=True)
        lines += ["", f"{label}: {res.title} [{_experiment_caption(res)}]"]
        lines += _text_table(["variant", *_experiment_headers(res, metrics)], _experiment_rows(res, metrics))
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items() if k != "total")
    cpu = result.cpu_seconds.get("total")
    lines += [
        "",
        f"took {result.seconds.get('total', math.nan):.0f} s wall ({steps})"
        + ("" if cpu is None else f", {cpu:.0f} s CPU with {result.env.get('torch_threads', '?')} torch thread(s)"),
        f"report: {result.report_path}",
    ]
    return "\n".join(lines)


def _data_uri(path: str) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def render_html(result: DemoResult) -> str:
    """The self-contained HTML report (figures inline as base64 PNG data URIs; all text escaped by jinja2).

    The figures are read from the PNG files listed in ``result.figures``.
    """
    import jinja2

    from .render.audit import render_table as audit_table
    from .render.plan import plan_table

    template_text = (Path(__file__).resolve().parent / "templates" / "demo.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(template_text)
    images = {name: _data_uri(path) for name, path in result.figures.items()}
    profiles = [(k[len("audit_profiles_") :], uri) for k, uri in images.items() if k.startswith("audit_profiles_")]
    experiments = []
    for key, res in (("red_green", result.red_green), ("normalization", result.normalization)):
        metrics = _experiment_metrics(res, compact=False)
        experiments.append(
            {
                "key": key,
                "title": res.title,
                "caption": _experiment_caption(res),
                "headers": _experiment_headers(res, metrics),
                "rows": _experiment_rows(res, metrics),
                "notes": list(res.notes),
                "seconds": res.seconds,
                "image": images.get(key),
            }
        )
    return template.render(
        result=result,
        plan=result.plan,
        audit=result.audit,
        metrics=METRICS,
        audit_rows=_audit_rows(result),
        plan_text=plan_table(result.plan),
        audit_text=audit_table(result.audit, top=10),
        images=images,
        profiles=profiles,
        experiments=experiments,
        seconds=result.seconds,
        summary_text=render_summary(result),
    )
