"""Measure what padding does to a model: border distribution shift, false edges, spatial bias, padding-aware channels.

See :func:`audit` and ``docs/metrics.md`` for the metric definitions.
"""

from __future__ import annotations

from .collect import DEFAULT_BORDER_PX
from .core import audit
from .moments import RunningMoments, pool_moments
from .report import METRICS, AuditReport, InputStats, LayerResult, ModeResult, PaddingAwareChannel, Summary
from .settings import default_layers

__all__ = [
    "DEFAULT_BORDER_PX",
    "METRICS",
    "AuditReport",
    "InputStats",
    "LayerResult",
    "ModeResult",
    "PaddingAwareChannel",
    "RunningMoments",
    "Summary",
    "audit",
    "default_layers",
    "pool_moments",
]
