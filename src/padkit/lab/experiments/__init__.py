"""Reproductions of published padding findings, on CPU with offline data.

Each experiment is a function ``run_<name>(config, *, progress) -> ExperimentResult`` with a frozen config
dataclass whose defaults are the documented run (a few minutes on 2 CPU cores). :data:`EXPERIMENTS` maps the CLI
name (``padkit experiment NAME``) to ``(ConfigClass, run function)``. :func:`experiment_config` builds a config from
a named protocol: ``"cpu"`` (the defaults, every experiment) or ``"paper"`` (the published protocol, where one exists
and runs offline: ``red-green``). Tables and figures of a result come from :mod:`padkit.render.experiments`.

Example:
    >>> from padkit.lab.experiments import EXPERIMENTS
    >>> sorted(EXPERIMENTS)
    ['agreement', 'boundary', 'modes', 'normalization', 'position', 'red-green']
"""

from __future__ import annotations

from typing import Any, Callable

from ..._validate import bad_value, check_choice
from .agreement import AgreementConfig, run_agreement
from .boundary import BoundaryConfig, run_boundary
from .modes import ModesConfig, run_modes
from .normalization import NormalizationConfig, run_normalization
from .position import PositionConfig, run_position
from .red_green import RED_GREEN_PROTOCOLS, RedGreenConfig, red_green_config, run_red_green
from .result import ExperimentResult, merge_results
from .stats import Comparison, Stat, compare_paired, spearman_over_modes, stat, t_interval

__all__ = [
    "EXPERIMENTS",
    "PROTOCOLS",
    "AgreementConfig",
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
    "merge_results",
    "run_agreement",
    "run_boundary",
    "run_modes",
    "run_normalization",
    "run_position",
    "run_red_green",
    "spearman_over_modes",
    "stat",
    "t_interval",
]

#: CLI name -> (config dataclass, run function). Every config has ``seeds`` and ``epochs`` fields.
EXPERIMENTS: dict[str, tuple[type[Any], Callable[..., ExperimentResult]]] = {
    "red-green": (RedGreenConfig, run_red_green),
    "position": (PositionConfig, run_position),
    "modes": (ModesConfig, run_modes),
    "normalization": (NormalizationConfig, run_normalization),
    "boundary": (BoundaryConfig, run_boundary),
    "agreement": (AgreementConfig, run_agreement),
}

#: CLI name -> the protocols it has. ``"cpu"`` is every experiment's defaults (its config class); ``"paper"`` exists
#: where the published protocol runs offline on generated data (``red-green``; the others either have no published
#: protocol or need ImageNet-pretrained backbones and downloaded datasets).
PROTOCOLS: dict[str, tuple[str, ...]] = {name: ("cpu",) for name in EXPERIMENTS}
PROTOCOLS["red-green"] = tuple(RED_GREEN_PROTOCOLS)


def experiment_config(name: str, protocol: str = "cpu", **overrides: Any) -> Any:
    """The config of experiment ``name`` under ``protocol``, with ``overrides`` (config field values) on top.

    ``"cpu"`` builds :data:`EXPERIMENTS`' config class; other protocols come from the experiment's own presets
    (:func:`~padkit.lab.experiments.red_green.red_green_config`).

    Example:
        >>> cfg = experiment_config("red-green", "paper", seeds=1)
        >>> cfg.seeds, cfg.epochs, cfg.protocol
        (1, 50, 'paper')
    """
    check_choice(name, "name", tuple(EXPERIMENTS))
    if protocol not in PROTOCOLS[name]:
        have = [n for n, ps in PROTOCOLS.items() if protocol in ps]
        raise bad_value(
            "protocol",
            protocol,
            f"one of {PROTOCOLS[name]} for {name!r} (protocol {protocol!r} exists for: {', '.join(have) or 'none'})",
        )
    if protocol == "cpu":
        return EXPERIMENTS[name][0](**overrides)
    return red_green_config(protocol, **overrides)
