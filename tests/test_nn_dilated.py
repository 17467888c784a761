"""Replicate convs at dilations beyond the input: split by tap groups, taps that read one edge row run on that row.

Oracle: ``F.pad(mode="replicate")`` then a valid ``F.conv*d`` (values and, through autograd, gradients); float64
``gradcheck``/``gradgradcheck``; the bytes autograd keeps against the zero-padded conv.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.autograd import gradcheck, gradgradcheck

import padkit.nn as pnn
from padkit.lab.benchmarks import saved_bytes
from padkit.nn._dilated import dim_groups, tap_plan

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
PAD_CONV = {1: pnn.functional.conv1d, 2: pnn.functional.conv2d, 3: pnn.functional.conv3d}


def _pairs(padding: int | tuple[tuple[int, int], ...], nd: int) -> tuple[tuple[int, int], ...]:
    return ((padding, padding),) * nd if isinstance(padding, int) else padding


def _reference(x, w, b, stride, padding, dilation, groups):
    """``F.pad(x, mode="replicate")`` then a valid conv."""
    nd = x.dim() - 2
    flat = [v for b_a in reversed(_pairs(padding, nd)) for v in b_a]
    return CONV[nd](F.pad(x, flat, mode="replicate"), w, b, stride, 0, dilation, groups)


def _splits(spatial, padding, k, s, d) -> bool:
    nd = len(spatial)
    return tap_plan(tuple(spatial), _pairs(padding, nd), (k,) * nd, (s,) * nd, (d,) * nd, "replicate") is not None


def _check(spatial, k, s, d, groups, bias, padding=None, dtype=torch.float64, seed=0):
    """Values and gradients of the padkit conv against the reference, on one configuration."""
    nd = len(spatial)
    padding = d if padding is None else padding
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 2 * groups, *spatial, generator=gen, dtype=dtype).requires_grad_(True)
    w = torch.randn(3 * groups, 2, *(k,) * nd, generator=gen, dtype=dtype).requires_grad_(True)
    b = torch.randn(3 * groups, generator=gen, dtype=dtype).requires_grad_(True) if bias else None
    got = PAD_CONV[nd](x, w, b, stride=s, padding=padding, dilation=d, groups=groups, padding_mode="replicate")
    ref = _reference(x, w, b, s, padding, d, groups)
    rtol, atol = (1e-5, 1e-4) if dtype == torch.float32 else (1e-12, 1e-12)
    torch.testing.assert_close(got, ref, rtol=rtol, atol=atol)
    inputs = [t for t in (x, w, b) if t is not None]
    g = torch.randn(ref.shape, generator=gen, dtype=dtype)
    for a, r in zip(torch.autograd.grad(got, inputs, g), torch.autograd.grad(ref, inputs, g)):
        torch.testing.assert_close(a, r, rtol=rtol, atol=atol)
    with torch.no_grad():  # the inference path adds the terms in place
        torch.testing.assert_close(
            PAD_CONV[nd](x, w, b, stride=s, padding=padding, dilation=d, groups=groups, padding_mode="replicate"),
            ref,
            rtol=rtol,
            atol=atol,
        )


# spatial, kernel, stride, dilation, groups, bias
CASES = [
    ((5,), 3, 1, 8, 1, True),
    ((6,), 3, 2, 9, 2, False),
    ((2,), 3, 1, 3, 1, True),
    ((4, 5), 3, 1, 11, 1, True),
    ((6, 4), 3, 2, 9, 2, True),
    ((7, 7), 3, 2, 9, 1, False),  # the centre tap reads every other row: a strided slice
    ((28, 28), 3, 1, 256, 1, True),  # PyTorch issue 68512, smaller batch and channels
    ((3, 4, 5), 3, 1, 7, 1, True),
    ((4, 3, 2), 3, 2, 6, 2, False),
]


@pytest.mark.parametrize("spatial, k, s, d, groups, bias", CASES, ids=str)
def test_split_conv_matches_replicate_pad_then_conv(spatial, k, s, d, groups, bias) -> None:
    assert _splits(spatial, d, k, s, d)
    _check(spatial, k, s, d, groups, bias)


@pytest.mark.parametrize(
    "spatial, k, d, padding",
    [
        ((6,), 3, 4, ((0, 4),)),  # taps 0 and 1 read the input (gathered, stride 2), tap 2 the last row
        ((3, 3), 5, 4, 8),  # two constant taps on each side, both reading the same edge row
        ((5, 4), 3, 6, ((9, 0), (0, 9))),  # along each dim only one side pads
        ((3, 5), 3, 6, ((12, 1), (2, 12))),
        ((2, 2, 3), 2, 5, ((5, 0),) * 3),
    ],
    ids=str,
)
def test_split_conv_with_other_paddings(spatial, k, d, padding) -> None:
    assert _splits(spatial, padding, k, 1, d)
    _check(spatial, k, 1, d, 1, True, padding=padding)


def test_float32_matches_the_reference() -> None:
    _check((28, 28), 3, 1, 256, 1, True, dtype=torch.float32)


def test_unbatched_input_and_layer_agree_with_the_function() -> None:
    torch.manual_seed(0)
    layer = pnn.PadConv2d(3, 4, 3, padding=20, dilation=20, padding_mode="replicate")
    x = torch.randn(3, 6, 7)
    ref = _reference(x[None], layer.weight, layer.bias, 1, 20, 20, 1)[0]
    torch.testing.assert_close(layer(x), ref)
    torch.testing.assert_close(
        pnn.functional.conv2d(x, layer.weight, layer.bias, padding=20, dilation=20, padding_mode="replicate"), ref
    )


@pytest.mark.parametrize("spatial, s, groups", [((3, 4), 1, 1), ((5, 3), 2, 2), ((2, 3, 2), 1, 1)], ids=str)
def test_split_conv_gradcheck_and_gradgradcheck(spatial, s, groups) -> None:
    nd = len(spatial)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2 * groups, *spatial, generator=gen, dtype=torch.float64).requires_grad_(True)
    w = torch.randn(2 * groups, 2, *(3,) * nd, generator=gen, dtype=torch.float64).requires_grad_(True)
    b = torch.randn(2 * groups, generator=gen, dtype=torch.float64).requires_grad_(True)
    assert _splits(spatial, 7, 3, s, 7)

    def f(x, w, b):
        return PAD_CONV[nd](x, w, b, stride=s, padding=7, dilation=7, groups=groups, padding_mode="replicate")

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


@st.composite
def _configs(draw):
    """A 2-D conv configuration with a dilation beyond the input, padded to a few outputs more than one (where taps
    beyond the input read edge rows)."""
    h, w, k = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(2, 4))
    d = draw(st.integers(max(h, w), 16))
    ke = d * (k - 1) + 1
    padding = []
    for n in (h, w):
        total = max(ke - n, 0) + draw(st.integers(0, max(d - 2, 0)))
        before = draw(st.integers(0, total))
        padding.append((before, total - before))
    return (h, w), k, d, tuple(padding)


@given(config=_configs(), s=st.integers(1, 3), groups=st.sampled_from([1, 2]), bias=st.booleans())
def test_replicate_dilated_conv_sweep(config, s, groups, bias) -> None:
    spatial, k, d, padding = config
    _check(spatial, k, s, d, groups, bias, padding=padding, seed=sum(spatial))


def test_dim_groups_of_replicate_beyond_the_input() -> None:
    vary, const = dim_groups(n=28, before=256, after=256, k=3, s=1, d=256, mode="replicate")
    assert (vary.taps, vary.broadcast, vary.read.rows, vary.stride) == ((1,), False, None, 1)
    assert (vary.read.start, vary.read.length) == (0, 28)  # the centre tap reads the input itself
    assert (const.taps, const.broadcast, const.read.rows) == ((0, 2), True, (0, 27))


@pytest.mark.parametrize("mode", ["circular", "reflect", "symmetric"])
def test_periodic_modes_have_no_constant_taps(mode) -> None:
    # beyond the input their taps read shifted copies of it: no tap reads one row, the rows are gathered instead
    assert tap_plan((28, 28), ((256, 256),) * 2, (3, 3), (1, 1), (256, 256), mode) is None


def test_issue_68512_split_does_about_the_work_of_the_centre_tap() -> None:
    plan = tap_plan((28, 28), ((256, 256),) * 2, (3, 3), (1, 1), (256, 256), "replicate")
    assert plan is not None
    # multiply-adds per (input channel, output channel): output samples of each term times its taps
    work = sum(
        math.prod(1 if g.broadcast else o for g, o in zip(t.groups, plan.out))
        * math.prod(len(g.taps) for g in t.groups)
        for t in plan.terms
    )
    centre = 28 * 28
    assert work == centre + 2 * (2 * 28) + 4  # the centre tap, 2 edge taps on a row and 2 on a column, 4 corners
    assert work / centre < 1.16


def test_split_conv_keeps_what_the_zero_padded_conv_keeps() -> None:
    x = torch.randn(2, 4, 9, 9, requires_grad=True)
    zeros = nn.Conv2d(4, 6, 3, padding=30, dilation=30)
    layer = pnn.PadConv2d(4, 6, 3, padding=30, dilation=30, padding_mode="replicate")
    layer.load_state_dict(zeros.state_dict())

    def kept(m):
        return saved_bytes(lambda: m(x).sum().backward())

    assert kept(layer) == kept(zeros)


def test_split_conv_under_autocast_runs_in_the_autocast_dtype() -> None:
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    layer = pnn.PadConv2d(3, 4, 3, padding=10, dilation=10, padding_mode="replicate")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
        ref = _reference(x, layer.weight, layer.bias, 1, 10, 10, 1)
    assert out.dtype == ref.dtype == torch.bfloat16
    torch.testing.assert_close(out, ref, rtol=2e-2, atol=2e-2)
    out.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.float32


def test_split_conv_under_torch_func() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 4, 3, generator=gen, dtype=torch.float64)
    w = torch.randn(2, 2, 3, 3, generator=gen, dtype=torch.float64)

    def f(pad_conv):
        return lambda x: pad_conv(x, w, padding=9, dilation=9).square().sum()

    got = torch.func.grad(f(lambda x, w, **kw: pnn.functional.conv2d(x, w, padding_mode="replicate", **kw)))(x)
    ref = torch.func.grad(f(lambda x, w, padding, dilation: _reference(x, w, None, 1, padding, dilation, 1)))(x)
    torch.testing.assert_close(got, ref)


@pytest.mark.slow
def test_compiled_and_exported_inference_match_eager() -> None:
    # compilers and exporters see F.pad + conv (PyTorch's replicate pad backward does not compile at this width)
    layer = pnn.PadConv2d(3, 4, 3, padding=20, dilation=20, padding_mode="replicate")
    x = torch.randn(2, 3, 6, 7)
    with torch.no_grad():
        ref = layer(x)
        torch.testing.assert_close(torch.compile(layer, fullgraph=True)(x), ref)
    torch.testing.assert_close(torch.export.export(layer, (x,)).module()(x), ref)
