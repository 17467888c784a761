"""Does the audit's ``position_r2`` rank padding modes the way the experiments' own position measures do?

``padkit audit``'s ``position_r2`` is a linear readout of each position's coordinates from that position's features
(docs/metrics.md). Linear readouts are known to be an unreliable measure of position information (Lin et al., 2022,
arXiv 2206.01202), so this experiment checks the readout against two task-level measures, mode by mode, on the same
trained networks:

* ``position``: Islam et al.'s readout SPC (the mean of SPC H, V and G; :func:`~.position.readout_scores`) of the
  position experiment's backbone, at random initialisation and briefly trained;
* ``red-green``: the position shortcut of a Red-Green network (similar − dissimilar test accuracy, in points), the
  ``cpu`` protocol of :mod:`.red_green`.

For each setting and seed, the Spearman rank correlation over modes between ``position_r2`` (whole-model mean over
the convolutions, on held-out images) and the setting's own measure (:func:`spearman_over_modes`); 1 = the same
ranking.

Example:
    >>> from padkit.lab.experiments.agreement import AgreementConfig
    >>> AgreementConfig().position_modes
    ('none', 'zeros', 'reflect', 'replicate', 'circular', 'partial')
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..._validate import check_choice, check_int
from ..machine import environment
from .modes import audit_figures
from .position import POSITION_MODES, PositionConfig, PositionNet, position_data, readout_scores
from .red_green import RED_GREEN_VARIANTS, RedGreenNet, red_green_data, shift_dissimilar
from .result import ExperimentResult
from .stats import spearman_over_modes, stat
from .training import accuracy, train_classifier

__all__ = ["AgreementConfig", "run_agreement"]


@dataclass(frozen=True)
class AgreementConfig:
    """Settings of :func:`run_agreement`.

    Attributes:
        seeds: seeds (data and initial weights, as in the position and Red-Green experiments).
        epochs: Red-Green training epochs (its ``cpu`` protocol: 6, patience 3).
        position_epochs: training epochs of the position backbone (the position experiment's 2).
        audit_images: held-out images the audit measures each network on.
        position_modes: padding modes of the position backbone (``"none"``: unpadded).
        red_green_variants: Red-Green variants (an empty tuple skips Red-Green).
        n_train, n_readout, n_test: photograph crops for the position backbone's training, its readout's fit and
            its scoring (the position experiment's defaults); the audit reads the first ``audit_images`` test crops.
    """

    seeds: int = 3
    epochs: int = 6
    position_epochs: int = 2
    audit_images: int = 64
    position_modes: tuple[str, ...] = POSITION_MODES
    red_green_variants: tuple[str, ...] = tuple(RED_GREEN_VARIANTS)
    n_train: int = 1000
    n_readout: int = 200
    n_test: int = 200

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs", "position_epochs", "audit_images", "n_train", "n_readout", "n_test"):
            check_int(getattr(self, name), name, minimum=1)
        for i, m in enumerate(self.position_modes):
            check_choice(m, f"position_modes[{i}]", POSITION_MODES)
        for i, v in enumerate(self.red_green_variants):
            check_choice(v, f"red_green_variants[{i}]", tuple(RED_GREEN_VARIANTS))


def _spc(scores: dict[str, float]) -> float:
    return float(np.mean([scores["SPC H"], scores["SPC V"], scores["SPC G"]]))


def run_agreement(config: AgreementConfig | None = None, *, progress: bool = True) -> ExperimentResult:
    """Rank agreement (Spearman over modes) of the audit's position_r2 with the position and Red-Green measures."""
    cfg = config or AgreementConfig()
    start, cpu_start = time.perf_counter(), time.process_time()
    settings = ["position random-init", "position trained"] + (["red-green"] if cfg.red_green_variants else [])
    modes_of = {s: cfg.position_modes for s in settings[:2]}
    modes_of["red-green"] = cfg.red_green_variants
    measure: dict[str, dict[str, list[float]]] = {s: {m: [] for m in modes_of[s]} for s in settings}
    r2: dict[str, dict[str, list[float]]] = {s: {m: [] for m in modes_of[s]} for s in settings}
    pcfg = PositionConfig(
        seeds=cfg.seeds, epochs=cfg.position_epochs, n_train=cfg.n_train, n_readout=cfg.n_readout, n_test=cfg.n_test
    )
    for seed in range(cfg.seeds):
        x_tr, y_tr, x_ro, x_te = position_data(pcfg, seed)
        for mode in cfg.position_modes:
            torch.manual_seed(seed)
            net = PositionNet(mode)
            for setting in settings[:2]:
                if setting == "position trained":
                    train_classifier(
                        net,
                        x_tr,
                        y_tr,
                        epochs=cfg.position_epochs,
                        batch_size=100,
                        optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
                        seed=seed,
                        desc=f"agreement position {mode} seed {seed}",
                        progress=progress,
                    )
                measure[setting][mode].append(_spc(readout_scores(net, x_ro, x_te)))
                r2[setting][mode].append(audit_figures(net, x_te[: cfg.audit_images], seed=seed)["position_r2"])
        if cfg.red_green_variants:
            rng = np.random.default_rng(seed)
            rg_tr, rg_ytr, _ = red_green_data(2000, rng)
            rg_va, rg_yva, _ = red_green_data(1000, rng)
            rg_te, rg_yte, _ = red_green_data(1000, rng)
            rg_dis = shift_dissimilar(rg_te, rg_yte)
            for variant in cfg.red_green_variants:
                padding, mode = RED_GREEN_VARIANTS[variant]
                torch.manual_seed(seed)
                rg_net = RedGreenNet(padding, mode)
                train_classifier(
                    rg_net,
                    rg_tr,
                    rg_ytr,
                    epochs=cfg.epochs,
                    batch_size=200,
                    optimizer=lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6, weight_decay=5e-5),
                    seed=seed,
                    x_val=rg_va,
                    y_val=rg_yva,
                    patience=3,
                    desc=f"agreement red-green {variant} seed {seed}",
                    progress=progress,
                )
                gap = accuracy(rg_net, rg_te, rg_yte) - accuracy(rg_net, rg_dis, rg_yte)
                measure["red-green"][variant].append(gap)
                r2["red-green"][variant].append(
                    audit_figures(rg_net, rg_te[: cfg.audit_images], seed=seed)["position_r2"]
                )
    results: dict[str, dict[str, object]] = {}
    for setting in settings:
        for mode in modes_of[setting]:
            results[f"{setting}/{mode}"] = {
                "measure": stat(measure[setting][mode]),
                "position_r2": stat(r2[setting][mode]),
            }
    for setting in settings:
        modes = modes_of[setting]
        rho = [
            spearman_over_modes([r2[setting][m][i] for m in modes], [measure[setting][m][i] for m in modes])
            for i in range(cfg.seeds)
        ]
        of_means = spearman_over_modes(
            [float(np.mean(r2[setting][m])) for m in modes], [float(np.mean(measure[setting][m])) for m in modes]
        )
        results[f"agreement/{setting}"] = {"spearman": stat(rho), "spearman of means": stat([of_means])}
    return ExperimentResult(
        name="agreement",
        title="Audit position_r2 vs the experiments' own position measures: values per mode and rank agreement",
        config=asdict(cfg),
        results=results,  # type: ignore[arg-type]
        metrics=("measure", "position_r2", "spearman", "spearman of means"),
        units={"measure": "", "position_r2": "", "spearman": "ρ", "spearman of means": "ρ"},
        notes=(
            "measure = the setting's own position measure: for 'position', Islam et al.'s readout SPC (mean of "
            "H, V, G; higher = more position); for 'red-green', similar − dissimilar test accuracy in points (higher "
            "= more absolute position used). position_r2 = padkit.analysis.audit's whole-model mean on held-out "
            "images of the same network. spearman = Spearman rank correlation over the modes between the two, per "
            "seed (mean ± std over seeds); spearman of means = the same on the seed means.",
        ),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        env=environment(),
        plot_metrics=("measure", "position_r2"),
        precision={"measure": 2, "position_r2": 3, "spearman": 2, "spearman of means": 2},
    )
