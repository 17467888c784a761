"""The meta-device dataflow tracer: a ``TorchDispatchMode`` that follows the input's spatial axes, and module hooks.

The tracer sees every aten op of the model's forward. An op with an input derived from the model's input goes to its
handler in :mod:`.ops`, which records the outputs' spatial structure (:class:`~.graph.Meta`). Tensors derived from the
input whose spatial structure could not be followed are *tainted* (never guessed).

Layer modules (:func:`.modules.unit_kind`) are handled as units from their parameters by forward hooks: the ops inside
them are not traced. :class:`ModelHooks` registers the hooks once per model so the clean-size search reuses them.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from ..._errors import PadkitError
from ..._validate import bad_value
from .arith import DimOp, DimRecord, apply_axes, is_identity
from .graph import LayerRecord, Lost, Meta, Node, Span, StopTrace, Trace, foveation
from .modules import module_dims, unit_kind
from .ops import UNTRACKED_OPS, OpCall, handler_for

__all__ = ["ModelHooks", "Tracer", "run_trace", "trace_at"]


class Tracer(TorchDispatchMode):
    """Follows the tensors derived from the input through one forward and records into ``trace``."""

    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace
        self.metas: dict[int, tuple[torch.Tensor, Meta | None]] = {}
        #: > 0 inside a layer module handled as a unit: its ops are not traced
        self.opaque = 0
        #: qualified names of the modules whose forward is running, innermost last
        self.stack: list[str] = []
        self.counter: dict[str, int] = {}

    # -- bookkeeping ---------------------------------------------------------------------------------------------
    def where(self) -> str:
        return self.stack[-1] if self.stack else "(root)"

    def get(self, t: Any) -> tuple[bool, Meta | None]:
        """(derived from input?, meta or None when tainted)."""
        if isinstance(t, torch.Tensor) and id(t) in self.metas and self.metas[id(t)][0] is t:
            return True, self.metas[id(t)][1]
        return False, None

    def put(self, t: torch.Tensor, meta: Meta | None) -> None:
        self.metas[id(t)] = (t, meta)

    def new_node(self, parents: list[int], sizes: tuple[int, ...], backward: Any) -> int:
        self.trace.nodes.append(Node(parents, sizes, backward))
        return len(self.trace.nodes) - 1

    def layer_name(self, kind: str) -> str:
        """``module:kind`` for an op outside layer modules, numbered from the second one in the same module."""
        base = f"{self.where()}:{kind}"
        self.counter[base] = self.counter.get(base, 0) + 1
        return base if self.counter[base] == 1 else f"{base}#{self.counter[base]}"

    def taint(
        self, outs: list[torch.Tensor], why: str | None, tracked_in: list[Meta], benign: bool, mixes: bool = False
    ) -> None:
        for o in outs:
            self.put(o, None)
        if tracked_in and why:
            for m in tracked_in:
                self.trace.sinks.add(m.node)
            (self.trace.endings if benign else self.trace.losses).append(f"{self.where()}: {why}")
            if benign:
                self.trace.ended.append((self.where(), tracked_in[0], mixes))

    # -- receptive field and scale -------------------------------------------------------------------------------
    def span_through(self, span: Span, read: np.ndarray) -> Span:
        """The receptive field after an op whose output ``o`` reads the positions ``read[o] > 0``."""
        lo, hi = span
        mask = read > 0
        big = np.iinfo(np.int64).max
        return np.where(mask, lo[None, :], big).min(axis=1), np.where(mask, hi[None, :], -1).max(axis=1)

    def is_global(self, rf: tuple[Span, ...] | None) -> bool:
        """Every position depends on every input position along every axis."""
        if rf is None:
            return False
        sizes = self.trace.nodes[0].sizes
        return all(bool((lo == 0).all() and (hi == n - 1).all()) for (lo, hi), n in zip(rf, sizes))

    def global_name(self, name: str, parents: list[Meta], rf: tuple[Span, ...] | None) -> str | None:
        """``global_at`` of an op's output: inherited from a parent, or ``name`` when this op makes it global."""
        for p in parents:
            if p.global_at is not None:
                return p.global_at
        if self.is_global(rf):
            return name
        return None

    def make_global(self, t: torch.Tensor, name: str) -> None:
        """Mark tracked ``t`` as depending on every input position (statistics over all positions)."""
        derived, m = self.get(t)
        if not derived or m is None or m.global_at is not None:
            return
        rf = None
        if m.rf is not None:
            sizes = self.trace.nodes[0].sizes
            rf = tuple(
                (np.zeros(len(lo), np.int64), np.full(len(lo), n - 1, np.int64)) for (lo, _), n in zip(m.rf, sizes)
            )
        self.put(t, replace(m, rf=rf, global_at=name))

    # -- dispatch ------------------------------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.opaque:
            return out
        flat_in, _ = tree_flatten((args, kwargs))
        ins = [(t, *self.get(t)) for t in flat_in if isinstance(t, torch.Tensor)]
        derived = [(t, m) for t, d, m in ins if d]
        if not derived:
            return out
        flat_out = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
        name = func.overloadpacket.__name__.rstrip("_") if func.overloadpacket.__name__ != "__" else "?"
        if name in UNTRACKED_OPS:
            return out
        tainted = [t for t, m in derived if m is None]
        tracked = [m for _, m in derived if m is not None]
        if tainted:
            self.taint(flat_out, f"{name} mixes spatial data with untracked data", tracked, benign=True)
            return out
        handler = handler_for(name, func)
        call = OpCall(name, func, args, kwargs, out, flat_out, [(t, m) for t, m in derived if m is not None])
        try:
            handled = handler is not None and handler(self, call)
        except Lost as exc:
            self.taint(flat_out, exc.why, tracked, benign=exc.benign, mixes=exc.mixes)
            return out
        if not handled:
            self.taint(flat_out, f"unsupported op aten.{name}", tracked, benign=False)
        return out

    # -- propagation shared by the op handlers and the module hooks ----------------------------------------------
    def pointwise(self, out: torch.Tensor, derived: list[tuple[torch.Tensor, Meta]]) -> None:
        """Elementwise op (broadcasting allowed over non-spatial dims, or from a globally pooled tensor)."""
        out_dims: tuple[int, ...] | None = None
        parents: list[tuple[Meta, bool]] = []  # (meta, passes count through)
        sizes: tuple[int, ...] = ()
        for t, m in derived:
            off = out.dim() - t.dim()
            dims = tuple(d + off for d in m.dims)
            if out_dims is None:
                out_dims = dims
            elif dims != out_dims:
                raise Lost("elementwise op on differently laid out spatial axes", False)
            sizes = tuple(int(out.shape[d]) for d in dims)
            in_sizes = tuple(int(t.shape[d]) for d in m.dims)
            if in_sizes == sizes:
                parents.append((m, True))
            elif all(s == 1 for s in in_sizes):
                parents.append((m, False))
                self.trace.context.append(
                    f"{self.where()}: a globally pooled tensor is broadcast over the spatial axes"
                )
            else:
                raise Lost("elementwise op broadcasting a spatial axis", False)
        if out_dims is None:
            raise Lost("elementwise op without a spatial operand", False)
        passing = [p[0] for p in parents if p[1]]
        reach: list[np.ndarray] | None = None
        if self.trace.maps and passing and all(p.reach is not None for p in passing):
            reach = [np.logical_or.reduce([p.reach[a] for p in passing]) for a in range(len(out_dims))]  # type: ignore[index]
        rf: tuple[Span, ...] | None = None
        if self.trace.maps and all(p.rf is not None for p, _ in parents):
            rf = tuple(
                (
                    np.broadcast_to(np.minimum.reduce([np.broadcast_to(p.rf[a][0], s) for p, _ in parents]), s),  # type: ignore[index]
                    np.broadcast_to(np.maximum.reduce([np.broadcast_to(p.rf[a][1], s) for p, _ in parents]), s),  # type: ignore[index]
                )
                for a, s in enumerate(sizes)
            )
        scale = next((p.scale for p, ok in parents if ok), parents[0][0].scale)
        global_at = next((p.global_at for p, _ in parents if p.global_at is not None), None)
        if len(parents) == 1 and parents[0][1]:
            self.put(out, parents[0][0].moved(out_dims))
            return
        passes = [p[1] for p in parents]

        def backward(count: np.ndarray, passes: list[bool] = passes) -> list[np.ndarray | None]:
            return [count if ok else None for ok in passes]

        node = self.new_node([p[0].node for p in parents], sizes, backward)
        self.put(out, Meta(out_dims, tuple(reach) if reach is not None else None, node, rf, scale, global_at))

    def window(
        self,
        t: torch.Tensor,
        m: Meta | None,
        o: torch.Tensor,
        op_dims: list[int],
        per_dim: list[tuple[DimRecord, DimOp | None]],
        name: str,
        kind: str,
        note: str = "",
        factors: list[Fraction] | None = None,
    ) -> None:
        """Record a layer and propagate through a window op over tensor dims ``op_dims`` (aligned end-to-end).

        ``factors``: per op dim, how the op changes the sampling rate (default: ``1 / stride`` for strided windows,
        ``stride`` for transposed convolutions, 1 for pads and global pooling, ``out / in`` for adaptive pooling)."""
        recs = tuple(r for r, _ in per_dim)
        out_spatial = tuple(int(o.shape[d]) for d in range(o.dim() - len(op_dims), o.dim()))
        if any(r.out_size != s for r, s in zip(recs, out_spatial)):
            self.trace.add(
                LayerRecord(
                    name,
                    "unknown",
                    tuple(DimRecord(r.in_size, s, None, None, None, 0, 0, 0) for r, s in zip(recs, out_spatial)),
                    note=f"{kind}: output size does not match the {kind} arithmetic",
                    out_spatial=out_spatial,
                )
            )
            raise Lost(f"{kind} with unexpected output size", False)
        rec = LayerRecord(name, kind, recs, note=note, out_spatial=out_spatial)
        self.trace.add(rec)
        if m is None:
            return
        off = o.dim() - t.dim()
        ops: dict[int, DimOp | None] = {}
        facs: dict[int, Fraction] = {}
        for i, (d, (r, dop)) in enumerate(zip(op_dims, per_dim)):
            if d in m.dims:
                # a 1x1 window at stride 1 without padding copies its input: no matrix to apply
                ops[m.dims.index(d)] = None if _copies(r) else dop
                facs[m.dims.index(d)] = factors[i] if factors is not None else _factor(kind, r)
            elif not (dop is None or is_identity(dop)) and self.trace.maps:
                raise Lost(f"{kind} over a non-spatial dim", False)
        dims = tuple(d + off for d in m.dims)
        sizes = tuple(int(o.shape[d]) for d in dims)
        scale = tuple(sc * facs.get(a, Fraction(1)) for a, sc in enumerate(m.scale)) if m.scale else ()
        rec.scale = scale
        if not self.trace.maps:
            self.put(o, Meta(dims, None, m.node, None, scale))
            return
        mats: list[np.ndarray | None] = []
        for a in range(len(dims)):
            dop_a = ops.get(a)
            mats.append(None if dop_a is None else dop_a.read)
        for dop in ops.values():
            if dop is not None and not dop.exact_reads:
                self.trace.inexact.append(f"{name}: padding mode reads data in a way the foveation map does not model")
        reach: tuple[np.ndarray, ...] | None = None
        if m.reach is not None:
            new = []
            for a in range(len(dims)):
                dop = ops.get(a)
                if dop is None:
                    new.append(m.reach[a])
                else:
                    new.append(dop.pad_taps | ((dop.read > 0) @ m.reach[a].astype(np.int64) > 0))
            reach = tuple(new)
        rec.reach = reach
        rf = None
        if m.rf is not None:
            rf = tuple(m.rf[a] if mats[a] is None else self.span_through(m.rf[a], mats[a]) for a in range(len(dims)))  # type: ignore[arg-type]
        rec.rf = rf
        rec.global_at = self.global_name(name, [m], rf)

        def backward(count: np.ndarray, mats: list[np.ndarray | None] = mats) -> list[np.ndarray | None]:
            return [apply_axes(count, mats)]

        node = self.new_node([m.node], sizes, backward)
        self.put(o, Meta(dims, reach, node, rf, scale, rec.global_at))


