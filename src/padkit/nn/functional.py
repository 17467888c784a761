"""Functional core of ``padkit.nn``: convolution, transposed convolution and pooling with any padding mode.

Every ``padkit.nn`` layer stores its configuration and calls one of these functions.

Padding modes are the canonical ``padkit.modes.LAYER_MODES`` (aliases such as ``zeros``, ``edge`` and ``wrap``
are accepted): ``constant`` (``zeros``), ``reflect``, ``symmetric``, ``replicate``, ``circular``, ``linear_ramp``,
``maximum``, ``minimum``, ``mean``, ``median`` and ``partial`` (partial-convolution padding, Liu et al. 2018).

``padding`` is an int, one int per spatial dim, one ``(before, after)`` pair per spatial dim (dim order), ``"valid"``
or ``"same"``. ``"same"`` works for any stride and dilation: the output has ``ceil(n / stride)`` samples and the total
padding ``max((out - 1) * stride + dilation * (kernel - 1) + 1 - n, 0)`` is split with the odd sample at the end
(TensorFlow's rule).

Example:
    >>> import torch
    >>> from padkit.nn import functional as PF
    >>> x, w = torch.randn(1, 3, 8, 8), torch.randn(4, 3, 3, 3)
    >>> PF.conv2d(x, w, padding=1, padding_mode="reflect").shape
    torch.Size([1, 4, 8, 8])
    >>> PF.conv2d(x, w, stride=2, padding="same", padding_mode="circular").shape
    torch.Size([1, 4, 4, 4])
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .._errors import PadkitTypeError, PadkitValueError
from .._validate import ntuple
from ..geometry import PaddingArg, Pairs, flat_pad, parse_padding, resolve_padding
from ..modes import COPY_MODES, LAYER_MODES, TORCH_NATIVE, canonical_mode, index_map
from ..modes import check_options as validate_options

__all__ = [
    "ALGORITHMS",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "pad_spatial",
    "partial_ratio",
]

#: ``algorithm`` values of the conv functions: ``"border"`` convolves with zero padding and corrects only the border
#: outputs (exact by linearity; no padded copy of the input, so no extra activation memory) where it can, ``"pad"``
#: pads a copy then runs a valid conv (what ``nn.Conv2d(padding_mode=...)`` does). ``"auto"`` picks ``"pad"``: on the
#: CPU the thin border convolutions cost 1.3-4.7x a zero-padded conv against 1.1-1.5x for the copy (``padkit bench
#: conv``, docs/BENCHMARKS.md); on GPUs ``"border"`` has not been measured, and its backward is first-order only
#: (no double backward, no ``torch.func`` transforms), so it is opt-in everywhere.
ALGORITHMS: tuple[str, ...] = ("auto", "pad", "border")

_CONV: dict[int, Callable[..., Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T: dict[int, Callable[..., Tensor]] = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX: dict[int, Callable[..., Any]] = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG: dict[int, Callable[..., Tensor]] = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


# ----------------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------------
def _batched(x: object, nd: int, argname: str = "input") -> tuple[Tensor, bool]:
    if not isinstance(x, Tensor):
        raise PadkitTypeError(f"{argname} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == nd + 2:
        return x, False
    if x.dim() == nd + 1:
        return x.unsqueeze(0), True
    raise PadkitValueError(
        f"{argname} must be {nd + 2}-D (N, C, *spatial) or {nd + 1}-D (C, *spatial) for a {nd}-D layer, "
        f"got shape {tuple(x.shape)}"
    )


def _constant_value(options: Mapping[str, Any]) -> float:
    value = options.get("value", options.get("constant_values", 0.0))
    if value is None:
        return 0.0
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise PadkitTypeError(f"padding_options value must be a number for a layer, got {value!r}")
    return float(value)


def _is_zero_mode(mode: str, options: Mapping[str, Any]) -> bool:
    return mode == "constant" and _constant_value(options) == 0.0


def pad_spatial(
    x: Tensor, pairs: Sequence[tuple[int, int]], mode: str, options: Mapping[str, Any] | None = None
) -> Tensor:
    """Pad the trailing ``len(pairs)`` dims of ``x`` with a canonical ``mode``.

    Args:
        x: ``(N, C, *spatial)``.
        pairs: ``(before, after)`` per spatial dim, in dim order.
        mode: a canonical pad mode (not ``partial``).
        options: the mode's keyword options (``value``, ``stat_length``, ...).

    Returns:
        ``(N, C, *padded_spatial)``.
    """
    options = dict(options or {})
    pairs = tuple(pairs)
    if all(b == 0 and a == 0 for b, a in pairs):
        return x
    flat = flat_pad(pairs)
    if mode == "constant":
        return F.pad(x, flat, mode="constant", value=_constant_value(options))
    if torch.onnx.is_in_onnx_export() and mode in TORCH_NATIVE and not options:
        return F.pad(x, flat, mode=TORCH_NATIVE[mode])  # exports as one ONNX Pad node
    # padkit.pad: F.pad's own kernels where they apply (CPU), a deterministic fold backward elsewhere, any width
    from ..padding import pad  # lazy: padkit.padding is the general-purpose pad (all np.pad modes and options)

    return pad(x, flat, mode=mode, **options)


_INDEX_CACHE: dict[tuple[Any, ...], Tensor] = {}


def _for_cache() -> contextlib.AbstractContextManager[Any]:
    """Where tensors meant for the module caches are made: outside inference mode (an inference tensor could not be
    saved for backward by a later training step), except while compiling (dynamo cannot enter the mode)."""
    return contextlib.nullcontext() if torch.compiler.is_compiling() else torch.inference_mode(False)


def _cacheable(t: Tensor) -> bool:
    """Only real tensors made outside tracing may be cached (tracers hand out fake/proxy tensors)."""
    return (
        type(t) is Tensor
        and not torch.compiler.is_compiling()
        and not torch.jit.is_tracing()
        and t.device.type != "meta"  # no data to read (padkit.plan traces on the meta device)
        and not t.is_inference()  # could not be saved for backward by a later training step
    )


def _index_tensor(size: int, before: int, after: int, mode: str, device: torch.device) -> Tensor:
    if size == 0:
        raise PadkitValueError(f"padding_mode={mode!r} cannot pad a spatial dim of size 0")
    return _cached_index((size, before, after, mode, str(device)), lambda: index_map(size, before, after, mode), device)


def _cached_index(key: tuple[Any, ...], values: Callable[[], Sequence[int]], device: torch.device) -> Tensor:
    """The long tensor of ``values()`` on ``device``, made once per ``key`` (at most ~1024 kept)."""
    hit = _INDEX_CACHE.get(key)
    if hit is None:
        with _for_cache():
            hit = torch.tensor(values(), dtype=torch.long, device=device)
        if _cacheable(hit):
            if len(_INDEX_CACHE) > 1024:
                _INDEX_CACHE.clear()
            _INDEX_CACHE[key] = hit
    return hit


def _check_fits(
    spatial: Sequence[int], pairs: Pairs, kernel: Sequence[int], dilation: Sequence[int], what: str
) -> None:
    for dim, (n, (b, a), k, d) in enumerate(zip(spatial, pairs, kernel, dilation)):
        ke = d * (k - 1) + 1
        if n + b + a < ke:
            raise PadkitValueError(
                f"{what}: spatial dim {dim} has {n} samples + padding ({b}, {a}) = {n + b + a} < the dilated kernel "
                f"extent {ke}; the input is too small"
            )


# ----------------------------------------------------------------------------------------------------------------------
# partial-convolution ratio
# ----------------------------------------------------------------------------------------------------------------------
_RATIO_CACHE: OrderedDict[tuple[Any, ...], tuple[Tensor, Tensor]] = OrderedDict()
_RATIO_CACHE_SIZE = 256


def _ratio_1d(n: int, before: int, k: int, s: int, d: int, out: int) -> list[float]:
    ratios = []
    for i in range(out):
        start = i * s - before
        count = sum(1 for t in range(k) if 0 <= start + t * d < n)
        ratios.append(k / count if count else 0.0)
    return ratios


def _out_size(n: int, before: int, after: int, k: int, s: int, d: int) -> int:
    return (n + before + after - (d * (k - 1) + 1)) // s + 1


def partial_ratio(
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pairs: Sequence[tuple[int, int]],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The partial-convolution ratio map ``window_size / valid_count`` (0 where a window holds no input sample).

    ``valid_count`` is the number of non-padded samples under each output's window; it factorises over dims because
    the padding is a box, so the map is the outer product of per-dim ratios. Maps are cached per (size, kernel,
    stride, dilation, padding, device, dtype); the batch size never enters the key, so the cache cannot go stale.

    Args:
        spatial: input spatial size ``(*S)``.
        kernel, stride, dilation: per spatial dim.
        pairs: ``(before, after)`` padding per spatial dim.
        device, dtype: of the returned map.

    Returns:
        ``(*out_spatial)`` ratio map.

    Example:
        >>> partial_ratio((4, 4), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))[:2, :2]
        tensor([[2.2500, 1.5000],
                [1.5000, 1.0000]])
    """
    return _cached_partial_ratio(spatial, kernel, stride, dilation, pairs, device, dtype).clone()


