"""Islam, Jia & Bruce's position readout (ICLR 2020, "How much position information do CNNs encode?").

A backbone's features, frozen, are resized to one grid and concatenated; a small readout (one 3x3 convolution
*without* padding, so the readout itself cannot see the border; fitted in closed form by ridge least squares)
is trained to predict position maps: a horizontal
gradient, a vertical gradient and a centred Gaussian. If the readout succeeds on random crops of photographs, the
features carry absolute position, and the only source of it is the padding. Metrics, on held-out images: SPC,
the Spearman correlation of prediction and target over the positions of one image (averaged over images; a
constant prediction counts as 0), and MAE against the [0, 1] map.

The backbone is a 4-layer padkit CNN, once at random initialisation and once briefly trained (classifying which
photograph a patch comes from).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._errors import PadkitValueError
from ..._validate import bad_value, check_choice, check_int
from ..machine import environment
from .datasets import photo_patches
from .layers import conv2d
from .result import ExperimentResult
from .stats import stat
from .training import train_classifier

__all__ = [
    "POSITION_MODES",
    "PositionConfig",
    "PositionNet",
    "position_data",
    "position_targets",
    "readout_scores",
    "run_position",
    "spearman_per_image",
]

#: Padding variants compared: ``"none"`` is a valid (unpadded) backbone, the rest pad 1 px with that mode.
POSITION_MODES: tuple[str, ...] = ("none", "zeros", "reflect", "replicate", "circular", "partial")
# ``symmetric`` is left out: with 1-pixel padding it is identical to ``replicate``.
TARGETS: tuple[str, ...] = ("H", "V", "G")
_GRID = 16


def position_targets(size: int) -> torch.Tensor:
    """Position maps on a ``size x size`` grid, values in [0, 1].

    Returns:
        ``(3, size, size)``: horizontal gradient ``x / (size-1)``, vertical gradient ``y / (size-1)``, and a Gaussian
        ``exp(-((x-c)^2 + (y-c)^2) / (2 (size/4)^2))`` centred at ``c = (size-1)/2``.
    """
    check_int(size, "size", minimum=2)
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    c = (size - 1) / 2
    sigma = size / 4
    return torch.stack([xx / (size - 1), yy / (size - 1), torch.exp(-((xx - c) ** 2 + (yy - c) ** 2) / (2 * sigma**2))])


def _ranks(a: torch.Tensor) -> torch.Tensor:
    """Average ranks (ties share the mean rank) along the last dim of a 2-D tensor."""
    n, m = a.shape
    order = torch.argsort(a, dim=1, stable=True)
    sorted_a = torch.gather(a, 1, order)
    ranks = torch.empty_like(a, dtype=torch.float64)
    for i in range(n):
        vals = sorted_a[i]
        new_group = torch.ones(m, dtype=torch.bool)
        new_group[1:] = vals[1:] != vals[:-1]
        group = torch.cumsum(new_group.long(), 0) - 1
        starts = torch.nonzero(new_group).flatten().double()
        ends = torch.cat([starts[1:], torch.tensor([float(m)], dtype=torch.float64)])
        mean_rank = (starts + ends - 1) / 2  # 0-based average rank of each tie group
        ranks[i, order[i]] = mean_rank[group]
    return ranks


def spearman_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation between ``pred`` and ``target`` over the positions of each image.

    Args:
        pred: ``(N, H, W)`` predictions.
        target: ``(H, W)`` or ``(N, H, W)`` target maps.

    Returns:
        ``(N,)`` float64 correlations; 0 where either side is constant over the image (correlation undefined).
    """
    if pred.ndim != 3:
        raise bad_value("pred", f"<tensor of shape {tuple(pred.shape)}>", "a tensor of shape (N, H, W)")
    target = target.expand_as(pred)
    rp = _ranks(pred.reshape(len(pred), -1).double())
    rt = _ranks(target.reshape(len(pred), -1).double())
    rp = rp - rp.mean(1, keepdim=True)
    rt = rt - rt.mean(1, keepdim=True)
    den = torch.sqrt((rp**2).sum(1) * (rt**2).sum(1))
    num = (rp * rt).sum(1)
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.zeros_like(num))


