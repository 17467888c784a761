"""The modes ``F.pad`` lacks, built from differentiable torch ops: odd reflection, ``linear_ramp``, statistics.

Each pads one dimension at a time, dimension 0 first (as ``np.pad`` does), with ``cat``/``narrow``/``flip`` and
reductions, so their backward is torch's own and deterministic. The arithmetic is NumPy's step for step: the same
iteration for wide odd reflections, ``np.linspace`` for ramps, float64 with round-half-to-even for integer
statistics, ``!= 0`` for bool results.

Example:
    >>> x = torch.tensor([1, 2, 3])
    >>> linear_ramp(x, ((2, 2),), ((9, 9),))
    tensor([9, 5, 1, 2, 3, 6, 9])
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ._args import Widths

__all__ = ["linear_ramp", "odd_reflect", "statistic"]

#: ``dtype.to_real()`` as a table (torch.compile cannot trace the method)
_REAL_OF = {torch.complex32: torch.float16, torch.complex64: torch.float32, torch.complex128: torch.float64}


def _is_integer(dtype: torch.dtype) -> bool:
    return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)


def _to_input_dtype(y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """NumPy's cast of a float64 result into the array's dtype (integers floor/round earlier; bool = nonzero)."""
    if dtype == torch.bool:
        return y != 0
    return y.to(dtype)


# ----------------------------------------------------------------------------------------------------------------
# odd reflection (reflect_type="odd" of reflect and symmetric)
# ----------------------------------------------------------------------------------------------------------------


def _odd(edge: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """NumPy's ``2 * edge - chunk`` in the array's dtype (for bool: computed in int, stored as ``!= 0``)."""
    if edge.dtype == torch.bool:
        return edge | src
    return 2 * edge - src


def _odd_reflect_dim(x: torch.Tensor, d: int, before: int, after: int, symmetric: bool) -> torch.Tensor:
    """np.pad's iterative odd reflection along one dimension, step for step (same arithmetic, same rounding)."""
    n = x.shape[d]
    if n == 1:  # np.pad's legacy rule for singleton dims: repeat the edge
        return torch.cat([x.expand(*x.shape[:d], before, *x.shape[d + 1 :]), x,
                          x.expand(*x.shape[:d], after, *x.shape[d + 1 :])], d)  # fmt: skip
    cur = x
    left, right = before, after
    while left > 0 or right > 0:
        old_length = cur.shape[d]
        if symmetric:
            old_length = old_length // n * n
            edge_offset = 1
        else:
            old_length = (old_length - 1) // (n - 1) * (n - 1) + 1
            edge_offset = 0
            old_length -= 1
        parts = []
        if left > 0:
            chunk = min(old_length, left)
            lo = 1 - edge_offset  # first element mirrored (relative to current left edge)
            src = cur.narrow(d, lo, chunk).flip(d)
            parts.append(_odd(cur.narrow(d, 0, 1), src))
            left -= chunk
        parts.append(cur)
        if right > 0:
            chunk = min(old_length, right)
            m = cur.shape[d]
            hi = m - 1 + edge_offset  # one past the last mirrored element
            src = cur.narrow(d, hi - chunk, chunk).flip(d)
            parts.append(_odd(cur.narrow(d, m - 1, 1), src))
            right -= chunk
        cur = torch.cat(parts, d)
    return cur


def odd_reflect(x: torch.Tensor, widths: Widths, symmetric: bool) -> torch.Tensor:
    """``np.pad(mode="reflect" | "symmetric", reflect_type="odd")`` by per-dim non-negative ``widths``."""
    for d, (b, a) in enumerate(widths):
        if b or a:
            x = _odd_reflect_dim(x, d, b, a, symmetric)
    return x


