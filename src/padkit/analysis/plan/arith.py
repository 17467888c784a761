"""Per-dimension window matrices: what each output position of one window op reads along one spatial axis.

A *window op* maps an input axis of length ``n`` to an output axis of length ``n_out``; output position ``o`` reads a
list of *taps*, each either a real input sample, an inserted zero (the holes of a transposed convolution) or a padding
sample (synthesised: constant, mirrored, clipped by ``ceil_mode``). Output sizes, the 'same' split and the Mind-the-Pad
numbers come from :mod:`padkit.geometry`; the index map of the copy modes from :func:`padkit.modes.index_map`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...geometry import read_padding
from ...modes import COPY_MODES, index_map, pad_mode_of

__all__ = [
    "DimOp",
    "DimRecord",
    "adaptive_op",
    "apply_axes",
    "as_tuple",
    "conv_transpose_op",
    "index_op",
    "is_identity",
    "pad_index_map",
    "pad_op",
    "window_op",
]

#: Pad modes whose padded samples read no real sample.
_NO_DATA_MODES = frozenset({"constant", "empty"})


@dataclass(frozen=True)
class DimRecord:
    """What one layer does along one spatial dimension (the numbers a :class:`~padkit.analysis.plan.LayerPlan`
    reports)."""

    in_size: int
    out_size: int
    kernel: int | None
    stride: int | None
    dilation: int | None
    pad_before: int
    pad_after: int
    unread: int


@dataclass(frozen=True)
class DimOp:
    """One window op along one axis, as matrices.

    Attributes:
        read: ``(n_out, n_in)`` int64, how many taps of output window ``o`` read real input sample ``i``.
        pad_taps: ``(n_out,)`` bool, True where window ``o`` has at least one padding tap.
        exact_reads: False when the padding mode synthesises samples from data in a way not modelled (e.g. ``mean``):
            then ``read`` misses those reads and the foveation map is unknown.
    """

    read: np.ndarray
    pad_taps: np.ndarray
    exact_reads: bool = True


def as_tuple(value: Any, n: int) -> tuple[int, ...]:
    """A layer or op parameter (an int, one int in a sequence, or ``n`` ints) as ``n`` ints."""
    if isinstance(value, int):
        return (value,) * n
    out = tuple(int(x) for x in value)
    return out * n if len(out) == 1 else out


def pad_index_map(n: int, pb: int, pa: int, mode: str) -> tuple[np.ndarray, bool]:
    """For padded positions ``-pb .. n+pa-1``: the real sample each copies (-1: none) and whether that is exact.

    ``mode`` is a layer or pad mode name. Negative ``pb``/``pa`` crop. Zero/constant, reflect, symmetric, replicate and
    circular are exact; statistic modes (mean, median, ...) read many samples and are reported as not exact (their
    padded samples map to -1).
    """
    mode = pad_mode_of(mode)
    before, after = max(pb, 0), max(pa, 0)
    if mode in COPY_MODES and n > 0:
        idx = np.asarray(index_map(n, before, after, mode), dtype=np.int64)
        return idx[max(0, -pb) : len(idx) - max(0, -pa)], True
    core = np.arange(max(0, -pb), n - max(0, -pa))
    idx = np.concatenate([np.full(before, -1), core, np.full(after, -1)]).astype(np.int64)
    return idx, mode in _NO_DATA_MODES or (before == 0 and after == 0)


def window_op(
    n: int,
    k: int,
    s: int,
    d: int,
    pb: int,
    pa: int,
    n_out: int,
    mode: str = "zeros",
    *,
    build: bool = True,
) -> tuple[DimRecord, DimOp | None]:
    """A direct window (conv or pool) of ``n_out`` outputs over the input padded by ``pb``/``pa`` in ``mode``.

    Window ``o`` starts at padded position ``o*s`` and has taps ``o*s + j*d`` (``j < k``). Taps past the padded end
    (ceil_mode pooling) are clipped by PyTorch; they count as padding (the window is cut short at the border).
    """
    rec = DimRecord(n, n_out, k, s, d, *read_padding(n, k, s, d, pb, n_out))
    if not build:
        return rec, None
    if n_out <= 0:
        return rec, DimOp(np.zeros((0, n), np.int64), np.zeros(0, bool))
    idx, exact = pad_index_map(n, pb, pa, mode)
    length = len(idx)
    taps = (np.arange(n_out)[:, None] * s + np.arange(k)[None, :] * d).ravel()  # padded coordinates, origin -pb
    rows = np.repeat(np.arange(n_out), k)
    inside = taps < length
    src = np.full(taps.shape, -1, np.int64)
    src[inside] = idx[taps[inside]]
    real_pos = taps - pb
    is_pad = (real_pos < 0) | (real_pos >= n) | ~inside
    read = np.zeros((n_out, n), np.int64)
    ok = src >= 0
    np.add.at(read, (rows[ok], src[ok]), 1)
    pad_taps = np.zeros(n_out, bool)
    np.logical_or.at(pad_taps, rows, is_pad)
    return rec, DimOp(read, pad_taps, exact)


def conv_transpose_op(
    n: int, k: int, s: int, d: int, p: int, n_out: int, *, build: bool = True
) -> tuple[DimRecord, DimOp | None]:
    """Transposed convolution as the equivalent direct convolution over the zero-stuffed input.

    Output ``o`` has taps at stuffed positions ``q = o + p - j*d``; ``q`` outside ``[0, (n-1)*s]`` is padding, ``q``
    not a multiple of ``s`` is an inserted zero (neither padding nor input), otherwise it reads input ``q // s``.
    ``pad_before``/``pad_after`` are the equivalent direct convolution's padding, ``unread`` counts trailing inputs no
    output uses.
    """
    ke = d * (k - 1) + 1
    length = (n - 1) * s + 1
    q = np.arange(n_out)[:, None] + p - np.arange(k)[None, :] * d
    rows = np.repeat(np.arange(n_out), k)
    q = q.ravel()
    is_pad = (q < 0) | (q >= length)
    reads = ~is_pad & (q % s == 0)
    read = np.zeros((n_out, n), np.int64)
    np.add.at(read, (rows[reads], q[reads] // s), 1)
    pad_taps = np.zeros(n_out, bool)
    np.logical_or.at(pad_taps, rows, is_pad)
    used = np.nonzero(read.sum(axis=0))[0]
    unread = n if len(used) == 0 else n - 1 - int(used[-1])
    pad_before = max(0, ke - 1 - p)
    pad_after = max(0, (n_out - 1) + p - (length - 1))
    rec = DimRecord(n, n_out, k, s, d, pad_before, pad_after, unread)
    return rec, (DimOp(read, pad_taps) if build else None)


def adaptive_op(n: int, n_out: int, *, build: bool = True) -> tuple[DimRecord, DimOp | None]:
    """Adaptive pooling: window ``o`` is ``[floor(o*n/n_out), ceil((o+1)*n/n_out))``; no padding, nothing unread."""
    rec = DimRecord(n, n_out, None, None, None, 0, 0, 0 if n_out > 0 else n)
    if not build:
        return rec, None
    read = np.zeros((n_out, n), np.int64)
    for o in range(n_out):
        read[o, (o * n) // n_out : -((-(o + 1) * n) // n_out)] = 1
    return rec, DimOp(read, np.zeros(n_out, bool))


def index_op(idx: np.ndarray, n: int, synthesized: np.ndarray) -> DimOp:
    """Output position ``o`` copies input ``idx[o]`` (-1: none); ``synthesized[o]`` marks padding samples."""
    read = np.zeros((len(idx), n), np.int64)
    ok = idx >= 0
    read[np.nonzero(ok)[0], idx[ok]] = 1
    return DimOp(read, synthesized.astype(bool))


def pad_op(n: int, pb: int, pa: int, mode: str, *, build: bool = True) -> tuple[DimRecord, DimOp | None]:
    """Explicit padding (``F.pad``) by ``pb`` before and ``pa`` after in ``mode``; negative widths crop."""
    out = n + pb + pa
    rec = DimRecord(n, out, None, None, None, max(pb, 0), max(pa, 0), max(-pa, 0))
    if not build:
        return rec, None
    idx, exact = pad_index_map(n, pb, pa, mode)
    synth = np.ones(out, bool)
    synth[max(pb, 0) : max(pb, 0) + n - max(-pb, 0) - max(-pa, 0)] = False
    dop = index_op(idx, n, synth)
    return rec, DimOp(dop.read, dop.pad_taps, exact)


def is_identity(dop: DimOp) -> bool:
    """Whether the op copies its input unchanged (square identity matrix, no padding)."""
    r = dop.read
    return r.shape[0] == r.shape[1] and not dop.pad_taps.any() and bool((r == np.eye(r.shape[0], dtype=r.dtype)).all())


def apply_axes(count: np.ndarray, mats: list[np.ndarray | None]) -> np.ndarray:
    """Per axis ``a``: ``count`` (out sizes) -> ``mats[a].T @ count`` along that axis (None: identity).

    The matrices are banded (a few taps per row): the product runs over their nonzero entries, sorted by input
    position, in float64.
    """
    for a, m in enumerate(mats):
        if m is None:
            continue
        moved = np.moveaxis(count, a, 0)
        rest = moved.shape[1:]
        flat = moved.reshape(moved.shape[0], -1).astype(np.float64, copy=False)
        cols, rows = np.nonzero(m.T)  # sorted by input position (column of m)
        out = np.zeros((m.shape[1], flat.shape[1]), np.float64)
        if len(cols):
            terms = flat[rows] * m[rows, cols].astype(np.float64)[:, None]
            starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
            out[cols[starts]] = np.add.reduceat(terms, starts, axis=0)
        count = np.moveaxis(out.reshape((m.shape[1], *rest)), 0, a)
    return count
