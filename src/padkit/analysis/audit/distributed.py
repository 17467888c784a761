"""The audit under ``torch.distributed``: process-group set-up for ``torchrun`` and the reductions of the statistics.

Each process audits its share of the batches; the statistics are then summed (plain sums) or merged with Chan's
formula (:func:`all_reduce_moments`) over the default process group, so every process ends with the same totals.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .moments import RunningMoments

__all__ = [
    "all_reduce_count",
    "all_reduce_moments",
    "all_reduce_sum",
    "broadcast_parameters",
    "init_from_env",
    "is_distributed",
    "process_group",
]


def is_distributed() -> bool:
    """Whether this process belongs to an initialised default process group."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def process_group() -> tuple[int, int]:
    """``(rank, world_size)`` of this process in the default group; ``(0, 1)`` when none is initialised."""
    import torch.distributed as dist

    if is_distributed():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: str | None) -> tuple[bool, str | None]:
    """Start the default process group when launched by ``torchrun`` (``WORLD_SIZE > 1``).

    nccl with one GPU per process (``cuda:LOCAL_RANK``) when CUDA is wanted (``device`` cuda or None with CUDA
    available), gloo otherwise. Returns ``(started_here, device)``.
    """
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False, device
    wants_cuda = (device is None and torch.cuda.is_available()) or (device or "").startswith("cuda")
    if wants_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return True, f"cuda:{local}"
    dist.init_process_group("gloo")
    return True, device or "cpu"


def broadcast_parameters(model: nn.Module) -> None:
    """Give every process rank 0's parameters and buffers (in place)."""
    import torch.distributed as dist

    for tensor in (*model.parameters(), *model.buffers()):
        dist.broadcast(tensor.data, src=0)


def all_reduce_sum(*tensors: torch.Tensor) -> None:
    """Sum each tensor over all processes (in place)."""
    import torch.distributed as dist

    for t in tensors:
        dist.all_reduce(t)


def all_reduce_count(n: int, device: torch.device) -> int:
    """The sum of ``n`` over all processes."""
    t = torch.tensor([float(n)], dtype=torch.float64, device=device)
    all_reduce_sum(t)
    return int(t.item())


def all_reduce_moments(m: RunningMoments) -> None:
    """Merge running moments over all processes (in place): counts and ``count * mean`` summed, then each
    process's ``M2`` moved to the global mean (``M2 + n (mean - global mean)^2``) and summed."""
    total = m.count.clone()
    weighted = m.count * m.mean
    all_reduce_sum(total, weighted)
    gmean = weighted / total.clamp(min=1.0)
    m2 = m.m2 + m.count * (m.mean - gmean).square()
    all_reduce_sum(m2)
    m.count, m.mean, m.m2 = total, gmean, m2
    m.nonfinite = all_reduce_count(m.nonfinite, m.count.device)
