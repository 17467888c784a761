"""Copy-mode convolutions at a dilation larger than the output: gather only the padded rows the kernel reads.

With kernel ``k``, stride ``s``, dilation ``d`` and ``out`` outputs along a dim, tap ``t`` of output ``i`` reads padded
row ``t * d + i * s``. Each tap reads a block of ``span = (out - 1) * s + 1`` consecutive padded rows; when
``d > span`` the blocks do not overlap and the rows between them are never read. The conv over the padded input then
equals a conv with stride ``k`` and no dilation over the ``k * out`` rows that are read, window after window: a few
rows instead of ``n + 2 * d`` (PyTorch issue 68512: a replicate-padded 28x28 input at dilation 256 pads to 540x540),
and a dense conv instead of a dilated one. The read rows are gathered straight from the input through the mode's index
table (:func:`padkit.modes.index_map`); the adjoint adds each gradient row back onto its source row.

Where a tap reads the same source row for every output along a dim (``replicate`` beyond the input: every row of
the tap's block clamps to one edge row), its input along that dim is that one row, broadcast over the outputs. The
conv then splits into one conv per combination of tap groups, a group per dim being its varying taps (read as above)
or its constant taps (one row each, output size 1, broadcast): :func:`tap_plan`, :func:`tap_conv`. For a 3x3
replicate conv over 28x28 at dilation 256 the centre tap is a 1x1 conv over the whole input, the four edge taps
read one row or column each and the four corners one pixel: about 1.15x the multiply-adds of the centre tap alone,
which is all a zero-padded conv computes there, against 9x for the gathered rows.

Example:
    >>> compact_rows(n=4, before=8, after=8, k=3, s=1, d=8, mode="replicate")
    ((0, 0, 3, 0, 1, 3, 0, 2, 3, 0, 3, 3), 3, 1)
    >>> [(g.taps, g.broadcast) for g in dim_groups(n=4, before=8, after=8, k=3, s=1, d=8, mode="replicate")]
    [((1,), False), ((0, 2), True)]
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .._pad._copy import _mode_at
from ..geometry import Pairs, conv_out_size
from ..modes import index_map
from ._cache import TensorCache
from ._repad import PadSpec, _autocast_inputs, _recomputed_grads, traced

__all__ = [
    "Take",
    "TapConv",
    "TapGroup",
    "TapPlan",
    "TapTerm",
    "compact_rows",
    "compacts",
    "dim_groups",
    "gather_spec",
    "tap_conv",
    "tap_forward",
    "tap_plan",
]

_CONV: dict[int, Callable[..., Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

_INDEX: TensorCache[Tensor] = TensorCache(256)


@functools.lru_cache(maxsize=1024)
def compact_rows(
    n: int, before: int, after: int, k: int, s: int, d: int, mode: str
) -> tuple[tuple[int, ...], int, int]:
    """Source rows of the padded rows one dim's conv reads, and the stride and dilation of the conv over them.

    Compacted (``d > span``): the ``k`` rows of output ``i``'s window at ``i * k .. i * k + k - 1`` (stride ``k``,
    dilation 1); else every padded row (the layer's stride and dilation).
    """
    table = index_map(n, before, after, mode)
    out = conv_out_size(n, k, s, d, before, after)
    if not _compacted(k, s, d, out):
        return table, s, d
    return tuple(table[t * d + i * s] for i in range(out) for t in range(k)), k, 1


def _compacted(k: int, s: int, d: int, out: int) -> bool:
    return k > 1 and d > (out - 1) * s + 1


def compacts(spatial: Sequence[int], pairs: Pairs, k: Sequence[int], s: Sequence[int], d: Sequence[int]) -> bool:
    """Whether some dim's dilation leaves rows between the blocks its taps read (so gathering saves rows)."""
    return any(
        _compacted(kk, ss, dd, conv_out_size(n, kk, ss, dd, b, a))
        for n, (b, a), kk, ss, dd in zip(spatial, pairs, k, s, d)
    )


def _index(rows: tuple[int, ...], device: torch.device) -> Tensor:
    return _INDEX.get((rows, str(device)), lambda: torch.tensor(rows, dtype=torch.long, device=device))


def gather_spec(
    spatial: Sequence[int],
    pairs: Pairs,
    k: Sequence[int],
    s: Sequence[int],
    d: Sequence[int],
    mode: str | tuple[str, ...],
) -> tuple[PadSpec, tuple[int, ...], tuple[int, ...]]:
    """The gather of the read rows as a :class:`PadSpec` (copy modes), and the conv's stride and dilation per dim
    over them."""
    nd = len(spatial)
    plans = [compact_rows(spatial[i], pairs[i][0], pairs[i][1], k[i], s[i], d[i], _mode_at(mode, i)) for i in range(nd)]
    stride = tuple(p[1] for p in plans)
    dilation = tuple(p[2] for p in plans)

    def gather(x: Tensor) -> Tensor:
        offset = x.dim() - nd
        for i, (rows, _, _) in enumerate(plans):
            x = x.index_select(offset + i, _index(rows, x.device))
        return x

    def adjoint(g: Tensor, x: Tensor) -> Tensor:
        offset = x.dim() - nd
        for i in range(nd - 1, -1, -1):
            shape = list(g.shape)
            shape[offset + i] = x.shape[offset + i]
            g = g.new_zeros(shape).index_add_(offset + i, _index(plans[i][0], g.device), g)
        return g

    return PadSpec(pairs, mode, {}, gather, adjoint_fn=adjoint), stride, dilation


# ----------------------------------------------------------------------------------------------------------------------
# taps that read one row: a conv per combination of tap groups
# ----------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Take:
    """A selection along one dim: ``index_select(rows)`` when ``rows`` is given, else ``narrow(start, length)``."""

    start: int
    length: int
    rows: tuple[int, ...] | None = None


def _take_of(rows: Sequence[int]) -> Take:
    """The selection of ``rows``: a narrow where they are consecutive, else an index."""
    first = rows[0]
    if tuple(rows) == tuple(range(first, first + len(rows))):
        return Take(first, len(rows))
    return Take(0, len(rows), tuple(rows))


@dataclass(frozen=True)
class TapGroup:
    """Kernel taps along one dim that one conv serves: it reads the input rows ``read`` with ``stride`` and
    ``dilation`` and a kernel of the ``taps``; ``broadcast``: its output is one sample, the same for every output
    along the dim (each tap reads one row)."""

    taps: tuple[int, ...]
    read: Take
    stride: int
    dilation: int
    broadcast: bool


@functools.lru_cache(maxsize=1024)
def dim_groups(n: int, before: int, after: int, k: int, s: int, d: int, mode: str) -> tuple[TapGroup, ...]:
    """The tap groups of one dim: its varying taps (first, where there are any) and its constant taps (each reads one
    row for every output), or, where the dim's taps do not leave rows between their blocks, all taps over the padded
    rows."""
    table = index_map(n, before, after, mode)
    out = conv_out_size(n, k, s, d, before, after)
    taps = tuple(range(k))
    if not _compacted(k, s, d, out):
        return (TapGroup(taps, _take_of(table), s, d, False),)
    reads = {t: tuple(table[t * d + i * s] for i in range(out)) for t in taps}
    const = tuple(t for t in taps if out > 1 and len(set(reads[t])) == 1)
    vary = tuple(t for t in taps if t not in const)
    groups = []
    if vary:
        rows = reads[vary[0]]
        step = rows[1] - rows[0] if out > 1 else 1
        if len(vary) == 1 and step >= 1 and rows == tuple(range(rows[0], rows[-1] + 1, step)):
            groups.append(TapGroup(vary, Take(rows[0], rows[-1] + 1 - rows[0]), step, 1, False))  # a strided slice
        else:  # the rows of output i's window at i * len(vary) ...: stride len(vary)
            compact = tuple(table[t * d + i * s] for i in range(out) for t in vary)
            groups.append(TapGroup(vary, _take_of(compact), len(vary), 1, False))
    if const:
        groups.append(TapGroup(const, _take_of([reads[t][0] for t in const]), 1, 1, True))
    return tuple(groups)


@dataclass(frozen=True)
class TapTerm:
    """One conv of a :class:`TapPlan`: a tap group per dim, the taps it takes from the weight, the spatial dims its
    gradient sums over (from the layer's output gradient for the first term, else from that of the term it is added
    into, ``into``)."""

    groups: tuple[TapGroup, ...]
    weight: tuple[Take, ...]
    into: int
    grad_dims: tuple[int, ...]

    @property
    def reads(self) -> tuple[Take, ...]:
        return tuple(g.read for g in self.groups)

    @property
    def stride(self) -> tuple[int, ...]:
        return tuple(g.stride for g in self.groups)

    @property
    def dilation(self) -> tuple[int, ...]:
        return tuple(g.dilation for g in self.groups)


@dataclass(frozen=True)
class TapPlan:
    """A conv split by tap groups: the sum of its ``terms`` (largest first; each added into a larger one whose shape
    covers it), broadcast to the output size ``out``."""

    terms: tuple[TapTerm, ...]
    out: tuple[int, ...]


@functools.lru_cache(maxsize=1024)
def tap_plan(
    spatial: tuple[int, ...], pairs: Pairs, k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...], mode: str
) -> TapPlan | None:
    """The split of a copy-mode conv by tap groups (:func:`dim_groups`), or ``None`` where no tap reads one row."""
    nd = len(spatial)
    dims = [dim_groups(spatial[i], pairs[i][0], pairs[i][1], k[i], s[i], d[i], mode) for i in range(nd)]
    if not any(g.broadcast for gs in dims for g in gs):
        return None
    out = tuple(conv_out_size(n, kk, ss, dd, b, a) for n, (b, a), kk, ss, dd in zip(spatial, pairs, k, s, d))
    combos = sorted(itertools.product(*dims), key=lambda c: -math.prod(1 if g.broadcast else o for g, o in zip(c, out)))
    terms: list[TapTerm] = []
    for j, combo in enumerate(combos):
        flat = {i for i, g in enumerate(combo) if g.broadcast and out[i] > 1}
        into, covered = -1, set[int]()
        for i in range(j):  # the smallest earlier term whose broadcast dims are among this one's
            earlier = {a for a, g in enumerate(combos[i]) if g.broadcast and out[a] > 1}
            if earlier <= flat:
                into, covered = i, earlier
        weight = tuple(_take_of(g.taps) for g in combo)
        terms.append(TapTerm(combo, weight, into, tuple(2 + a for a in sorted(flat - covered))))
    return TapPlan(tuple(terms), out)


