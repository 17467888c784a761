"""padkit.geometry against independent oracles: PyTorch's own layers and brute-force window enumeration."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from padkit import PadkitTypeError, PadkitValueError
from padkit.geometry import (
    conv_out_size,
    conv_transpose_out_size,
    flat_pad,
    pairs_from_flat,
    parse_padding,
    pool_out_size,
    read_padding,
    resolve_padding,
    same_padding,
    transpose_extension,
)

small = st.integers


@given(n=small(1, 20), k=small(1, 5), s=small(1, 4), d=small(1, 3), b=small(0, 4), a=small(0, 4))
def test_conv_out_size_is_the_length_torch_computes(n: int, k: int, s: int, d: int, b: int, a: int) -> None:
    x = F.pad(torch.zeros(1, 1, n), (b, a))
    if x.shape[-1] < d * (k - 1) + 1:
        assert conv_out_size(n, k, s, d, b, a) < 1
        return
    assert conv_out_size(n, k, s, d, b, a) == F.conv1d(x, torch.zeros(1, 1, k), stride=s, dilation=d).shape[-1]


@given(n=small(1, 20), k=small(1, 5), s=small(1, 4), d=small(1, 3), p=small(0, 2), ceil=st.booleans())
def test_pool_out_size_is_torch_pooling_output_shape(n: int, k: int, s: int, d: int, p: int, ceil: bool) -> None:
    if p > k // 2 or n + 2 * p < d * (k - 1) + 1:
        return  # torch refuses these
    want = F.max_pool1d(torch.zeros(1, 1, n), k, s, p, d, ceil_mode=ceil).shape[-1]
    assert pool_out_size(n, k, s, d, p, p, ceil) == want


@given(n=small(1, 12), k=small(1, 5), s=small(1, 4), d=small(1, 3), p=small(0, 3), op=small(0, 3))
def test_conv_transpose_out_size_is_torch_length(n: int, k: int, s: int, d: int, p: int, op: int) -> None:
    if op >= max(s, d) or conv_transpose_out_size(n, k, s, d, p, op) < 1:
        return
    y = F.conv_transpose1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), None, s, p, op, 1, d)
    assert conv_transpose_out_size(n, k, s, d, p, op) == y.shape[-1]


def _brute_same(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """The smallest total padding giving ceil(n / s) outputs, its odd sample at the end."""
    for total in range(0, d * k + s + 1):
        if conv_out_size(n, k, s, d, total // 2, total - total // 2) >= -(-n // s):
            return total // 2, total - total // 2
    raise AssertionError("no padding found")


@given(n=small(1, 40), k=small(1, 7), s=small(1, 4), d=small(1, 3))
def test_same_padding_is_the_smallest_padding_with_ceil_outputs(n: int, k: int, s: int, d: int) -> None:
    assert same_padding(n, k, s, d) == _brute_same(n, k, s, d)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@given(n=small(1, 16), k=small(1, 5), d=small(1, 3))
def test_same_padding_at_stride_1_is_torch_padding_same(n: int, k: int, d: int) -> None:
    x = torch.randn(1, 1, n, dtype=torch.float64)
    w = torch.randn(1, 1, k, dtype=torch.float64)
    b, a = same_padding(n, k, 1, d)
    torch.testing.assert_close(F.conv1d(x, w, padding="same", dilation=d), F.conv1d(F.pad(x, (b, a)), w, dilation=d))


def _brute_read(n: int, k: int, s: int, d: int, before: int, n_out: int) -> tuple[int, int, int]:
    taps = [o * s + j * d - before for o in range(n_out) for j in range(k)]
    real = [t for t in taps if 0 <= t < n]
    return max(0, -min(taps)), max(0, max(taps) - (n - 1)), n - 1 - max(real) if real else n


@given(n=small(1, 20), k=small(1, 5), s=small(1, 4), d=small(1, 3), b=small(0, 4), a=small(0, 4))
def test_read_padding_counts_the_taps_of_every_window(n: int, k: int, s: int, d: int, b: int, a: int) -> None:
    n_out = conv_out_size(n, k, s, d, b, a)
    if n_out < 1:
        return
    assert read_padding(n, k, s, d, b, n_out) == _brute_read(n, k, s, d, b, n_out)


def test_read_padding_on_resnet18_at_224() -> None:
    """Mind the Pad: conv1 pads 3 before and effectively 2 after; stride-2 1x1 shortcuts never read the last row."""
    assert read_padding(224, 7, 2, 1, 3, conv_out_size(224, 7, 2, 1, 3, 3)) == (3, 2, 0)
    assert read_padding(56, 3, 2, 1, 1, conv_out_size(56, 3, 2, 1, 1, 1)) == (1, 0, 0)
    assert read_padding(56, 1, 2, 1, 0, conv_out_size(56, 1, 2, 1, 0, 0)) == (0, 0, 1)
    assert read_padding(225, 3, 2, 1, 1, conv_out_size(225, 3, 2, 1, 1, 1)) == (1, 1, 0)


@given(k=small(1, 6), s=small(1, 4), d=small(1, 3), p=small(0, 6), op=small(0, 3))
def test_transpose_extension_counts_input_samples_under_the_stuffed_padding(
    k: int, s: int, d: int, p: int, op: int
) -> None:
    ke = d * (k - 1) + 1
    before = sum(1 for q in range(-(ke - 1 - p), 0) if q % s == 0)
    after = sum(1 for q in range(1, ke - 1 - p + op + 1) if q % s == 0)
    assert transpose_extension(k, s, p, d, op) == (before, after)


def test_flat_pad_and_pairs_from_flat_are_inverse() -> None:
    pairs = ((1, 2), (3, 4), (5, 6))
    assert flat_pad(pairs) == (5, 6, 3, 4, 1, 2)
    assert pairs_from_flat(flat_pad(pairs), 3) == pairs
    assert pairs_from_flat((1, 2), 3) == ((0, 0), (0, 0), (1, 2))


def test_parse_and_resolve_padding() -> None:
    assert parse_padding(1, 2) == ((1, 1), (1, 1))
    assert parse_padding((1, 2), 2) == ((1, 1), (2, 2))
    assert parse_padding(((0, 1), (2, 3)), 2) == ((0, 1), (2, 3))
    assert parse_padding("VALID", 3) == ((0, 0),) * 3
    assert parse_padding("same", 2) == "same"
    assert resolve_padding("same", (224, 225), (3, 3), (2, 2), (1, 1)) == ((0, 1), (1, 1))
    with pytest.raises(PadkitValueError, match=r"padding='full': expected"):
        parse_padding("full", 2)
    with pytest.raises(PadkitValueError, match=r"padding=-1: expected ints >= 0"):
        parse_padding(-1, 2)
    with pytest.raises(PadkitValueError, match=r"padding=\(\(0, -1\), \(0, 0\)\): expected"):
        parse_padding(((0, -1), (0, 0)), 2)
    with pytest.raises(PadkitTypeError, match=r"padding=1.5 \(float\): expected"):
        parse_padding(1.5, 2)
