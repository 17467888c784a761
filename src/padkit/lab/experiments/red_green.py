"""Kayhan & van Gemert's Red-Green location test (CVPR 2020, "On Translation Invariance in CNNs").

32x32 black images hold a 4x4 red and a 4x4 green box on one row. Class 0: red left of green, near row 7;
class 1: green left of red, near row 23 (row jitter ±4). 2000 train / 1000 val / 1000 test images. The
*dissimilar* test set is the test set shifted by ±16 rows, so each class sits where the other one trained: a
network that learned the colour order gets it right, one that learned absolute position gets it wrong.

Network (as published): four bias-free 3x3 convolutions (32, 32, 64, 64 channels, strides 1, 2, 2, 2), ReLU,
global max pool, a linear layer to 2 classes; Adadelta (lr 1, rho 0.9, weight decay 5e-5), batch 200, early
stopping on the validation set.

Example:
    >>> from padkit.lab.experiments.red_green import RedGreenConfig, run_red_green
    >>> result = run_red_green(RedGreenConfig(seeds=1, epochs=1, variants=("valid",)), progress=False)
    >>> sorted(result.results["valid"])
    ['dissimilar', 'epochs', 'similar']
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..._validate import bad_value, check_choice, check_int
from ..machine import environment
from .layers import conv2d
from .result import ExperimentResult
from .stats import stat
from .training import accuracy, train_classifier

__all__ = [
    "RED_GREEN_VARIANTS",
    "RedGreenConfig",
    "RedGreenNet",
    "red_green_data",
    "run_red_green",
    "shift_dissimilar",
]

#: variant name -> (padding width, padding mode) of every convolution.
RED_GREEN_VARIANTS: dict[str, tuple[int, str]] = {
    "valid": (0, "zeros"),
    "same-zeros": (1, "zeros"),
    "same-reflect": (1, "reflect"),
    "same-replicate": (1, "replicate"),
    "same-symmetric": (1, "symmetric"),
    "same-circular": (1, "circular"),
    "same-partial": (1, "partial"),
    "full-zeros": (2, "zeros"),
}

_SIZE = 32
_BOX = 4
_ROWS = (7, 23)  # nominal top row of the boxes for class 0 and class 1
_JITTER = 4
_SHIFT = 16


def red_green_data(n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Generate ``n`` Red-Green images.

    Returns:
        ``(x, y, rows)``: x ``(n, 3, 32, 32)`` float32 with exactly-1 red (channel 0) and green (channel 1) 4x4 boxes,
        y ``(n,)`` int64 class (0: red left of green near row 7, 1: green left of red near row 23), rows ``(n,)`` the
        boxes' common top row.
    """
    check_int(n, "n", minimum=1)
    y = rng.integers(0, 2, size=n)
    rows = np.asarray(_ROWS)[y] + rng.integers(-_JITTER, _JITTER + 1, size=n)
    x = np.zeros((n, 3, _SIZE, _SIZE), dtype=np.float32)
    for i in range(n):
        left = int(rng.integers(0, _SIZE - 2 * _BOX + 1))
        right = int(rng.integers(left + _BOX, _SIZE - _BOX + 1))
        red, green = (left, right) if y[i] == 0 else (right, left)
        r = int(rows[i])
        x[i, 0, r : r + _BOX, red : red + _BOX] = 1.0
        x[i, 1, r : r + _BOX, green : green + _BOX] = 1.0
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)), torch.from_numpy(rows.astype(np.int64))