def _copies(rec: DimRecord) -> bool:
    """A window op that copies its input along this axis (1x1 kernel, stride 1, no padding)."""
    return (
        rec.kernel == 1
        and rec.stride == 1
        and rec.in_size == rec.out_size
        and rec.pad_before == 0
        and rec.pad_after == 0
        and rec.unread == 0
    )


def _factor(kind: str, rec: DimRecord) -> Fraction:
    """How a window op changes the sampling rate along one axis (global pooling keeps the rate of the map it pools)."""
    if kind == "pad" or (rec.out_size == 1 and kind.startswith("adaptive")):
        return Fraction(1)
    if rec.stride is not None:
        return Fraction(rec.stride) if kind == "conv_transpose" else Fraction(1, rec.stride)
    return Fraction(rec.out_size, rec.in_size) if rec.in_size > 0 else Fraction(1)


class _Run:
    """The module hooks' side of one traced forward: which unit module is open, and what it was given."""

    def __init__(self, tracer: Tracer, names: dict[int, str], maps: bool) -> None:
        self.tracer, self.trace, self.names, self.maps = tracer, tracer.trace, names, maps
        self.pending: list[tuple[torch.Tensor | None, bool, Meta | None]] = []
        #: per open non-unit module: its tracked input and the trace's lengths when it started (None: not tracked)
        self.frames: list[tuple[torch.Tensor, Meta, int, int, int, int, frozenset[int]] | None] = []

    def pre(self, mod: nn.Module, inputs: Any) -> None:
        tracer = self.tracer
        name = self.names.get(id(mod), type(mod).__name__) or "(root)"
        tracer.stack.append(name)
        if unit_kind(mod) is None:
            frame = None
            if not tracer.opaque and inputs and isinstance(inputs[0], torch.Tensor):
                derived, meta = tracer.get(inputs[0])
                if derived and meta is not None:
                    tr = self.trace
                    counts = (len(tr.ended), len(tr.endings), len(tr.losses), len(tr.nodes))
                    frame = (inputs[0], meta, *counts, frozenset(tr.sinks))
            self.frames.append(frame)
            return
        if not tracer.opaque:
            t = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
            derived, meta = tracer.get(t) if t is not None else (False, None)
            self.pending.append((t, derived, meta))
        else:
            self.pending.append((None, False, None))
        tracer.opaque += 1

    def post(self, mod: nn.Module, inputs: Any, output: Any) -> None:
        tracer, trace = self.tracer, self.trace
        name = tracer.stack.pop()
        kind = unit_kind(mod)
        if kind is None:
            frame = self.frames.pop()
            if frame is not None and isinstance(output, torch.Tensor):
                self.mixer(name, frame, output)
            return
        tracer.opaque -= 1
        t, derived, meta = self.pending.pop()
        if tracer.opaque or not derived or t is None or not isinstance(output, torch.Tensor):
            return
        if kind == "linear":
            last = t.dim() - 1
            if meta is not None and last in meta.dims:
                tracer.taint([output], "nn.Linear over a spatial axis", [meta], benign=False)
            else:
                tracer.put(output, meta)
            return
        try:
            per_dim, note = module_dims(mod, kind, t, output, self.maps)
            nsp = len(per_dim)
            dims = list(range(t.dim() - nsp, t.dim()))
            tracer.window(t, meta, output, dims, per_dim, name, kind, note)
        except Lost as exc:
            if not any(layer.name == name for layer in trace.layers):
                trace.add(LayerRecord(name, "unknown", (), note=exc.why))
            tracer.taint([output], exc.why, [meta] if meta else [], benign=exc.benign, mixes=exc.mixes)

    def mixer(
        self, name: str, frame: tuple[torch.Tensor, Meta, int, int, int, int, frozenset[int]], output: torch.Tensor
    ) -> None:
        """A module whose tracked input map lost its spatial structure inside, by a flatten of all positions
        (attention over positions), and whose output has the input's shape again: its output is a map in which every
        position depends on every input position. The structure is picked up again, global from this module."""
        tracer, trace = self.tracer, self.trace
        t, meta, n_ended, n_endings, n_losses, _, sinks = frame
        derived, out_meta = tracer.get(output)
        inside = trace.ended[n_ended:]
        if not derived or out_meta is not None or len(trace.losses) != n_losses or not any(m for *_, m in inside):
            return
        if output.shape != t.shape:
            return
        del trace.ended[n_ended:], trace.endings[n_endings:]
        trace.sinks.intersection_update(sinks)
        trace.context.append(f"{name}: attention (or a linear map) over all positions")
        node = tracer.new_node([meta.node], tuple(int(t.shape[d]) for d in meta.dims), lambda c: [c])
        tracer.put(output, replace(meta, node=node))
        tracer.make_global(output, name)


