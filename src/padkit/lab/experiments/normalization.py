"""Zero padding on raw 0–255 inputs vs standardised inputs vs reflect padding.

A padded zero means "black" on raw 0–255 inputs but "the mean" on standardised inputs, so the same zero padding
creates a much larger border shift and false edge on raw inputs. This experiment trains the
:class:`~padkit.lab.experiments.modes.SmallCNN` on photograph patches under four settings and measures, with
:func:`padkit.analysis.audit.audit`, the border shift and false-edge ratio of the first two convolutions at
initialisation and after training, plus test accuracy.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..._validate import check_choice, check_int
from ..machine import environment
from .datasets import photo_patches
from .modes import SmallCNN
from .result import ExperimentResult
from .stats import stat
from .training import accuracy, train_classifier

__all__ = ["NORMALIZATION_SETTINGS", "NormalizationConfig", "first_layer_figures", "run_normalization"]

#: setting name -> (input scaling, padding mode). ``raw``: 0–255 pixel values; ``standardised``: per-channel z-scores.
NORMALIZATION_SETTINGS: dict[str, tuple[str, str]] = {
    "raw 0-255 + zeros": ("raw", "zeros"),
    "standardised + zeros": ("standardised", "zeros"),
    "raw 0-255 + reflect": ("raw", "reflect"),
    "standardised + reflect": ("standardised", "reflect"),
}
_LAYERS = ("features.0", "features.2")  # the first two convolutions of SmallCNN


def first_layer_figures(model: nn.Module, images: torch.Tensor, *, seed: int = 0) -> dict[str, float]:
    """Audit border shift and false-edge ratio of the first two convolutions of a :class:`SmallCNN`.

    Returns:
        ``{"border_shift conv1", "false_edge conv1", "border_shift conv2", "false_edge conv2"}``.
    """
    from ...analysis.audit import audit

    report = audit(
        model,
        images,
        layers=list(_LAYERS),
        batch_size=len(images),
        probe_images=0,
        equivariance_images=0,
        seed=seed,
        progress=False,
    )
    res = report.results[0]
    out = {}
    for i, name in enumerate(_LAYERS, start=1):
        layer = res.layer(name)
        out[f"border_shift conv{i}"] = float(layer.border_shift)
        out[f"false_edge conv{i}"] = float(layer.false_edge_ratio)
    return out


@dataclass(frozen=True)
class NormalizationConfig:
    """Settings of :func:`run_normalization`."""

    seeds: int = 3
    epochs: int = 3
    settings: tuple[str, ...] = tuple(NORMALIZATION_SETTINGS)
    n_train: int = 1500
    n_test: int = 1000
    audit_images: int = 64

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs", "n_train", "n_test", "audit_images"):
            check_int(getattr(self, name), name, minimum=1)
        for i, s in enumerate(self.settings):
            check_choice(s, f"settings[{i}]", tuple(NORMALIZATION_SETTINGS))


def run_normalization(config: NormalizationConfig | None = None, *, progress: bool = True) -> ExperimentResult:
    """Audit first-layer border shift / false edges (at init and trained) and accuracy per input scaling and mode."""
    cfg = config or NormalizationConfig()
    start, cpu_start = time.perf_counter(), time.process_time()
    scores: dict[str, dict[str, list[float]]] = {s: {} for s in cfg.settings}
    for seed in range(cfg.seeds):
        rng = np.random.default_rng(seed)
        x_tr, y_tr = photo_patches(cfg.n_train, 32, rng)
        x_te, y_te = photo_patches(cfg.n_test, 32, rng)
        mean = x_tr.mean(dim=(0, 2, 3), keepdim=True)
        std = x_tr.std(dim=(0, 2, 3), keepdim=True)
        inputs = {"raw": (x_tr, x_te), "standardised": ((x_tr - mean) / std, (x_te - mean) / std)}
        for setting in cfg.settings:
            scaling, mode = NORMALIZATION_SETTINGS[setting]
            xtr, xte = inputs[scaling]
            torch.manual_seed(seed)
            model = SmallCNN(mode, 3, 6)
            model.eval()
            row = scores[setting]
            for k, v in first_layer_figures(model, xte[: cfg.audit_images], seed=seed).items():
                row.setdefault(f"{k} (init)", []).append(v)
            train_classifier(
                model,
                xtr,
                y_tr,
                epochs=cfg.epochs,
                batch_size=100,
                optimizer=lambda p: torch.optim.Adam(p, lr=2e-3),
                seed=seed,
                desc=f"normalization {setting} seed {seed}",
                progress=progress,
            )
            row.setdefault("accuracy", []).append(accuracy(model, xte, y_te))
            model.eval()
            for k, v in first_layer_figures(model, xte[: cfg.audit_images], seed=seed).items():
                row.setdefault(f"{k} (trained)", []).append(v)
    metrics = tuple(scores[cfg.settings[0]])
    return ExperimentResult(
        name="normalization",
        title="Zero padding on raw 0–255 vs standardised inputs vs reflect: first-layer border shift and false edges",
        config=asdict(cfg),
        results={row: {m: stat(v) for m, v in cols.items()} for row, cols in scores.items()},
        metrics=metrics,
        units={"accuracy": "%"},
        notes=(
            "border_shift = mean |standardised mean difference| of border vs interior activations; false_edge = "
            "edge energy in the border band / interior (1 = no false edge); both from padkit.analysis.audit on "
            "held-out photograph patches (docs/metrics.md). Task: which of 6 photographs a 32x32 patch comes from.",
        ),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        env=environment(),
        plot_metrics=("border_shift conv1 (init)", "false_edge conv1 (init)", "accuracy"),
        precision={m: (1 if m == "accuracy" else 3) for m in metrics},
    )
