"""Scoped, reversible conversion: ``with padkit.padding(model, mode): ...`` converts in place and restores on exit.

The model object and every module that is not a padded layer stay where they are (a pipeline that holds ``model``,
``model.decoder`` or an optimizer keeps working). The padded layers are replaced by :mod:`padkit.nn` layers that share
their parameter objects, so whatever trains inside the scope trains the original layers. On exit, also on an
exception, the original layer objects go back into their parents (``model.conv1 is old_conv1``) with the training
mode their replacements had; their hooks were never touched. Scopes nest: an inner scope converts the layers the outer
scope put in, and restores those on exit.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from padkit import padding
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 5, padding=2))
    >>> first = net[0]
    >>> with padding(net, "circular", kernel_size=3) as scope:
    ...     print(type(net[0]).__name__, net[0].padding_mode, type(net[2]).__name__)
    ...     print(scope.report.format())
    PadConv2d circular Conv2d
    0: Conv2d(zeros) -> PadConv2d(circular)
    1 layer(s) converted to circular, 0 skipped
    >>> net[0] is first
    True
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Union

from torch import nn

from ._errors import PadkitValueError
from ._validate import bad_type, bad_value, is_int
from .conversion import ConversionReport, Filter, _check_filter, convert_report
from .layers import padded_layers

__all__ = ["PaddingScope", "padding"]

#: ``kernel_size=`` filter: an int (square/cubic kernels), a tuple of ints (that exact kernel), or a list/set of them.
KernelFilter = Union[int, tuple[int, ...], Collection[Union[int, tuple[int, ...]]], None]

_KERNEL_ITEMS = "a positive int, a tuple of positive ints, or a list/set of them"


@dataclass(frozen=True)
class _Slot:
    """One replaced child: ``parent.<name>`` held ``original`` and holds ``replacement`` inside the scope."""

    parent: nn.Module
    name: str
    original: nn.Module
    replacement: nn.Module


#: Active scopes in the order they were entered (restoring one first restores the later ones on the same modules).
_ACTIVE: list[weakref.ref[PaddingScope]] = []


class PaddingScope:
    """A reversible in-place conversion of ``model``'s padded layers; made by :func:`padding`.

    Use it as a context manager, or call :meth:`__enter__` (alias :meth:`apply`) and :meth:`restore` yourself.

    Attributes:
        model: the model converted in place.
        mode: the padding mode as passed.
        report: the :class:`padkit.ConversionReport` of the last conversion (None before the first).
    """

    def __init__(
        self,
        model: nn.Module,
        mode: Any,
        *,
        include: Filter = None,
        exclude: Filter = None,
        kernel_size: KernelFilter = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise bad_type("model", model, "a torch.nn.Module")
        _check_filter(include, "include")
        _check_filter(exclude, "exclude")
        self.model = model
        self.mode = mode
        self.include = include
        self.exclude = exclude
        self.kernel_size = _kernel_filter(kernel_size)
        self.report: ConversionReport | None = None
        self._slots: list[_Slot] = []
        self._active = False

    @property
    def active(self) -> bool:
        """Whether the conversion is in place (entered and not restored)."""
        return self._active

    def __enter__(self) -> PaddingScope:
        if self._active:
            raise PadkitValueError("padding scope: already entered; restore() it before entering again")
        before = _children(self.model)
        try:
            converted, report = convert_report(
                self.model, self.mode, inplace=True, include=self.include, exclude=self._exclude()
            )
        except BaseException:
            _put_back(_diff(before))
            raise
        if converted is not self.model:
            raise bad_value(
                "model",
                type(self.model).__name__,
                "a model that contains its padded layers (the root module itself cannot be replaced in place; "
                "wrap it, e.g. in nn.Sequential, or exclude it with exclude='')",
            )
        self._slots = _diff(before)
        self.report = report
        self._active = True
        _ACTIVE.append(weakref.ref(self))
        return self

    apply = __enter__

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Put the original layers back (no-op when not active).

        Scopes entered after this one that changed layers of this model are restored first, so the model returns
        to its state at :meth:`__enter__`.
        """
        if not self._active:
            return
        mine = {id(m) for m in self.model.modules()} | {id(s.parent) for s in self._slots}
        index = next(i for i, ref in enumerate(_ACTIVE) if ref() is self)
        for ref in reversed(_ACTIVE[index + 1 :]):
            later = ref()
            if later is not None and any(id(s.parent) in mine for s in later._slots):
                later.restore()
        _put_back(self._slots)
        self._slots = []
        self._active = False
        _ACTIVE[:] = [ref for ref in _ACTIVE if ref() is not None and ref() is not self]

    def _exclude(self) -> Filter:
        """The user's ``exclude`` plus the exact names of the padded layers whose kernel is not selected."""
        if self.kernel_size is None:
            return self.exclude
        unselected = [
            _escape(name)
            for name, module in padded_layers(self.model)
            if not _kernel_matches(getattr(module, "kernel_size", None), self.kernel_size)
        ]
        if not unselected:
            return self.exclude
        user: list[Union[str, type]] = []
        if isinstance(self.exclude, (str, type)):
            user = [self.exclude]
        elif self.exclude is not None:
            user = list(self.exclude)
        return [*user, *unselected]

    def __repr__(self) -> str:
        state = "active" if self._active else "inactive"
        return f"PaddingScope({type(self.model).__name__}, mode={self.mode!r}, {state})"