def _take(t: Tensor, dim: int, take: Take) -> Tensor:
    if take.rows is not None:
        return t.index_select(dim, _index(take.rows, t.device))
    if take.start == 0 and take.length == t.shape[dim]:
        return t
    return t.narrow(dim, take.start, take.length)


def _select(t: Tensor, takes: Sequence[Take]) -> Tensor:
    """``t`` selected along its trailing ``len(takes)`` dims."""
    offset = t.dim() - len(takes)
    for i, take in enumerate(takes):
        t = _take(t, offset + i, take)
    return t


def _add_at(target: Tensor, g: Tensor, takes: Sequence[Take]) -> None:
    """``target[selection] += g`` (the adjoint of :func:`_select`), in place."""
    offset = target.dim() - len(takes)
    indexed = []
    for i, take in enumerate(takes):
        if take.rows is None:
            target = _take(target, offset + i, take)
        else:
            indexed.append(i)
    if not indexed:
        target.add_(g)
        return
    for i in reversed(indexed[1:]):
        shape = list(g.shape)
        shape[offset + i] = target.shape[offset + i]
        g = g.new_zeros(shape).index_add_(offset + i, _index(takes[i].rows or (), g.device), g)
    first = indexed[0]
    target.index_add_(offset + first, _index(takes[first].rows or (), g.device), g)


