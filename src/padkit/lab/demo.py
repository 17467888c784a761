"""``padkit demo``: the whole tool on one real architecture in about two minutes, offline.

:func:`run_demo` plans torchvision's ResNet-18 at 224x224 (:func:`padkit.analysis.plan.plan`), audits it under zero,
reflect and partial-convolution padding on the built-in photographs (:func:`padkit.analysis.audit.audit`), runs short
versions of the Red-Green location test and of the input-normalisation experiment
(:mod:`padkit.lab.experiments`), and writes one self-contained HTML report plus its figures as PNG files. The
network's weights are **random** (seeded Kaiming init, nothing downloaded, nothing trained): the audit shows what the
architecture and its padding do to activations, not what a trained ResNet-18 does.

The result is data (:class:`DemoResult`); :func:`padkit.render.demo.render_summary` and
:func:`padkit.render.demo.render_html` present it.

Example:
    >>> from padkit.render.demo import render_summary
    >>> result = run_demo("/tmp/padkit-demo", quick=True, progress=False)  # doctest: +SKIP
    >>> print(render_summary(result))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from .._report import REPORT_FORMAT, jsonable, to_json
from .._validate import bad_type, bad_value
from ..analysis.audit import METRICS, AuditReport
from ..analysis.plan import Plan
from .experiments.result import ExperimentResult

__all__ = [
    "DEMO_MODEL",
    "DEMO_MODES",
    "DemoResult",
    "demo_settings",
    "run_demo",
]

#: The architecture the demo plans and audits (random init, see the module docstring).
DEMO_MODEL = "torchvision:resnet18"
#: Padding modes the audit compares (layer vocabulary: ``zeros`` is zero padding).
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
        env: machine facts (:func:`padkit.lab.machine.environment`).
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
        """Audit summary per mode (as the audit names it): ``{mode: {metric: value}}`` for every metric in
        ``METRICS``."""
        return {r.mode: {m: r.summary.value(m) for m in METRICS} for r in self.audit.results}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``"format"``: :data:`padkit._report.REPORT_FORMAT`); non-finite numbers become ``null``."""

        def means(res: ExperimentResult) -> dict[str, dict[str, float]]:
            return {row: {m: s.mean for m, s in cols.items()} for row, cols in res.results.items()}

        out: dict[str, Any] = jsonable(
            {
                "format": REPORT_FORMAT,
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
                    "audit_ci": {r.mode: {m: list(v) for m, v in r.summary.ci.items()} for r in self.audit.results},
                    "audit_differences": {
                        r.mode: {"baseline": r.baseline, **{d.metric: d.to_dict() for d in r.differences}}
                        for r in self.audit.results
                        if r.baseline is not None
                    },
                    "red_green": means(self.red_green),
                    "normalization": means(self.normalization),
                },
                "plan": self.plan.to_dict(),
                "audit": self.audit.to_dict(),
                "red_green": self.red_green.to_dict(),
                "normalization": self.normalization.to_dict(),
            }
        )
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """The result as strict JSON (no NaN/Infinity tokens)."""
        return to_json(self.to_dict(), indent=indent)


# ---------------------------------------------------------------------------------------------------- the run
def _check_out_dir(out_dir: Any) -> Path:
    if not isinstance(out_dir, (str, os.PathLike)):
        raise bad_type("out_dir", out_dir, "a folder path (str or os.PathLike)")
    path = Path(out_dir)
    if str(out_dir) == "":
        raise bad_value("out_dir", out_dir, "a folder path")
    if path.exists() and not path.is_dir():
        raise bad_value("out_dir", str(out_dir), "a folder path, not a file")
    return path


def run_demo(
    out_dir: str | os.PathLike[str] = "padkit-demo", *, quick: bool = False, progress: bool = True
) -> DemoResult:
    """Plan, audit and experiment on ResNet-18 (random init), then write ``out_dir/report.html`` and PNG figures.

    Steps: :func:`padkit.analysis.plan.plan` at 224x224; :func:`padkit.analysis.audit.audit` under
    :data:`DEMO_MODES` on the built-in photographs (ImageNet normalisation); short
    :func:`~padkit.lab.experiments.red_green.run_red_green` and
    :func:`~padkit.lab.experiments.normalization.run_normalization` runs (settings: :func:`demo_settings`). Nothing is
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
            raise bad_type(argname, value, "True or False")
    out = _check_out_dir(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    import torchvision
    from tqdm.auto import tqdm

    from ..analysis.audit import audit
    from ..analysis.plan import plan
    from ..render.demo import render_html, write_audit_figures
    from ..render.experiments import render_png
    from ..render.plan import write_plan_png
    from .experiments.normalization import NormalizationConfig, run_normalization
    from .experiments.red_green import RedGreenConfig, run_red_green
    from .machine import environment

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
        figures.update(write_audit_figures(report, out, 2 if quick else 3))
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
