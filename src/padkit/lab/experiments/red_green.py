"""Kayhan & van Gemert's Red-Green location test (CVPR 2020, "On Translation Invariance in CNNs").

32x32 black images hold a 4x4 red and a 4x4 green box on one row. Class 0: red left of green, near row 7;
class 1: green left of red, near row 23 (row jitter ±4). 2000 train / 1000 val / 1000 test images. The
*dissimilar* test set is the test set shifted by ±16 rows, so each class sits where the other one trained: a
network that learned the colour order gets it right, one that learned absolute position gets it wrong.

Network (as published): four bias-free 3x3 convolutions (32, 32, 64, 64 channels, strides 1, 2, 2, 2), ReLU,
global max pool, a linear layer to 2 classes; Adadelta (lr 1, rho 0.9, weight decay 5e-5), batch 200, early
stopping on the validation set.

Two protocols (:data:`RED_GREEN_PROTOCOLS`, :func:`red_green_config`): ``"cpu"`` (the :class:`RedGreenConfig`
defaults: 3 seeds, 6 epochs, fresh data per seed) and ``"paper"``, the authors' own script
(github.com/oskyhn/CNNs-Without-Borders, ``full_conv/Exp2_Red_Green``): their data generator
(:func:`red_green_authors_data`), 10 initialisations, up to 50 epochs, early stopping on validation loss, batches in
stored order.

Example:
    >>> from padkit.lab.experiments.red_green import RedGreenConfig, run_red_green
    >>> result = run_red_green(RedGreenConfig(seeds=1, epochs=1, variants=("valid",)), progress=False)
    >>> sorted(result.results["valid"])
    ['dissimilar', 'epochs', 'epochs_run', 'similar']
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..._validate import bad_type, bad_value, check_choice, check_int
from ..machine import environment
from .layers import conv2d
from .result import ExperimentResult
from .stats import stat
from .training import MONITORS, accuracy, train_classifier

__all__ = [
    "PAPER_VARIANTS",
    "PUBLISHED",
    "PUBLISHED_SOURCE",
    "RED_GREEN_DATA",
    "RED_GREEN_PROTOCOLS",
    "RED_GREEN_VARIANTS",
    "RedGreenConfig",
    "RedGreenNet",
    "published_reference",
    "red_green_authors_data",
    "red_green_config",
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

#: The variants of the authors' script (``--conv_type valid, sconv, cir, fconv``) under padkit's names. Their
#: ``cir`` builds ``nn.Conv2d(padding=2, padding_mode="circular")``; the PyTorch of its day (1.2-1.4, pytorch issue
#: #20981) split that width over both sides, 1 px each, so the published circular row is 'same' circular padding.
PAPER_VARIANTS: tuple[str, ...] = ("valid", "same-zeros", "same-circular", "full-zeros")

#: The published table (Kayhan & van Gemert, CVPR 2020, Table 1): variant -> (similar %, dissimilar %).
PUBLISHED: dict[str, tuple[float, float]] = {
    "valid": (100.0, 0.2),
    "same-zeros": (99.8, 8.4),
    "same-circular": (73.7, 73.7),
    "full-zeros": (89.7, 89.7),
}

PUBLISHED_SOURCE = "Kayhan & van Gemert, CVPR 2020, Table 1"

#: Data generators: ``"generated"`` (:func:`red_green_data`, fresh sets per seed) or ``"authors"``
#: (:func:`red_green_authors_data`, one fixed set for every seed, as in the authors' script).
RED_GREEN_DATA: tuple[str, ...] = ("generated", "authors")

_SIZE = 32
_BOX = 4
_ROWS = (7, 23)  # nominal top row of the boxes for class 0 and class 1
_JITTER = 4
_SHIFT = 16
_AUTHORS_SEED = 1988  # the authors' generator reseeds numpy's legacy RandomState with 1988 for every set
_AUTHORS_FLUCTUATION = 6  # their --fluctuation: row offsets are randint(-(32-4)/6, (32-4)/6), i.e. -4..3


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


def red_green_authors_data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images of the authors' Red-Green generator (``utils_red_green.gen_box_data``), bit for bit.

    Their generator reseeds ``numpy.random.RandomState(1988)`` on every call, so the training set, the validation set
    and the (similar) test set are all prefixes of this one sequence: validation and test images are the first
    training images. Even-indexed images are class 0 (red box left of green, rows near 7), odd-indexed ones class 1
    (green left of red, rows near 23). Each box draws its own top row, nominal row + ``randint(-4, 4)`` (-4..3);
    the left box's column is ``randint(0, 10)``, the right box's ``randint(left, 28)`` redrawn (with its row) until
    it starts at least 5 columns to the right.

    Returns:
        ``(x, y)``: x ``(n, 3, 32, 32)`` float32 with 4x4 boxes of ones in channel 0 (red) and 1 (green),
        y ``(n,)`` int64 class.
    """
    check_int(n, "n", minimum=1)
    rs = np.random.RandomState(_AUTHORS_SEED)
    span = _SIZE - _BOX  # 28: the last column/row a box may start at, exclusive
    lo, hi = int(-span / _AUTHORS_FLUCTUATION), int(span / _AUTHORS_FLUCTUATION)  # numpy truncates float bounds
    x = np.zeros((n, 3, _SIZE, _SIZE), dtype=np.float32)
    y = np.arange(n, dtype=np.int64) % 2
    for i in range(n):
        row0 = _ROWS[y[i]]
        col1 = int(rs.randint(span // 2 - _BOX))
        row1 = int(rs.randint(lo, hi)) + row0
        col2 = int(rs.randint(col1, span))
        row2 = int(rs.randint(lo, hi)) + row0
        while abs(col1 - col2) < _BOX + 1:
            col2 = int(rs.randint(col1, span))
            row2 = int(rs.randint(lo, hi)) + row0
        first, second = (0, 1) if y[i] == 0 else (1, 0)  # class 0: red first (left); class 1: green first
        x[i, first, row1 : row1 + _BOX, col1 : col1 + _BOX] = 1.0
        x[i, second, row2 : row2 + _BOX, col2 : col2 + _BOX] = 1.0
    return torch.from_numpy(x), torch.from_numpy(y)


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
    """Settings of :func:`run_red_green`: the defaults are the ``"cpu"`` protocol (~3 min on 2 idle cores).

    Attributes:
        data: ``"generated"`` (:func:`red_green_data` from ``default_rng(seed)``: fresh train/val/test sets per seed)
            or ``"authors"`` (:func:`red_green_authors_data`: the same sets for every seed; validation and similar
            test images are the first training images).
        monitor: what early stopping watches on the validation set: ``"accuracy"`` or ``"loss"``.
        patience: stop after this many consecutive epochs without a strict improvement.
        shuffle: reshuffle the training set every epoch (False: batches in stored order).
        protocol: the name of the preset the settings came from (recorded in the result; see
            :func:`red_green_config`).
        seed_start: the first seed; the run uses seeds ``seed_start .. seed_start + seeds - 1`` (runs over
            disjoint seeds join with :func:`~padkit.lab.experiments.result.merge_results`).
    """

    seeds: int = 3
    epochs: int = 6
    variants: tuple[str, ...] = tuple(RED_GREEN_VARIANTS)
    n_train: int = 2000
    n_val: int = 1000
    n_test: int = 1000
    batch_size: int = 200
    patience: int = 3
    data: str = "generated"
    monitor: str = "accuracy"
    shuffle: bool = True
    protocol: str = "cpu"
    seed_start: int = 0

    def __post_init__(self) -> None:
        check_int(self.seed_start, "seed_start", minimum=0)
        for name in ("seeds", "epochs", "n_train", "n_val", "n_test", "batch_size", "patience"):
            check_int(getattr(self, name), name, minimum=1)
        for i, v in enumerate(self.variants):
            check_choice(v, f"variants[{i}]", tuple(RED_GREEN_VARIANTS))
        check_choice(self.data, "data", RED_GREEN_DATA)
        check_choice(self.monitor, "monitor", MONITORS)
        if not isinstance(self.shuffle, bool):
            raise bad_type("shuffle", self.shuffle, "a bool")
        check_choice(self.protocol, "protocol", tuple(RED_GREEN_PROTOCOLS))


#: Protocol name -> (settings that differ from the :class:`RedGreenConfig` defaults, where they come from).
RED_GREEN_PROTOCOLS: dict[str, tuple[dict[str, Any], str]] = {
    "cpu": ({}, "padkit's CPU defaults: 3 seeds x 6 epochs, fresh generated data per seed"),
    "paper": (
        {
            "seeds": 10,
            "epochs": 50,
            "variants": PAPER_VARIANTS,
            "n_train": 2000,
            "n_val": 1000,
            "n_test": 1000,
            "batch_size": 200,
            # the authors count `patience < 8 -> patience += 1, else stop`: training ends at the 9th consecutive
            # epoch without a lower validation loss, which is patience=9 here
            "patience": 9,
            "data": "authors",
            "monitor": "loss",
            "shuffle": False,
        },
        "Kayhan & van Gemert's script github.com/oskyhn/CNNs-Without-Borders full_conv/Exp2_Red_Green/"
        "red_and_green.py: --n_repeat 10 (torch.manual_seed(0..9)), --epochs 50, --batch_size 200, Adadelta(lr=1, "
        "rho=0.9, eps=1e-6, weight_decay=5e-5), early stopping on validation loss (their patience 8), the best "
        "weights tested, DataLoader without shuffling, data from utils_red_green.gen_box_data (RandomState(1988), "
        "--fluctuation 6: row offsets -4..3 per box)",
    ),
}


def red_green_config(protocol: str = "cpu", **overrides: Any) -> RedGreenConfig:
    """The :class:`RedGreenConfig` of a named protocol (:data:`RED_GREEN_PROTOCOLS`), with ``overrides`` on top.

    Example:
        >>> cfg = red_green_config("paper")
        >>> cfg.seeds, cfg.epochs, cfg.patience, cfg.data, cfg.monitor, cfg.shuffle
        (10, 50, 9, 'authors', 'loss', False)
    """
    check_choice(protocol, "protocol", tuple(RED_GREEN_PROTOCOLS))
    settings = dict(RED_GREEN_PROTOCOLS[protocol][0])
    settings.update(overrides)
    return RedGreenConfig(protocol=protocol, **settings)


def run_red_green(config: RedGreenConfig | None = None, *, progress: bool = True) -> ExperimentResult:
    """Train the Red-Green network for every variant and seed; report similar and dissimilar test accuracy (%)."""
    cfg = config or RedGreenConfig()
    start, cpu_start = time.perf_counter(), time.process_time()
    scores: dict[str, dict[str, list[float]]] = {
        v: {"similar": [], "dissimilar": [], "epochs": [], "epochs_run": []} for v in cfg.variants
    }
    for seed in range(cfg.seed_start, cfg.seed_start + cfg.seeds):
        if cfg.data == "authors":
            (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (
                red_green_authors_data(n) for n in (cfg.n_train, cfg.n_val, cfg.n_test)
            )
        else:
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
                optimizer=lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6, weight_decay=5e-5),
                seed=seed,
                x_val=x_va,
                y_val=y_va,
                patience=cfg.patience,
                monitor=cfg.monitor,
                shuffle=cfg.shuffle,
                desc=f"red-green {variant} seed {seed}",
                progress=progress,
            )
            scores[variant]["similar"].append(accuracy(model, x_te, y_te))
            scores[variant]["dissimilar"].append(accuracy(model, x_dis, y_te))
            scores[variant]["epochs"].append(float(info["best_epoch"]))
            scores[variant]["epochs_run"].append(float(info["epochs_run"]))
    config_json: dict[str, Any] = asdict(cfg)
    config_json["variants"] = {
        v: {"padding": RED_GREEN_VARIANTS[v][0], "mode": RED_GREEN_VARIANTS[v][1]} for v in cfg.variants
    }
    notes = [
        "A network that reads the colour order scores the same on both sets; the gap similar − dissimilar is the "
        "absolute position it learned instead. 'same' pads 1 px each side, 'full' pads k−1 = 2 px.",
    ]
    if cfg.data == "authors":
        notes.append(
            "Authors' data: one fixed set for every seed; the validation and similar test images are the first "
            f"{max(cfg.n_val, cfg.n_test)} training images (their generator reseeds with 1988 for each set), so "
            "'similar' is accuracy on training images. Seeds vary the initial weights only."
        )
    return ExperimentResult(
        name="red-green",
        title="Red-Green location test: test accuracy (%) on similar and dissimilar (shifted ±16 rows) images",
        config=config_json,
        results={v: {k: stat(vals) for k, vals in cols.items()} for v, cols in scores.items()},
        metrics=("similar", "dissimilar", "epochs", "epochs_run"),
        units={"similar": "%", "dissimilar": "%", "epochs": "best epoch", "epochs_run": "trained"},
        notes=tuple(notes),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        env=environment(),
        plot_metrics=("similar", "dissimilar"),
        precision={"epochs": 1, "epochs_run": 1},
        protocol={"name": cfg.protocol, "source": RED_GREEN_PROTOCOLS[cfg.protocol][1]},
        reference=published_reference(cfg.variants) if cfg.protocol == "paper" else {},
        reference_source=PUBLISHED_SOURCE if cfg.protocol == "paper" else "",
    )


def published_reference(variants: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    """:data:`PUBLISHED` as ``{variant: {"similar": %, "dissimilar": %}}`` for the published ones of ``variants``
    (all four when None): the ``reference`` of a paper-protocol result."""
    names = PAPER_VARIANTS if variants is None else tuple(v for v in variants if v in PUBLISHED)
    return {v: {"similar": PUBLISHED[v][0], "dissimilar": PUBLISHED[v][1]} for v in names}