def shift_dissimilar(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The dissimilar test set ``(N, 3, 32, 32)``: class-0 images moved down 16 rows, class-1 images up 16 rows."""
    if x.ndim != 4 or x.shape[-2] != _SIZE:
        raise bad_value("x", f"<tensor of shape {tuple(x.shape)}>", "a tensor of shape (N, C, 32, 32)")
    out = torch.zeros_like(x)
    down, up = y == 0, y == 1
    out[down, :, _SHIFT:, :] = x[down, :, : _SIZE - _SHIFT, :]
    out[up, :, : _SIZE - _SHIFT, :] = x[up, :, _SHIFT:, :]
    return out


class RedGreenNet(nn.Module):
    """Kayhan & van Gemert's network: 4 bias-free 3x3 padkit convs, ReLU, global max pool, linear to 2 classes."""

    def __init__(self, padding: int, mode: str) -> None:
        super().__init__()
        chans = (3, 32, 32, 64, 64)
        strides = (1, 2, 2, 2)
        layers: list[nn.Module] = []
        for cin, cout, s in zip(chans[:-1], chans[1:], strides):
            layers += [conv2d(cin, cout, 3, stride=s, padding=padding, mode=mode, bias=False), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(64, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.amax(self.features(x), dim=(-2, -1)))


@dataclass(frozen=True)
class RedGreenConfig:
    """Settings of :func:`run_red_green` (defaults sized for ~6 min on 2 idle cores; the paper used <= 50 epochs)."""

    seeds: int = 3
    epochs: int = 6
    variants: tuple[str, ...] = tuple(RED_GREEN_VARIANTS)
    n_train: int = 2000
    n_val: int = 1000
    n_test: int = 1000
    batch_size: int = 200
    patience: int = 3

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs", "n_train", "n_val", "n_test", "batch_size", "patience"):
            check_int(getattr(self, name), name, minimum=1)
        for i, v in enumerate(self.variants):
            check_choice(v, f"variants[{i}]", tuple(RED_GREEN_VARIANTS))


def run_red_green(config: RedGreenConfig | None = None, *, progress: bool = True) -> ExperimentResult:
    """Train the Red-Green network for every variant and seed; report similar and dissimilar test accuracy (%)."""
    cfg = config or RedGreenConfig()
    start, cpu_start = time.perf_counter(), time.process_time()
    scores: dict[str, dict[str, list[float]]] = {
        v: {"similar": [], "dissimilar": [], "epochs": []} for v in cfg.variants
    }
    for seed in range(cfg.seeds):
        rng = np.random.default_rng(seed)
        x_tr, y_tr, _ = red_green_data(cfg.n_train, rng)
        x_va, y_va, _ = red_green_data(cfg.n_val, rng)
        x_te, y_te, _ = red_green_data(cfg.n_test, rng)
        x_dis = shift_dissimilar(x_te, y_te)
        for variant in cfg.variants:
            padding, mode = RED_GREEN_VARIANTS[variant]
            torch.manual_seed(seed)
            model = RedGreenNet(padding, mode)
            info = train_classifier(
                model,
                x_tr,
                y_tr,
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                optimizer=lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, weight_decay=5e-5),
                seed=seed,
                x_val=x_va,
                y_val=y_va,
                patience=cfg.patience,
                desc=f"red-green {variant} seed {seed}",
                progress=progress,
            )
            scores[variant]["similar"].append(accuracy(model, x_te, y_te))
            scores[variant]["dissimilar"].append(accuracy(model, x_dis, y_te))
            scores[variant]["epochs"].append(float(info["best_epoch"]))
    config_json: dict[str, Any] = asdict(cfg)
    config_json["variants"] = {
        v: {"padding": RED_GREEN_VARIANTS[v][0], "mode": RED_GREEN_VARIANTS[v][1]} for v in cfg.variants
    }
    return ExperimentResult(
        name="red-green",
        title="Red-Green location test: test accuracy (%) on similar and dissimilar (shifted ±16 rows) images",
        config=config_json,
        results={v: {k: stat(vals) for k, vals in cols.items()} for v, cols in scores.items()},
        metrics=("similar", "dissimilar", "epochs"),
        units={"similar": "%", "dissimilar": "%", "epochs": "best epoch"},
        notes=(
            "A network that reads the colour order scores the same on both sets; the gap similar − dissimilar is the "
            "absolute position it learned instead. 'same' pads 1 px each side, 'full' pads k−1 = 2 px.",
        ),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        env=environment(),
        plot_metrics=("similar", "dissimilar"),
        precision={"epochs": 1},
    )
