"""The one cache of ``padkit.nn``: a small bounded LRU map for tensors made from shapes alone.

Index tensors of the border correction and partial-convolution ratio maps depend only on integers (sizes, kernel,
stride, padding), a device and a dtype, so they are made once per key and reused by every later call. Entries are made
outside inference mode, so a tensor first built under ``torch.inference_mode()`` (a warm-up, a validation pass) can
still be saved for backward by a later training step. While tracing (``torch.compile``, ``torch.jit.trace``, the meta
device of ``padkit.plan``) nothing is looked up or stored: tracers hand out fake or proxy tensors.

Example:
    >>> import torch
    >>> cache = TensorCache(2)
    >>> a = cache.get("k", lambda: torch.arange(3))
    >>> cache.get("k", lambda: torch.zeros(3)) is a
    True
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Callable, Generic, Hashable, Iterator, TypeVar

import torch
from torch import Tensor

__all__ = ["TensorCache", "cacheable", "made_for_cache"]

V = TypeVar("V")


def made_for_cache() -> contextlib.AbstractContextManager[Any]:
    """Where tensors meant for a cache are made: outside inference mode, except while compiling (dynamo cannot enter
    the mode)."""
    return contextlib.nullcontext() if torch.compiler.is_compiling() else torch.inference_mode(False)


def cacheable(t: Tensor) -> bool:
    """Whether ``t`` is a real tensor made outside tracing, with data, usable for backward later."""
    return (
        type(t) is Tensor
        and not torch.compiler.is_compiling()
        and not torch.jit.is_tracing()
        and t.device.type != "meta"  # no data to read (padkit.plan traces on the meta device)
        and not t.is_inference()
    )


def _tensors(value: object) -> Iterator[Tensor]:
    for item in value if isinstance(value, tuple) else (value,):
        if isinstance(item, Tensor):
            yield item


class TensorCache(Generic[V]):
    """A map ``key -> value`` holding at most ``maxsize`` entries, the least recently used dropped first.

    A value is a tensor or a tuple holding tensors (and plain Python values); it is stored only when every tensor in it
    is :func:`cacheable`. Cached tensors are shared: callers only read them.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value of ``key``, made by ``make()`` (outside inference mode) when it is not cached yet."""
        if not torch.compiler.is_compiling():
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
        with made_for_cache():
            value = make()
        if all(cacheable(t) for t in _tensors(value)):
            self._entries[key] = value
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return value

    def values(self) -> list[V]:
        """The cached values, least recently used first."""
        return list(self._entries.values())

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
