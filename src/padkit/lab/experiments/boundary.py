"""Heat-equation surrogates: the right padding depends on what the data means at the boundary.

The 2-D heat equation ``u_t = Δu`` is simulated on a 32x32 grid with an explicit 5-point scheme
(``u <- u + r Δu``, ``r = 0.2``) under three boundary conditions, each realised by a ghost-cell layer:
Dirichlet-0 (the value outside is 0), zero-flux Neumann (the ghost equals the edge cell, so no heat leaves) and
periodic (the ghost is the opposite edge). A small residual padkit CNN per padding mode learns to advance the field
by 3 steps; its error in the 3-pixel band along the border is compared with its error in the interior. Padding is
the network's ghost cell: zeros match Dirichlet-0, replicate matches zero flux, circular matches periodic.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._validate import check_choice, check_int
from ..machine import environment
from .layers import conv2d
from .result import ExperimentResult
from .stats import stat

__all__ = [
    "BOUNDARY_CONDITIONS",
    "BOUNDARY_MODES",
    "BoundaryConfig",
    "HeatSurrogate",
    "heat_initial_conditions",
    "heat_step",
    "run_boundary",
]

#: boundary condition -> np.pad mode of its ghost cells.
BOUNDARY_CONDITIONS: dict[str, Literal["constant", "edge", "wrap"]] = {
    "dirichlet-0": "constant",
    "neumann": "edge",
    "periodic": "wrap",
}
#: Padding modes of the surrogate (``symmetric`` is identical to ``replicate`` at 1-pixel padding, so left out).
BOUNDARY_MODES: tuple[str, ...] = ("zeros", "replicate", "reflect", "circular", "partial")
_R = 0.2  # dt / dx^2, stable below 0.25
_GRID = 32
_BAND = 3


def heat_step(u: np.ndarray, bc: str, steps: int = 1, r: float = _R) -> np.ndarray:
    """Advance ``u`` ``(..., H, W)`` by ``steps`` explicit heat-equation steps with ghost cells for ``bc``."""
    check_choice(bc, "bc", tuple(BOUNDARY_CONDITIONS))
    u = np.asarray(u, dtype=np.float64)
    width = [(0, 0)] * (u.ndim - 2) + [(1, 1), (1, 1)]
    for _ in range(steps):
        g = np.pad(u, width, mode=BOUNDARY_CONDITIONS[bc])
        lap = g[..., :-2, 1:-1] + g[..., 2:, 1:-1] + g[..., 1:-1, :-2] + g[..., 1:-1, 2:] - 4 * u
        u = u + r * lap
    return u


def heat_initial_conditions(n: int, rng: np.random.Generator, size: int = _GRID) -> np.ndarray:
    """``(n, size, size)`` fields: sums of 3 Gaussian bumps (sigma 1.5–4 px) centred anywhere, borders included."""
    check_int(n, "n", minimum=1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    u = np.zeros((n, size, size))
    for i in range(n):
        for _ in range(3):
            cy, cx = rng.uniform(-1, size, size=2)
            sigma = rng.uniform(1.5, 4.0)
            u[i] += rng.uniform(0.5, 1.5) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return u


class HeatSurrogate(nn.Module):
    """Residual CNN ``u + f(u)``: three bias-free padkit 3x3 convs (1 -> 16 -> 16 -> 1) with ``mode`` padding and tanh.

    Without biases (and with ``tanh(0) = 0``) a zero field stays zero in every layer, so zero padding means
    "the field outside is 0" in the hidden layers too, as Dirichlet-0 ghost cells do.
    """

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.net = nn.Sequential(
            conv2d(1, 16, 3, padding=1, mode=mode, bias=False),
            nn.Tanh(),
            conv2d(16, 16, 3, padding=1, mode=mode, bias=False),
            nn.Tanh(),
            conv2d(16, 1, 3, padding=1, mode=mode, bias=False),
        )

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u + self.net(u)


def _pairs(u0: np.ndarray, bc: str, k: int, n_pairs: int) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    u = u0
    for _ in range(n_pairs):
        nxt = heat_step(u, bc, k)
        xs.append(u)
        ys.append(nxt)
        u = nxt
    x = torch.from_numpy(np.concatenate(xs)).float().unsqueeze(1)
    y = torch.from_numpy(np.concatenate(ys)).float().unsqueeze(1)
    return x, y


def _band_mask(size: int, band: int) -> torch.Tensor:
    idx = torch.arange(size)
    d = torch.minimum(idx, size - 1 - idx)
    return (torch.minimum(d[:, None], d[None, :]) < band).view(1, 1, size, size)


@dataclass(frozen=True)
class BoundaryConfig:
    """Settings of :func:`run_boundary`."""

    seeds: int = 3
    epochs: int = 10
    modes: tuple[str, ...] = BOUNDARY_MODES
    conditions: tuple[str, ...] = tuple(BOUNDARY_CONDITIONS)
    n_train: int = 60
    n_test: int = 40
    k: int = 3
    pairs_per_field: int = 10
    rollout: int = 8

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs", "n_train", "n_test", "k", "pairs_per_field", "rollout"):
            check_int(getattr(self, name), name, minimum=1)
        for i, m in enumerate(self.modes):
            check_choice(m, f"modes[{i}]", BOUNDARY_MODES)
        for i, c in enumerate(self.conditions):
            check_choice(c, f"conditions[{i}]", tuple(BOUNDARY_CONDITIONS))


def run_boundary(config: BoundaryConfig | None = None, *, progress: bool = True) -> ExperimentResult:
    """Train a surrogate per boundary condition, padding mode and seed; report border and interior RMSE (x1e-3)."""
    from tqdm.auto import tqdm

    cfg = config or BoundaryConfig()
    start, cpu_start = time.perf_counter(), time.process_time()
    band = _band_mask(_GRID, _BAND)
    metrics = ("border", "interior", "rollout border", "rollout interior")
    scores: dict[str, dict[str, list[float]]] = {
        f"{c}/{m}": {k: [] for k in metrics} for c in cfg.conditions for m in cfg.modes
    }

    def rmse(pred: torch.Tensor, tgt: torch.Tensor, mask: torch.Tensor) -> float:
        err = ((pred - tgt) ** 2).masked_select(mask.expand_as(pred))
        return 1e3 * float(err.mean().sqrt())

    for seed in range(cfg.seeds):
        rng = np.random.default_rng(seed)
        u_tr = heat_initial_conditions(cfg.n_train, rng)
        u_te = heat_initial_conditions(cfg.n_test, rng)
        for ci, bc in enumerate(cfg.conditions):
            x_tr, y_tr = _pairs(u_tr, bc, cfg.k, cfg.pairs_per_field)
            x_te, y_te = _pairs(u_te, bc, cfg.k, cfg.pairs_per_field)
            u_roll = torch.from_numpy(heat_step(u_te, bc, cfg.k * cfg.rollout)).float().unsqueeze(1)
            for mode in cfg.modes:
                torch.manual_seed(seed)
                model = HeatSurrogate(mode)
                opt = torch.optim.Adam(model.parameters(), lr=3e-3)
                sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs)
                gen = torch.Generator().manual_seed(seed * 100 + ci)
                for _ in tqdm(
                    range(cfg.epochs), desc=f"boundary {bc} {mode} seed {seed}", leave=False, disable=not progress
                ):
                    perm = torch.randperm(len(x_tr), generator=gen)
                    for i in range(0, len(x_tr), 100):
                        idx = perm[i : i + 100]
                        opt.zero_grad(set_to_none=True)
                        F.mse_loss(model(x_tr[idx]), y_tr[idx]).backward()
                        opt.step()
                    sched.step()
                model.eval()
                with torch.no_grad():
                    pred = model(x_te)
                    roll = torch.from_numpy(u_te).float().unsqueeze(1)
                    for _ in range(cfg.rollout):
                        roll = model(roll)
                row = scores[f"{bc}/{mode}"]
                row["border"].append(rmse(pred, y_te, band))
                row["interior"].append(rmse(pred, y_te, ~band))
                row["rollout border"].append(rmse(roll, u_roll, band))
                row["rollout interior"].append(rmse(roll, u_roll, ~band))
    return ExperimentResult(
        name="boundary",
        title="Heat-equation surrogate: RMSE (x1e-3) near the border vs interior, per boundary condition and padding",
        config=asdict(cfg),
        results={row: {m: stat(v) for m, v in cols.items()} for row, cols in scores.items()},
        metrics=metrics,
        notes=(
            f"border = the {_BAND}-pixel band along the edge of the 32x32 grid; one surrogate step = {cfg.k} solver "
            f"steps; rollout = {cfg.rollout} surrogate steps from the initial field. Lower is better.",
        ),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        env=environment(),
        plot_metrics=("border", "interior", "rollout border"),
        precision=dict.fromkeys(metrics, 2),
    )
