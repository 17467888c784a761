"""The same small CNN trained on real offline data under each padding mode: accuracy and audit figures.

Two tasks, both offline: scikit-learn's 8x8 digits pasted at random positions (borders included) on a 32x32
black canvas (10 classes), and 32x32 patches of the built-in photographs labelled by the photograph they come
from (6 classes). Every mode trains from the same initial weights on the same data (paired by seed), so the
comparison against zero padding is a paired test; a difference counts only if it exceeds two standard errors of the
paired differences and the paired t-test gives p < 0.05 (see :class:`~padkit.lab.experiments.stats.Comparison`).
After training, :func:`padkit.analysis.audit.audit` measures the model as it is on held-out images.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..._validate import bad_value, check_choice, check_int
from ...modes import layer_modes, mode_name
from ..machine import environment
from .datasets import digits_on_canvas, photo_patches
from .layers import conv2d
from .result import ExperimentResult
from .stats import Comparison, compare_paired, stat
from .training import accuracy, train_classifier

__all__ = ["AUDIT_FIGURES", "MODES", "ModesConfig", "SmallCNN", "audit_figures", "make_dataset", "run_modes"]

#: Padding modes compared (layer vocabulary; ``zeros``, zero padding, is the baseline).
MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular", "partial")
# ``symmetric`` is left out on purpose: with 1-pixel padding it extends ``a b c`` as ``a | a b c``, exactly like
# ``replicate``, so it would train an identical network.
#: The audit's whole-model summary figures reported per model.
AUDIT_FIGURES: tuple[str, ...] = (
    "border_shift",
    "false_edge_ratio",
    "equivariance_gap",
    "position_r2",
    "padding_aware_channels",
)
DATASETS: tuple[str, ...] = ("digits", "photos")


class SmallCNN(nn.Module):
    """Four padkit 3x3 convs (16, 16, 32, 32 channels; strides 1, 2, 2, 1; padding 1 with ``mode``), ReLU, GAP, FC."""

    def __init__(self, mode: str | tuple[str, ...], in_channels: int, n_classes: int) -> None:
        super().__init__()
        chans, strides = (in_channels, 16, 16, 32, 32), (1, 2, 2, 1)
        layers: list[nn.Module] = []
        for ci, co, s in zip(chans[:-1], chans[1:], strides):
            layers += [conv2d(ci, co, 3, stride=s, padding=1, mode=mode), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(chans[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(-2, -1)))


def make_dataset(name: str, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(x, y, n_classes)``: ``"digits"``: x ``(n, 1, 32, 32)`` in [0, 1]; ``"photos"``: ``(n, 3, 32, 32)``, 0–255."""
    if name == "digits":
        x, y = digits_on_canvas(n, 32, rng)
        return x, y, 10
    if name == "photos":
        x, y = photo_patches(n, 32, rng)
        return x, y, 6
    raise bad_value("name", name, f"one of {', '.join(map(repr, DATASETS))}")


def audit_figures(
    model: nn.Module, images: torch.Tensor, *, seed: int = 0, layers: list[str] | None = None
) -> dict[str, float]:
    """The audit's summary figures of ``model`` as it is, on ``images`` ``(N, C, H, W)`` (already normalised).

    The audit leaves the summary of a model that does not pad at all n/a; ``position_r2``, a readout of the features
    that is defined with or without padding, is then the mean of its per-layer values (the summary's own formula), so
    unpadded baselines ("none", "valid") take part in the comparisons.
    """
    from ...analysis.audit import audit

    report = audit(
        model,
        images,
        layers=layers,
        batch_size=len(images),
        probe_images=min(len(images), 64),
        equivariance_images=min(len(images), 4),
        seed=seed,
        progress=False,
    )
    result = report.results[0]
    figures = {k: float(result.summary.value(k)) for k in AUDIT_FIGURES}
    if "position_r2" in figures and math.isnan(figures["position_r2"]):
        values = [layer.position_r2 for layer in result.layers if math.isfinite(layer.position_r2)]
        figures["position_r2"] = sum(values) / len(values) if values else math.nan
    return figures


