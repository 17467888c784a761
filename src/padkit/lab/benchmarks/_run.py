"""Run benchmark suites: time every case interleaved, read peak memory, compute the ratios."""

from __future__ import annotations

import dataclasses
import gc
import json
import subprocess
import sys
from typing import Any, Callable, Sequence

import torch

from ..._validate import bad_type, bad_value, check_choice, check_int
from ._harness import current_load, machine_info, peak_memory_cuda, saved_bytes, time_interleaved
from ._results import Budget, CaseResult, Ratio, Report, VariantResult
from ._suites import BUILDERS, SUITES, CaseSpec, cases_for

__all__ = ["run_benchmarks"]


def _resolve_suites(suites: Sequence[str]) -> tuple[str, ...]:
    if isinstance(suites, str) or not all(isinstance(s, str) for s in suites):
        raise bad_type("suites", suites, "a sequence of suite names")
    for i, s in enumerate(suites):
        check_choice(s, f"suites[{i}]", (*SUITES, "all"))
    if not suites or "all" in suites:
        return SUITES
    return tuple(s for s in SUITES if s in suites)


def _resolve_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise bad_value("device", device, "'cpu' or 'cuda'") from exc
    if dev.type not in ("cpu", "cuda"):
        raise bad_value("device", device, "'cpu' or 'cuda'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise bad_value("device", device, "'cpu' (CUDA is not available here)")
    return dev


def _ratio(spec: Any, variants: dict[str, VariantResult]) -> Ratio | None:
    num, den = variants.get(spec.numerator), variants.get(spec.denominator)
    if num is None or den is None:
        return None
    memory = kept = None
    if num.peak_bytes is not None and den.peak_bytes is not None and den.peak_bytes > 0:
        memory = num.peak_bytes / den.peak_bytes
    if num.kept_bytes is not None and den.kept_bytes is not None and den.kept_bytes > 0:
        kept = num.kept_bytes / den.kept_bytes
    return Ratio(
        label=spec.label,
        numerator=spec.numerator,
        denominator=spec.denominator,
        time=num.median_s / den.median_s,
        memory=memory,
        time_target=spec.time_target,
        memory_target=spec.memory_target,
        kept=kept,
        kept_target=spec.kept_target,
    )


def _budget(variant: str, limit_s: float, variants: dict[str, VariantResult]) -> Budget | None:
    """``variant`` held to ``limit_s``; ``"a + b"`` sums the medians of ``a`` and ``b`` (``None`` if one is missing)."""
    parts = [variants.get(name.strip()) for name in variant.split(" + ")]
    if any(p is None for p in parts):
        return None
    return Budget(variant, sum(p.median_s for p in parts if p is not None), limit_s)


def _cpu_memory(jobs: list[tuple[int, CaseSpec]], threads: int) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """Peak RSS per variant, read in one fresh worker process. Returns per-case results and error messages."""
    payload = {
        "threads": threads,
        "jobs": [{"builder": c.builder, "params": c.params, "variants": list(c.memory)} for _, c in jobs],
    }
    proc = subprocess.run(
        [sys.executable, "-m", "padkit.lab.benchmarks._memworker"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return {}, [f"memory worker exited {proc.returncode}: {tail[0]}"]
    data = json.loads(proc.stdout)
    errors = [f"{c.case}: {e}" for (_, c), e in zip(jobs, data["errors"]) if e]
    if not data.get("pinned", False):
        errors.append("memory not read: the worker could not pin glibc's mmap threshold (not Linux/glibc)")
    return {i: r for (i, _), r in zip(jobs, data["results"])}, errors


def run_benchmarks(
    suites: Sequence[str] = ("all",),
    *,
    device: str | torch.device = "cpu",
    repeats: int | None = None,
    warmup: int | None = None,
    quick: bool = False,
    memory: bool = True,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
) -> Report:
    """Run benchmark suites and return a :class:`Report` of medians and ratios.

    Every case runs its variants interleaved (rotated order each repeat) after a warm-up; each figure is a ratio of
    medians measured in the same run. Peak memory and the bytes kept for backward are read per variant (see
    :mod:`padkit.lab.benchmarks._harness`).

    Args:
        suites: any of ``pad``, ``conv``, ``model``, ``audit``, ``plan``, or ``all``.
        device: ``cpu`` or ``cuda``.
        repeats: timed samples per variant (default: per case, 3 to 21; 3 with ``quick``).
        warmup: untimed calls per variant before timing (default: per case, 2, or 0 for ``plan``; 1 with ``quick``).
        quick: tiny shapes and few repeats, for smoke tests (seconds, not minutes).
        memory: read peak memory too.
        threads: ``torch.set_num_threads`` for the run (restored after; default: leave as is). On a CPU shared with
            other processes, 1 thread avoids measuring OpenMP threads waiting for each other's time slices.
        log: called with a progress line per case (e.g. ``print`` to stderr).

    Returns:
        The report; cases whose builder or run failed are listed in ``skipped`` with the error.

    Example:
        >>> from padkit.render.bench import render_table
        >>> report = run_benchmarks(["pad"], quick=True)  # doctest: +SKIP
        >>> print(render_table(report))  # doctest: +SKIP
    """
    names = _resolve_suites(suites)
    dev = _resolve_device(device)
    repeats = check_int(repeats, "repeats", minimum=1, allow_none=True)
    warmup = check_int(warmup, "warmup", minimum=0, allow_none=True)
    threads = check_int(threads, "threads", minimum=1, allow_none=True)
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run(names, dev, repeats, warmup, quick, memory, log)
    finally:
        torch.set_num_threads(saved_threads)


def _run(
    names: tuple[str, ...],
    dev: torch.device,
    repeats: int | None,
    warmup: int | None,
    quick: bool,
    memory: bool,
    log: Callable[[str], None] | None,
) -> Report:
    min_sample = 0.002 if quick else 0.02
    load_before = current_load()
    specs = [c for s in names for c in cases_for(s, quick)]
    measured: list[tuple[CaseSpec, dict[str, VariantResult]]] = []
    skipped: list[tuple[str, str]] = []
    for spec in specs:
        if log:
            log(f"bench {spec.suite}: {spec.case}")
        n_rep = repeats if repeats is not None else (min(3, spec.repeats) if quick else spec.repeats)
        n_warm = warmup if warmup is not None else spec.warmup if spec.warmup is not None else (1 if quick else 2)
        try:
            variants = BUILDERS[spec.builder](spec.params, dev)
            results = time_interleaved(variants, repeats=n_rep, warmup=n_warm, min_sample_s=min_sample, device=dev)
            if memory:
                for name in spec.memory:
                    results[name] = dataclasses.replace(results[name], kept_bytes=saved_bytes(variants[name]))
            if memory and dev.type == "cuda":
                for name in spec.memory:
                    results[name] = dataclasses.replace(results[name], peak_bytes=peak_memory_cuda(variants[name], dev))
        except Exception as exc:  # shown in the table and JSON, never hidden
            skipped.append((f"{spec.suite}: {spec.case}", f"{type(exc).__name__}: {exc}"))
            continue
        finally:
            variants = {}
            gc.collect()
        measured.append((spec, results))
    if memory and dev.type == "cpu":
        jobs = [(i, spec) for i, (spec, _) in enumerate(measured) if spec.memory]
        if jobs:
            if log:
                log(f"bench memory: {len(jobs)} cases in a worker process")
            peaks, errors = _cpu_memory(jobs, torch.get_num_threads())
            skipped.extend(("memory", e) for e in errors)
            for i, per_variant in peaks.items():
                spec, results = measured[i]
                for name, value in per_variant.items():
                    if name in results and value is not None:
                        results[name] = dataclasses.replace(results[name], peak_bytes=int(value))
    cases = []
    for spec, results in measured:
        ratios = tuple(r for r in (_ratio(s, results) for s in spec.ratios) if r is not None)
        budgets = tuple(b for b in (_budget(v, limit, results) for v, limit in spec.budgets) if b is not None)
        cases.append(
            CaseResult(
                suite=spec.suite,
                case=spec.case,
                params=dict(spec.params),
                variants=tuple(results.values()),
                ratios=ratios,
                budgets=budgets,
            )
        )
    settings = {
        "suites": list(names),
        "repeats": repeats,
        "warmup": warmup,
        "quick": quick,
        "memory": memory,
        "min_sample_s": min_sample,
    }
    return Report(
        machine=machine_info(dev, load_before=load_before),
        settings=settings,
        cases=tuple(cases),
        skipped=tuple(skipped),
    )
