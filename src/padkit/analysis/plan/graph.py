"""The dataflow graph the tracer builds: tracked-tensor metadata, graph nodes, layer records, and the foveation count.

A *tracked* tensor knows which of its dims hold the input's spatial axes and, per axis, which positions' receptive
fields touch padding (a 1-D bool array: for axis-aligned windows "touches padding" is the OR over axes, so this is
exact). Each op that changes spatial structure adds a :class:`Node` whose per-axis matrices give the exact foveation
map by backward counting (:func:`foveation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Callable

import numpy as np

from .arith import DimRecord

__all__ = ["LayerRecord", "Lost", "Meta", "Node", "Span", "StopTrace", "Trace", "foveation"]


#: A receptive field along one axis: per position, the first and last input sample it depends on (``lo > hi``: none).
Span = tuple[np.ndarray, np.ndarray]


@dataclass
class Meta:
    """Spatial structure of a tracked tensor: ``dims[a]`` is the tensor dim of spatial axis ``a``.

    ``reach``: per axis, where the receptive field touches padding; ``rf``: per axis, the receptive field's
    :data:`Span` in input samples; ``scale``: per axis, the sampling rate relative to the input (1/2 after a stride-2
    conv, 2 after a 2x upsampling); ``global_at``: the layer after which every position depends on every input
    position (None: the receptive field is local).
    """

    dims: tuple[int, ...]
    reach: tuple[np.ndarray, ...] | None
    node: int
    rf: tuple[Span, ...] | None = None
    scale: tuple[Fraction, ...] = ()
    global_at: str | None = None

    def moved(self, dims: tuple[int, ...]) -> Meta:
        """The same spatial structure on other tensor dims (views, permutations, squeezes)."""
        return self if dims == self.dims else replace(self, dims=dims)


@dataclass
class Node:
    """One op of the graph: its parent nodes, the sizes of its spatial axes, and how counts flow back."""

    parents: list[int]
    sizes: tuple[int, ...]
    #: count over this node's axes -> one count per parent (or None: that parent gets nothing)
    backward: Callable[[np.ndarray], list[np.ndarray | None]] | None = None


@dataclass
class LayerRecord:
    """One spatial layer as the tracer saw it (what :class:`~padkit.analysis.plan.LayerPlan` reports)."""

    name: str
    kind: str
    dims: tuple[DimRecord, ...]
    note: str = ""
    reach: tuple[np.ndarray, ...] | None = None  # per axis, None = unknown
    out_spatial: tuple[int, ...] = ()
    rf: tuple[Span, ...] | None = None  # receptive field of the output, per axis
    scale: tuple[Fraction, ...] = ()
    global_at: str | None = None


@dataclass
class Trace:
    """Everything one traced forward recorded."""

    ndim: int
    maps: bool
    layers: list[LayerRecord] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    sinks: set[int] = field(default_factory=set)
    losses: list[str] = field(default_factory=list)  # where spatial tracking was lost by an unsupported op
    endings: list[str] = field(default_factory=list)  # where spatial structure ended (flatten, global reduce, ...)
    context: list[str] = field(default_factory=list)  # global-context joins (e.g. squeeze-excitation) not in the maps
    inexact: list[str] = field(default_factory=list)
    #: where spatial structure ended by design, the tracked input that op was given, and whether it mixes positions
    ended: list[tuple[str, Meta, bool]] = field(default_factory=list)
    #: the tracked tensors among the model's outputs
    outputs: list[Meta] = field(default_factory=list)
    foveation: np.ndarray | None = None
    #: called with each recorded layer; returning True ends the forward pass early (:class:`StopTrace`)
    stop: Callable[[LayerRecord], bool] | None = None

    def add(self, rec: LayerRecord) -> None:
        self.layers.append(rec)
        if self.stop is not None and self.stop(rec):
            raise StopTrace(self)


class StopTrace(Exception):
    """Raised out of the model's forward when :attr:`Trace.stop` has seen enough; ``.trace.layers`` ends there."""

    def __init__(self, trace: Trace) -> None:
        super().__init__(trace.layers[-1].name)
        self.trace = trace


class Lost(Exception):
    """An op whose spatial structure cannot be followed: its outputs are tainted, ``why`` says where and why.

    ``benign``: the spatial structure ends there by design (flatten for the classifier, a global reduction).
    ``mixes``: the op puts every position into one value or one axis (a reduction or a flatten of all spatial axes):
    from there on every value can depend on every position.
    """

    def __init__(self, why: str, benign: bool, *, mixes: bool = False) -> None:
        super().__init__(why)
        self.why = why
        self.benign = benign
        self.mixes = mixes


def foveation(trace: Trace) -> np.ndarray | None:
    """Per input position, the number of window paths from it to the graph's sinks (None: not finite)."""
    counts: dict[int, np.ndarray] = {}
    for s in trace.sinks:
        counts[s] = np.ones(trace.nodes[s].sizes)
    for i in range(len(trace.nodes) - 1, 0, -1):
        c = counts.pop(i, None)
        if c is None:
            continue
        node = trace.nodes[i]
        assert node.backward is not None
        for p, pc in zip(node.parents, node.backward(c)):
            if pc is None:
                continue
            counts[p] = counts[p] + pc if p in counts else pc
    res = counts.get(0)
    if res is None:
        return np.zeros(trace.nodes[0].sizes)
    if not np.all(np.isfinite(res)):
        return None
    return res