@dataclass(frozen=True)
class ModesConfig:
    """Settings of :func:`run_modes`."""

    seeds: int = 3
    epochs: int = 12  # 3 epochs on 1500 images leave the digits task at chance (10%); 8 on 2000 reach 56%
    modes: tuple[str | tuple[str, ...], ...] = MODES  # layer modes; a per-axis mode is a (height, width) tuple
    datasets: tuple[str, ...] = DATASETS
    n_train: int = 3000
    n_test: int = 1000
    audit_images: int = 64
    batch_size: int = 100

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs", "n_train", "n_test", "audit_images", "batch_size"):
            check_int(getattr(self, name), name, minimum=1)
        modes = tuple(layer_modes(m, argname=f"modes[{i}]", nd=2) for i, m in enumerate(self.modes))
        object.__setattr__(self, "modes", modes)
        for i, d in enumerate(self.datasets):
            check_choice(d, f"datasets[{i}]", DATASETS)


def run_modes(config: ModesConfig | None = None, *, progress: bool = True) -> ExperimentResult:
    """Train :class:`SmallCNN` per dataset, mode and seed; report test accuracy (%) and the audit's summary figures."""
    cfg = config or ModesConfig()
    start, cpu_start = time.perf_counter(), time.process_time()
    metrics = ("accuracy", *AUDIT_FIGURES)
    scores: dict[str, dict[str, list[float]]] = {
        f"{d}/{mode_name(m)}": {k: [] for k in metrics} for d in cfg.datasets for m in cfg.modes
    }
    for seed in range(cfg.seeds):
        for di, dataset in enumerate(cfg.datasets):
            rng = np.random.default_rng([seed, di])
            x_tr, y_tr, n_classes = make_dataset(dataset, cfg.n_train, rng)
            x_te, y_te, _ = make_dataset(dataset, cfg.n_test, rng)
            mean = x_tr.mean(dim=(0, 2, 3), keepdim=True)
            std = x_tr.std(dim=(0, 2, 3), keepdim=True)
            x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
            for mode in cfg.modes:
                torch.manual_seed(seed)
                model = SmallCNN(mode, x_tr.shape[1], n_classes)
                train_classifier(
                    model,
                    x_tr,
                    y_tr,
                    epochs=cfg.epochs,
                    batch_size=cfg.batch_size,
                    optimizer=lambda p: torch.optim.Adam(p, lr=2e-3),
                    seed=seed,
                    desc=f"modes {dataset} {mode_name(mode)} seed {seed}",
                    progress=progress,
                )
                row = scores[f"{dataset}/{mode_name(mode)}"]
                row["accuracy"].append(accuracy(model, x_te, y_te))
                model.eval()
                for k, v in audit_figures(model, x_te[: cfg.audit_images], seed=seed).items():
                    row[k].append(v)
    comparisons: list[Comparison] = []
    if "zeros" in cfg.modes:
        for d in cfg.datasets:
            base = scores[f"{d}/zeros"]
            for m in cfg.modes:
                if m == "zeros":
                    continue
                for metric in ("accuracy", "border_shift"):
                    comparisons.append(
                        compare_paired(
                            scores[f"{d}/{mode_name(m)}"][metric],
                            base[metric],
                            group=d,
                            metric=metric,
                            names=(mode_name(m), "zeros"),
                        )
                    )
    config_json: dict[str, Any] = asdict(cfg)
    return ExperimentResult(
        name="modes",
        title="Same small CNN, real offline data, each padding mode: test accuracy and audit figures",
        config=config_json,
        results={row: {m: stat(v) for m, v in cols.items()} for row, cols in scores.items()},
        metrics=metrics,
        units={"accuracy": "%"},
        comparisons=tuple(comparisons),
        notes=(
            "digits = sklearn digits at random positions on a 32x32 canvas; photos = which of 6 built-in photographs "
            "a 32x32 patch comes from. Audit figures: whole-model means over the conv layers of the trained model "
            "(docs/metrics.md). A mode 'beats' zeros only where the paired comparison is marked *.",
            "n/a, where it appears: the audit could not compute that figure for that model (e.g. a layer too "
            "small to split into border and interior).",
        ),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        env=environment(),
        plot_metrics=("accuracy", "border_shift", "position_r2"),
        precision={"accuracy": 1, "padding_aware_channels": 1, **dict.fromkeys(AUDIT_FIGURES[:4], 3)},
    )
