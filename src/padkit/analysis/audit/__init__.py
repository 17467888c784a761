"""Measure what padding does to a model: border distribution shift, false edges, spatial bias, padding-aware channels.

See :func:`audit` and ``docs/metrics.md`` for the metric definitions. The modules, in the order an audit uses them:

* :mod:`.settings`: every argument checked once, into :class:`~.settings.AuditSettings`;
* :mod:`.batches`: the ``data`` argument as a stream of image batches;
* :mod:`.collect`: the forward hooks that feed each audited layer's output to its accumulator;
* :mod:`.accumulate` and :mod:`.moments`: the streaming, mergeable statistics;
* :mod:`.distributed`: ``torch.distributed`` set-up and the reductions of the statistics;
* :mod:`.metrics`: the metrics from the statistics; :mod:`.report`: the result dataclasses;
* :mod:`.core`: :func:`audit`, which runs them.
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