def _identity(takes: Sequence[Take], shape: Sequence[int]) -> bool:
    offset = len(shape) - len(takes)
    return all(t.rows is None and t.start == 0 and t.length == shape[offset + i] for i, t in enumerate(takes))


def _terms(x: Tensor, weight: Tensor, bias: Tensor | None, plan: TapPlan, groups: int) -> list[Tensor]:
    conv = _CONV[len(plan.out)]
    return [
        conv(_select(x, t.reads), _select(weight, t.weight), bias if j == 0 else None, t.stride, 0, t.dilation, groups)
        for j, t in enumerate(plan.terms)
    ]


def _combine(outs: list[Tensor], plan: TapPlan, in_place: bool) -> Tensor:
    for j in range(len(outs) - 1, 0, -1):
        i = plan.terms[j].into
        outs[i] = outs[i].add_(outs[j]) if in_place else outs[i] + outs[j]
    out = outs[0]
    full = tuple(out.shape[:2]) + plan.out
    return out if tuple(out.shape) == full else out.expand(full).contiguous()


def tap_forward(x: Tensor, weight: Tensor, bias: Tensor | None, plan: TapPlan, groups: int) -> Tensor:
    """The conv of a :class:`TapPlan` through differentiable ops (``x``: ``(N, C, *spatial)``)."""
    return _combine(_terms(x, weight, bias, plan, groups), plan, in_place=False)