def padding(
    model: nn.Module,
    mode: Any,
    *,
    include: Filter = None,
    exclude: Filter = None,
    kernel_size: KernelFilter = None,
) -> PaddingScope:
    """Convert ``model``'s padded layers to ``mode`` in place for the duration of a ``with`` block.

    Args:
        model: any ``nn.Module`` whose padded layers are submodules (not the root itself).
        mode: a padding mode as :func:`padkit.convert` takes it (``"circular"``, ``"reflect"``, ...).
        include: only layers whose qualified name matches one of these fnmatch patterns, or that are instances
            of one of these types (None: all), as in :func:`padkit.convert`.
        exclude: skip layers matching (name pattern or type); applied after ``include``.
        kernel_size: only layers with this kernel: an int ``k`` selects ``k x k`` (``k x k x k``, ...) kernels,
            a tuple of ints that exact kernel (``(1, 3)``), a list or set several (``[3, (1, 3)]``); None: any.

    Returns:
        a :class:`PaddingScope`. ``with padding(...) as scope:`` converts on entry (``scope.report`` says what
        changed) and puts the original layer objects back on exit, also on an exception. Without ``with``:
        ``scope = padding(...).apply()`` ... ``scope.restore()``.

    Layers wrapped by another module (a peft LoRA conv holds ``base_layer``, ``lora_A`` and ``lora_B``) are found
    inside the wrapper and converted there; the wrapper stays. Hooks registered on a replacement inside the scope
    are dropped with it on exit.
    """
    return PaddingScope(model, mode, include=include, exclude=exclude, kernel_size=kernel_size)


def _kernel_filter(value: KernelFilter) -> tuple[tuple[int, ...], ...] | None:
    """The kernel filter as a tuple of kernels; an int ``k`` is kept as the 1-tuple ``(k,)`` (any rank)."""
    if value is None:
        return None
    if is_int(value) or (isinstance(value, tuple) and all(is_int(v) for v in value)):
        items: list[Any] = [value]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        raise bad_type("kernel_size", value, _KERNEL_ITEMS)
    out: list[tuple[int, ...]] = []
    for item in items:
        kernel = (item,) if is_int(item) else item
        if not isinstance(kernel, tuple) or not kernel or not all(is_int(v) and v >= 1 for v in kernel):
            raise bad_value("kernel_size", value, _KERNEL_ITEMS)
        out.append(tuple(int(v) for v in kernel))
    if not out:
        raise bad_value("kernel_size", value, _KERNEL_ITEMS)
    return tuple(out)


def _kernel_matches(kernel: Any, wanted: tuple[tuple[int, ...], ...]) -> bool:
    """Whether a layer's ``kernel_size`` is one of ``wanted`` (a 1-tuple ``(k,)``: k in every dim)."""
    if kernel is None:
        return False
    have = (int(kernel),) if is_int(kernel) else tuple(int(v) for v in kernel)
    for want in wanted:
        if have == want:
            return True
        if len(want) == 1 and all(h == want[0] for h in have):
            return True
        if len(have) == 1 and all(w == have[0] for w in want):
            return True
    return False


def _escape(name: str) -> str:
    """``name`` as an fnmatch pattern that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _children(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """Every ``(parent, child name, child)`` edge of the module tree."""
    return [(parent, name, child) for parent in model.modules() for name, child in parent._modules.items() if child]


def _diff(before: list[tuple[nn.Module, str, nn.Module]]) -> list[_Slot]:
    """The edges whose child was replaced since ``before``."""
    slots = []
    for parent, name, child in before:
        now = parent._modules.get(name)
        if now is not child and now is not None:
            slots.append(_Slot(parent, name, child, now))
    return slots


def _put_back(slots: list[_Slot]) -> None:
    """Restore each slot's original (with its replacement's training mode and any parameter it was given)."""
    for slot in reversed(slots):
        original, replacement = slot.original, slot.replacement
        for pname, param in replacement._parameters.items():
            if pname in original._parameters and param is not None and original._parameters[pname] is not param:
                original._parameters[pname] = param
        original.train(replacement.training)
        setattr(slot.parent, slot.name, original)
