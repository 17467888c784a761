"""Resampling ops: per-dimension read matrices of ``interpolate`` (nearest, nearest-exact, linear, cubic) and pixel
(un)shuffle, and their handlers in the op table of :mod:`.ops`.

The source indices and weights follow PyTorch's CPU kernels (``aten/src/ATen/native/UpSample.h``): the scale is
``1 / scale_factor`` when the op was given one, else ``in / out`` (``(in - 1) / (out - 1)`` with ``align_corners``),
computed in float32. Nearest reads one sample, linear two (weights ``1 - lambda`` and ``lambda``), cubic four (Keys'
kernel with ``A = -0.75``). A tap of weight 0 reads nothing. Source indices outside the input are clamped to the border,
which is replicate padding: those taps count as padding (``pad_taps``, ``pad_before``/``pad_after``).

Anti-aliased resampling (``antialias=True``) has no closed form here: its read matrix is measured by running the op on
one-hot inputs on the CPU (its windows are clipped to the image and renormalised, so it never pads).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .arith import DimOp, DimRecord
from .graph import Lost

if TYPE_CHECKING:
    from .ops import OpCall
    from .trace import Tracer

__all__ = ["INTERP_MODES", "interp_op", "interpolate", "measured_op", "pixel_shuffle", "shuffle_op"]

#: aten op name prefix -> interpolation mode.
INTERP_MODES = {
    "upsample_nearest": "nearest",
    "_upsample_nearest_exact": "nearest-exact",
    "upsample_linear": "linear",
    "upsample_bilinear": "linear",
    "upsample_trilinear": "linear",
    "upsample_bicubic": "cubic",
}

_A = np.float32(-0.75)
_F = np.float32


def _scale_value(n: int, n_out: int, scale: float | None) -> np.float32:
    """``compute_scales_value``: ``1 / scale`` when given (and > 0), else ``in / out``, in float32."""
    if scale is not None and scale > 0:
        return _F(1.0 / scale)
    return _F(n) / _F(n_out)


def _area_scale(n: int, n_out: int, align_corners: bool, scale: float | None) -> np.float32:
    if align_corners:
        return _F(n - 1) / _F(n_out - 1) if n_out > 1 else _F(0)
    return _scale_value(n, n_out, scale)


def _source(scale: np.float32, n_out: int, align_corners: bool, cubic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Real source coordinates (float32) before and after PyTorch's clamp at 0 (linear modes only)."""
    o = np.arange(n_out, dtype=_F)
    if align_corners:
        raw = (scale * o).astype(_F)
    else:  # one rounding, as the fused multiply-add the compiled kernels use
        raw = (np.float64(scale) * (o + _F(0.5)).astype(np.float64) - 0.5).astype(_F)
    real = raw if cubic or align_corners else np.maximum(raw, _F(0))
    return raw, real


def _fma(a: np.ndarray | np.float32, x: np.ndarray, c: np.float32 | float) -> np.ndarray:
    """``a * x + c`` rounded once to float32 (the compiled kernels contract these into fused multiply-adds)."""
    return (np.float64(a) * x.astype(np.float64) + np.float64(c)).astype(_F)


def _conv1(x: np.ndarray) -> np.ndarray:
    """``cubic_convolution1``: Keys' kernel on ``|x| <= 1``."""
    return _fma((_fma(_A + 2, x, -(_A + 3)) * x).astype(_F), x, 1.0)


def _conv2(x: np.ndarray) -> np.ndarray:
    """``cubic_convolution2``: Keys' kernel on ``1 < |x| < 2``."""
    return _fma(_fma(_fma(_A, x, -5 * _A), x, 8 * _A), x, -4 * _A)