class TapConv(torch.autograd.Function):
    """The conv of a :class:`TapPlan`, keeping ``x`` and the weight for backward (as a zero-padded conv does); the
    gradients of every term are added into one input gradient and one weight gradient."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, plan: TapPlan, groups: int) -> Tensor:
        out = _combine(_terms(x, weight, bias, plan, groups), plan, in_place=True)
        ctx.save_for_backward(x, weight)  # not the bias: its gradient is the output gradient's sum
        ctx.plan, ctx.groups, ctx.has_bias = plan, groups, bias is not None
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Any:
        x, weight = ctx.saved_tensors
        plan: TapPlan = ctx.plan
        groups: int = ctx.groups
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        need_b = bool(need_b and ctx.has_bias)
        if torch.is_grad_enabled():  # the backward is itself differentiated: recompute through differentiable ops
            # the gradients do not depend on the bias's value: a zero bias stands in for it
            bias = weight.new_zeros(weight.shape[0]).requires_grad_(need_b) if ctx.has_bias else None
            fn = functools.partial(tap_forward, plan=plan, groups=groups)
            return (*_recomputed_grads(fn, (x, weight, bias), grad), None, None)
        nd = len(plan.out)
        gx = gw = gb = None
        term_grads: list[Tensor] = []
        for j, term in enumerate(plan.terms):
            source = grad if j == 0 else term_grads[term.into]
            g = source.sum(term.grad_dims, keepdim=True) if term.grad_dims else source
            term_grads.append(g)
            xg, wg = _select(x, term.reads), _select(weight, term.weight)
            bias_here = j == 0 and need_b
            gxg, gwg, gbg = torch.ops.aten.convolution_backward(
                g,
                xg,
                wg,
                [wg.shape[0]] if bias_here else None,
                list(term.stride),
                [0] * nd,
                list(term.dilation),
                False,
                [0] * nd,
                groups,
                [need_x, need_w, bias_here],
            )
            if need_x:
                if gx is None and _identity(term.reads, x.shape):
                    gx = gxg
                else:
                    gx = torch.zeros_like(x) if gx is None else gx
                    _add_at(gx, gxg, term.reads)
            if need_w:
                gw = torch.zeros_like(weight) if gw is None else gw
                _add_at(gw, gwg, term.weight)
            if bias_here:
                gb = gbg
        return gx, gw, gb, None, None


def tap_conv(x: Tensor, weight: Tensor, bias: Tensor | None, plan: TapPlan, groups: int) -> Tensor:
    """The conv of a :class:`TapPlan` (``x``: ``(N, C, *spatial)``): through :class:`TapConv` where gradients are
    recorded and nothing traces, else the plain ops."""
    grads = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias))
    if not grads or traced():
        return _combine(_terms(x, weight, bias, plan, groups), plan, in_place=not grads)
    cast = _autocast_inputs(x, weight, bias)
    if cast is not None:
        with torch.autocast(x.device.type, enabled=False):
            return TapConv.apply(*cast, plan, groups)
    return TapConv.apply(x, weight, bias, plan, groups)
