"""Load a checkpoint as other tools write it into a model: find the state dict, strip the prefix, load strictly.

Handled, with nothing ever unpickled but tensors and plain containers (``torch.load(weights_only=True)``, or
``safetensors``, which holds tensors only):

* a plain ``state_dict`` (``torch.save(model.state_dict(), path)``);
* one nested under a key, at any depth up to 3: Lightning's ``{"state_dict": ...}``, ``{"model": ...}``,
  ``{"model_state_dict": ...}``, ``{"ema": ...}``, timm's ``{"state_dict_ema": ...}``;
* keys with a prefix the model lacks: ``module.`` (``nn.DataParallel``/DDP), ``_orig_mod.`` (``torch.compile``),
  ``model.`` (a Lightning module holding the model), or several of them;
* ``.safetensors`` files.

The one (state dict, prefix) pair whose keys are exactly the model's keys is loaded with ``strict=True``; keys under
other prefixes (a Lightning module's loss or EMA copy) are left out. A file with several such pairs is ambiguous: the
error lists them, and ``PATH#KEY`` picks the state dict stored under ``KEY`` (dotted for nested keys).

Example:
    >>> import torch, tempfile, os
    >>> net = torch.nn.Linear(2, 2)
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.pth")
    >>> torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, path)
    >>> load_weights(torch.nn.Linear(2, 2), path)
    "loaded 'state_dict' from ckpt.pth, prefix 'module.' stripped (2 tensors)"
"""

from __future__ import annotations

import os
import pickle
import re
from typing import Any, Mapping

import torch
from torch import nn

from ._errors import PadkitTypeError, PadkitValueError

__all__ = ["load_weights", "read_checkpoint", "state_dict_candidates"]

#: How deep :func:`state_dict_candidates` looks into nested checkpoints.
MAX_DEPTH = 3


def read_checkpoint(path: str) -> Any:
    """The checkpoint's contents: tensors and plain containers only (``weights_only=True``, or safetensors)."""
    if not os.path.isfile(path):
        raise PadkitValueError(f"weights={path!r}: no such file")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise PadkitValueError(
                f"weights={path!r} is a safetensors file, which needs the safetensors package (pip install safetensors)"
            ) from exc
        try:
            return load_file(path, device="cpu")
        except Exception as exc:
            raise PadkitValueError(f"weights={path!r} could not be read as safetensors: {exc}") from exc
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if ln.strip()]
        why = next((ln for ln in lines if "GLOBAL" in ln or "Unsupported operand" in ln), lines[0] if lines else "")
        raise PadkitValueError(
            f"weights={path!r} was refused: it is not a plain state_dict (padkit loads only tensors and plain "
            f"containers, with weights_only=True: never objects, which could run code; nor non-torch files). "
            f"Details: {why}"
        ) from exc
    except Exception as exc:
        raise PadkitValueError(
            f"weights={path!r} could not be read as a state_dict: {type(exc).__name__}: "
            f"{str(exc) or 'the file is empty or truncated'}"
        ) from exc


def _is_state_dict(obj: object) -> bool:
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def state_dict_candidates(obj: object, where: str = "", depth: int = 0) -> list[tuple[str, Mapping[str, Any]]]:
    """Every ``(dotted key, state dict)`` in a checkpoint: the object itself, or dicts of tensors nested in it."""
    if _is_state_dict(obj):
        return [(where, obj)]  # type: ignore[list-item]
    found: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(obj, Mapping) and depth < MAX_DEPTH:
        for key, value in obj.items():
            if isinstance(value, Mapping):
                found += state_dict_candidates(value, f"{where}.{key}" if where else str(key), depth + 1)
    return found


def _fitting_prefixes(state: Mapping[str, Any], model_keys: set[str]) -> list[str]:
    """Prefixes ``p`` such that the keys of ``state`` starting with ``p``, with ``p`` stripped, are the model's keys."""
    probe = min(model_keys, key=len)
    prefixes = {k[: len(k) - len(probe)] for k in state if k.endswith(probe)}
    fits = []
    for p in sorted(prefixes, key=len):
        if p and not p.endswith("."):
            continue
        if {k[len(p) :] for k in state if k.startswith(p)} == model_keys:
            fits.append(p)
    return fits


def _mismatch(state: Mapping[str, Any], model: nn.Module) -> str:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]

    def some(keys: list[str]) -> str:
        return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")

    parts = [f"{len(missing)} missing ({some(missing)})" if missing else ""]
    parts.append(f"{len(unexpected)} unexpected ({some(unexpected)})" if unexpected else "")
    parts.append(f"{len(shapes)} of another shape ({some(shapes)})" if shapes else "")
    return "; ".join(p for p in parts if p)


def load_weights(model: nn.Module, weights: str | os.PathLike[str]) -> str:
    """Load the checkpoint ``weights`` into ``model`` (strictly) and say in one line what was loaded.

    Args:
        model: the module to load into.
        weights: a path (``.pth``/``.pt``/``.ckpt``/``.bin``: ``torch.save`` format; ``.safetensors``), optionally
            ``PATH#KEY`` to pick the state dict stored under ``KEY`` when the file holds several that fit.

    Returns:
        A line such as ``"loaded 'state_dict' from ckpt.pth, prefix 'module.' stripped (62 tensors)"``.

    Raises:
        PadkitValueError: unreadable or refused file, no state dict that fits the model (with the missing,
            unexpected and mis-shaped keys of the closest one), or several that fit (listing them).
    """
    if not isinstance(weights, (str, os.PathLike)):
        raise PadkitTypeError(f"weights={weights!r} ({type(weights).__name__}): expected a path")
    path, key = os.fspath(weights), None
    if not os.path.isfile(path) and "#" in path:
        path, key = path.rsplit("#", 1)
    found = state_dict_candidates(read_checkpoint(path))
    if key is not None:
        found = [(where, sd) for where, sd in found if where == key]
        if not found:
            raise PadkitValueError(f"weights={os.fspath(weights)!r}: the file holds no state dict under {key!r}")
    if not found:
        raise PadkitValueError(f"weights={path!r}: expected a state_dict (a dict of tensors), found none in the file")
    model_keys = set(model.state_dict())
    fits = [(where, sd, p) for where, sd in found for p in (_fitting_prefixes(sd, model_keys) if model_keys else [""])]
    if not fits:
        where, state = max(found, key=lambda c: len(c[1]))
        raise PadkitValueError(
            f"weights={path!r} do not fit the model: {_mismatch(state, model)}"
            + (f" (state dict {where!r})" if where else "")
        )
    if len(fits) > 1:
        names = "; ".join(f"{w or '<top level>'!r} with prefix {p!r}" for w, _, p in fits)
        raise PadkitValueError(
            f"weights={path!r} holds {len(fits)} state dicts that fit the model: {names}; pick one with PATH#KEY"
        )
    where, state, prefix = fits[0]
    stripped = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        model.load_state_dict(stripped, strict=True)
    except RuntimeError as exc:  # same keys, other shapes
        raise PadkitValueError(f"weights={path!r} do not fit the model: {_mismatch(stripped, model)}") from exc
    what = f"'{where}'" if where else "the state dict"
    line = f"loaded {what} from {os.path.basename(path)}"
    if prefix:
        line += f", prefix {prefix!r} stripped"
    left = len(state) - len(stripped)
    return line + f" ({len(stripped)} tensors" + (f"; {left} under other prefixes left out)" if left else ")")
