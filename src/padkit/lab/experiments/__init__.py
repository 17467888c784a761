"""Reproductions of published padding findings, on CPU with offline data.

Each experiment is a function ``run_<name>(config, *, progress) -> ExperimentResult`` with a frozen config
dataclass whose defaults are the documented run (a few minutes on 2 CPU cores). :data:`EXPERIMENTS` maps the CLI
name (``padkit experiment NAME``) to ``(ConfigClass, run function)``. Tables and figures of a result come from
:mod:`padkit.render.experiments`.

Example:
    >>> from padkit.lab.experiments import EXPERIMENTS
    >>> sorted(EXPERIMENTS)
    ['boundary', 'modes', 'normalization', 'position', 'red-green']
"""

from __future__ import annotations

from typing import Any, Callable

from .boundary import BoundaryConfig, run_boundary
from .modes import ModesConfig, run_modes
from .normalization import NormalizationConfig, run_normalization
from .position import PositionConfig, run_position
from .red_green import RedGreenConfig, run_red_green
from .result import ExperimentResult
from .stats import Comparison, Stat, compare_paired, stat

__all__ = [
    "EXPERIMENTS",
    "BoundaryConfig",
    "Comparison",
    "ExperimentResult",
    "ModesConfig",
    "NormalizationConfig",
    "PositionConfig",
    "RedGreenConfig",
    "Stat",
    "compare_paired",
    "run_boundary",
    "run_modes",
    "run_normalization",
    "run_position",
    "run_red_green",
    "stat",
]

#: CLI name -> (config dataclass, run function). Every config has ``seeds`` and ``epochs`` fields.
EXPERIMENTS: dict[str, tuple[type[Any], Callable[..., ExperimentResult]]] = {
    "red-green": (RedGreenConfig, run_red_green),
    "position": (PositionConfig, run_position),
    "modes": (ModesConfig, run_modes),
    "normalization": (NormalizationConfig, run_normalization),
    "boundary": (BoundaryConfig, run_boundary),
}
