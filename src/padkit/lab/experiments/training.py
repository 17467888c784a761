"""Training and scoring a classifier: cross-entropy with early stopping on validation accuracy, top-1 accuracy."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import torch
from torch import nn

from ..._validate import check_choice, check_int

__all__ = ["MONITORS", "accuracy", "mean_loss", "train_classifier"]

#: What early stopping watches: validation accuracy (higher is better) or validation cross-entropy (lower is better).
MONITORS: tuple[str, ...] = ("accuracy", "loss")


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy in percent of ``model`` on ``(x, y)`` (eval mode; the model's mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        correct = 0
        for i in range(0, len(x), batch_size):
            correct += int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    finally:
        model.train(was_training)
    return 100.0 * correct / max(len(x), 1)


@torch.no_grad()
def mean_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Mean cross-entropy of ``model`` on ``(x, y)`` (eval mode; the model's mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        total = 0.0
        for i in range(0, len(x), batch_size):
            logits = model(x[i : i + batch_size])
            total += float(nn.functional.cross_entropy(logits, y[i : i + batch_size], reduction="sum"))
    finally:
        model.train(was_training)
    return total / max(len(x), 1)


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
    seed: int,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    patience: int | None = None,
    monitor: str = "accuracy",
    shuffle: bool = True,
    desc: str = "train",
    progress: bool = True,
) -> dict[str, Any]:
    """Train with cross-entropy, keeping the weights of the best validation epoch (early stopping by ``patience``).

    ``monitor`` picks what "best" means: the highest validation accuracy or the lowest validation cross-entropy
    (strict improvement either way). Training stops after ``patience`` consecutive epochs without improvement.
    ``shuffle=False`` visits the training set in its stored order every epoch (a ``DataLoader`` without shuffling).

    Returns:
        ``{"epochs_run", "best_epoch", "best_val", "seconds"}`` (``best_val``: accuracy in % or mean loss, as
        monitored); ``model`` holds the best weights on return.
    """
    check_int(epochs, "epochs", minimum=1)
    check_choice(monitor, "monitor", MONITORS)
    from tqdm.auto import tqdm

    opt = optimizer(model.parameters())
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    sign = 1.0 if monitor == "accuracy" else -1.0  # score = sign * value; higher score is better
    best_score, best_val, best_epoch, best_state = -float("inf"), float("nan"), 0, None
    start = time.perf_counter()
    epoch = 0
    bar = tqdm(range(epochs), desc=desc, leave=False, disable=not progress, dynamic_ncols=True)
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(x), generator=gen) if shuffle else torch.arange(len(x))
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        if x_val is not None and y_val is not None:
            val = accuracy(model, x_val, y_val) if monitor == "accuracy" else mean_loss(model, x_val, y_val)
            bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{val:.4g}")
            if sign * val > best_score:
                best_score, best_val, best_epoch = sign * val, val, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif patience is not None and epoch - best_epoch >= patience:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return {
        "epochs_run": epoch + 1,
        "best_epoch": best_epoch + 1,
        "best_val": best_val,
        "seconds": time.perf_counter() - start,
    }
