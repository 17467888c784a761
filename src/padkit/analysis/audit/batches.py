"""The audit's ``data`` argument as a stream of batches ``(N, C, *spatial)``, each with its global index.

``data`` is a Python value: a ``(N, C, H, W)`` tensor (``(N, C, D, H, W)`` for a 3-D model, ``(N, C, L)`` for a 1-D
one), a map-style ``Dataset`` of images (or ``(image, ...)`` items), a ``DataLoader`` or any iterable of batches /
images, or the name of one of :mod:`padkit.data`'s sources (``"builtin"``, ``"synthetic:KIND"``, a folder), which
:func:`padkit.data.load_data` builds with the model's channel count and rank.
Batches are produced lazily: ``(first_global_index, load)`` pairs, so a process of a distributed audit loads only
the batches it owns.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ..._errors import PadkitTypeError, PadkitValueError
from ..._validate import bad_type, bad_value
from .settings import AuditSettings, Normalize

__all__ = ["DEFAULT_SOURCE_IMAGES", "Batches", "Prepare", "global_batches", "image_source"]

#: Number of images of a named source when ``images`` is not given.
DEFAULT_SOURCE_IMAGES = 64

#: ``(first_global_index, load)`` per batch; ``load()`` materialises the ``(N, C, *spatial)`` batch.
Batches = Iterator[tuple[int, Callable[[], torch.Tensor]]]

_DICT_KEYS = ("image", "images", "input", "pixel_values", "x")


def image_source(data: Any, settings: AuditSettings) -> tuple[Any, tuple[int, ...] | None]:
    """``data`` with a named source built, and the spatial size the data must have (None: any one size).

    A named source is built at ``input_size``, else the size the model declares, else the rank's default
    (:meth:`~padkit.analysis.audit.inputs.ModelInput.default_size`), with the channels the model reads.
    """
    from ...data import load_data

    size = settings.input_size
    if not isinstance(data, str):
        return data, size
    if size is None:
        size = settings.model_input.default_size()
    n = DEFAULT_SOURCE_IMAGES if settings.images is None else settings.images
    return load_data(data, n, size, seed=settings.seed, channels=settings.channels, rank=settings.rank), size


def _first_tensor(item: Any, what: str) -> torch.Tensor:
    if isinstance(item, torch.Tensor):
        return item
    if isinstance(item, (tuple, list)) and item and isinstance(item[0], torch.Tensor):
        return item[0]
    if isinstance(item, dict):
        for key in _DICT_KEYS:
            if isinstance(item.get(key), torch.Tensor):
                return item[key]
    raise PadkitTypeError(
        f"data: {what} of type {type(item).__name__}: expected a tensor, a (tensor, ...) tuple or a dict with an "
        "'image' tensor"
    )


def _slice(data: torch.Tensor, a: int, b: int) -> torch.Tensor:
    return data[a:b]


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


_LAYOUTS = {1: "C, L", 2: "C, H, W", 3: "C, D, H, W"}


def _stack_items(data: Any, rank: int, a: int, b: int) -> torch.Tensor:
    items = [_first_tensor(data[i], "an item") for i in range(a, b)]
    if any(t.ndim != rank + 1 for t in items):
        bad = next(t for t in items if t.ndim != rank + 1)
        raise PadkitValueError(f"data: an item of shape {tuple(bad.shape)}: expected ({_LAYOUTS[rank]}) items")
    return torch.stack(items)


def _ranges(n: int, batch_size: int, load: Callable[[int, int], torch.Tensor]) -> Batches:
    for start in range(0, n, batch_size):
        yield start, functools.partial(load, start, min(start + batch_size, n))


def global_batches(data: Any, batch_size: int, limit: int | None, rank: int = 2) -> Batches:
    """Batches of at most ``batch_size`` images (the first ``limit`` images; None: all) and their global index.

    ``rank``: the spatial rank of the model's input (batches are ``(N, C, *spatial)`` with ``rank`` spatial axes).
    """
    if isinstance(data, torch.Tensor):
        if data.ndim != rank + 2:
            raise PadkitValueError(
                f"data: a tensor of shape {tuple(data.shape)}: expected (N, {_LAYOUTS[rank]}) for a {rank}-D model"
            )
        n = data.shape[0] if limit is None else min(limit, data.shape[0])
        return _ranges(n, batch_size, functools.partial(_slice, data))
    if (
        isinstance(data, Dataset)
        and not isinstance(data, torch.utils.data.IterableDataset)
        and hasattr(data, "__len__")
    ):
        n = len(data)
        n = n if limit is None else min(limit, n)
        return _ranges(n, batch_size, functools.partial(_stack_items, data, rank))
    if not isinstance(data, (Iterable, DataLoader)):
        raise bad_type(
            "data",
            data,
            f"a source name, a (N, {_LAYOUTS[rank]}) tensor, a Dataset, a DataLoader or an iterable of tensors",
        )
    return _iterable_batches(data, batch_size, limit, rank)


def _iterable_batches(data: Iterable[Any], batch_size: int, limit: int | None, rank: int) -> Batches:
    """Batches of an iterable: batches pass as they come, single items are stacked ``batch_size`` at a time."""
    seen = 0
    pending: list[torch.Tensor] = []

    def flush() -> torch.Tensor:
        out = torch.stack(pending)
        pending.clear()
        return out

    for item in data:
        t = _first_tensor(item, "a batch")
        if t.ndim == rank + 1:
            pending.append(t)
            if len(pending) < batch_size and (limit is None or seen + len(pending) < limit):
                continue
            t = flush()
        elif t.ndim != rank + 2:
            layout = _LAYOUTS[rank]
            raise PadkitValueError(
                f"data: a batch of shape {tuple(t.shape)}: expected (N, {layout}) batches or ({layout}) items"
            )
        if limit is not None:
            t = t[: max(limit - seen, 0)]
        if t.shape[0] == 0:
            break
        yield seen, functools.partial(_identity, t)
        seen += t.shape[0]
        if limit is not None and seen >= limit:
            return
    if pending:
        t = flush()
        if limit is not None:
            t = t[: max(limit - seen, 0)]
        if t.shape[0]:
            yield seen, functools.partial(_identity, t)


class Prepare:
    """A batch as the model sees it: on ``device``, floating point, normalised with ``(means, stds)`` if given."""

    def __init__(self, normalize: Normalize | None, label: str, device: torch.device) -> None:
        self.device = device
        self.label = label
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None
        if normalize is not None:
            self.mean = torch.tensor(normalize[0], dtype=torch.float32, device=device)[None, :]
            self.std = torch.tensor(normalize[1], dtype=torch.float32, device=device)[None, :]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        if not x.is_floating_point():
            x = x.float()
        if self.mean is not None and self.std is not None:
            if self.mean.shape[1] not in (1, x.shape[1]):
                raise bad_value(
                    "normalize",
                    self.label,
                    ("1 value" if x.shape[1] == 1 else f"1 or {x.shape[1]} values")
                    + f" per statistic (the data has {x.shape[1]} channels, it has {self.mean.shape[1]})",
                )
            per_channel = (1, -1, *[1] * (x.ndim - 2))
            x = (x - self.mean.to(x.dtype).reshape(per_channel)) / self.std.to(x.dtype).reshape(per_channel)
        return x
