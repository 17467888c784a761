"""How each aten op moves the spatial structure of tracked tensors: a dispatch table, op name -> handler.

The tracer (:mod:`.trace`) calls :func:`handler_for` with the op's name (its overload packet, trailing ``_`` of
in-place ops dropped) for every op that has an input derived from the model's input. A handler gets the tracer and an
:class:`OpCall`; it records the outputs' spatial structure (``tracer.put``) and returns True, returns False when it
cannot follow this call (the outputs are tainted as unsupported), or raises :class:`~.graph.Lost` to say why.

Adding an op is one handler and one entry in :data:`OPS`. An op PyTorch tags ``pointwise`` is elementwise whatever its
name (``max.other``), so the tag wins over the table except for the plain copies (:data:`COPY_OPS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from ...modes import is_zero_fill
from .arith import (
    DimRecord,
    adaptive_op,
    apply_axes,
    as_tuple,
    conv_transpose_op,
    index_op,
    pad_op,
    window_op,
)
from .graph import LayerRecord, Lost, Meta
from .interp import INTERP_MODES, interpolate, pixel_shuffle

if TYPE_CHECKING:
    from .trace import Tracer

__all__ = ["COPY_OPS", "OPS", "UNTRACKED_OPS", "Handler", "OpCall", "handler_for"]

#: Ops whose outputs carry no data of their tensor inputs (factories, sizes): their outputs are not tracked.
UNTRACKED_OPS = frozenset(
    {
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
)


@dataclass
class OpCall:
    """One call of an aten op with at least one input derived from the model's input.

    Attributes:
        name: the op's name (``convolution``, ``add``, ...).
        func: the ``OpOverload`` called.
        args, kwargs: its arguments.
        out: its result; ``flat_out``: the tensors in it, in order.
        derived: ``(tensor, meta)`` of each tracked input tensor (derived from the input, spatial structure known).
    """

    name: str
    func: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    out: Any
    flat_out: list[torch.Tensor]
    derived: list[tuple[torch.Tensor, Meta]]


Handler = Callable[["Tracer", OpCall], bool]


def _untrack_rest(tr: Tracer, op: OpCall) -> None:
    """Outputs after the first (pooling indices, ...) carry no spatial data the tracer follows."""
    for extra in op.flat_out[1:]:
        tr.put(extra, None)


# -- copies and elementwise ops ------------------------------------------------------------------------------------


def _copy(tr: Tracer, op: OpCall) -> bool:
    t, m = op.derived[0]
    if op.args[0] is not t:
        return False
    tr.put(op.flat_out[0], m)
    return True


def _pointwise(tr: Tracer, op: OpCall) -> bool:
    if not isinstance(op.out, torch.Tensor):
        return False
    tr.pointwise(op.out, op.derived)
    return True


def _batch_norm(tr: Tracer, op: OpCall) -> bool:
    training = bool(op.args[5]) if op.name != "_native_batch_norm_legit_no_training" and len(op.args) > 5 else False
    if training:
        tr.trace.context.append(
            f"{tr.where()}: batch statistics over spatial positions (instance norm, or batch norm in training mode)"
        )
    tr.pointwise(op.flat_out[0], [d for d in op.derived if d[0] is op.args[0]])
    if training:
        tr.make_global(op.flat_out[0], f"{tr.where()}:norm_statistics")
    return True


def _layer_or_group_norm(tr: Tracer, op: OpCall) -> bool:
    t, m = next(d for d in op.derived if d[0] is op.args[0])
    spatial_norm = op.name == "native_group_norm" or any(d >= t.dim() - len(op.args[1]) for d in m.dims)
    if spatial_norm:
        tr.trace.context.append(f"{tr.where()}: {op.name} statistics over spatial positions")
    tr.pointwise(op.flat_out[0], [(t, m)])
    if spatial_norm:
        tr.make_global(op.flat_out[0], f"{tr.where()}:{op.name.removeprefix('native_')}")
    return True


# -- layout: views, permutations, splits ---------------------------------------------------------------------------


def _flattens(
    dims: tuple[int, ...], in_shape: list[int], pre_in: list[int], out_shape: list[int], pre_out: list[int]
) -> bool:
    """Whether one output dim holds every spatial position (a flatten of space: what follows sees all positions)."""
    first, last = min(dims), max(dims)
    if sorted(dims) != list(range(first, last + 1)):
        return False
    start, end = pre_in[first], pre_in[last] * in_shape[last]
    return any(pre_out[j] <= start and pre_out[j] * out_shape[j] >= end for j in range(len(out_shape)))


def _view(tr: Tracer, op: OpCall) -> bool:
    t, m = op.derived[0]
    o = op.flat_out[0]
    in_shape, out_shape = list(t.shape), list(o.shape)
    pre_in = [math.prod(in_shape[:i]) for i in range(len(in_shape))]
    pre_out = [math.prod(out_shape[:j]) for j in range(len(out_shape))]
    dims = []
    for d in m.dims:
        cands = [j for j in range(len(out_shape)) if pre_out[j] == pre_in[d] and out_shape[j] == in_shape[d]]
        if not cands or (in_shape[d] == 1 and len(cands) != 1):
            if _flattens(m.dims, in_shape, pre_in, out_shape, pre_out):
                raise Lost("reshape flattens the spatial axes into one (spatial structure ends here)", True, mixes=True)
            raise Lost("reshape merges or splits the spatial axes (spatial structure ends here)", True)
        dims.append(cands[0])
    tr.put(o, m.moved(tuple(dims)))
    return True


def _permute(tr: Tracer, op: OpCall) -> bool:
    t, m = op.derived[0]
    perm = [p % t.dim() for p in op.args[1]]
    tr.put(op.flat_out[0], m.moved(tuple(perm.index(d) for d in m.dims)))
    return True


def _transpose(tr: Tracer, op: OpCall) -> bool:
    t, m = op.derived[0]
    a0, a1 = (op.args[1] % t.dim(), op.args[2] % t.dim()) if op.name == "transpose" else (0, 1)
    dims = tuple(a1 if d == a0 else a0 if d == a1 else d for d in m.dims)
    tr.put(op.flat_out[0], m.moved(dims))
    return True


def _expand(tr: Tracer, op: OpCall) -> bool:
    t, m = op.derived[0]
    o = op.flat_out[0]
    off = o.dim() - t.dim()
    if any(o.shape[d + off] != t.shape[d] for d in m.dims):
        raise Lost("expand of a spatial axis", False)
    tr.put(o, m.moved(tuple(d + off for d in m.dims)))
    return True


def _split(tr: Tracer, op: OpCall) -> bool:
    t, m = op.derived[0]
    args = op.args
    if op.name == "unbind":
        dim = args[1] if len(args) > 1 else 0
    else:
        dim = args[2] if len(args) > 2 else op.kwargs.get("dim", 0)
    dim %= t.dim()
    if dim in m.dims:
        raise Lost(f"{op.name} along a spatial axis", False)
    for o in op.flat_out:
        off = o.dim() - t.dim()
        tr.put(o, m.moved(tuple(d + (off if d > dim else 0) for d in m.dims)))
    return True


# -- window ops: convolution, pooling, padding ---------------------------------------------------------------------


def _convolution(tr: Tracer, op: OpCall) -> bool:
    args, o = op.args, op.flat_out[0]
    t = args[0]
    m = next((mm for tt, mm in op.derived if tt is t), None)
    if any(tt is not t for tt, _ in op.derived):
        raise Lost("convolution whose weight depends on the input", False)
    stride, padding, dilation, transposed = args[3], args[4], args[5], args[6]
    nsp = len(stride)
    ks = args[1].shape[2:]
    dims = list(range(t.dim() - nsp, t.dim()))
    build = tr.trace.maps
    per_dim = []
    for i, d in enumerate(dims):
        n, n_out = int(t.shape[d]), int(o.shape[o.dim() - nsp + i])
        if transposed:
            per_dim.append(conv_transpose_op(n, ks[i], stride[i], dilation[i], padding[i], n_out, build=build))
        else:
            per_dim.append(window_op(n, ks[i], stride[i], dilation[i], padding[i], padding[i], n_out, build=build))
    kind = "conv_transpose" if transposed else "conv"
    tr.window(t, m, o, dims, per_dim, tr.layer_name(kind), kind)
    return True


def _pool(tr: Tracer, op: OpCall) -> bool:
    args, o = op.args, op.flat_out[0]
    t, m = op.derived[0]
    nsp = int(op.name.split("pool")[1][0])
    k = as_tuple(args[1], nsp)
    s = as_tuple(args[2], nsp) if len(args) > 2 and args[2] else k
    p = as_tuple(args[3], nsp) if len(args) > 3 else (0,) * nsp
    if op.name.startswith("max"):
        dl = as_tuple(args[4], nsp) if len(args) > 4 else (1,) * nsp
        ceil = bool(args[5]) if len(args) > 5 else False
    else:
        dl = (1,) * nsp
        ceil = bool(args[4]) if len(args) > 4 else False
    dims = list(range(t.dim() - nsp, t.dim()))
    per_dim = [
        window_op(int(t.shape[d]), k[i], s[i], dl[i], p[i], p[i], int(o.shape[o.dim() - nsp + i]), build=tr.trace.maps)
        for i, d in enumerate(dims)
    ]
    kind = "max_pool" if op.name.startswith("max") else "avg_pool"
    tr.window(t, m, o, dims, per_dim, tr.layer_name(kind), kind, note="ceil_mode" if ceil else "")
    _untrack_rest(tr, op)
    return True


def _adaptive_pool(tr: Tracer, op: OpCall) -> bool:
    t, m = op.derived[0]
    o = op.flat_out[0]
    kind = op.name.lstrip("_").rstrip("0123456789d")
    nsp = min(o.dim() - 2 if o.dim() > 2 else 1, 3)
    dims = list(range(t.dim() - nsp, t.dim()))
    per_dim = [adaptive_op(int(t.shape[d]), int(o.shape[d]), build=tr.trace.maps) for d in dims]
    sizes = {(int(t.shape[d]), int(o.shape[d])) for d in dims}
    note = "adaptive windows " + ", ".join(f"{a}->{b}" for a, b in sorted(sizes))
    tr.window(t, m, o, dims, per_dim, f"{tr.where()}:{op.name}", kind, note=note)
    _untrack_rest(tr, op)
    return True


def _pad(tr: Tracer, op: OpCall) -> bool:
    t, m = op.derived[0]
    pads = list(op.args[1])
    if op.name == "constant_pad_nd":
        value = op.args[2] if len(op.args) > 2 else op.kwargs.get("value", 0)
        mode = "zeros" if is_zero_fill("constant", {"value": value}) else "constant"
    else:
        mode = "reflect" if op.name.startswith("reflection") else "replicate"
    nd = len(pads) // 2
    dims = list(range(t.dim() - nd, t.dim()))
    per_dim = []
    for i, d in enumerate(dims):
        j = nd - 1 - i  # F.pad order: last dim first
        per_dim.append(pad_op(int(t.shape[d]), int(pads[2 * j]), int(pads[2 * j + 1]), mode, build=tr.trace.maps))
    tr.window(t, m, op.flat_out[0], dims, per_dim, tr.layer_name("pad"), "pad", note=mode)
    return True


# -- reductions ----------------------------------------------------------------------------------------------------


def _reduce(tr: Tracer, op: OpCall) -> bool:
    args, kwargs, flat_out = op.args, op.kwargs, op.flat_out
    t, m = op.derived[0]
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
            tr.put(o, m)
        else:
            tr.put(o, m.moved(tuple(d - sum(r < d for r in rset) for d in m.dims)))
        _untrack_rest(tr, op)
        return True
    if not keep or not set(m.dims) <= rset:
        every = set(m.dims) <= rset
        raise Lost(f"{op.name} over the spatial axes (spatial structure ends here)", True, mixes=every)
    # keepdim global reduction over all spatial axes: an adaptive window of output size 1
    per = {d: adaptive_op(int(t.shape[d]), 1, build=tr.trace.maps) for d in sorted(m.dims)}
    kind = f"global_{op.name}"
    rec = LayerRecord(tr.layer_name(kind), kind, tuple(per[d][0] for d in m.dims), out_spatial=(1,) * len(m.dims))
    scale = m.scale  # global pooling keeps the rate of the map it pools
    rec.scale = scale
    tr.trace.add(rec)
    if not tr.trace.maps:
        tr.put(o, Meta(m.dims, None, m.node, None, scale))
        return True
    reach = None if m.reach is None else tuple(np.array([bool(r.any())]) for r in m.reach)
    rec.reach = reach
    mats = [per[d][1].read for d in m.dims]  # type: ignore[union-attr]
    rf = None if m.rf is None else tuple(tr.span_through(sp, mat) for sp, mat in zip(m.rf, mats))
    rec.rf = rf
    rec.global_at = tr.global_name(rec.name, [m], rf)
    node = tr.new_node([m.node], (1,) * len(m.dims), lambda c, mats=mats: [apply_axes(c, mats)])
    tr.put(o, Meta(m.dims, reach, node, rf, scale, rec.global_at))
    _untrack_rest(tr, op)
    return True


def _vector_norm(tr: Tracer, op: OpCall) -> bool:
    """``linalg_vector_norm(x, ord, dim, keepdim)``: a reduction over ``dim`` (channels for SSD's L2Norm)."""
    args = list(op.args) + [None] * 4
    dim = op.kwargs.get("dim", args[2])
    keep = bool(op.kwargs.get("keepdim", args[3] or False))
    return _reduce(tr, OpCall(op.name, op.func, (op.args[0], dim, keep), {}, op.out, op.flat_out, op.derived))


# -- indexing: slices, flips, rolls, concatenation -----------------------------------------------------------------


def _apply_index(
    tr: Tracer, t: torch.Tensor, m: Meta, o: torch.Tensor, ops: dict[int, Any], step: dict[int, int] | None = None
) -> None:
    """Propagate through per-dim index ops ``{tensor dim: (DimRecord, DimOp)}`` (other spatial dims unchanged);
    ``step``: per tensor dim, the stride of a strided slice (the scale divides by it)."""
    step = step or {}
    scale = tuple(sc / step.get(d, 1) for sc, d in zip(m.scale, m.dims))
    if not tr.trace.maps:
        tr.put(o, Meta(m.dims, None, m.node, None, scale))
        return
    mats = [ops[d][1].read if d in ops else None for d in m.dims]
    reach = None
    if m.reach is not None:
        reach = tuple(
            ((ops[d][1].read > 0) @ r.astype(np.int64) > 0) if d in ops else r for d, r in zip(m.dims, m.reach)
        )
    rf = None
    if m.rf is not None:
        rf = tuple(sp if mat is None else tr.span_through(sp, mat) for sp, mat in zip(m.rf, mats))
    node = tr.new_node([m.node], tuple(int(o.shape[d]) for d in m.dims), lambda c, mats=mats: [apply_axes(c, mats)])
    tr.put(o, Meta(m.dims, reach, node, rf, scale, m.global_at))


def _flip_or_roll(tr: Tracer, op: OpCall) -> bool:
    args = op.args
    t, m = op.derived[0]
    if args[0] is not t:
        return False
    if op.name == "flip":
        fdims = {d % t.dim() for d in args[1]}
        shifts: dict[int, int] = {}
    else:
        sh = [args[1]] if isinstance(args[1], int) else list(args[1])
        rd = [args[2]] if len(args) > 2 and isinstance(args[2], int) else list(args[2]) if len(args) > 2 else []
        if not rd:
            raise Lost("roll over the flattened tensor", False)
        shifts = {d % t.dim(): s for d, s in zip(rd, sh)}
        fdims = set(shifts)
    ops = {}
    for d in fdims & set(m.dims):
        n = int(t.shape[d])
        idx = np.arange(n)[::-1].copy() if op.name == "flip" else (np.arange(n) - shifts[d]) % n
        ops[d] = (
            DimRecord(n, n, None, None, None, 0, 0, 0),
            index_op(idx, n, np.zeros(n, bool)) if tr.trace.maps else None,
        )
    _apply_index(tr, t, m, op.flat_out[0], ops)
    return True


def _select(tr: Tracer, op: OpCall) -> bool:
    t, m = op.derived[0]
    if op.args[0] is not t:
        return False
    dim = op.args[1] % t.dim() if len(op.args) > 1 else 0
    if dim in m.dims:
        raise Lost("select of one spatial index", False)
    tr.put(op.flat_out[0], m.moved(tuple(d - (d > dim) for d in m.dims)))
    return True


def _slice(tr: Tracer, op: OpCall) -> bool:
    args, o = op.args, op.flat_out[0]
    t, m = op.derived[0]
    if args[0] is not t:
        return False
    dim = args[1] % t.dim() if len(args) > 1 else 0
    if dim not in m.dims:
        tr.put(o, m)
        return True
    n = int(t.shape[dim])
    start = args[2] if len(args) > 2 and args[2] is not None else 0
    end = args[3] if len(args) > 3 and args[3] is not None else n
    step = args[4] if len(args) > 4 else 1
    idx = np.arange(n)[slice(start, end, step)]
    if len(idx) == n and step == 1:
        tr.put(o, m)
        return True
    rec = DimRecord(n, len(idx), None, None, None, 0, 0, 0)
    ops = {dim: (rec, index_op(idx, n, np.zeros(len(idx), bool)) if tr.trace.maps else None)}
    _apply_index(tr, t, m, o, ops, {dim: int(step)})
    return True


def _cat(tr: Tracer, op: OpCall) -> bool:
    o = op.flat_out[0]
    tensors = list(op.args[0])
    dim = (op.args[1] if len(op.args) > 1 else op.kwargs.get("dim", 0)) % o.dim()
    ms = {id(t): m for t, m in op.derived}
    tracked = [(t, ms[id(t)]) for t in tensors if id(t) in ms]
    layouts = {m.dims for _, m in tracked}
    if len(layouts) != 1:
        raise Lost("cat of differently laid out tensors", False)
    mdims = next(iter(layouts))
    if dim not in mdims:
        tr.pointwise(o, tracked)
        return True
    if len(tracked) != len(tensors):
        raise Lost("cat along a spatial axis with constant tensors", False)
    a = mdims.index(dim)
    if not tr.trace.maps:
        tr.put(o, Meta(mdims, None, tracked[0][1].node, None, tracked[0][1].scale))
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
        reach = tuple(
            np.concatenate([m.reach[a] for _, m in tracked])  # type: ignore[index]
            if b == a
            else np.logical_or.reduce([m.reach[b] for _, m in tracked])  # type: ignore[index]
            for b in range(len(mdims))
        )

    rf = None
    if all(m.rf is not None for _, m in tracked):
        rf = tuple(
            tuple(np.concatenate([m.rf[b][k] for _, m in tracked]) for k in (0, 1))  # type: ignore[index]
            if b == a
            else (
                np.minimum.reduce([m.rf[b][0] for _, m in tracked]),  # type: ignore[index]
                np.maximum.reduce([m.rf[b][1] for _, m in tracked]),  # type: ignore[index]
            )
            for b in range(len(mdims))
        )
    global_at = next((m.global_at for _, m in tracked if m.global_at is not None), None)

    def backward(count: np.ndarray, mats_per: list[Any] = mats_per) -> list[np.ndarray | None]:
        return [apply_axes(count, mats) for mats in mats_per]

    node = tr.new_node([m.node for _, m in tracked], tuple(int(o.shape[d]) for d in mdims), backward)
    tr.put(o, Meta(mdims, reach, node, rf, tracked[0][1].scale, global_at))  # type: ignore[arg-type]
    return True


# -- the table -----------------------------------------------------------------------------------------------------

#: Ops that pass their first input through unchanged; they take precedence over the ``pointwise`` tag.
COPY_OPS = (
    "alias",
    "detach",
    "clone",
    "contiguous",
    "_to_copy",
    "lift_fresh",
    "lift_fresh_copy",
    "dropout",
    "native_dropout",
)
#: Elementwise ops PyTorch does not tag ``pointwise``.
_ELEMENTWISE = (
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
)
_VIEWS = ("view", "_unsafe_view", "reshape", "unsqueeze", "squeeze", "flatten", "unflatten", "_reshape_alias")
_REDUCTIONS = ("mean", "sum", "amax", "amin", "max", "min", "logsumexp", "var", "std", "var_mean")
_NDS = (1, 2, 3)

#: aten op name -> handler.
OPS: dict[str, Handler] = {
    **{name: _copy for name in COPY_OPS},
    **{name: _pointwise for name in _ELEMENTWISE},
    "native_batch_norm": _batch_norm,
    "_native_batch_norm_legit": _batch_norm,
    "_native_batch_norm_legit_no_training": _batch_norm,
    "native_layer_norm": _layer_or_group_norm,
    "native_group_norm": _layer_or_group_norm,
    **{name: _view for name in _VIEWS},
    "permute": _permute,
    "transpose": _transpose,
    "t": _transpose,
    "expand": _expand,
    "split": _split,
    "split_with_sizes": _split,
    "unbind": _split,
    "chunk": _split,
    "convolution": _convolution,
    **{name: _pool for nd in _NDS for name in (f"max_pool{nd}d", f"max_pool{nd}d_with_indices", f"avg_pool{nd}d")},
    **{
        f"{p}{nd}d": _adaptive_pool
        for p in ("_adaptive_avg_pool", "adaptive_avg_pool", "adaptive_max_pool")
        for nd in _NDS
    },
    **{f"{p}{nd}d{aa}": interpolate for p in INTERP_MODES for nd in _NDS for aa in ("", "_aa")},
    "pixel_shuffle": pixel_shuffle,
    "pixel_unshuffle": pixel_shuffle,
    "constant_pad_nd": _pad,
    **{f"{p}{nd}d": _pad for p in ("reflection_pad", "replication_pad") for nd in _NDS},
    **{name: _reduce for name in _REDUCTIONS},
    "linalg_vector_norm": _vector_norm,
    "slice": _slice,
    "select": _select,
    "flip": _flip_or_roll,
    "roll": _flip_or_roll,
    "cat": _cat,
}


def handler_for(name: str, func: Any) -> Handler | None:
    """The handler of op ``name`` (overload ``func``), None when the tracer does not model it."""
    handler = OPS.get(name)
    if handler is not _copy and torch.Tag.pointwise in func.tags:
        return _pointwise
    return handler