class PositionNet(nn.Module):
    """4-layer padkit CNN (16 channels each, strides 1, 2, 2, 1) with a linear head for brief training."""

    def __init__(self, mode: str, n_classes: int = 6) -> None:
        super().__init__()
        padding, pad_mode = (0, "zeros") if mode == "none" else (1, mode)
        chans, strides = (3, 16, 16, 16, 16), (1, 2, 2, 1)
        self.stages = nn.ModuleList(
            nn.Sequential(conv2d(ci, co, 3, stride=s, padding=padding, mode=pad_mode), nn.ReLU())
            for ci, co, s in zip(chans[:-1], chans[1:], strides)
        )
        self.head = nn.Linear(chans[-1], n_classes)

    def features(self, x: torch.Tensor, grid: int = _GRID) -> torch.Tensor:
        """All stages' outputs resized to ``grid x grid`` and concatenated: ``(N, 64, grid, grid)``."""
        outs = []
        for stage in self.stages:
            x = stage(x)
            if x.shape[-1] >= grid:
                outs.append(F.interpolate(x, size=(grid, grid), mode="area"))
            else:
                outs.append(F.interpolate(x, size=(grid, grid), mode="bilinear", align_corners=False))
        return torch.cat(outs, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return self.head(x.mean(dim=(-2, -1)))


@torch.no_grad()
def _fit_readout(feats: torch.Tensor, targets: torch.Tensor, ridge: float = 1e-3) -> nn.Conv2d:
    """Ridge least-squares fit of an unpadded 3x3 convolution from ``feats`` (N, C, G, G) to ``targets`` (T, G, G).

    A 3x3 convolution is linear in its weights, so the readout has a closed form: the minimiser of the MSE that
    Islam et al. reach by gradient descent, plus a small ridge term (``ridge`` times the mean diagonal of the Gram
    matrix) that keeps the solve well posed when feature channels are collinear.
    """
    n, c = feats.shape[:2]
    cols = F.unfold(feats.detach().double(), 3)  # (N, C*9, (G-2)^2)
    x = cols.transpose(1, 2).reshape(-1, c * 9)
    x = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    y = targets.detach()[:, 1:-1, 1:-1].reshape(len(targets), -1).t().repeat(n, 1).double()  # (N*(G-2)^2, T)
    gram = x.t() @ x
    lam = ridge * float(torch.diagonal(gram).mean())
    w = torch.linalg.solve(gram + lam * torch.eye(len(gram), dtype=torch.float64), x.t() @ y).float()
    readout = nn.Conv2d(c, len(targets), 3, padding=0, bias=True)
    readout.weight.copy_(w[:-1].t().reshape(len(targets), c, 3, 3))
    bias = readout.bias
    if bias is None:  # pragma: no cover - bias=True above
        raise PadkitValueError("readout has no bias")
    bias.copy_(w[-1])
    return readout


@dataclass(frozen=True)
class PositionConfig:
    """Settings of :func:`run_position`."""

    seeds: int = 3
    epochs: int = 2
    modes: tuple[str, ...] = POSITION_MODES
    n_train: int = 1000
    n_readout: int = 200
    n_test: int = 200
    size: int = 32

    def __post_init__(self) -> None:
        for name in ("seeds", "n_train", "n_readout", "n_test"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.epochs, "epochs", minimum=0)
        check_int(self.size, "size", minimum=16)
        for i, m in enumerate(self.modes):
            check_choice(m, f"modes[{i}]", POSITION_MODES)


def position_data(cfg: PositionConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The photograph crops of one seed, standardised by the training set's channel statistics.

    Returns:
        ``(x_train, y_train, x_readout, x_test)``: ``cfg.n_train`` labelled crops for training the backbone,
        ``cfg.n_readout`` crops to fit the readout on and ``cfg.n_test`` crops to score it on.
    """
    rng = np.random.default_rng(seed)
    x_tr, y_tr = photo_patches(cfg.n_train, cfg.size, rng)
    x_ro, _ = photo_patches(cfg.n_readout, cfg.size, rng)
    x_te, _ = photo_patches(cfg.n_test, cfg.size, rng)
    mean = x_tr.mean(dim=(0, 2, 3), keepdim=True)
    std = x_tr.std(dim=(0, 2, 3), keepdim=True)
    x_tr, x_ro, x_te = ((x - mean) / std for x in (x_tr, x_ro, x_te))
    return x_tr, y_tr, x_ro, x_te


def readout_scores(net: PositionNet, x_readout: torch.Tensor, x_test: torch.Tensor) -> dict[str, float]:
    """Fit the position readout on ``net``'s features of ``x_readout`` and score it on ``x_test``.

    Returns:
        ``{"SPC H", "SPC V", "SPC G", "MAE H", "MAE V", "MAE G"}``: mean per-image Spearman correlation and mean
        absolute error of each target map (``net`` is left in eval mode).
    """
    targets = position_targets(_GRID)
    inner = targets[:, 1:-1, 1:-1]
    net.eval()
    with torch.no_grad():
        f_ro, f_te = net.features(x_readout), net.features(x_test)
        scale = f_ro.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        shift = f_ro.mean(dim=(0, 2, 3), keepdim=True)
        f_ro, f_te = (f_ro - shift) / scale, (f_te - shift) / scale
    readout = _fit_readout(f_ro, targets)
    with torch.no_grad():
        pred = readout(f_te)
    out: dict[str, float] = {}
    for ti, t in enumerate(TARGETS):
        out[f"SPC {t}"] = float(spearman_per_image(pred[:, ti], inner[ti]).mean())
    for ti, t in enumerate(TARGETS):
        out[f"MAE {t}"] = float((pred[:, ti] - inner[ti]).abs().mean())
    return out


def run_position(config: PositionConfig | None = None, *, progress: bool = True) -> ExperimentResult:
    """Measure position read-out (SPC, MAE) per padding mode for random-init and briefly trained backbones."""
    cfg = config or PositionConfig()
    start, cpu_start = time.perf_counter(), time.process_time()
    backbones = ("random-init", "trained") if cfg.epochs > 0 else ("random-init",)
    scores: dict[str, dict[str, list[float]]] = {
        f"{b}/{m}": {f"{k} {t}": [] for k in ("SPC", "MAE") for t in TARGETS} for b in backbones for m in cfg.modes
    }
    for seed in range(cfg.seeds):
        x_tr, y_tr, x_ro, x_te = position_data(cfg, seed)
        for mode in cfg.modes:
            torch.manual_seed(seed)
            net = PositionNet(mode)
            for backbone in backbones:
                if backbone == "trained":
                    train_classifier(
                        net,
                        x_tr,
                        y_tr,
                        epochs=cfg.epochs,
                        batch_size=100,
                        optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
                        seed=seed,
                        desc=f"position {mode} seed {seed}",
                        progress=progress,
                    )
                row = scores[f"{backbone}/{mode}"]
                for k, v in readout_scores(net, x_ro, x_te).items():
                    row[k].append(v)
    metrics = tuple(f"{k} {t}" for k in ("SPC", "MAE") for t in TARGETS)
    return ExperimentResult(
        name="position",
        title="Position read-out from frozen features (Islam et al.): SPC ↑ = more position information",
        config=asdict(cfg),
        results={row: {m: stat(v) for m, v in cols.items()} for row, cols in scores.items()},
        metrics=metrics,
        notes=(
            "H / V = horizontal / vertical gradient target, G = centred Gaussian. Inputs are random 32x32 crops of "
            "photographs, so the image content carries no position; 'none' = unpadded (valid) backbone.",
        ),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        env=environment(),
        plot_metrics=("SPC H", "SPC G", "MAE G"),
        precision=dict.fromkeys(metrics, 2),
    )
