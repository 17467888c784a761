"""``padkit bench``: is padding with padkit as cheap as zero padding? Ratios measured in one interleaved run.

Tables of a :class:`Report` come from :mod:`padkit.render.bench`.

Example:
    >>> from padkit.lab.benchmarks import run_benchmarks
    >>> from padkit.render.bench import render_table
    >>> report = run_benchmarks(["pad"], quick=True)  # doctest: +SKIP
    >>> print(render_table(report))  # doctest: +SKIP
"""

from __future__ import annotations

from ._harness import machine_info, peak_memory_cuda, peak_rss_call, saved_bytes, time_interleaved
from ._results import KIND, Budget, CaseResult, Machine, Ratio, Report, VariantResult
from ._run import run_benchmarks
from ._suites import SUITES, CaseSpec, RatioSpec, cases_for, torch_native_padding

__all__ = [
    "KIND",
    "SUITES",
    "Budget",
    "CaseResult",
    "CaseSpec",
    "Machine",
    "Ratio",
    "RatioSpec",
    "Report",
    "VariantResult",
    "cases_for",
    "machine_info",
    "peak_memory_cuda",
    "peak_rss_call",
    "run_benchmarks",
    "saved_bytes",
    "time_interleaved",
    "torch_native_padding",
]
