"""The per-dimension window arithmetic against brute-force window enumeration and PyTorch itself."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from padkit.analysis.plan.arith import conv_transpose_op, window_op
from padkit.geometry import pool_out_size


def _brute(n: int, k: int, s: int, d: int, p: int, n_out: int):
    """Enumerate windows: window o has taps at input coordinates o*s - p + j*d."""
    read = np.zeros((n_out, n), np.int64)
    pad_taps = np.zeros(n_out, bool)
    last = None
    for o in range(n_out):
        for j in range(k):
            pos = o * s - p + j * d
            last = pos if last is None else max(last, pos)
            if 0 <= pos < n:
                read[o, pos] += 1
            else:
                pad_taps[o] = True
    real = [int(i) for i in np.nonzero(read.sum(0))[0]]
    unread = n - 1 - (max(real) if real else -1)
    return read, pad_taps, max(0, last - (n - 1)), unread


def test_conv_arithmetic_matches_brute_force_and_torch():
    rng = np.random.default_rng(0)
    for _ in range(2500):
        k, s, d = int(rng.integers(1, 8)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
        ke = d * (k - 1) + 1
        p = int(rng.integers(0, 6))
        n = int(rng.integers(max(1, ke - 2 * p), 40))
        # output size from PyTorch itself
        n_out = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d).shape[-1]
        rec, op = window_op(n, k, s, d, p, p, n_out)
        read, pad_taps, pad_after, unread = _brute(n, k, s, d, p, n_out)
        assert rec.out_size == n_out
        assert (op.read == read).all() and (op.pad_taps == pad_taps).all()
        assert rec.pad_after == pad_after and rec.unread == unread
        # Mind the Pad's closed form: r = (n + 2p - ke) mod s; after = p - r, or r - p rows unread (the span of the
        # last window; with dilation > 1 or stride > kernel, samples between taps can be unread too)
        r = (n + 2 * p - ke) % s
        assert rec.pad_after == max(p - r, 0)
        if d == 1 and s <= k:  # no gaps between windows
            assert rec.unread == max(r - p, 0)
        assert rec.pad_before == p
        # the read matrix against torch: conv of one-hot inputs with a ones kernel
        eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, n)
        ones = torch.ones(1, 1, k, dtype=torch.float64)
        ref = F.conv1d(eye, ones, stride=s, padding=p, dilation=d)[:, 0, :].T
        assert np.array_equal(op.read, ref.round().long().numpy())


def test_pool_ceil_mode_arithmetic_matches_torch():
    rng = np.random.default_rng(1)
    for _ in range(2500):
        k, s, d = int(rng.integers(1, 7)), int(rng.integers(1, 5)), int(rng.integers(1, 3))
        p = int(rng.integers(0, k // 2 + 1))
        ceil = bool(rng.integers(0, 2))
        ke = d * (k - 1) + 1
        n = int(rng.integers(max(1, ke - 2 * p), 40))
        n_out = F.max_pool1d(torch.zeros(1, 1, n), k, s, p, d, ceil_mode=ceil).shape[-1]
        assert pool_out_size(n, k, s, d, p, p, ceil) == n_out
        rec, op = window_op(n, k, s, d, p, p, n_out)
        read, pad_taps, pad_after, unread = _brute(n, k, s, d, p, n_out)
        assert (op.read == read).all() and (op.pad_taps == pad_taps).all()
        assert rec.pad_after == pad_after and rec.unread == unread
        if d == 1:  # the read matrix against torch's sum pooling (clips the ceil-mode overhang)
            eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, 1, n)
            ref = F.avg_pool2d(eye, (1, k), (1, s), (0, p), ceil_mode=ceil, divisor_override=1)[:, 0, 0, :].T
            assert np.array_equal(op.read, ref.round().long().numpy())


def test_conv_transpose_read_matrix_matches_torch():
    rng = np.random.default_rng(2)
    for _ in range(800):
        k, s, d = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        p = int(rng.integers(0, d * (k - 1) + 1))
        op_ = int(rng.integers(0, max(s, d)))
        n = int(rng.integers(1, 20))
        try:
            out = F.conv_transpose1d(
                torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op_, dilation=d
            )
        except RuntimeError:
            continue
        n_out = out.shape[-1]
        if n_out <= 0:
            continue
        rec, dop = conv_transpose_op(n, k, s, d, p, n_out)
        eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, n)
        ref = F.conv_transpose1d(
            eye, torch.ones(1, 1, k, dtype=torch.float64), stride=s, padding=p, output_padding=op_, dilation=d
        )[:, 0, :].T
        assert np.array_equal(dop.read, ref.round().long().numpy())
        used = np.nonzero(ref.sum(0).numpy())[0]
        assert rec.unread == (n if len(used) == 0 else n - 1 - used[-1])
