"""Per-dimension window arithmetic for :mod:`padkit.analysis.plan` (private).

Everything here works on one spatial dimension. A *window op* maps an input axis of length ``n`` to an output axis of
length ``n_out``; output position ``o`` reads a list of *taps*, each either a real input sample, an inserted zero (the
holes of a transposed convolution) or a padding sample (synthesised: constant, mirrored, clipped by ``ceil_mode``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DimOp",
    "DimRecord",
    "adaptive_op",
    "conv_out_size",
    "conv_transpose_op",
    "index_op",
    "pad_index_map",
    "pool_out_size",
    "window_op",
]

#: Padding modes whose padded samples copy one real sample (np.pad name for the index trick).
_INDEX_MODES = {"reflect": "reflect", "symmetric": "symmetric", "replicate": "edge", "circular": "wrap"}
#: Padding modes whose padded samples read no real sample.
_CONSTANT_MODES = frozenset({"constant", "zeros", "partial", "empty"})


@dataclass(frozen=True)
class DimRecord:
    """What one layer does along one spatial dimension (the numbers a :class:`LayerPlan` reports)."""

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


def conv_out_size(n: int, k: int, s: int, d: int, pb: int, pa: int) -> int:
    """Output length of a convolution (floor rule) for padding ``pb`` before and ``pa`` after."""
    ke = d * (k - 1) + 1
    return (n + pb + pa - ke) // s + 1


def pool_out_size(n: int, k: int, s: int, d: int, p: int, ceil_mode: bool) -> int:
    """Output length of a PyTorch max/avg pool (``pooling_output_shape``), including the ceil_mode rule.

    With ``ceil_mode`` the last window may hang over the end, but it must start inside the input or the left padding.
    """
    ke = d * (k - 1) + 1
    num = n + 2 * p - ke + ((s - 1) if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def pad_index_map(n: int, pb: int, pa: int, mode: str) -> tuple[np.ndarray, bool]:
    """For padded positions ``-pb .. n+pa-1``: the real sample each copies (-1: none) and whether that is exact.

    Negative ``pb``/``pa`` crop. Modes: constant-like, reflect, symmetric, replicate, circular are exact; statistic
    modes (mean, median, ...) read many samples and are reported as not exact (their padded samples map to -1).
    """
    core = np.arange(max(0, -pb), n - max(0, -pa))
    before, after = max(pb, 0), max(pa, 0)
    if mode in _INDEX_MODES and n > 0:
        idx = np.pad(np.arange(n), (before, after), mode=_INDEX_MODES[mode])  # type: ignore[call-overload]
        idx = idx[max(0, -pb) : len(idx) - max(0, -pa)] if (pb < 0 or pa < 0) else idx
        return idx.astype(np.int64), True
    idx = np.concatenate([np.full(before, -1), core, np.full(after, -1)]).astype(np.int64)
    return idx, mode in _CONSTANT_MODES or (before == 0 and after == 0)


def window_op(
    n: int,
    k: int,
    s: int,
    d: int,
    pb: int,
    pa: int,
    n_out: int,
    mode: str = "constant",
    *,
    build: bool = True,
) -> tuple[DimRecord, DimOp | None]:
    """A direct window (conv or pool) of ``n_out`` outputs over the input padded by ``pb``/``pa`` in ``mode``.

    Window ``o`` starts at padded position ``o*s`` and has taps ``o*s + j*d`` (``j < k``). Taps past the padded end
    (ceil_mode pooling) are clipped by PyTorch; they count as padding (the window is cut short at the border).
    """
    ke = d * (k - 1) + 1
    if n_out <= 0:
        rec = DimRecord(n, n_out, k, s, d, 0, 0, n)
        return rec, (DimOp(np.zeros((0, n), np.int64), np.zeros(0, bool)) if build else None)
    last = (n_out - 1) * s + ke - 1 - pb  # input coordinate of the last tap of the last window
    pad_before = min(pb, (n_out - 1) * s + ke) if pb > 0 else 0
    pad_after = max(0, last - (n - 1))
    # with dilation a real sample may fall between the taps of every window: unread counts trailing samples no tap reads
    starts = np.arange(n_out) * s - pb
    jmax = np.minimum(k - 1, np.floor_divide(n - 1 - starts, d))
    real_last = starts + jmax * d
    real_last = real_last[(jmax >= 0) & (real_last >= 0)]
    unread = n - 1 - int(real_last.max()) if len(real_last) else n
    rec = DimRecord(n, n_out, k, s, d, pad_before, pad_after, unread)
    if not build:
        return rec, None
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
