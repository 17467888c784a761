"""The ``"border"`` algorithm: a zero-padded convolution plus an exact correction of the border outputs.

``conv(pad_mode(x)) = conv(pad_zero(x)) + conv(pad_mode(x) - pad_zero(x))`` by linearity, and the difference is
non-zero only in the padding frame, so each correction is a thin convolution over the few padded rows a border output
reads, with only the kernel taps that land on them. No padded copy of the input is made; a custom autograd Function
adds the strip gradients straight into the convolution's own input gradient (first-order only).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..geometry import Pairs, conv_out_size
from ..modes import index_map
from ._cache import TensorCache

__all__ = ["border_conv"]

_CONV: dict[int, Callable[..., Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

#: Long index tensors (rows of one border strip, the full index map of one padded dim) per device.
_INDEX_CACHE: TensorCache[Tensor] = TensorCache(1024)


def _index(key: tuple[Any, ...], values: Callable[[], Sequence[int]], device: torch.device) -> Tensor:
    """The long tensor of ``values()`` on ``device``, made once per ``key``."""
    return _INDEX_CACHE.get(key, lambda: torch.tensor(values(), dtype=torch.long, device=device))


def border_jobs(
    nd: int,
    s: tuple[int, ...],
    d: tuple[int, ...],
    pairs: Pairs,
    k: tuple[int, ...],
    spatial: tuple[int, ...],
    out_sp: Sequence[int],
) -> list[tuple[int, int, int, int]]:
    """``(dim a, output index i, first tap, number of taps)`` for every border output that reads padding along ``a``."""
    jobs: list[tuple[int, int, int, int]] = []
    for a in range(nd):
        p = pairs[a][0]
        if p == 0:
            continue
        n, ka, sa, da = spatial[a], k[a], s[a], d[a]
        for i in range(out_sp[a]):
            first = i * sa - p
            if first >= 0:
                break
            jobs.append((a, i, 0, min(ka, -(first // da))))
        for i in range(out_sp[a] - 1, -1, -1):
            start = i * sa - p
            if start + (ka - 1) * da < n:
                break
            k0 = max(0, -(-(n - start) // da))
            jobs.append((a, i, k0, ka - k0))
    return jobs


class BorderPlan:
    """Geometry of the border correction for one call (ints plus cached index tensors)."""

    def __init__(
        self, nd: int, x: Tensor, s: tuple[int, ...], d: tuple[int, ...], pairs: Pairs, k: tuple[int, ...], mode: str
    ) -> None:
        self.nd, self.s, self.d, self.mode = nd, s, d, mode
        self.spatial = tuple(int(v) for v in x.shape[2:])
        self.pad = tuple(b for b, _ in pairs)
        self.out_sp = tuple(
            conv_out_size(n, kk, ss, dd, b, a) for n, (b, a), kk, ss, dd in zip(self.spatial, pairs, k, s, d)
        )
        self.device = x.device
        self.jobs = border_jobs(nd, s, d, pairs, k, self.spatial, self.out_sp)

    def rows(self, a: int, i: int, t0: int, m: int) -> Tensor:
        """Source rows (along dim ``a``) of the ``m`` taps from ``t0`` of output ``i``'s window."""
        imap = index_map(self.spatial[a], self.pad[a], self.pad[a], self.mode)
        rows = tuple(imap[i * self.s[a] + (t0 + t) * self.d[a]] for t in range(m))
        return _index(("rows", rows, str(self.device)), lambda: rows, self.device)

    def full_index(self, b: int) -> Tensor:
        """The mode's index map of the whole padded dim ``b``."""
        n, p = self.spatial[b], self.pad[b]
        key = (n, p, p, self.mode, str(self.device))
        return _index(key, lambda: index_map(n, p, p, self.mode), self.device)

    def strip(self, x: Tensor, a: int, i: int, t0: int, m: int) -> Tensor:
        strip = x.index_select(2 + a, self.rows(a, i, t0, m))
        for b in range(a + 1, self.nd):
            if self.pad[b]:
                strip = strip.index_select(2 + b, self.full_index(b))
        return strip

    def conv_args(self, a: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        nd = self.nd
        cs = tuple(1 if b == a else self.s[b] for b in range(nd))
        cp = tuple(self.pad[b] if b < a else 0 for b in range(nd))
        cd = tuple(1 if b == a else self.d[b] for b in range(nd))
        return cs, cp, cd

    def correction(self, x: Tensor, weight: Tensor, groups: int, job: tuple[int, int, int, int]) -> Tensor:
        a, i, t0, m = job
        cs, cp, cd = self.conv_args(a)
        return _CONV[self.nd](self.strip(x, a, i, t0, m), weight.narrow(2 + a, t0, m), None, cs, cp, cd, groups)


def _autocast_dtype(device_type: str) -> torch.dtype:
    get = getattr(torch, "get_autocast_dtype", None)  # torch >= 2.4
    if get is not None:
        return get(device_type)
    return torch.get_autocast_gpu_dtype() if device_type == "cuda" else torch.get_autocast_cpu_dtype()


class BorderConv(torch.autograd.Function):
    """Zero-padded conv + in-place border correction. Its backward adds the strip gradients straight into the conv's own
    input gradient, so no full-size temporary is made (the reason this is a custom Function)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, plan: BorderPlan, groups: int) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.plan, ctx.groups, ctx.has_bias = plan, groups, bias is not None
        out = _CONV[plan.nd](x, weight, bias, plan.s, plan.pad, plan.d, groups)
        for job in plan.jobs:
            out.narrow(2 + job[0], job[1], 1).add_(plan.correction(x, weight, groups, job))
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Any:
        x, weight = ctx.saved_tensors
        plan: BorderPlan = ctx.plan
        nd, groups = plan.nd, ctx.groups
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        zeros = [0] * nd
        gx, gw, gb = torch.ops.aten.convolution_backward(
            grad,
            x,
            weight,
            [weight.shape[0]] if ctx.has_bias else None,
            list(plan.s),
            list(plan.pad),
            list(plan.d),
            False,
            zeros,
            groups,
            [need_x, need_w, bool(need_b and ctx.has_bias)],
        )
        for a, i, t0, m in plan.jobs:
            cs, cp, cd = plan.conv_args(a)
            strip = plan.strip(x, a, i, t0, m)
            gs, gws, _ = torch.ops.aten.convolution_backward(
                grad.narrow(2 + a, i, 1),
                strip,
                weight.narrow(2 + a, t0, m),
                None,
                list(cs),
                list(cp),
                list(cd),
                False,
                zeros,
                groups,
                [need_x, need_w, False],
            )
            if need_w:
                gw.narrow(2 + a, t0, m).add_(gws)
            if need_x:
                for b in range(nd - 1, a, -1):  # undo the gathers along the dims after a
                    if plan.pad[b]:
                        shape = list(gs.shape)
                        shape[2 + b] = plan.spatial[b]
                        gs = gs.new_zeros(shape).index_add_(2 + b, plan.full_index(b), gs)
                gx.index_add_(2 + a, plan.rows(a, i, t0, m), gs)
        return gx, gw, gb, None, None


def border_conv(
    nd: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    s: tuple[int, ...],
    d: tuple[int, ...],
    groups: int,
    pairs: Pairs,
    k: tuple[int, ...],
    mode: str,
) -> Tensor:
    """Zero-padded conv plus, for the border outputs only, ``conv(pad_mode(x) - pad_zero(x))`` (exact by linearity).

    For a copy mode (``padkit.modes.COPY_MODES``) with equal padding on both sides of every dim. The padding frame is
    split by the first dim ``a`` in which a padded position lies outside the input; the contribution of class ``a`` to
    output index ``i`` along ``a`` is a thin conv over the padded rows that ``i``'s window reads, with only the kernel
    taps that land on them (dims before ``a``: interior only, i.e. zero padded; dims after ``a``: the full mode-padded
    extent).
    """
    plan = BorderPlan(nd, x, s, d, pairs, k, mode)
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias))
    traced = torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export()
    if needs_grad and not traced:
        dev = x.device.type
        if torch.is_autocast_enabled(dev):
            # what autocast does for a conv: inputs in the autocast dtype; the Function then runs (and saves its
            # tensors) in that one dtype, so its backward never mixes a low-precision gradient with fp32 inputs
            dt = _autocast_dtype(dev)
            x, weight = x.to(dt), weight.to(dt)
            bias = None if bias is None else bias.to(dt)
            with torch.autocast(dev, enabled=False):
                return BorderConv.apply(x, weight, bias, plan, groups)
        return BorderConv.apply(x, weight, bias, plan, groups)
    out = _CONV[nd](x, weight, bias, s, plan.pad, d, groups)
    for job in plan.jobs:
        a, i = job[0], job[1]
        corr = plan.correction(x, weight, groups, job)
        if traced:  # out-of-place form for compilers/exporters (they fuse it)
            out = torch.slice_scatter(out, out.narrow(2 + a, i, 1) + corr, 2 + a, i, i + 1)
        else:
            out.narrow(2 + a, i, 1).add_(corr)
    return out
