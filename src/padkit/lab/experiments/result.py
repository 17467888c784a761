"""The outcome of one experiment as data: :class:`ExperimentResult` (rendered by :mod:`padkit.render.experiments`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..._report import REPORT_FORMAT, jsonable, to_json
from .stats import Comparison, Stat

__all__ = ["ExperimentResult"]


@dataclass(frozen=True)
class ExperimentResult:
    """The outcome of one experiment.

    Attributes:
        name: experiment name (``"red-green"``, ...).
        title: one-line description used as the table heading.
        config: the settings it ran with (JSON-able).
        results: ``results[row][metric]`` -> :class:`Stat` over seeds. Rows are ``"variant"`` or ``"group/variant"``.
        metrics: metric names in display order, with ``units`` giving each one's unit (``"%"``, ``""``).
        comparisons: paired tests against the baseline variant, where the experiment makes them.
        notes: sentences that belong with the numbers (what was measured, caveats).
        seconds: wall-clock time of the computation.
        cpu_seconds: CPU time of this process over the computation (all threads; less sensitive than ``seconds``
            to other processes sharing the machine).
        env: :func:`padkit.lab.machine.environment` at run time.
        plot_metrics: the metrics :func:`padkit.render.experiments.render_png` draws by default.
        precision: decimals per metric in the tables (default 1).
        protocol: which preset of settings ran and where it comes from, ``{"name", "source"}`` (``"cpu"``: the
            experiment's own defaults; ``"paper"``: the published protocol), where the experiment has presets.
    """

    name: str
    title: str
    config: Mapping[str, Any]
    results: Mapping[str, Mapping[str, Stat]]
    metrics: tuple[str, ...]
    units: Mapping[str, str] = field(default_factory=dict)
    comparisons: tuple[Comparison, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    env: Mapping[str, Any] = field(default_factory=dict)
    plot_metrics: tuple[str, ...] = ()
    precision: Mapping[str, int] = field(default_factory=dict)
    protocol: Mapping[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> tuple[str, ...]:
        return tuple(self.results)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON data (``"format"``: :data:`padkit._report.REPORT_FORMAT`)."""
        out: dict[str, Any] = jsonable(
            {
                "format": REPORT_FORMAT,
                "experiment": self.name,
                "title": self.title,
                "protocol": dict(self.protocol) or {"name": "cpu", "source": "the experiment's defaults"},
                "config": dict(self.config),
                "metrics": list(self.metrics),
                "units": dict(self.units),
                "results": {row: {m: s.to_dict() for m, s in cols.items()} for row, cols in self.results.items()},
                "comparisons": [c.to_dict() for c in self.comparisons],
                "notes": list(self.notes),
                "seconds": round(self.seconds, 2),
                "cpu_seconds": round(self.cpu_seconds, 2),
                "environment": dict(self.env),
            }
        )
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as strict JSON text (what ``--json`` writes), like the plan, audit and bench reports."""
        return to_json(self.to_dict(), indent=indent)