# ----------------------------------------------------------------------------------------------------------------
# linear_ramp
# ----------------------------------------------------------------------------------------------------------------


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype ``linear_ramp`` computes in for an input of ``dtype``: complex128 or float64."""
    return torch.complex128 if dtype.is_complex else torch.float64


def _linear_ramp_dim(
    x: torch.Tensor, d: int, before: int, after: int, end_b: Any, end_a: Any, cdt_b: torch.dtype, cdt_a: torch.dtype
) -> torch.Tensor:
    """np.pad's linear_ramp along one dimension: ``np.linspace(end, edge, width, endpoint=False)`` per side.

    ``cdt_*`` is the dtype ``np.linspace`` computes in; integer results are floored like ``np.linspace(dtype=int)``.
    """
    n = x.shape[d]
    integer = _is_integer(x.dtype)
    parts = []
    for side, width, end, cdt in (("before", before, end_b, cdt_b), ("after", after, end_a, cdt_a)):
        if not width:
            continue
        edge = x.narrow(d, 0 if side == "before" else n - 1, 1).to(cdt)
        shape = [1] * x.dim()
        shape[d] = width
        k = torch.arange(width, dtype=_REAL_OF.get(cdt, cdt), device=x.device).reshape(shape).to(cdt)
        delta = edge - end
        step = delta / width
        # np.linspace: y = k * step, unless some step is exactly zero, then y = k / div * delta
        y = torch.where((step == 0).any(), k / width * delta, k * step) + end
        if integer:
            y = torch.floor(y)
        y = _to_input_dtype(y, x.dtype)
        parts.append(y if side == "before" else y.flip(d))
    if before:
        parts.insert(1, x)
    else:
        parts.insert(0, x)
    return torch.cat(parts, d)


def linear_ramp(
    x: torch.Tensor,
    widths: Widths,
    ends: Sequence[tuple[Any, Any]],
    dtypes: Sequence[tuple[torch.dtype, torch.dtype]] | None = None,
) -> torch.Tensor:
    """``np.pad(mode="linear_ramp")`` by per-dim non-negative ``widths``, ramping to per-dim ``ends`` pairs.

    ``dtypes`` holds, per dim and side, the dtype each ramp is computed in (default :func:`compute_dtype`).
    """
    if dtypes is None:
        dtypes = ((compute_dtype(x.dtype),) * 2,) * len(widths)
    for d, ((b, a), (eb, ea), (cb, ca)) in enumerate(zip(widths, ends, dtypes)):
        if b or a:
            x = _linear_ramp_dim(x, d, b, a, eb, ea, cb, ca)
    return x


# ----------------------------------------------------------------------------------------------------------------
# statistics: maximum, minimum, mean, median
# ----------------------------------------------------------------------------------------------------------------


def _expand_along(t: torch.Tensor, d: int, width: int) -> torch.Tensor:
    shape = list(t.shape)
    shape[d] = width
    return t.expand(shape)


def _stat(chunk: torch.Tensor, d: int, mode: str, nan_median: bool = False) -> torch.Tensor:
    dtype = chunk.dtype
    if mode == "median" and nan_median and (dtype.is_floating_point or dtype.is_complex):
        # np.median: NaN wherever the chunk holds a NaN (sorting would move it to one end)
        has_nan = chunk.isnan().any(d, keepdim=True)
        return torch.where(has_nan, torch.full_like(has_nan, float("nan"), dtype=dtype), _stat(chunk, d, mode))
    if mode == "maximum":
        return chunk.amax(d, keepdim=True)
    if mode == "minimum":
        return chunk.amin(d, keepdim=True)
    if mode == "mean":
        if dtype.is_floating_point or dtype.is_complex:
            return chunk.mean(d, keepdim=True)
        y = chunk.to(torch.float64).mean(d, keepdim=True)
    else:  # median: NumPy averages the two middle values of an even count
        m = chunk.shape[d]
        srt = chunk.sort(d).values if dtype != torch.bool else chunk.to(torch.uint8).sort(d).values
        if m % 2:
            mid = srt.narrow(d, m // 2, 1)
            if dtype.is_floating_point or dtype == torch.bool:
                return mid.to(dtype) if dtype == torch.bool else mid
            y = mid.to(torch.float64)
        else:
            pair = srt.narrow(d, m // 2 - 1, 2)
            if dtype.is_floating_point:
                return pair.mean(d, keepdim=True)
            y = pair.to(torch.float64).mean(d, keepdim=True)
    if _is_integer(dtype):
        y = torch.round(y)
    return _to_input_dtype(y, dtype)


def _stat_dim(
    x: torch.Tensor, d: int, before: int, after: int, lb: int | None, la: int | None, mode: str, nan_median: bool
) -> torch.Tensor:
    n = x.shape[d]
    lb = n if lb is None or lb > n else lb
    la = n if la is None or la > n else la
    left = _stat(x.narrow(d, 0, lb), d, mode, nan_median)
    right = left if lb == la == n else _stat(x.narrow(d, n - la, la), d, mode, nan_median)
    parts = []
    if before:
        parts.append(_expand_along(left, d, before))
    parts.append(x)
    if after:
        parts.append(_expand_along(right, d, after))
    return torch.cat(parts, d)


def statistic(
    x: torch.Tensor,
    widths: Widths,
    lengths: Sequence[tuple[int | None, int | None]],
    mode: str,
    *,
    nan_median: bool = False,
) -> torch.Tensor:
    """``np.pad(mode="maximum" | "minimum" | "mean" | "median")`` by per-dim non-negative ``widths``.

    ``lengths`` holds per dim the ``stat_length`` pair (``None``: the whole dimension), each ``>= 1``.
    ``nan_median``: a ``median`` over a chunk holding NaN is NaN, as ``np.median`` gives (otherwise the NaNs sort
    to the end of the chunk).
    """
    for d, ((b, a), (lb, la)) in enumerate(zip(widths, lengths)):
        if b or a:
            x = _stat_dim(x, d, b, a, lb, la, mode, nan_median)
    return x
