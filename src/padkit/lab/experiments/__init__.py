"""Reproductions of published padding findings, on CPU with offline data.

Each experiment is a function ``run_<name>(config, *, progress) -> ExperimentResult`` with a frozen config
dataclass whose defaults are the documented run (a few minutes on 2 CPU cores). :data:`EXPERIMENTS` maps the CLI
name (``padkit experiment NAME``) to ``(ConfigClass, run function)``. :func:`experiment_config` builds a config from
a named protocol: ``"cpu"`` (the defaults, every experiment) or ``"paper"`` (the published protocol, where one exists
and runs offline: ``red-green``). Tables and figures of a result come from :mod:`padkit.render.experiments`.

Example:
    >>> from padkit.lab.experiments import EXPERIMENTS
    >>> sorted(EXPERIMENTS)
    ['boundary', 'modes', 'normalization', 'position', 'red-green']
"""

from __future__ import annotations

from typing import Any, Callable

from ..._validate import bad_value, check_choice

from .boundary import BoundaryConfig, run_boundary
from .modes import ModesConfig, run_modes
from .normalization import NormalizationConfig, run_normalization
from .position import PositionConfig, run_position
from .red_green import RED_GREEN_PROTOCOLS, RedGreenConfig, red_green_config, run_red_green
from .result import ExperimentResult
from .stats import Comparison, Stat, compare_paired, stat

__all__ = [
    "EXPERIMENTS",
    "PROTOCOLS",
    "BoundaryConfig",
    "Comparison",
    "ExperimentResult",
    "ModesConfig",
    "NormalizationConfig",
    "PositionConfig",
    "RedGreenConfig",
    "Stat",
    "compare_paired",
    "experiment_config",
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

#: CLI name -> the protocols it has, each a function ``(**overrides) -> config``. ``"cpu"`` is every experiment's
#: defaults; ``"paper"`` exists where the published protocol runs offline on generated data (``red-green``; the
#: others either have no published protocol or need pretrained ImageNet backbones and downloaded datasets).
PROTOCOLS: dict[str, dict[str, Callable[..., Any]]] = {
    name: {"cpu": config_cls} for name, (config_cls, _) in EXPERIMENTS.items()
}
PROTOCOLS["red-green"] = {p: (lambda p=p, **kw: red_green_config(p, **kw)) for p in RED_GREEN_PROTOCOLS}


def experiment_config(name: str, protocol: str = "cpu", **overrides: Any) -> Any:
    """The config of experiment ``name`` under ``protocol``, with ``overrides`` (config field values) on top.

    Example:
        >>> experiment_config("red-green", "paper", seeds=1).seeds
        1
    """
    check_choice(name, "name", tuple(EXPERIMENTS))
    protocols = PROTOCOLS[name]
    if protocol not in protocols:
        have = [n for n, ps in PROTOCOLS.items() if protocol in ps]
        raise bad_value(
            "protocol", protocol, f"one of {tuple(protocols)} for {name!r} (protocol {protocol!r}: {', '.join(have) or 'none'})"
        )
    return protocols[protocol](**overrides)
