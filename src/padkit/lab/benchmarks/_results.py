"""Benchmark results: frozen dataclasses with ``to_json``. Renderers live in :mod:`padkit.render.bench`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..._report import REPORT_FORMAT, to_json
from ..._validate import bad_value

__all__ = ["KIND", "Budget", "CaseResult", "Machine", "Ratio", "Report", "VariantResult"]

#: The report's ``"kind"`` (its ``"format"`` is :data:`padkit._report.REPORT_FORMAT`, as in every padkit report).
KIND = "padkit.bench"


@dataclass(frozen=True)
class Machine:
    """Where a benchmark ran.

    Attributes:
        cpu: CPU model name.
        cores: logical CPUs the OS reports.
        threads: ``torch.get_num_threads()`` during the run.
        torch: torch version.
        python: Python version.
        platform: ``platform.platform()``.
        device: ``cpu`` or ``cuda``.
        device_name: the GPU's name on CUDA, else the CPU model.
        load_before: 1-minute load average when the run started (other processes share the machine when high).
        load_after: 1-minute load average when the run ended.
        memory_method: how peak memory was read.
    """

    cpu: str
    cores: int
    threads: int
    torch: str
    python: str
    platform: str
    device: str
    device_name: str
    load_before: float | None
    load_after: float | None
    memory_method: str


@dataclass(frozen=True)
class VariantResult:
    """One timed variant of a case.

    Attributes:
        name: the variant's label, e.g. ``"padkit.pad"``.
        median_s: median seconds per call over the repeats.
        q1_s: first quartile of seconds per call.
        q3_s: third quartile of seconds per call.
        samples_s: seconds per call of every repeat, in run order.
        inner: calls per timed sample.
        peak_bytes: peak memory one call needs above what was allocated before it, or ``None`` where not measured.
        kept_bytes: bytes of the distinct storages autograd keeps for backward in one call
            (:func:`~padkit.lab.benchmarks.saved_bytes`), or ``None`` where not measured.
    """

    name: str
    median_s: float
    q1_s: float
    q3_s: float
    samples_s: tuple[float, ...]
    inner: int
    peak_bytes: int | None = None
    kept_bytes: int | None = None


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator`` for time (medians) and peak memory, with the target it is held to.

    Attributes:
        label: what the ratio compares, e.g. ``"padkit / F.pad (fwd+bwd)"``.
        numerator: variant name.
        denominator: variant name.
        time: ratio of median times.
        memory: ratio of peak memory, ``None`` where either side was not measured or the denominator is 0.
        time_target: the ratio must be at most this (``None``: reported, no target).
        memory_target: the peak-memory ratio must be at most this (``None``: no target).
        kept: ratio of the bytes kept for backward, ``None`` where not measured (forward-only variants keep 0).
        kept_target: the kept-bytes ratio must be at most this (``None``: no target).
    """

    label: str
    numerator: str
    denominator: str
    time: float
    memory: float | None = None
    time_target: float | None = None
    memory_target: float | None = None
    kept: float | None = None
    kept_target: float | None = None

    @property
    def met(self) -> bool | None:
        """``True``/``False`` when a target applies and was measured, ``None`` when there is nothing to check."""
        checks: list[bool] = []
        if self.time_target is not None:
            checks.append(self.time <= self.time_target)
        if self.memory_target is not None and self.memory is not None:
            checks.append(self.memory <= self.memory_target)
        if self.kept_target is not None and self.kept is not None:
            checks.append(self.kept <= self.kept_target)
        return all(checks) if checks else None


@dataclass(frozen=True)
class Budget:
    """An absolute time limit (e.g. ``padkit plan`` ≤ 2 s).

    Attributes:
        variant: the variant held to the limit.
        seconds: its median time.
        limit_s: the limit.
    """

    variant: str
    seconds: float
    limit_s: float

    @property
    def met(self) -> bool:
        """Whether the median time is within the limit."""
        return self.seconds <= self.limit_s


@dataclass(frozen=True)
class CaseResult:
    """One case: variants measured in one interleaved run, and the ratios between them.

    Attributes:
        suite: ``pad``, ``conv``, ``model``, ``audit`` or ``plan``.
        case: what was measured (shape, mode, model).
        params: the case's parameters.
        variants: the measured variants.
        ratios: ratios between variants.
        budgets: absolute limits.
    """

    suite: str
    case: str
    params: dict[str, Any]
    variants: tuple[VariantResult, ...]
    ratios: tuple[Ratio, ...] = ()
    budgets: tuple[Budget, ...] = ()


@dataclass(frozen=True)
class Report:
    """A whole ``padkit bench`` run.

    Attributes:
        machine: where it ran.
        settings: repeats, warm-up, quick, suites.
        cases: every measured case.
        skipped: ``(suite, reason)`` for suites that could not run.
    """

    machine: Machine
    settings: dict[str, Any]
    cases: tuple[CaseResult, ...]
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def ratios(self) -> list[tuple[CaseResult, Ratio]]:
        """Every ratio with its case, in run order."""
        return [(c, r) for c in self.cases for r in c.ratios]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``{"format": 1, "kind": "padkit.bench", ...}``); ratios carry their ``met`` verdict."""
        cases = []
        for c in self.cases:
            d = asdict(c)
            d["ratios"] = [{**asdict(r), "met": r.met} for r in c.ratios]
            d["budgets"] = [{**asdict(b), "met": b.met} for b in c.budgets]
            cases.append(d)
        return {
            "format": REPORT_FORMAT,
            "kind": KIND,
            "machine": asdict(self.machine),
            "settings": dict(self.settings),
            "cases": cases,
            "skipped": [list(s) for s in self.skipped],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_dict` output (e.g. a saved ``--json`` file), to render it again.

        Also reads the form ``{"format": "padkit.bench", "version": 1, ...}``.
        """
        current = data.get("format") == REPORT_FORMAT and data.get("kind") == KIND
        versioned = data.get("format") == KIND and data.get("version") == REPORT_FORMAT
        if not (current or versioned):
            raise bad_value(
                "data", {k: data.get(k) for k in ("format", "kind")}, f"format {REPORT_FORMAT} and kind {KIND!r}"
            )
        drop = {"met"}
        cases = tuple(
            CaseResult(
                suite=c["suite"],
                case=c["case"],
                params=dict(c["params"]),
                variants=tuple(VariantResult(**{**v, "samples_s": tuple(v["samples_s"])}) for v in c["variants"]),
                ratios=tuple(Ratio(**{k: v for k, v in r.items() if k not in drop}) for r in c["ratios"]),
                budgets=tuple(Budget(**{k: v for k, v in b.items() if k not in drop}) for b in c["budgets"]),
            )
            for c in data["cases"]
        )
        return cls(
            machine=Machine(**data["machine"]),
            settings=dict(data["settings"]),
            cases=cases,
            skipped=tuple((str(a), str(b)) for a, b in data["skipped"]),
        )

    def to_json(self, indent: int | None = 2) -> str:
        """The report as strict JSON text (non-finite numbers become ``null``)."""
        return to_json(self.to_dict(), indent=indent)
