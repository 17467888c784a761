"""Meta-device dataflow tracer behind :func:`padkit.analysis.plan.plan` (private).

A :class:`~torch.utils._python_dispatch.TorchDispatchMode` follows every tensor derived from the input. A *tracked*
tensor knows which of its dims hold the input's spatial axes and, per axis, which positions' receptive fields touch
padding (a 1-D bool array: for axis-aligned windows "touches padding" is the OR over axes, so this is exact). Each op
that changes spatial structure adds a node to a graph whose per-axis matrices give the exact foveation map by backward
counting. Tensors derived from the input whose spatial structure could not be followed are *tainted* (never guessed).

Recognised layer modules (conv, transposed conv, pooling, padkit layers, timm ``*Same`` layers, ``nn.Linear``) are
handled as units from their parameters: the ops inside them are not traced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from ._plan_arith import (
    DimOp,
    DimRecord,
    adaptive_op,
    conv_out_size,
    conv_transpose_op,
    index_op,
    pad_index_map,
    pool_out_size,
    window_op,
)

__all__ = ["LayerRecord", "Trace", "run_trace"]

aten = torch.ops.aten

_CONSTANT_FACTORIES = {
    "empty_like",
    "zeros_like",
    "ones_like",
    "full_like",
    "rand_like",
    "randn_like",
    "new_empty",
    "new_zeros",
    "new_ones",
    "new_full",
    "empty_strided",
    "new_empty_strided",
    "scalar_tensor",
    "_local_scalar_dense",
    "sym_size",
    "sym_stride",
    "sym_numel",
    "sym_storage_offset",
    "is_same_size",
}
_IDENTITY_OPS = {"alias", "detach", "clone", "contiguous", "_to_copy", "lift_fresh", "lift_fresh_copy", "dropout"}
#: Elementwise activations PyTorch does not tag ``pointwise``.
_POINTWISE_EXTRA = {
    "hardswish",
    "hardsigmoid",
    "silu",
    "gelu",
    "mish",
    "elu",
    "celu",
    "selu",
    "leaky_relu",
    "hardtanh",
    "relu6",
    "softplus",
    "softshrink",
    "hardshrink",
    "threshold",
    "log_sigmoid_forward",
    "_prelu_kernel",
    "prelu",
    "rrelu",
    "glu_jvp",
    "where",
    "masked_fill",
    "clamp",
    "copy",
    "clamp_min",
    "clamp_max",
    "nan_to_num",
    "_to_copy",
}
_VIEW_OPS = {"view", "_unsafe_view", "reshape", "unsqueeze", "squeeze", "flatten", "unflatten", "_reshape_alias"}


@dataclass
class Meta:
    """Spatial structure of a tracked tensor: ``dims[a]`` is the tensor dim of spatial axis ``a``."""

    dims: tuple[int, ...]
    reach: tuple[np.ndarray, ...] | None
    node: int


@dataclass
class Node:
    parents: list[int]
    sizes: tuple[int, ...]
    #: count over this node's axes -> one count per parent (or None: that parent gets nothing)
    backward: Callable[[np.ndarray], list[np.ndarray | None]] | None = None


@dataclass
class LayerRecord:
    name: str
    kind: str
    dims: tuple[DimRecord, ...]
    note: str = ""
    reach: tuple[np.ndarray, ...] | None = None  # per axis, None = unknown
    out_spatial: tuple[int, ...] = ()


@dataclass
class Trace:
    ndim: int
    maps: bool
    layers: list[LayerRecord] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    sinks: set[int] = field(default_factory=set)
    losses: list[str] = field(default_factory=list)  # where spatial tracking was lost by an unsupported op
    endings: list[str] = field(default_factory=list)  # where spatial structure ended (flatten, global reduce, ...)
    context: list[str] = field(default_factory=list)  # global-context joins (e.g. squeeze-excitation) not in the maps
    inexact: list[str] = field(default_factory=list)
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


def _apply_axes(count: np.ndarray, mats: list[np.ndarray | None]) -> np.ndarray:
    """Per axis ``a``: ``count`` (out sizes) -> ``mats[a].T @ count`` along that axis (None: identity)."""
    for a, m in enumerate(mats):
        if m is None:
            continue
        count = np.moveaxis(np.tensordot(m.T.astype(np.float64), np.moveaxis(count, a, 0), axes=1), 0, a)
    return count


class _Tracer(TorchDispatchMode):
    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace
        self.metas: dict[int, tuple[torch.Tensor, Meta | None]] = {}
        self.opaque = 0
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

    def sizes_of(self, t: torch.Tensor, meta: Meta) -> tuple[int, ...]:
        return tuple(int(t.shape[d]) for d in meta.dims)

    def taint(self, outs: list[torch.Tensor], why: str | None, tracked_in: list[Meta], benign: bool) -> None:
        for o in outs:
            self.put(o, None)
        if tracked_in and why:
            for m in tracked_in:
                self.trace.sinks.add(m.node)
            (self.trace.endings if benign else self.trace.losses).append(f"{self.where()}: {why}")

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
        if name in _CONSTANT_FACTORIES:
            return out
        tainted = [t for t, m in derived if m is None]
        tracked = [m for _, m in derived if m is not None]
        if tainted:
            self.taint(flat_out, f"{name} mixes spatial data with untracked data", tracked, benign=True)
            return out
        try:
            handled = self.handle(name, func, args, kwargs, out, flat_out, [(t, m) for t, m in derived])
        except _Lost as exc:
            self.taint(flat_out, exc.why, tracked, benign=exc.benign)
            return out
        if not handled:
            self.taint(flat_out, f"unsupported op aten.{name}", tracked, benign=False)
        return out

    # -- op handlers ---------------------------------------------------------------------------------------------
    def handle(self, name, func, args, kwargs, out, flat_out, derived) -> bool:
        tr = self.trace
        if name in _IDENTITY_OPS or name in ("native_dropout",):
            t, m = derived[0]
            if args[0] is not t:
                return False
            self.put(flat_out[0], Meta(m.dims, m.reach, m.node))
            return True
        if torch.Tag.pointwise in func.tags or name in _POINTWISE_EXTRA:
            if not isinstance(out, torch.Tensor):
                return False
            self.pointwise(out, derived)
            return True
        if name in ("native_batch_norm", "_native_batch_norm_legit_no_training", "_native_batch_norm_legit"):
            training = bool(args[5]) if name != "_native_batch_norm_legit_no_training" and len(args) > 5 else False
            if training:
                tr.context.append(f"{self.where()}: batch norm in training mode (batch statistics)")
            self.pointwise(flat_out[0], [d for d in derived if d[0] is args[0]])
            return True
        if name in ("native_layer_norm", "native_group_norm"):
            t, m = next(d for d in derived if d[0] is args[0])
            spatial_norm = name == "native_group_norm" or any(d >= t.dim() - len(args[1]) for d in m.dims)
            if spatial_norm:
                tr.context.append(f"{self.where()}: {name} statistics over spatial positions")
            self.pointwise(flat_out[0], [(t, m)])
            return True
        if name in _VIEW_OPS:
            t, m = derived[0]
            self.view_like(t, m, flat_out[0])
            return True
        if name in ("permute", "transpose", "t", "expand", "movedim"):
            t, m = derived[0]
            o = flat_out[0]
            if name == "permute":
                perm = [p % t.dim() for p in args[1]]
                dims = tuple(perm.index(d) for d in m.dims)
            elif name in ("transpose", "t"):
                a0, a1 = (args[1] % t.dim(), args[2] % t.dim()) if name == "transpose" else (0, 1)
                dims = tuple(a1 if d == a0 else a0 if d == a1 else d for d in m.dims)
            elif name == "expand":
                off = o.dim() - t.dim()
                dims = tuple(d + off for d in m.dims)
                if any(o.shape[d + off] != t.shape[d] for d in m.dims):
                    raise _Lost("expand of a spatial axis", False)
            else:
                return False
            self.put(o, Meta(dims, m.reach, m.node))
            return True
        if name in ("convolution",):
            self.conv_op(args, flat_out[0], derived)
            return True
        if name.startswith(("max_pool", "avg_pool")):
            self.pool_op(name, args, flat_out[0], derived)
            for extra in flat_out[1:]:
                self.put(extra, None)
            return True
        if name.startswith(("_adaptive_avg_pool", "adaptive_avg_pool", "adaptive_max_pool")):
            t, m = derived[0]
            self.adaptive(t, m, flat_out[0], f"{self.where()}:{name}", name.lstrip("_").rstrip("0123456789d"))
            for extra in flat_out[1:]:
                self.put(extra, None)
            return True
        if name in ("mean", "sum", "amax", "amin", "max", "min", "logsumexp", "var", "std", "var_mean"):
            return self.reduce_op(name, args, kwargs, flat_out, derived)
        if name == "constant_pad_nd" or name.startswith(("reflection_pad", "replication_pad")):
            t, m = derived[0]
            pads = list(args[1])
            mode = "constant" if name == "constant_pad_nd" else "reflect" if "reflection" in name else "replicate"
            self.pad_op(t, m, flat_out[0], pads, mode, name)
            return True
        if name in ("slice", "select", "roll", "flip"):
            return self.index_like(name, args, flat_out[0], derived)
        if name in ("cat",):
            return self.cat_op(args, kwargs, flat_out[0], derived)
        if name in ("split", "split_with_sizes", "unbind", "chunk"):
            t, m = derived[0]
            dim = (
                (args[2] if len(args) > 2 else kwargs.get("dim", 0))
                if name != "unbind"
                else (args[1] if len(args) > 1 else 0)
            )
            dim %= t.dim()
            if dim in m.dims:
                raise _Lost(f"{name} along a spatial axis", False)
            for o in flat_out:
                off = o.dim() - t.dim()
                self.put(o, Meta(tuple(d + (off if d > dim else 0) for d in m.dims), m.reach, m.node))
            return True
        return False

    def pointwise(self, out: torch.Tensor, derived: list[tuple[torch.Tensor, Meta]]) -> None:
        tr = self.trace
        out_dims: tuple[int, ...] | None = None
        parents: list[tuple[Meta, bool]] = []  # (meta, passes count through)
        sizes: tuple[int, ...] = ()
        for t, m in derived:
            off = out.dim() - t.dim()
            dims = tuple(d + off for d in m.dims)
            if out_dims is None:
                out_dims = dims
            elif dims != out_dims:
                raise _Lost("elementwise op on differently laid out spatial axes", False)
            sizes = tuple(int(out.shape[d]) for d in dims)
            in_sizes = self.sizes_of(t, m)
            if in_sizes == sizes:
                parents.append((m, True))
            elif all(s == 1 for s in in_sizes):
                parents.append((m, False))
                tr.context.append(f"{self.where()}: a globally pooled tensor is broadcast over the spatial axes")
            else:
                raise _Lost("elementwise op broadcasting a spatial axis", False)
        if out_dims is None:
            raise _Lost("elementwise op without a spatial operand", False)
        passing = [p[0] for p in parents if p[1]]
        reach: list[np.ndarray] | None = None
        if self.trace.maps and passing and all(p.reach is not None for p in passing):
            reach = [np.logical_or.reduce([p.reach[a] for p in passing]) for a in range(len(out_dims))]  # type: ignore[index]
        if len(parents) == 1 and parents[0][1]:
            self.put(out, Meta(out_dims, parents[0][0].reach, parents[0][0].node))
            return
        passes = [p[1] for p in parents]

        def backward(count: np.ndarray, passes: list[bool] = passes) -> list[np.ndarray | None]:
            return [count if ok else None for ok in passes]

        node = self.new_node([p[0].node for p in parents], sizes, backward)
        self.put(out, Meta(out_dims, tuple(reach) if reach is not None else None, node))

    def view_like(self, t: torch.Tensor, m: Meta, o: torch.Tensor) -> None:
        in_shape, out_shape = list(t.shape), list(o.shape)
        pre_in = [math.prod(in_shape[:i]) for i in range(len(in_shape))]
        pre_out = [math.prod(out_shape[:j]) for j in range(len(out_shape))]
        dims = []
        for d in m.dims:
            cands = [j for j in range(len(out_shape)) if pre_out[j] == pre_in[d] and out_shape[j] == in_shape[d]]
            if not cands or (in_shape[d] == 1 and len(cands) != 1):
                raise _Lost("reshape merges or splits the spatial axes (spatial structure ends here)", True)
            dims.append(cands[0])
        self.put(o, Meta(tuple(dims), m.reach, m.node))

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
    ) -> None:
        """Record a layer and propagate through a window op over tensor dims ``op_dims`` (aligned end-to-end)."""
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
            raise _Lost(f"{kind} with unexpected output size", False)
        rec = LayerRecord(name, kind, recs, note=note, out_spatial=out_spatial)
        self.trace.add(rec)
        if m is None:
            return
        off = o.dim() - t.dim()
        ops: dict[int, DimOp | None] = {}
        for d, (_, dop) in zip(op_dims, per_dim):
            if d in m.dims:
                ops[m.dims.index(d)] = dop
            elif not (dop is None or _is_identity(dop)) and self.trace.maps:
                raise _Lost(f"{kind} over a non-spatial dim", False)
        dims = tuple(d + off for d in m.dims)
        sizes = tuple(int(o.shape[d]) for d in dims)
        if not self.trace.maps:
            self.put(o, Meta(dims, None, m.node))
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

        def backward(count: np.ndarray, mats: list[np.ndarray | None] = mats) -> list[np.ndarray | None]:
            return [_apply_axes(count, mats)]

        node = self.new_node([m.node], sizes, backward)
        self.put(o, Meta(dims, reach, node))

    def conv_op(self, args: Any, o: torch.Tensor, derived: list[tuple[torch.Tensor, Meta]]) -> None:
        t = args[0]
        m = next((mm for tt, mm in derived if tt is t), None)
        if any(tt is not t for tt, _ in derived):
            raise _Lost("convolution whose weight depends on the input", False)
        stride, padding, dilation, transposed = args[3], args[4], args[5], args[6]
        nsp = len(stride)
        ks = args[1].shape[2:]
        dims = list(range(t.dim() - nsp, t.dim()))
        per_dim = []
        for i, d in enumerate(dims):
            n, n_out = int(t.shape[d]), int(o.shape[o.dim() - nsp + i])
            if transposed:
                per_dim.append(
                    conv_transpose_op(n, ks[i], stride[i], dilation[i], padding[i], n_out, build=self.trace.maps)
                )
            else:
                per_dim.append(
                    window_op(n, ks[i], stride[i], dilation[i], padding[i], padding[i], n_out, build=self.trace.maps)
                )
        kind = "conv_transpose" if transposed else "conv"
        self.window(t, m, o, dims, per_dim, self.layer_name(kind), kind)

    def layer_name(self, kind: str) -> str:
        base = f"{self.where()}:{kind}"
        self.counter[base] = self.counter.get(base, 0) + 1
        return base if self.counter[base] == 1 else f"{base}#{self.counter[base]}"

    def pool_op(self, name: str, args: Any, o: torch.Tensor, derived: list[tuple[torch.Tensor, Meta]]) -> None:
        t, m = derived[0]
        nsp = int(name.split("pool")[1][0])
        k = _tup(args[1], nsp)
        s = _tup(args[2], nsp) if len(args) > 2 and args[2] else k
        p = _tup(args[3], nsp) if len(args) > 3 else (0,) * nsp
        if name.startswith("max"):
            dl = _tup(args[4], nsp) if len(args) > 4 else (1,) * nsp
            ceil = bool(args[5]) if len(args) > 5 else False
        else:
            dl = (1,) * nsp
            ceil = bool(args[4]) if len(args) > 4 else False
        dims = list(range(t.dim() - nsp, t.dim()))
        per_dim = [
            window_op(
                int(t.shape[d]), k[i], s[i], dl[i], p[i], p[i], int(o.shape[o.dim() - nsp + i]), build=self.trace.maps
            )
            for i, d in enumerate(dims)
        ]
        kind = "max_pool" if name.startswith("max") else "avg_pool"
        self.window(t, m, o, dims, per_dim, self.layer_name(kind), kind, note="ceil_mode" if ceil else "")

    def adaptive(self, t: torch.Tensor, m: Meta | None, o: torch.Tensor, lname: str, kind: str) -> None:
        nsp = o.dim() - 2 if o.dim() > 2 else 1
        nsp = min(nsp, 3)
        dims = list(range(t.dim() - nsp, t.dim()))
        per_dim = [adaptive_op(int(t.shape[d]), int(o.shape[d]), build=self.trace.maps) for d in dims]
        sizes = {(int(t.shape[d]), int(o.shape[d])) for d in dims}
        self.window(
            t,
            m,
            o,
            dims,
            per_dim,
            lname,
            kind,
            note="adaptive windows " + ", ".join(f"{a}->{b}" for a, b in sorted(sizes)),
        )

    def reduce_op(self, name: str, args: Any, kwargs: Any, flat_out: list[torch.Tensor], derived: Any) -> bool:
        t, m = derived[0]
        if args[0] is not t:
            return False
        rdims = args[1] if len(args) > 1 else kwargs.get("dim")
        if rdims is None or (isinstance(rdims, (list, tuple)) and len(rdims) == 0):
            rset = set(range(t.dim()))
        else:
            rset = {d % t.dim() for d in ([rdims] if isinstance(rdims, int) else rdims)}
        keep = bool(args[2]) if len(args) > 2 and isinstance(args[2], bool) else bool(kwargs.get("keepdim", False))
        o = flat_out[0]
        if not rset & set(m.dims):
            if keep:
                self.put(o, Meta(m.dims, m.reach, m.node))
            else:
                self.put(o, Meta(tuple(d - sum(r < d for r in rset) for d in m.dims), m.reach, m.node))
            for extra in flat_out[1:]:
                self.put(extra, None)
            return True
        if not keep or not set(m.dims) <= rset:
            raise _Lost(f"{name} over the spatial axes (spatial structure ends here)", True)
        # keepdim global reduction over all spatial axes: an adaptive window of output size 1
        dims_sorted = sorted(m.dims)
        per = {d: adaptive_op(int(t.shape[d]), 1, build=self.trace.maps) for d in dims_sorted}
        rec = LayerRecord(
            self.layer_name(f"global_{name}"),
            f"global_{name}",
            tuple(per[d][0] for d in m.dims),
            out_spatial=(1,) * len(m.dims),
        )
        self.trace.add(rec)
        if not self.trace.maps:
            self.put(o, Meta(m.dims, None, m.node))
            return True
        reach = None if m.reach is None else tuple(np.array([bool(r.any())]) for r in m.reach)
        rec.reach = reach
        mats = [per[d][1].read for d in m.dims]  # type: ignore[union-attr]
        node = self.new_node([m.node], (1,) * len(m.dims), lambda c, mats=mats: [_apply_axes(c, mats)])
        self.put(o, Meta(m.dims, reach, node))
        for extra in flat_out[1:]:
            self.put(extra, None)
        return True

    def pad_op(self, t: torch.Tensor, m: Meta, o: torch.Tensor, pads: list[int], mode: str, opname: str) -> None:
        nd = len(pads) // 2
        dims = list(range(t.dim() - nd, t.dim()))
        per_dim = []
        for i, d in enumerate(dims):
            k = nd - 1 - i  # F.pad order: last dim first
            pb, pa = int(pads[2 * k]), int(pads[2 * k + 1])
            n = int(t.shape[d])
            per_dim.append(_pad_dim(n, pb, pa, mode, self.trace.maps))
        self.window(t, m, o, dims, per_dim, self.layer_name("pad"), "pad", note=mode)

    def index_like(self, name: str, args: Any, o: torch.Tensor, derived: Any) -> bool:
        t, m = derived[0]
        if args[0] is not t:
            return False
        if name == "flip" or name == "roll":
            if name == "flip":
                fdims = {d % t.dim() for d in args[1]}
                shifts: dict[int, int] = {}
            else:
                sh = [args[1]] if isinstance(args[1], int) else list(args[1])
                rd = [args[2]] if len(args) > 2 and isinstance(args[2], int) else list(args[2]) if len(args) > 2 else []
                if not rd:
                    raise _Lost("roll over the flattened tensor", False)
                shifts = {d % t.dim(): s for d, s in zip(rd, sh)}
                fdims = set(shifts)
            ops = {}
            for d in fdims & set(m.dims):
                n = int(t.shape[d])
                idx = np.arange(n)[::-1].copy() if name == "flip" else (np.arange(n) - shifts[d]) % n
                ops[d] = (
                    DimRecord(n, n, None, None, None, 0, 0, 0),
                    index_op(idx, n, np.zeros(n, bool)) if self.trace.maps else None,
                )
            self._apply_index(t, m, o, ops)
            return True
        dim = args[1] % t.dim() if len(args) > 1 else 0
        if name == "select":
            if dim in m.dims:
                raise _Lost("select of one spatial index", False)
            self.put(o, Meta(tuple(d - (d > dim) for d in m.dims), m.reach, m.node))
            return True
        if dim not in m.dims:
            self.put(o, Meta(m.dims, m.reach, m.node))
            return True
        n = int(t.shape[dim])
        start = args[2] if len(args) > 2 and args[2] is not None else 0
        end = args[3] if len(args) > 3 and args[3] is not None else n
        step = args[4] if len(args) > 4 else 1
        idx = np.arange(n)[slice(start, end, step)]
        if len(idx) == n and step == 1:
            self.put(o, Meta(m.dims, m.reach, m.node))
            return True
        self._apply_index(
            t,
            m,
            o,
            {
                dim: (
                    DimRecord(n, len(idx), None, None, None, 0, 0, 0),
                    index_op(idx, n, np.zeros(len(idx), bool)) if self.trace.maps else None,
                )
            },
        )
        return True

    def _apply_index(self, t: torch.Tensor, m: Meta, o: torch.Tensor, ops: dict[int, Any]) -> None:
        if not self.trace.maps:
            self.put(o, Meta(m.dims, None, m.node))
            return
        mats = [ops[d][1].read if d in ops else None for d in m.dims]
        reach = None
        if m.reach is not None:
            reach = tuple(
                ((ops[d][1].read > 0) @ r.astype(np.int64) > 0) if d in ops else r for d, r in zip(m.dims, m.reach)
            )
        node = self.new_node(
            [m.node], tuple(int(o.shape[d]) for d in m.dims), lambda c, mats=mats: [_apply_axes(c, mats)]
        )
        self.put(o, Meta(m.dims, reach, node))

    def cat_op(self, args: Any, kwargs: Any, o: torch.Tensor, derived: Any) -> bool:
        tensors = list(args[0])
        dim = (args[1] if len(args) > 1 else kwargs.get("dim", 0)) % o.dim()
        ms = {id(t): m for t, m in derived}
        tracked = [(t, ms[id(t)]) for t in tensors if id(t) in ms]
        layouts = {m.dims for _, m in tracked}
        if len(layouts) != 1:
            raise _Lost("cat of differently laid out tensors", False)
        mdims = next(iter(layouts))
        if dim not in mdims:
            self.pointwise(o, tracked)
            return True
        if len(tracked) != len(tensors):
            raise _Lost("cat along a spatial axis with constant tensors", False)
        a = mdims.index(dim)
        if not self.trace.maps:
            self.put(o, Meta(mdims, None, tracked[0][1].node))
            return True
        total = int(o.shape[dim])
        offs = np.cumsum([0] + [int(t.shape[dim]) for t in tensors])
        mats_per = []
        for i, (t, _) in enumerate(tracked):
            mat = np.zeros((total, int(t.shape[dim])), np.int64)
            mat[offs[i] : offs[i + 1]] = np.eye(int(t.shape[dim]), dtype=np.int64)
            mats_per.append([mat if b == a else None for b in range(len(mdims))])
        reach = None
        if all(m.reach is not None for _, m in tracked):
            ref = tracked[0][1].reach
            assert ref is not None
            reach = tuple(
                np.concatenate([m.reach[a] for _, m in tracked])
                if b == a
                else np.logical_or.reduce([m.reach[b] for _, m in tracked])
                for b in range(len(mdims))
            )

        def backward(count: np.ndarray, mats_per: list[Any] = mats_per) -> list[np.ndarray | None]:
            return [_apply_axes(count, mats) for mats in mats_per]

        node = self.new_node([m.node for _, m in tracked], tuple(int(o.shape[d]) for d in mdims), backward)
        self.put(o, Meta(mdims, reach, node))
        return True


class _Lost(Exception):
    def __init__(self, why: str, benign: bool) -> None:
        super().__init__(why)
        self.why = why
        self.benign = benign


def _is_identity(dop: DimOp) -> bool:
    r = dop.read
    return r.shape[0] == r.shape[1] and not dop.pad_taps.any() and bool((r == np.eye(r.shape[0], dtype=r.dtype)).all())


def _tup(v: Any, n: int) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(x) for x in v)
    return v * n if len(v) == 1 else v


def _pad_dim(n: int, pb: int, pa: int, mode: str, build: bool) -> tuple[DimRecord, DimOp | None]:
    out = n + pb + pa
    rec = DimRecord(n, out, None, None, None, max(pb, 0), max(pa, 0), max(-pa, 0))
    if not build:
        return rec, None
    idx, exact = pad_index_map(n, pb, pa, mode)
    synth = np.ones(out, bool)
    synth[max(pb, 0) : max(pb, 0) + n - max(-pb, 0) - max(-pa, 0)] = False
    dop = index_op(idx, n, synth)
    return rec, DimOp(dop.read, dop.pad_taps, exact)


# -- recognised modules --------------------------------------------------------------------------------------------


def _module_kind(mod: nn.Module) -> str | None:
    if isinstance(mod, nn.modules.conv._ConvTransposeNd):
        return "conv_transpose"
    if isinstance(mod, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(mod, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        return "max_pool"
    if isinstance(mod, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        return "avg_pool"
    if isinstance(mod, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
        return "adaptive_avg_pool"
    if isinstance(mod, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
        return "adaptive_max_pool"
    if isinstance(mod, nn.Linear):
        return "linear"
    return None


def _same_pad(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow / timm 'SAME': total = max((ceil(n/s)-1)*s + (k-1)*d + 1 - n, 0), the extra one at the end."""
    total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def _module_dims(
    mod: nn.Module, kind: str, t: torch.Tensor, o: torch.Tensor, build: bool
) -> tuple[list[tuple[DimRecord, DimOp | None]], str]:
    cls = type(mod).__name__
    nsp = {"1d": 1, "2d": 2, "3d": 3}.get(cls[-2:].lower())
    if nsp is None:
        nsp = len(getattr(mod, "kernel_size", ())) or (o.dim() - 2)
    in_sp = [int(x) for x in t.shape[t.dim() - nsp :]]
    out_sp = [int(x) for x in o.shape[o.dim() - nsp :]]
    if kind.startswith("adaptive"):
        return [adaptive_op(n, m, build=build) for n, m in zip(in_sp, out_sp)], "adaptive windows"
    k = _tup(mod.kernel_size, nsp)
    s = _tup(mod.stride if mod.stride else mod.kernel_size, nsp)
    d = _tup(getattr(mod, "dilation", 1), nsp)
    if kind == "conv_transpose":
        p = _tup(mod.padding, nsp)
        return [conv_transpose_op(in_sp[i], k[i], s[i], d[i], p[i], out_sp[i], build=build) for i in range(nsp)], ""
    mode = getattr(mod, "padding_mode", "zeros") or "zeros"
    mode = {"zeros": "constant", "partial": "partial"}.get(str(mode), str(mode))
    ceil = bool(getattr(mod, "ceil_mode", False))
    note = mode if mode != "constant" else ""
    explicit = getattr(mod, "explicit_padding", None)
    if callable(explicit):
        pads = [(int(a), int(b)) for a, b in explicit(in_sp)]
        note = (note + " padkit").strip()
    elif cls in ("Conv2dSame", "MaxPool2dSame", "AvgPool2dSame"):
        pads = [_same_pad(in_sp[i], k[i], s[i], d[i]) for i in range(nsp)]
        note = (note + " TF-same").strip()
        if cls == "MaxPool2dSame":
            mode = "max_pool_same"  # timm pads with -inf: padding, no data
    else:
        pad = mod.padding
        if isinstance(pad, str):
            if pad == "valid":
                pads = [(0, 0)] * nsp
            else:  # 'same' (stride 1): PyTorch puts the extra one at the end
                pads = []
                for i in range(nsp):
                    tot = d[i] * (k[i] - 1)
                    pads.append((tot // 2, tot - tot // 2))
        else:
            pads = [(p, p) for p in _tup(pad, nsp)]
    res = []
    for i in range(nsp):
        pb, pa = pads[i]
        if (
            kind in ("max_pool", "avg_pool")
            and not callable(explicit)
            and cls not in ("MaxPool2dSame", "AvgPool2dSame")
        ) or (ceil and pb == pa):
            n_out = pool_out_size(in_sp[i], k[i], s[i], d[i], pb, ceil)
        else:
            n_out = conv_out_size(in_sp[i], k[i], s[i], d[i], pb, pa)
        if n_out != out_sp[i]:
            raise _Lost(f"{cls}: output size {out_sp[i]} does not match the arithmetic ({n_out})", False)
        res.append(
            window_op(
                in_sp[i],
                k[i],
                s[i],
                d[i],
                pb,
                pa,
                out_sp[i],
                "constant" if mode == "max_pool_same" else mode,
                build=build,
            )
        )
    return res, (note + (" ceil_mode" if ceil else "")).strip()


def _is_recognised(mod: nn.Module) -> bool:
    return _module_kind(mod) is not None or callable(getattr(mod, "explicit_padding", None))


class _Run:
    """The module hooks' side of one traced forward: which recognised module is open, and what it was given."""

    def __init__(self, tracer: _Tracer, names: dict[int, str], maps: bool) -> None:
        self.tracer, self.trace, self.names, self.maps = tracer, tracer.trace, names, maps
        self.pending: list[tuple[torch.Tensor | None, bool, Meta | None]] = []

    def pre(self, mod: nn.Module, inputs: Any) -> None:
        tracer = self.tracer
        name = self.names.get(id(mod), type(mod).__name__) or "(root)"
        tracer.stack.append(name)
        if _is_recognised(mod) and not tracer.opaque:
            t = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
            derived, meta = tracer.get(t) if t is not None else (False, None)
            self.pending.append((t, derived, meta))
            tracer.opaque += 1
        elif _is_recognised(mod):
            tracer.opaque += 1
            self.pending.append((None, False, None))

    def post(self, mod: nn.Module, inputs: Any, output: Any) -> None:
        tracer, trace = self.tracer, self.trace
        name = tracer.stack.pop()
        if not _is_recognised(mod):
            return
        tracer.opaque -= 1
        t, derived, meta = self.pending.pop()
        if tracer.opaque or not derived or t is None or not isinstance(output, torch.Tensor):
            return
        kind = _module_kind(mod) or ("conv" if hasattr(mod, "weight") else "pool")
        if kind == "linear":
            last = t.dim() - 1
            if meta is not None and last in meta.dims:
                tracer.taint([output], "nn.Linear over a spatial axis", [meta], benign=False)
            else:
                tracer.put(output, meta)
            return
        try:
            per_dim, note = _module_dims(mod, kind, t, output, self.maps)
            nsp = len(per_dim)
            dims = list(range(t.dim() - nsp, t.dim()))
            tracer.window(t, meta, output, dims, per_dim, name, kind, note)
        except _Lost as exc:
            if not any(layer.name == name for layer in trace.layers):
                trace.add(LayerRecord(name, "unknown", (), note=exc.why))
            tracer.taint([output], exc.why, [meta] if meta else [], benign=exc.benign)


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
    :class:`StopTrace`, which carries the partial trace. ``hooks``: an entered :class:`ModelHooks` of ``model`` to
    reuse (default: hooks registered for this call and removed after it).
    """
    if hooks is None:
        with ModelHooks(model) as own:
            return run_trace(model, x, maps=maps, stop=stop, hooks=own)
    if hooks.model is not model:
        raise ValueError("run_trace(hooks=...): the hooks belong to another model")
    trace = Trace(ndim=x.dim() - 2, maps=maps, stop=stop)
    tracer = _Tracer(trace)
    sizes = tuple(int(s) for s in x.shape[2:])
    reach0 = tuple(np.zeros(s, bool) for s in sizes) if maps else None
    n0 = tracer.new_node([], sizes, None)
    tracer.put(x, Meta(tuple(range(2, x.dim())), reach0, n0))
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
    if maps and not trace.losses and not trace.inexact:
        trace.foveation = _foveation(trace)
    return trace, out


def _foveation(trace: Trace) -> np.ndarray | None:
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