def _cached_partial_ratio(
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pairs: Sequence[tuple[int, int]],
    device: torch.device | str | None,
    dtype: torch.dtype,
) -> Tensor:
    """:func:`partial_ratio` from the cache (shared: read only). Made outside inference mode, so a map first built
    under ``torch.inference_mode()`` (a warm-up, a validation pass) can still be saved for backward later."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    key = (tuple(spatial), tuple(kernel), tuple(stride), tuple(dilation), tuple(pairs), dev, dtype)
    compiling = torch.compiler.is_compiling()
    if not compiling:
        hit = _RATIO_CACHE.get(key)
        if hit is not None:
            _RATIO_CACHE.move_to_end(key)
            return hit[0]
    with _for_cache():
        ratio = torch.ones((), dtype=torch.float64)
        for n, k, s, d, (b, a) in zip(spatial, kernel, stride, dilation, pairs):
            out = _out_size(n, b, a, k, s, d)
            r = torch.tensor(_ratio_1d(n, b, k, s, d, out), dtype=torch.float64)
            ratio = ratio.unsqueeze(-1) * r
        ratio = ratio.to(device=dev, dtype=dtype)
    if _cacheable(ratio):
        _RATIO_CACHE[key] = (ratio, ratio)
        if len(_RATIO_CACHE) > _RATIO_CACHE_SIZE:
            _RATIO_CACHE.popitem(last=False)
    return ratio


def _bands(n: int, before: int, after: int, k: int, s: int, d: int, out: int) -> tuple[int, int]:
    """Number of outputs at the start / end of one dim whose window reaches padding."""
    ke = d * (k - 1) + 1
    nb = min(out, -(-before // s)) if before > 0 else 0  # i * s < before
    na = 0
    for i in range(out - 1, nb - 1, -1):
        if i * s - before + ke - 1 >= n:
            na += 1
        else:
            break
    return nb, na


# ----------------------------------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------------------------------
def _conv_nd(
    nd: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    padding_mode: str,
    padding_options: Mapping[str, Any] | None,
    algorithm: str,
) -> Tensor:
    x, unbatched = _batched(x, nd)
    mode = canonical_mode(padding_mode, allowed=LAYER_MODES, argname="padding_mode")
    options = validate_options(mode, padding_options)
    if algorithm not in ALGORITHMS:
        raise PadkitValueError(f"algorithm={algorithm!r} is not one of {ALGORITHMS}")
    if algorithm == "auto":
        algorithm = "pad"
    if torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling():
        # exporters: a Pad node + valid conv is the portable graph; torch.compile: one traceable graph that the
        # compiler fuses (the border-correction plan is host-side Python over cached index tables)
        algorithm = "pad"
    if not isinstance(weight, Tensor) or weight.dim() != nd + 2:
        raise PadkitValueError(
            f"weight must be a {nd + 2}-D tensor (C_out, C_in/groups, *kernel), got {getattr(weight, 'shape', weight)}"
        )
    s = ntuple(stride, nd, "stride", minimum=1)
    d = ntuple(dilation, nd, "dilation", minimum=1)
    k = tuple(int(v) for v in weight.shape[2:])
    spatial = tuple(int(v) for v in x.shape[2:])
    pairs = resolve_padding(parse_padding(padding, nd), spatial, k, s, d)
    _check_fits(spatial, pairs, k, d, f"conv{nd}d")
    conv = _CONV[nd]
    symmetric = all(b == a for b, a in pairs)
    sym_pad = tuple(b for b, _ in pairs)

    if mode == "partial":
        out = _partial_conv(nd, x, weight, bias, s, d, groups, pairs, k, spatial)
    elif _is_zero_mode(mode, options):
        if symmetric:
            out = conv(x, weight, bias, s, sym_pad, d, groups)
        else:
            out = conv(F.pad(x, flat_pad(pairs)), weight, bias, s, 0, d, groups)
    elif algorithm == "border" and symmetric and mode in COPY_MODES and not options:
        out = _conv_border_corrected(nd, x, weight, bias, s, d, groups, pairs, k, mode)
    else:
        out = conv(pad_spatial(x, pairs, mode, options), weight, bias, s, 0, d, groups)
    return out.squeeze(0) if unbatched else out


def _border_jobs(
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


class _BorderPlan:
    """Geometry of the border correction for one call (ints plus cached index tensors)."""

    def __init__(
        self, nd: int, x: Tensor, s: tuple[int, ...], d: tuple[int, ...], pairs: Pairs, k: tuple[int, ...], mode: str
    ) -> None:
        self.nd, self.s, self.d, self.k, self.mode = nd, s, d, k, mode
        self.spatial = tuple(int(v) for v in x.shape[2:])
        self.pad = tuple(b for b, _ in pairs)
        self.out_sp = tuple(
            _out_size(n, b, a, kk, ss, dd) for n, (b, a), kk, ss, dd in zip(self.spatial, pairs, k, s, d)
        )
        self.device = x.device
        self.jobs = _border_jobs(nd, s, d, pairs, k, self.spatial, self.out_sp)

    def rows(self, a: int, i: int, t0: int, m: int) -> Tensor:
        imap = index_map(self.spatial[a], self.pad[a], self.pad[a], self.mode)
        rows = tuple(imap[i * self.s[a] + (t0 + t) * self.d[a]] for t in range(m))
        return _cached_index(("rows", rows, str(self.device)), lambda: rows, self.device)

    def full_index(self, b: int) -> Tensor:
        return _index_tensor(self.spatial[b], self.pad[b], self.pad[b], self.mode, self.device)

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


class _BorderConv(torch.autograd.Function):
    """Zero-padded conv + in-place border correction. Its backward adds the strip gradients straight into the conv's own
    input gradient, so no full-size temporary is made (the reason this is a custom Function)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, plan: _BorderPlan, groups: int) -> Tensor:
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
        plan: _BorderPlan = ctx.plan
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