def _taps(mode: str, n: int, n_out: int, align_corners: bool, scale: float | None) -> tuple[np.ndarray, np.ndarray]:
    """``(n_out, taps)`` unclamped source indices and their float32 weights."""
    o = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest" and n_out == n:
            idx = o
        elif mode == "nearest" and n_out == 2 * n:
            idx = o >> 1
        else:
            s = _scale_value(n, n_out, scale)
            pos = o.astype(_F) * s if mode == "nearest" else (o.astype(_F) + _F(0.5)) * s
            idx = np.minimum(np.floor(pos.astype(_F)).astype(np.int64), n - 1)
        return idx[:, None], np.ones((n_out, 1), _F)
    cubic = mode == "cubic"
    raw, real = _source(_area_scale(n, n_out, align_corners, scale), n_out, align_corners, cubic)
    index = np.minimum(np.floor(real).astype(np.int64), n - 1)
    lam = np.minimum(np.maximum(real - index.astype(_F), _F(0)), _F(1)).astype(_F)
    if not cubic:
        # taps beyond the border: the clamp of the source coordinate (raw < 0) or of the index (raw > n - 1)
        before = np.where(raw < 0, -1, index)
        after = np.where(raw > n - 1, n, np.where(index < n - 1, index + 1, index))
        return np.stack([before, after], 1), np.stack([_F(1) - lam, lam], 1).astype(_F)
    t = lam
    c0 = _conv2(t + _F(1))
    c1 = _conv1(t)
    c2 = _conv1(_F(1) - t)
    c3 = _conv2(_F(2) - t)
    idx = index[:, None] + np.arange(-1, 3)[None, :]
    return idx, np.stack([c0, c1, c2, c3], 1).astype(_F)


@lru_cache(maxsize=256)
def _interp(mode: str, n: int, n_out: int, align_corners: bool, scale: float | None) -> tuple[DimRecord, DimOp]:
    idx, w = _taps(mode, n, n_out, align_corners, scale)
    rows = np.repeat(np.arange(n_out), idx.shape[1])
    idx, w = idx.ravel(), w.ravel()
    weight = np.zeros((n_out, n), np.float64)
    np.add.at(weight, (rows, np.clip(idx, 0, n - 1)), w.astype(np.float64))
    read = (weight != 0).astype(np.int64)
    live = w != 0
    outside = live & ((idx < 0) | (idx > n - 1))
    pad_taps = np.zeros(n_out, bool)
    np.logical_or.at(pad_taps, rows, outside)
    pad_before = int(max(0, -idx[live].min())) if live.any() else 0
    pad_after = int(max(0, idx[live].max() - (n - 1))) if live.any() else 0
    used = np.nonzero(read.sum(axis=0))[0]
    unread = n if len(used) == 0 else n - 1 - int(used[-1])
    rec = DimRecord(n, n_out, None, None, None, pad_before, pad_after, unread)
    return rec, DimOp(read, pad_taps)


def interp_op(
    mode: str, n: int, n_out: int, align_corners: bool, scale: float | None, *, build: bool = True
) -> tuple[DimRecord, DimOp | None]:
    """One axis of ``F.interpolate`` in ``mode`` (``nearest``, ``nearest-exact``, ``linear``, ``cubic``) from ``n`` to
    ``n_out`` samples; ``scale`` is the scale factor the op was given (None: taken from the sizes)."""
    rec, dop = _interp(mode, int(n), int(n_out), bool(align_corners), None if scale is None else float(scale))
    return rec, (dop if build else None)


def measured_op(func: Any, args: tuple[Any, ...], axis: int, nd: int, n: int, n_out: int) -> tuple[DimRecord, DimOp]:
    """One axis of a resampling op measured on the CPU: one-hot inputs along ``axis``, size 1 along the others.

    ``args`` are the op's arguments after the input; the output size (``args[0]``) is replaced by ``n_out`` along
    ``axis`` and 1 elsewhere.
    """
    shape = [n, 1] + [1] * nd
    shape[2 + axis] = n
    x = torch.zeros(shape, dtype=torch.float64)
    x.view(n, n)[torch.arange(n), torch.arange(n)] = 1.0
    sizes = [1] * nd
    sizes[axis] = n_out
    with torch.no_grad():
        y = func(x, sizes, *args[1:])
    weight = y.reshape(n, n_out).T.numpy()
    read = (weight != 0).astype(np.int64)
    used = np.nonzero(read.sum(axis=0))[0]
    unread = n if len(used) == 0 else n - 1 - int(used[-1])
    return DimRecord(n, n_out, None, None, None, 0, 0, unread), DimOp(read, np.zeros(n_out, bool))


