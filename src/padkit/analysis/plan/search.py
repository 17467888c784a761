"""The search for the nearest clean input sizes: extra meta forwards, each abandoned as soon as it is settled."""

from __future__ import annotations

import torch
from torch import nn

from ..._errors import PadkitError
from .graph import LayerRecord
from .trace import ModelHooks, trace_at

__all__ = ["cheap_batchnorm", "suggest_sizes"]


def _mark_unclean(rec: LayerRecord, ok: list[bool]) -> None:
    """Set ``ok[a] = False`` for each spatial dim ``a`` that ``rec`` pads unevenly or leaves unread (all: unknown)."""
    if rec.kind == "unknown":
        ok[:] = [False] * len(ok)
        return
    for a, r in enumerate(rec.dims[: len(ok)]):
        if r.pad_before != r.pad_after or r.unread:
            ok[a] = False


def cheap_batchnorm(model: nn.Module) -> None:
    """Turn each eval-mode batch norm with running statistics in ``model`` (a private meta copy) into one multiply.

    On the meta device ``batch_norm`` runs a Python decomposition of about twenty ops, most of a candidate's trace
    time in BN-heavy models. In eval mode it is a per-channel affine map: the same sizes, and to the tracer the same
    kind of op (elementwise, broadcasting a per-channel tensor along dim 1), so the search's answers are unchanged.
    """
    stock = nn.modules.batchnorm._BatchNorm.forward
    for mod in model.modules():
        if (
            isinstance(mod, nn.modules.batchnorm._BatchNorm)
            and type(mod).forward is stock  # a subclass's own forward may do more (pool, pad, crop): keep it
            and not mod.training
            and mod.running_mean is not None
            and not isinstance(mod, torch.jit.ScriptModule)
        ):

            def forward(x: torch.Tensor, channels: int = mod.num_features) -> torch.Tensor:
                # the scale takes the input's dtype: batch norm keeps it (bf16 activations with fp32 statistics)
                scale = torch.empty(channels, device=x.device, dtype=x.dtype)
                return x * scale.view(-1, *([1] * (x.dim() - 2)))

            mod.forward = forward  # type: ignore[method-assign, assignment]


def suggest_sizes(model: nn.Module, size: tuple[int, ...], channels: int, search: int) -> tuple[tuple[int, ...], ...]:
    """Nearest clean size below and above ``size``, per dim, at most ``search`` away.

    Each candidate is one meta forward, abandoned at the first layer that makes every dim still searched for unclean
    (most candidates fail at one of the first strided layers), so the search costs a fraction of full traces.
    ``model`` is the plan's private meta copy; its batch norms are made cheap first (:func:`cheap_batchnorm`).
    Sizes at which the forward fails are skipped.
    Limitation: an abandoned forward does not run the rest of the model's code, so a forward that sets Python state
    and restores it later without ``try``/``finally`` keeps the set value for the next candidates (as after any
    forward that raises).
    """
    cheap_batchnorm(model)
    found: list[tuple[int, ...]] = []
    with ModelHooks(model) as hooks:
        for sign in (-1, 1):
            best: list[int | None] = [None] * len(size)
            for delta in range(1, search + 1):
                trial = tuple(s + sign * delta for s in size)
                if min(trial) < 1:
                    break
                ok = [True] * len(size)

                def stop(rec: LayerRecord, ok: list[bool] = ok, best: list[int | None] = best) -> bool:
                    _mark_unclean(rec, ok)
                    return not any(o and b is None for o, b in zip(ok, best))

                try:
                    trace_at(model, trial, channels, maps=False, stop=stop, hooks=hooks)
                except PadkitError:
                    continue
                for a, clean in enumerate(ok):
                    if clean and best[a] is None:
                        best[a] = trial[a]
                if all(b is not None for b in best):
                    break
            if all(b is not None for b in best):
                found.append(tuple(int(b) for b in best))  # type: ignore[arg-type]
    return tuple(found)
