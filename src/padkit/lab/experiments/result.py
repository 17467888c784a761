"""The outcome of one experiment as data: :class:`ExperimentResult` (rendered by :mod:`padkit.render.experiments`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..._report import REPORT_FORMAT, jsonable, to_json
from ..._validate import bad_value
from .stats import Comparison, Stat, stat

__all__ = ["ExperimentResult", "merge_results"]


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


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
        reference: published values to set beside the results, ``reference[row][metric]``.
        reference_source: where ``reference`` comes from (paper and table).
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
    reference: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    reference_source: str = ""

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
                "plot_metrics": list(self.plot_metrics),
                "precision": dict(self.precision),
                "reference": {row: dict(cols) for row, cols in self.reference.items()},
                "reference_source": self.reference_source,
            }
        )
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as strict JSON text (what ``--json`` writes), like the plan, audit and bench reports."""
        return to_json(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentResult:
        """The result back from :meth:`to_dict` data (a JSON ``null`` number is NaN again)."""
        if not isinstance(data, Mapping) or "experiment" not in data or "results" not in data:
            raise bad_value("data", type(data).__name__, "an experiment result's JSON object (from to_dict)")
        results = {
            row: {
                m: Stat(_num(s["mean"]), _num(s["std"]), tuple(_num(v) for v in s["values"])) for m, s in cols.items()
            }
            for row, cols in data["results"].items()
        }
        comparisons = tuple(
            Comparison(
                c["group"],
                c["metric"],
                c["variant"],
                c["baseline"],
                _num(c["mean_diff"]),
                _num(c["std_diff"]),
                _num(c["p_value"]),
                bool(c["significant"]),
            )
            for c in data.get("comparisons", ())
        )
        return cls(
            name=data["experiment"],
            title=data.get("title", ""),
            config=dict(data.get("config", {})),
            results=results,
            metrics=tuple(data.get("metrics", ())),
            units=dict(data.get("units", {})),
            comparisons=comparisons,
            notes=tuple(data.get("notes", ())),
            seconds=float(data.get("seconds", 0.0)),
            cpu_seconds=float(data.get("cpu_seconds", 0.0)),
            env=dict(data.get("environment", {})),
            plot_metrics=tuple(data.get("plot_metrics", ())),
            precision=dict(data.get("precision", {})),
            protocol=dict(data.get("protocol", {})),
            reference={row: {m: _num(v) for m, v in cols.items()} for row, cols in data.get("reference", {}).items()},
            reference_source=data.get("reference_source", ""),
        )


def merge_results(parts: Sequence[ExperimentResult]) -> ExperimentResult:
    """One result from runs of the same experiment and protocol over disjoint rows or disjoint seeds.

    A row found in several parts gets each metric's per-seed values joined in part order (the parts must then run
    disjoint seeds: config ``seed_start`` .. ``seed_start + seeds - 1``); the merged config has the total ``seeds``
    and the smallest ``seed_start``. Mapping-valued config entries (such as red-green's ``variants``) are joined;
    other config entries must agree. Comparisons are dropped when a row's seeds were joined (they were paired
    within one part). ``seconds`` and ``cpu_seconds`` are the sums over the parts (for runs made side by side, the
    wall time of the whole is the longest part's, not the sum).
    """
    if not parts:
        raise bad_value("parts", (), "a non-empty sequence of ExperimentResult")
    first = parts[0]
    values: dict[str, dict[str, list[float]]] = {}
    seeds_of: dict[str, set[int]] = {}
    config: dict[str, Any] = dict(first.config)
    reference: dict[str, Mapping[str, float]] = {}
    notes: list[str] = []
    joined_seeds = False
    for part in parts:
        if part.name != first.name or dict(part.protocol) != dict(first.protocol):
            raise bad_value(
                "parts",
                f"{part.name}/{part.protocol.get('name')}",
                f"runs of {first.name}/{first.protocol.get('name')}",
            )
        start = int(part.config.get("seed_start", 0))
        seeds = set(range(start, start + int(part.config.get("seeds", 1))))
        for row, cols in part.results.items():
            if row in values:
                if seeds_of[row] & seeds:
                    raise bad_value("parts", row, "disjoint rows, or disjoint seeds where a row repeats")
                joined_seeds = True
                for m, st in cols.items():
                    values[row].setdefault(m, []).extend(st.values)
            else:
                values[row] = {m: list(st.values) for m, st in cols.items()}
                seeds_of[row] = set()
            seeds_of[row] |= seeds
        for key, value in part.config.items():
            if key in ("seeds", "seed_start"):
                continue
            if isinstance(value, Mapping) and isinstance(config.get(key), Mapping):
                config[key] = {**config[key], **value}
            elif key in config and config[key] != value:
                raise bad_value(f"parts[...].config[{key!r}]", value, f"the same value in every part ({config[key]!r})")
            else:
                config[key] = value
        reference.update(part.reference)
        notes += [n for n in part.notes if n not in notes]
    all_seeds = set().union(*seeds_of.values()) if seeds_of else set()
    if "seeds" in config:
        config["seeds"] = max(len(s) for s in seeds_of.values()) if seeds_of else config["seeds"]
    if "seed_start" in config or joined_seeds:
        config["seed_start"] = min(all_seeds) if all_seeds else 0
    return ExperimentResult(
        name=first.name,
        title=first.title,
        config=config,
        results={row: {m: stat(v) for m, v in cols.items()} for row, cols in values.items()},
        metrics=first.metrics,
        units=first.units,
        comparisons=() if joined_seeds else tuple(c for p in parts for c in p.comparisons),
        notes=tuple(notes),
        seconds=sum(p.seconds for p in parts),
        cpu_seconds=sum(p.cpu_seconds for p in parts),
        env=first.env,
        plot_metrics=first.plot_metrics,
        precision=first.precision,
        protocol=first.protocol,
        reference=reference,
        reference_source=first.reference_source,
    )