def shuffle_op(n: int, r: int, up: bool, *, build: bool = True) -> tuple[DimRecord, DimOp | None]:
    """One axis of ``pixel_shuffle`` (``up``: output ``o`` reads input ``o // r``) or ``pixel_unshuffle`` (output
    ``o`` reads inputs ``o*r .. o*r + r - 1``)."""
    n_out = n * r if up else n // r
    rec = DimRecord(n, n_out, None, None, None, 0, 0, 0)
    if not build:
        return rec, None
    read = np.zeros((n_out, n), np.int64)
    if up:
        read[np.arange(n_out), np.arange(n_out) // r] = 1
    else:
        for j in range(r):
            read[np.arange(n_out), np.arange(n_out) * r + j] = 1
    return rec, DimOp(read, np.zeros(n_out, bool))


# -- op handlers ---------------------------------------------------------------------------------------------------

_SCALE_ARGS = {1: ("scales",), 2: ("scales_h", "scales_w"), 3: ("scales_d", "scales_h", "scales_w")}


def interpolate(tr: Tracer, op: OpCall) -> bool:
    """Handler of the ``upsample_*`` ops (``F.interpolate``, ``nn.Upsample``): a window op per spatial dim."""
    t, m = op.derived[0]
    if op.args[0] is not t:
        return False
    o = op.flat_out[0]
    aa = op.name.endswith("_aa")
    base = op.name.removesuffix("_aa").rstrip("0123456789d")
    mode = INTERP_MODES[base]
    nd = int(op.name.removesuffix("_aa")[-2])
    linear = mode in ("linear", "cubic")
    args = list(op.args) + [None] * 6
    align = linear and bool(op.kwargs.get("align_corners", args[2]))
    first = 3 if linear else 2
    scales = [op.kwargs.get(k, args[first + i]) for i, k in enumerate(_SCALE_ARGS[nd])]
    dims = list(range(t.dim() - nd, t.dim()))
    per_dim: list[tuple[DimRecord, DimOp | None]] = []
    factors = []
    for i, d in enumerate(dims):
        n, n_out = int(t.shape[d]), int(o.shape[d])
        if aa:
            rec, dop = measured_op(op.func, tuple(op.args[1:]), i, nd, n, n_out)
            per_dim.append((rec, dop if tr.trace.maps else None))
        else:
            per_dim.append(interp_op(mode, n, n_out, align, scales[i], build=tr.trace.maps))
        sc = scales[i]
        factors.append(Fraction(sc).limit_denominator(1 << 16) if sc and not align else Fraction(n_out, max(n, 1)))
    shown = {"linear": ("linear", "bilinear", "trilinear")[nd - 1], "cubic": "bicubic"}.get(mode, mode)
    notes = [shown + (" antialias" if aa else "")]
    if align:
        notes.append("align_corners")
    if any(r.pad_before or r.pad_after for r, _ in per_dim):
        notes.append("clamp=replicate")
    tr.window(t, m, o, dims, per_dim, tr.layer_name("interpolate"), "interpolate", " ".join(notes), factors)
    return True


def pixel_shuffle(tr: Tracer, op: OpCall) -> bool:
    """Handler of ``pixel_shuffle`` / ``pixel_unshuffle``."""
    t, m = op.derived[0]
    if op.args[0] is not t:
        return False
    o = op.flat_out[0]
    r = int(op.args[1])
    up = op.name == "pixel_shuffle"
    dims = [t.dim() - 2, t.dim() - 1]
    if t.dim() - 3 in m.dims:
        raise Lost(f"{op.name} of a spatial axis into channels", False)
    per_dim = [shuffle_op(int(t.shape[d]), r, up, build=tr.trace.maps) for d in dims]
    factor = Fraction(r) if up else Fraction(1, r)
    tr.window(t, m, o, dims, per_dim, tr.layer_name(op.name), op.name, f"x{r}" if up else f"/{r}", [factor] * 2)
    return True