class ModelHooks:
    """Forward hooks on every module of ``model`` for :func:`run_trace`, registered once and reusable across traces
    (the clean-size search runs dozens; registering ~2 hooks per module each time cost a fifth of its time).

    Use as a context manager; the hooks are removed on exit, also when the forward raised.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.names = {id(m): n for n, m in model.named_modules()}
        self.active: _Run | None = None
        self._handles: list[Any] = []

    def __enter__(self) -> ModelHooks:
        try:
            for mod in self.model.modules():
                if isinstance(mod, torch.jit.ScriptModule):
                    continue  # TorchScript has no Python hooks: its ops are traced one by one instead
                self._handles.append(mod.register_forward_pre_hook(self._pre))
                self._handles.append(mod.register_forward_hook(self._post))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _pre(self, mod: nn.Module, inputs: Any) -> None:
        if self.active is not None:
            self.active.pre(mod, inputs)

    def _post(self, mod: nn.Module, inputs: Any, output: Any) -> None:
        if self.active is not None:
            self.active.post(mod, inputs, output)


def run_trace(
    model: nn.Module,
    x: torch.Tensor,
    *,
    maps: bool,
    stop: Callable[[LayerRecord], bool] | None = None,
    hooks: ModelHooks | None = None,
) -> tuple[Trace, Any]:
    """Run ``model(x)`` on meta tensors under the tracer; return the trace and the model output.

    ``stop`` is called with each layer as it is recorded; when it returns True the forward pass is abandoned by raising
    :class:`~.graph.StopTrace`, which carries the partial trace. ``hooks``: an entered :class:`ModelHooks` of
    ``model`` to reuse (default: hooks registered for this call and removed after it).
    """
    if hooks is None:
        with ModelHooks(model) as own:
            return _run_trace(model, x, maps, stop, own)
    if hooks.model is not model:
        raise bad_value("hooks", hooks, "the ModelHooks of the model being traced")
    return _run_trace(model, x, maps, stop, hooks)


def _run_trace(
    model: nn.Module, x: torch.Tensor, maps: bool, stop: Callable[[LayerRecord], bool] | None, hooks: ModelHooks
) -> tuple[Trace, Any]:
    trace = Trace(ndim=x.dim() - 2, maps=maps, stop=stop)
    tracer = Tracer(trace)
    sizes = tuple(int(s) for s in x.shape[2:])
    reach0 = tuple(np.zeros(s, bool) for s in sizes) if maps else None
    rf0 = tuple((np.arange(s), np.arange(s)) for s in sizes) if maps else None
    n0 = tracer.new_node([], sizes, None)
    tracer.put(x, Meta(tuple(range(2, x.dim())), reach0, n0, rf0, (Fraction(1),) * len(sizes)))
    hooks.active = _Run(tracer, hooks.names, maps)
    try:
        with torch.no_grad(), tracer:
            out = model(x)
    finally:
        hooks.active = None
    for o in tree_flatten(out)[0]:
        if isinstance(o, torch.Tensor):
            _, meta = tracer.get(o)
            if meta is not None:
                trace.sinks.add(meta.node)
                trace.outputs.append(meta)
    if maps and not trace.losses and not trace.inexact:
        trace.foveation = foveation(trace)
    return trace, out


def trace_at(
    model: nn.Module,
    size: tuple[int, ...],
    channels: int,
    *,
    maps: bool,
    stop: Callable[[LayerRecord], bool] | None = None,
    hooks: ModelHooks | None = None,
) -> Trace:
    """Trace ``model`` (on the meta device) on a ``(1, channels, *size)`` input; a stopped trace ends where it stopped.

    Raises:
        PadkitValueError: the model's forward failed at that size.
    """
    x = torch.empty((1, channels, *size), device="meta")
    try:
        trace, _ = run_trace(model, x, maps=maps, stop=stop, hooks=hooks)
    except StopTrace as done:
        return done.trace
    except PadkitError:
        raise
    except Exception as exc:
        raise bad_value(
            "input_size",
            size,
            f"a size the model's forward accepts with {channels} input channels; on the meta device it raised "
            f"{type(exc).__name__}: {exc}",
        ) from exc
    return trace