def _conv_border_corrected(
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

    The padding frame is split by the first dim ``a`` in which a padded position lies outside the input; the
    contribution of class ``a`` to output index ``i`` along ``a`` is a thin conv over the padded rows that ``i``'s
    window reads, with only the kernel taps that land on them (dims before ``a``: interior only, i.e. zero padded;
    dims after ``a``: the full mode-padded extent). No padded copy of ``x`` is made.
    """
    plan = _BorderPlan(nd, x, s, d, pairs, k, mode)
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
                return _BorderConv.apply(x, weight, bias, plan, groups)
        return _BorderConv.apply(x, weight, bias, plan, groups)
    out = _CONV[nd](x, weight, bias, s, plan.pad, d, groups)
    for job in plan.jobs:
        a, i = job[0], job[1]
        corr = plan.correction(x, weight, groups, job)
        if traced:  # out-of-place form for compilers/exporters (they fuse it)
            out = torch.slice_scatter(out, out.narrow(2 + a, i, 1) + corr, 2 + a, i, i + 1)
        else:
            out.narrow(2 + a, i, 1).add_(corr)
    return out


def _partial_conv(
    nd: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    s: tuple[int, ...],
    d: tuple[int, ...],
    groups: int,
    pairs: Pairs,
    k: tuple[int, ...],
    spatial: tuple[int, ...],
) -> Tensor:
    """``out = (conv_nobias(zero_padded_x) * ratio + bias) * (valid_count > 0)`` in one fused multiply-add."""
    conv = _CONV[nd]
    if all(b == a for b, a in pairs):
        out = conv(x, weight, None, s, tuple(b for b, _ in pairs), d, groups)
    else:
        out = conv(F.pad(x, flat_pad(pairs)), weight, None, s, 0, d, groups)
    ratio = _cached_partial_ratio(spatial, k, s, d, pairs, out.device, out.dtype)
    if bias is None:
        return out * ratio
    shift = bias.to(out.dtype).view((-1,) + (1,) * nd)
    if not _ratio_all_valid(ratio):
        shift = shift * (ratio > 0).to(out.dtype)
    return torch.addcmul(shift, out, ratio)


def _ratio_all_valid(ratio: Tensor) -> bool:
    if not _cacheable(ratio) or torch.onnx.is_in_onnx_export():
        return False
    key = id(ratio)
    hit = _VALID_CACHE.get(key)
    if hit is None or hit[0] is not ratio:
        hit = (ratio, bool((ratio > 0).all()))
        if len(_VALID_CACHE) > _RATIO_CACHE_SIZE:
            _VALID_CACHE.clear()
        _VALID_CACHE[key] = hit
    return hit[1]


_VALID_CACHE: dict[int, tuple[Tensor, bool]] = {}


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
    algorithm: str = "auto",
) -> Tensor:
    """1-D convolution with any padding mode. Same arguments as :func:`conv2d`; ``input`` is ``(N, C_in, L)``."""
    return _conv_nd(1, input, weight, bias, stride, padding, dilation, groups, padding_mode, padding_options, algorithm)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
    algorithm: str = "auto",
) -> Tensor:
    """2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``) with any padding mode.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in / groups, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: int or one per spatial dim.
        padding: int, per-dim ints, per-dim ``(before, after)`` pairs, ``"valid"`` or ``"same"`` (any stride; output
            ``ceil(n / stride)``, odd extra padding sample at the end).
        groups: number of groups.
        padding_mode: a ``padkit.modes.LAYER_MODES`` name or alias; ``"partial"`` for partial-convolution padding.
        padding_options: the mode's options (``value`` for ``constant``, ``stat_length`` for ``mean``, ...).
        algorithm: ``"pad"`` (pad a copy, then a valid conv), ``"border"`` (zero-padded conv + exact border
            correction where possible, no padded copy; first-order gradients only) or ``"auto"`` (``"pad"``).

    Returns:
        ``(N, C_out, H_out, W_out)``.
    """
    return _conv_nd(2, input, weight, bias, stride, padding, dilation, groups, padding_mode, padding_options, algorithm)


def conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
    algorithm: str = "auto",
) -> Tensor:
    """3-D convolution with any padding mode. Same arguments as :func:`conv2d`; ``input`` is ``(N, C_in, D, H, W)``."""
    return _conv_nd(3, input, weight, bias, stride, padding, dilation, groups, padding_mode, padding_options, algorithm)


# ----------------------------------------------------------------------------------------------------------------------
# transposed convolution
# ----------------------------------------------------------------------------------------------------------------------
def transpose_extension(kernel: int, stride: int, padding: int, dilation: int, output_padding: int) -> tuple[int, int]:
    """Input samples, (before, after), that a mode-extended transposed conv reads beyond the input for one dim."""
    ke = dilation * (kernel - 1) + 1
    return max(0, (ke - 1 - padding) // stride), max(0, (ke - 1 - padding + output_padding) // stride)


def _conv_transpose_nd(
    nd: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
    padding_mode: str,
    padding_options: Mapping[str, Any] | None,
) -> Tensor:
    x, unbatched = _batched(x, nd)
    mode = canonical_mode(padding_mode, allowed=tuple(m for m in LAYER_MODES if m != "partial"), argname="padding_mode")
    options = validate_options(mode, padding_options)
    s = ntuple(stride, nd, "stride", minimum=1)
    d = ntuple(dilation, nd, "dilation", minimum=1)
    p = ntuple(padding, nd, "padding")
    op = ntuple(output_padding, nd, "output_padding")
    for dim in range(nd):
        if op[dim] >= max(s[dim], d[dim]):
            raise PadkitValueError(
                f"output_padding={op} must be smaller than stride or dilation in every dim (stride={s}, dilation={d})"
            )
    convt = _CONV_T[nd]
    k = tuple(int(v) for v in weight.shape[2:])
    spatial = tuple(int(v) for v in x.shape[2:])
    for dim in range(nd):  # what nn.ConvTranspose*d checks, as a ValueError, for every mode
        length = (spatial[dim] - 1) * s[dim] - 2 * p[dim] + d[dim] * (k[dim] - 1) + 1 + op[dim]
        if length < 1:
            raise PadkitValueError(
                f"conv_transpose{nd}d: padding={p} is too large for input size {spatial}: output size along spatial "
                f"dim {dim} would be {length}; allowed: padding with a positive output size"
            )
    if _is_zero_mode(mode, options):
        out = convt(x, weight, bias, s, p, op, groups, d)
        return out.squeeze(0) if unbatched else out
    ext = tuple(transpose_extension(k[i], s[i], p[i], d[i], op[i]) for i in range(nd))
    xe = pad_spatial(x, ext, mode, options)
    full = convt(xe, weight, None, s, 0, 0, groups, d)
    for dim in range(nd):
        ke = d[dim] * (k[dim] - 1) + 1
        length = (spatial[dim] - 1) * s[dim] - 2 * p[dim] + ke + op[dim]
        start = p[dim] + ext[dim][0] * s[dim]
        short = start + length - full.shape[2 + dim]
        if short > 0:  # output_padding reaches past every contribution: those samples get only the bias
            pads = [0] * (2 * nd)
            pads[2 * (nd - 1 - dim) + 1] = short
            full = F.pad(full, pads)
        full = full.narrow(2 + dim, start, length)
    out = full if bias is None else full + bias.view((-1,) + (1,) * nd)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    padding_mode: str = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """1-D transposed convolution with a padding mode; see :func:`conv_transpose2d`. ``input`` is ``(N, C_in, L)``."""
    return _conv_transpose_nd(
        1, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode, padding_options
    )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    padding_mode: str = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """2-D transposed convolution with a padding mode (PyTorch only has zeros).

    Semantics: the input is extended beyond its border by ``padding_mode`` (conceptually without end; only the
    ``(ke - 1 - padding) // stride`` samples before and ``(ke - 1 - padding + output_padding) // stride`` after each
    dim can reach the output, ``ke = dilation * (kernel - 1) + 1``), the transposed conv of the extended input is taken,
    and the result is cropped to exactly the window ``nn.ConvTranspose2d`` returns
    (``(n - 1) * stride - 2 * padding + ke + output_padding`` samples). With ``zeros`` the extension adds nothing, so
    the result equals ``torch.nn.functional.conv_transpose2d``; other modes change only outputs within about
    ``ke - padding`` samples of the border. ``partial`` is not defined for transposed convs.

    Args:
        input: ``(N, C_in, H, W)`` or ``(C_in, H, W)``.
        weight: ``(C_in, C_out / groups, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, padding, output_padding, dilation: int or one per dim (as in PyTorch).
        groups: number of groups.
        padding_mode: any ``LAYER_MODES`` name except ``partial``.
        padding_options: the mode's options.

    Returns:
        ``(N, C_out, H_out, W_out)``.
    """
    return _conv_transpose_nd(
        2, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode, padding_options
    )


def conv_transpose3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    padding_mode: str = "zeros",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    """3-D transposed convolution with a padding mode; see :func:`conv_transpose2d`."""
    return _conv_transpose_nd(
        3, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode, padding_options
    )


# ----------------------------------------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------------------------------------
def _pool_out(n: int, b: int, a: int, k: int, s: int, d: int, ceil_mode: bool) -> int:
    ke = d * (k - 1) + 1
    span = n + b + a - ke
    out = (-(-span // s) if ceil_mode else span // s) + 1  # ceil_mode: a window may overhang, as in PyTorch
    if ceil_mode and (out - 1) * s >= n + b:  # PyTorch: the last window must start inside the input or left padding
        out -= 1
    if out < 1:
        raise PadkitValueError(
            f"pooling: {n} samples + padding ({b}, {a}) is smaller than the window extent {ke}"
            + ("" if ceil_mode else " (ceil_mode=False)")
        )
    return out


def _pool_geometry(
    nd: int, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], Pairs, Pairs, tuple[int, ...]]:
    k = ntuple(kernel_size, nd, "kernel_size", minimum=1)
    s = (
        k
        if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
        else ntuple(stride, nd, "stride", minimum=1)
    )
    d = ntuple(dilation, nd, "dilation", minimum=1)
    spatial = tuple(int(v) for v in x.shape[2:])
    pairs = resolve_padding(parse_padding(padding, nd), spatial, k, s, d)
    outs = tuple(_pool_out(n, b, a, kk, ss, dd, ceil_mode) for n, (b, a), kk, ss, dd in zip(spatial, pairs, k, s, d))
    # padding actually read: every window of the output grid, fully covered
    read = tuple(
        (b, max(0, (o - 1) * ss + dd * (kk - 1) + 1 - n - b))
        for n, (b, a), kk, ss, dd, o in zip(spatial, pairs, k, s, d, outs)
    )
    return k, s, d, pairs, read, outs


def _crop(out: Tensor, outs: Sequence[int]) -> Tensor:
    for dim, o in enumerate(outs):
        if out.shape[2 + dim] != o:
            out = out.narrow(2 + dim, 0, o)
    return out


def _torch_pool_ok(pairs: Pairs, k: Sequence[int], d: Sequence[int] | None = None) -> bool:
    return all(b == a and b <= kk // 2 for (b, a), kk in zip(pairs, k))


def _max_pool_nd(
    nd: int,
    x: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    padding_mode: str,
    padding_options: Mapping[str, Any] | None,
) -> Tensor:
    x, unbatched = _batched(x, nd)
    mode = canonical_mode(padding_mode, allowed=LAYER_MODES, argname="padding_mode")
    options = validate_options(mode, padding_options)
    k, s, d, pairs, read, outs = _pool_geometry(nd, x, kernel_size, stride, padding, dilation, ceil_mode)
    pool = _MAX[nd]
    if mode in ("constant", "partial") and not options:
        if _torch_pool_ok(pairs, k):
            out = pool(x, k, s, tuple(b for b, _ in pairs), d, ceil_mode)
        else:
            low = -math.inf if x.dtype.is_floating_point else torch.iinfo(x.dtype).min  # integers have no -inf
            xp = F.pad(x, flat_pad(read), value=low)
            out = _crop(pool(xp, k, s, 0, d, False), outs)
    else:
        out = _crop(pool(pad_spatial(x, read, mode, options), k, s, 0, d, False), outs)
    return out.squeeze(0) if unbatched else out


def _avg_pool_nd(
    nd: int,
    x: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
    padding_mode: str,
    padding_options: Mapping[str, Any] | None,
) -> Tensor:
    x, unbatched = _batched(x, nd)
    mode = canonical_mode(padding_mode, allowed=LAYER_MODES, argname="padding_mode")
    options = validate_options(mode, padding_options)
    k, s, d, pairs, read, outs = _pool_geometry(nd, x, kernel_size, stride, padding, 1, ceil_mode)
    pool = _AVG[nd]
    extra: tuple[Any, ...] = () if nd == 1 else (divisor_override,)
    if divisor_override is not None and nd == 1:
        raise PadkitValueError("divisor_override is not supported by avg_pool1d")
    if mode == "constant" and not options and _torch_pool_ok(pairs, k):
        out = pool(x, k, s, tuple(b for b, _ in pairs), ceil_mode, count_include_pad, *extra)
    elif mode == "partial" or (mode == "constant" and not options and not count_include_pad):
        if divisor_override is not None:
            why = "padding_mode='partial'" if mode == "partial" else "count_include_pad=False with this padding"
            raise PadkitValueError(
                f"divisor_override={divisor_override} cannot be combined with {why} (the divisor is the count of "
                "real samples per window there); allowed: divisor_override=None"
            )
        out = _crop(pool(F.pad(x, flat_pad(read)), k, s, 0, False, True), outs)
        out = out * _cached_partial_ratio(x.shape[2:], k, s, d, read, out.device, out.dtype)
    elif mode == "constant" and not options:
        # zero padding, PyTorch's semantics extended to any padding: the padding counts in the divisor, the samples
        # a ceil_mode window reads past it do not (pad explicitly, then let the pool's own ceil_mode clip)
        out = _crop(pool(F.pad(x, flat_pad(pairs)), k, s, 0, ceil_mode, True, *extra), outs)
    else:
        out = _crop(pool(pad_spatial(x, read, mode, options), k, s, 0, False, True, *extra), outs)
    return out.squeeze(0) if unbatched else out


_POOL_DOC = """{kind} pooling over {nd}-D with a padding mode.

    Semantics: ``constant``/``zeros`` is PyTorch's own pooling ({native}); ``partial`` {partial}; every other mode pads
    with the mode and pools over the padded tensor without further padding, so each window is full and{divisor}.
    With ``ceil_mode=True`` the output size is PyTorch's, and the samples the last window reads past the padding are
    mode-padded too. ``padding`` may be ``"same"`` (TF rule) or explicit ``(before, after)`` pairs.

    Args:
        input: ``(N, C, *spatial)`` or ``(C, *spatial)``.

    Returns:
        ``(N, C, *out_spatial)``.
    """


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    padding_mode: str = "constant",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    return _max_pool_nd(1, input, kernel_size, stride, padding, dilation, ceil_mode, padding_mode, padding_options)


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    padding_mode: str = "constant",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    return _max_pool_nd(2, input, kernel_size, stride, padding, dilation, ceil_mode, padding_mode, padding_options)


def max_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    padding_mode: str = "constant",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    return _max_pool_nd(3, input, kernel_size, stride, padding, dilation, ceil_mode, padding_mode, padding_options)


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    padding_mode: str = "constant",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    return _avg_pool_nd(
        1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, padding_mode, padding_options
    )


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    padding_mode: str = "constant",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    return _avg_pool_nd(
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        padding_mode,
        padding_options,
    )


def avg_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: PaddingArg = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    padding_mode: str = "constant",
    *,
    padding_options: Mapping[str, Any] | None = None,
) -> Tensor:
    return _avg_pool_nd(
        3,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        padding_mode,
        padding_options,
    )


for _nd in (1, 2, 3):
    _MAXDOC = _POOL_DOC.format(
        kind="Max",
        nd=_nd,
        native="padding never wins: it acts as -inf",
        partial="is the same as constant (max pooling already ignores padding)",
        divisor="",
    )
    _AVGDOC = _POOL_DOC.format(
        kind="Average",
        nd=_nd,
        native="zeros, counted when ``count_include_pad=True``",
        partial="averages over the real samples only (PyTorch's ``count_include_pad=False``)",
        divisor=" the divisor is the full window (``count_include_pad`` only affects ``constant``)",
    )
    globals()[f"max_pool{_nd}d"].__doc__ = _MAXDOC
    globals()[f"avg_pool{_nd}d"].__doc__ = _AVGDOC
