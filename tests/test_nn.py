"""padkit.nn: padded convs, transposed convs and pools against independent oracles (SciPy, NumPy, loops)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import padkit.nn as pnn
from padkit import PadkitError, PadkitTypeError
from padkit.geometry import conv_out_size, pool_out_size, same_padding
from padkit.nn import _border, _partial
from padkit.nn import functional as PF

SCIPY = {
    "reflect": "mirror",
    "symmetric": "reflect",
    "replicate": "nearest",
    "circular": "grid-wrap",
    "constant": "constant",
}
NUMPY = {
    "reflect": "reflect",
    "symmetric": "symmetric",
    "replicate": "edge",
    "circular": "wrap",
    "constant": "constant",
}
INDEX_MODES = ["reflect", "symmetric", "replicate", "circular"]
CONVS = {1: pnn.PadConv1d, 2: pnn.PadConv2d, 3: pnn.PadConv3d}
TCONVS = {1: pnn.PadConvTranspose1d, 2: pnn.PadConvTranspose2d, 3: pnn.PadConvTranspose3d}
FUNCS = {1: PF.conv1d, 2: PF.conv2d, 3: PF.conv3d}
VALID = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def np_pad(x: torch.Tensor, pairs, mode: str, **kw) -> torch.Tensor:
    """Oracle padding of the spatial dims with NumPy."""
    width = [(0, 0), (0, 0), *pairs]
    return torch.from_numpy(np.pad(x.detach().numpy(), width, mode=NUMPY.get(mode, mode), **kw))


def brute_same(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """'same' found by search: the smallest total padding whose conv has ceil(n / s) outputs, odd sample at the end."""
    total = max(0, d * (k - 1) + 1 - n)
    while F.conv1d(torch.zeros(1, 1, n + total), torch.zeros(1, 1, k), stride=s, dilation=d).shape[-1] < -(-n // s):
        total += 1
    return total // 2, total - total // 2


def expected_pairs(padding, nd, size, ks, stride, dilation):
    """(before, after) per dim of a padding argument, computed here: ints, per-dim ints, pairs or 'same'."""
    per_dim = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd  # noqa: E731
    if padding == "same":
        return tuple(brute_same(n, k, s, d) for n, k, s, d in zip(size, ks, per_dim(stride), per_dim(dilation)))
    if isinstance(padding, int):
        return ((padding, padding),) * nd
    return tuple(p if isinstance(p, tuple) else (p, p) for p in padding)


def brute_conv(x, w, b, stride, pairs, dilation, groups, mode, **kw):
    """Oracle: pad with NumPy, then a valid conv."""
    nd = x.dim() - 2
    return VALID[nd](np_pad(x, pairs, mode, **kw), w, b, stride, 0, dilation, groups)


# ---------------------------------------------------------------------------------------------------------------------
# stride-1 convs vs scipy.ndimage.correlate
@pytest.mark.parametrize("mode", list(SCIPY))
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("algorithm", ["auto", "pad", "border"])
def test_conv_matches_scipy_correlate(mode: str, nd: int, algorithm: str) -> None:
    g = torch.Generator().manual_seed(nd)
    size = {1: (9,), 2: (7, 6), 3: (5, 6, 4)}[nd]
    ks = {1: (5,), 2: (3, 5), 3: (3, 3, 5)}[nd]
    x = torch.randn(1, 1, *size, generator=g, dtype=torch.float64)
    w = torch.randn(1, 1, *ks, generator=g, dtype=torch.float64)
    conv = CONVS[nd](1, 1, ks, padding=tuple(k // 2 for k in ks), padding_mode=mode, bias=False, algorithm=algorithm)
    conv = conv.double()
    with torch.no_grad():
        conv.weight.copy_(w)
    got = conv(x)[0, 0].detach().numpy()
    ref = ndi.correlate(x[0, 0].numpy(), w[0, 0].numpy(), mode=SCIPY[mode])
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------------------
# strided / dilated / grouped / asymmetric vs brute force
CASES = [  # nd, size, kernel, stride, dilation, groups, padding
    (1, (13,), (4,), 3, 2, 2, 5),
    (2, (11, 9), (5, 3), 2, 1, 2, 2),
    (2, (12, 10), (3, 3), (3, 2), (2, 1), 1, (4, 1)),
    (2, (8, 9), (3, 3), 2, 1, 4, ((0, 1), (2, 0))),
    (2, (6, 7), (3, 3), 1, 1, 1, 5),  # padding wider than the input (NumPy's periodic extension)
    (2, (9, 9), (7, 7), 2, 1, 1, 3),
    (3, (6, 7, 5), (3, 2, 3), (2, 1, 2), (1, 2, 1), 2, (1, 2, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=[f"c{i}" for i in range(len(CASES))])
@pytest.mark.parametrize("mode", [*INDEX_MODES, "constant"])
def test_conv_strided_dilated_grouped(case, mode: str) -> None:
    nd, size, ks, stride, dilation, groups, padding = case
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 4, *size, generator=g, dtype=torch.float64)
    w = torch.randn(6 if groups != 4 else 4, 4 // groups, *ks, generator=g, dtype=torch.float64)
    b = torch.randn(w.shape[0], generator=g, dtype=torch.float64)
    conv = CONVS[nd](4, w.shape[0], ks, stride, padding, dilation, groups, padding_mode=mode, dtype=torch.float64)
    conv.load_state_dict({"weight": w, "bias": b})
    pairs = expected_pairs(padding, nd, size, ks, stride, dilation)
    assert conv.explicit_padding(size) == pairs
    ref = brute_conv(x, w, b, stride, pairs, dilation, groups, mode)
    torch.testing.assert_close(conv(x), ref, rtol=1e-12, atol=1e-12)
    # functional core == module, and both algorithms agree
    for algorithm in ("auto", "pad", "border"):
        f = FUNCS[nd](x, w, b, stride, padding, dilation, groups, mode, algorithm=algorithm)
        torch.testing.assert_close(f, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["mean", "median", "maximum", "minimum", "linear_ramp"])
def test_conv_statistic_modes(mode: str) -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 2, 7, 8, generator=g, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)
    got = PF.conv2d(x, w, None, 1, 2, 1, 1, mode)
    ref = brute_conv(x, w, None, 1, ((2, 2), (2, 2)), 1, 1, mode)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


def test_conv_constant_value_and_options() -> None:
    x = torch.randn(1, 1, 5, 5, dtype=torch.float64)
    w = torch.randn(1, 1, 3, 3, dtype=torch.float64)
    got = PF.conv2d(x, w, padding=1, padding_mode="constant", padding_options={"value": 2.5})
    ref = brute_conv(x, w, None, 1, ((1, 1), (1, 1)), 1, 1, "constant", constant_values=2.5)
    torch.testing.assert_close(got, ref)
    got = PF.conv2d(x, w, padding=2, padding_mode="mean", padding_options={"stat_length": 2})
    ref = brute_conv(x, w, None, 1, ((2, 2), (2, 2)), 1, 1, "mean", stat_length=2)
    torch.testing.assert_close(got, ref)
    with pytest.raises(PadkitError, match="stat_length"):
        PF.conv2d(x, w, padding=1, padding_mode="reflect", padding_options={"stat_length": 2})


@given(
    n=st.integers(1, 40),
    k=st.integers(1, 7),
    s=st.integers(1, 5),
    d=st.integers(1, 3),
    mode=st.sampled_from(["zeros", "reflect", "circular", "partial"]),
)
def test_same_output_size_any_stride(n: int, k: int, s: int, d: int, mode: str) -> None:
    before, after = brute_same(n, k, s, d)
    x = torch.randn(1, 1, n, dtype=torch.float64)
    w = torch.randn(1, 1, k, dtype=torch.float64)
    y = PF.conv1d(x, w, stride=s, padding="same", dilation=d, padding_mode=mode)
    assert y.shape[-1] == math.ceil(n / s)
    if mode != "partial":
        ref = brute_conv(x, w, None, s, ((before, after),), d, 1, "constant" if mode == "zeros" else mode)
        torch.testing.assert_close(y, ref)


def test_same_matches_torch_for_stride_one() -> None:
    x = torch.randn(1, 2, 9, 10)
    conv = nn.Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2))
    pconv = pnn.PadConv2d(2, 3, (4, 3), padding="same", dilation=(1, 2))
    pconv.load_state_dict(conv.state_dict())
    # PyTorch puts the odd sample of 'same' at the end too
    torch.testing.assert_close(pconv(x), conv(x))
    assert pconv.explicit_padding((9, 10)) == ((1, 2), (2, 2))


# ---------------------------------------------------------------------------------------------------------------------
# partial convolution
def partial_oracle(x, w, b, stride, pairs, dilation, groups):
    """The formula computed directly: ones-mask conv for the valid count, loops free (plain torch ops)."""
    nd = x.dim() - 2
    mask = torch.ones(1, 1, *x.shape[2:], dtype=x.dtype)
    count = VALID[nd](
        np_pad(mask, pairs, "constant"), torch.ones(1, 1, *w.shape[2:], dtype=x.dtype), None, stride, 0, dilation
    )
    raw = VALID[nd](np_pad(x, pairs, "constant"), w, None, stride, 0, dilation, groups)
    window = math.prod(w.shape[2:])
    ratio = torch.where(count > 0, window / count.clamp(min=1), torch.zeros_like(count))
    out = raw * ratio
    if b is not None:
        out = out + b.view(-1, *([1] * nd))
    return out * (count > 0)


def test_partial_ratio_values() -> None:
    r = PF.partial_ratio((5, 6), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), dtype=torch.float64)
    assert r[0, 0] == 2.25 and r[0, -1] == 2.25 and r[-1, 0] == 2.25
    assert r[0, 2] == 1.5 and r[2, 0] == 1.5
    assert torch.all(r[1:-1, 1:-1] == 1.0)


PARTIAL_CASES = [
    (1, (10,), (3,), 1, 1, 1, 1),
    (2, (7, 8), (3, 3), 1, 1, 1, 1),
    (2, (9, 8), (5, 3), 2, (1, 2), 2, (2, 3)),
    (2, (6, 6), (3, 3), 2, 1, 1, "same"),
    (2, (5, 5), (3, 3), 1, 1, 1, 4),  # windows entirely in padding: zero output
    (3, (5, 4, 6), (3, 3, 3), (1, 2, 1), 1, 2, 1),
]


@pytest.mark.parametrize("case", PARTIAL_CASES, ids=[f"p{i}" for i in range(len(PARTIAL_CASES))])
@pytest.mark.parametrize("bias", [True, False])
def test_partial_matches_formula(case, bias: bool) -> None:
    nd, size, ks, stride, dilation, groups, padding = case
    g = torch.Generator().manual_seed(11)
    conv = CONVS[nd](
        4, 6, ks, stride, padding, dilation, groups, bias=bias, padding_mode="partial", dtype=torch.float64
    )
    x = torch.randn(3, 4, *size, generator=g, dtype=torch.float64)
    pairs = expected_pairs(padding, nd, size, ks, stride, dilation)
    assert conv.explicit_padding(size) == pairs
    ref = partial_oracle(x, conv.weight, conv.bias, stride, pairs, dilation, groups)
    torch.testing.assert_close(conv(x), ref, rtol=1e-12, atol=1e-12)


def test_partial_cache_follows_batch_size_device_dtype_and_size() -> None:
    conv = pnn.PadConv2d(2, 2, 3, padding=1, padding_mode="partial", dtype=torch.float64)
    for shape in [(1, 2, 6, 6), (5, 2, 6, 6), (2, 2, 9, 7), (1, 2, 6, 6)]:
        x = torch.randn(shape, dtype=torch.float64)
        ref = partial_oracle(x, conv.weight, conv.bias, 1, ((1, 1), (1, 1)), 1, 1)
        torch.testing.assert_close(conv(x), ref)
    a, _ = _partial.cached_ratio((6, 6), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), None, torch.float32)
    assert _partial.cached_ratio((6, 6), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), None, torch.float32)[0] is a
    assert torch.equal(PF.partial_ratio((6, 6), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))), a)  # a copy of it
    b = PF.partial_ratio((6, 6), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), dtype=torch.float64)
    assert b.dtype == torch.float64 and b is not a


# ---------------------------------------------------------------------------------------------------------------------
# transposed convs
def brute_conv_transpose_1d(x, w, b, stride, padding, output_padding, dilation, mode):
    """Loop oracle: extend the input by the mode (NumPy, wide), scatter every sample, crop the standard window."""
    n = x.shape[-1]
    k = w.shape[-1]
    ke = dilation * (k - 1) + 1
    e = ke + n  # generous extension: samples further out cannot reach the window
    xe = np_pad(x, [(e, e)], mode)[0].numpy()  # (C_in, n + 2e)
    wn = w.detach().numpy()
    full = np.zeros((wn.shape[1], (n + 2 * e - 1) * stride + ke))
    for i in range(xe.shape[-1]):
        for t in range(k):
            full[:, i * stride + t * dilation] += xe[:, i] @ wn[:, :, t]
    length = (n - 1) * stride - 2 * padding + ke + output_padding
    start = e * stride + padding
    out = full[:, start : start + length]
    if b is not None:
        out = out + b.detach().numpy()[:, None]
    return torch.from_numpy(out)[None]


@pytest.mark.parametrize("mode", [*INDEX_MODES, "constant", "mean"])
@pytest.mark.parametrize(
    ("k", "s", "p", "op", "d"), [(3, 1, 1, 0, 1), (4, 2, 1, 0, 1), (3, 2, 1, 1, 1), (5, 3, 0, 2, 1), (3, 2, 2, 1, 2)]
)
def test_conv_transpose_1d_oracle(mode: str, k: int, s: int, p: int, op: int, d: int) -> None:
    g = torch.Generator().manual_seed(5)
    layer = pnn.PadConvTranspose1d(3, 2, k, s, p, op, dilation=d, padding_mode=mode, dtype=torch.float64)
    x = torch.randn(1, 3, 6, generator=g, dtype=torch.float64)
    ref = brute_conv_transpose_1d(x, layer.weight, layer.bias, s, p, op, d, mode)
    torch.testing.assert_close(layer(x), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_transpose_zeros_equals_torch_and_modes_differ_only_near_border(nd: int) -> None:
    torch.manual_seed(0)
    ref_layer = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[nd](3, 4, 3, 2, 1, 1, groups=1)
    size = (7,) * nd
    x = torch.randn(2, 3, *size)
    zero = TCONVS[nd].from_conv(ref_layer, "zeros")
    torch.testing.assert_close(zero(x), ref_layer(x), rtol=0, atol=0)
    refl = TCONVS[nd].from_conv(ref_layer, "reflect")
    diff = (refl(x) - ref_layer(x)).abs().amax(dim=(0, 1))
    inner = diff[(slice(3, -3),) * nd]
    assert inner.max() < 1e-5 and diff.max() > 1e-2
    # output_size argument works like PyTorch's
    out = refl(x, output_size=[14] * nd)
    assert out.shape[2:] == (14,) * nd


def test_conv_transpose_2d_grouped_matches_1d_loop_separable() -> None:
    # 2-D oracle: a kernel that is an outer product factorises the transposed conv into two 1-D ones per mode
    g = torch.Generator().manual_seed(2)
    a = torch.randn(3, generator=g, dtype=torch.float64)
    c = torch.randn(4, generator=g, dtype=torch.float64)
    layer = pnn.PadConvTranspose2d(1, 1, (3, 4), 2, 1, bias=False, padding_mode="symmetric", dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.outer(a, c)[None, None])
    x = torch.randn(1, 1, 5, 6, generator=g, dtype=torch.float64)
    rows = torch.stack(
        [brute_conv_transpose_1d(x[:, :, i], c.view(1, 1, 4), None, 2, 1, 0, 1, "symmetric")[0, 0] for i in range(5)]
    )
    # rows: (5, W_out); now along H, per output column
    cols = torch.stack(
        [
            brute_conv_transpose_1d(rows[:, j].view(1, 1, 5), a.view(1, 1, 3), None, 2, 1, 0, 1, "symmetric")[0, 0]
            for j in range(rows.shape[1])
        ],
        dim=1,
    )
    torch.testing.assert_close(layer(x)[0, 0], cols, rtol=1e-10, atol=1e-10)


def test_conv_transpose_rejects_partial() -> None:
    with pytest.raises(PadkitError, match="padding_mode"):
        pnn.PadConvTranspose2d(2, 2, 3, padding_mode="partial")


# ---------------------------------------------------------------------------------------------------------------------
# pooling
def brute_pool(x, k, s, pairs_read, mode, kind, d=1):
    """Pad with NumPy (the samples the windows read), then pool without padding."""
    xp = np_pad(x, pairs_read, mode)
    nd = x.dim() - 2
    if kind == "max":
        return {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd](xp, k, s, 0, d)
    return {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd](xp, k, s, 0)


@pytest.mark.parametrize("mode", INDEX_MODES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pools_with_modes(mode: str, nd: int, ceil_mode: bool) -> None:
    x = torch.randn(2, 3, *([8] * nd), dtype=torch.float64)
    maxp = {1: pnn.PadMaxPool1d, 2: pnn.PadMaxPool2d, 3: pnn.PadMaxPool3d}[nd](
        3, 2, 1, ceil_mode=ceil_mode, padding_mode=mode
    )
    avgp = {1: pnn.PadAvgPool1d, 2: pnn.PadAvgPool2d, 3: pnn.PadAvgPool3d}[nd](
        3, 2, 1, ceil_mode=ceil_mode, padding_mode=mode
    )
    nat = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[nd](3, 2, 1, ceil_mode=ceil_mode)
    out = nat(x).shape[-1]  # every dim alike; the windows read padding 1 before, and up to the last window's end after
    read = ((1, (out - 1) * 2 + 3 - 8 - 1),) * nd
    assert maxp.explicit_padding((8,) * nd) == read
    torch.testing.assert_close(maxp(x), brute_pool(x, 3, 2, read, mode, "max"))
    torch.testing.assert_close(avgp(x), brute_pool(x, 3, 2, read, mode, "avg"))
    assert maxp(x).shape == nat(x).shape


def test_pool_constant_and_partial_are_torch_semantics() -> None:
    x = torch.randn(2, 3, 9, 8)
    for ceil in (False, True):
        torch.testing.assert_close(
            pnn.PadMaxPool2d(3, 2, 1, ceil_mode=ceil)(x), nn.MaxPool2d(3, 2, 1, ceil_mode=ceil)(x)
        )
        torch.testing.assert_close(
            pnn.PadMaxPool2d(3, 2, 1, ceil_mode=ceil, padding_mode="partial")(x),
            nn.MaxPool2d(3, 2, 1, ceil_mode=ceil)(x),
        )
        for cip in (True, False):
            torch.testing.assert_close(pnn.PadAvgPool2d(3, 2, 1, ceil, cip)(x), nn.AvgPool2d(3, 2, 1, ceil, cip)(x))
        torch.testing.assert_close(
            pnn.PadAvgPool2d(3, 2, 1, ceil, padding_mode="partial")(x), nn.AvgPool2d(3, 2, 1, ceil, False)(x)
        )


def test_pool_same_padding() -> None:
    x = torch.randn(1, 2, 7, 8, dtype=torch.float64)
    pool = pnn.PadMaxPool2d(3, 2, "same")
    # TF SAME max pool: pad with -inf, odd sample at the end
    xp = F.pad(x, (0, 1, 1, 1), value=-math.inf)
    torch.testing.assert_close(pool(x), F.max_pool2d(xp, 3, 2))
    assert pool.explicit_padding((7, 8)) == ((1, 1), (0, 1))
    avg = pnn.PadAvgPool2d(3, 2, "same", count_include_pad=False)
    ones = F.avg_pool2d(F.pad(torch.ones_like(x), (0, 1, 1, 1)), 3, 2)
    torch.testing.assert_close(avg(x), F.avg_pool2d(F.pad(x, (0, 1, 1, 1)), 3, 2) / ones)


# ---------------------------------------------------------------------------------------------------------------------
# gradients
@pytest.mark.parametrize(
    "make",
    [
        lambda m: pnn.PadConv2d(2, 3, 3, 1, 1, padding_mode=m),
        lambda m: pnn.PadConv2d(4, 4, (3, 2), (2, 1), ((1, 2), (0, 1)), (1, 2), groups=2, padding_mode=m),
        lambda m: pnn.PadConv1d(2, 2, 4, 2, 3, 2, padding_mode=m),
        lambda m: pnn.PadConv3d(2, 2, 3, (1, 2, 1), 1, padding_mode=m),
        lambda m: pnn.PadConvTranspose2d(2, 3, 3, 2, 1, 1, padding_mode="reflect" if m == "partial" else m),
        lambda m: pnn.PadMaxPool2d(3, 2, 1, padding_mode=m),
        lambda m: pnn.PadAvgPool2d(3, 2, 1, padding_mode=m),
    ],
    ids=["conv2d", "conv2d_strided_grouped", "conv1d", "conv3d", "convT2d", "maxpool", "avgpool"],
)
@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "circular", "partial"])
def test_gradcheck(make, mode: str) -> None:
    layer = make(mode).double()
    nd = {pnn.PadConv1d: 1, pnn.PadConv3d: 3}.get(type(layer), 2)
    size = (5,) * nd if nd == 3 else (7,) * nd
    x = torch.randn(2, getattr(layer, "in_channels", 2), *size, dtype=torch.float64, requires_grad=True)
    params = [p for p in layer.parameters()]

    def f(x, *ps):
        for p, q in zip(params, ps):
            p.data = q.data
        return layer(x)

    assert torch.autograd.gradcheck(lambda x: layer(x), (x,))
    if params:
        w = layer.weight
        assert torch.autograd.gradcheck(
            lambda w_: type(layer).forward(_with_weight(layer, w_), x.detach()), (w.detach().clone().requires_grad_(),)
        )


def _with_weight(layer, w):
    clone = type(layer).__new__(type(layer))
    clone.__dict__ = dict(layer.__dict__)
    clone._parameters = dict(layer._parameters)
    clone._parameters["weight"] = w
    return clone


def test_border_backward_matches_pad_path() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 9, 8, generator=g, requires_grad=True)
    w = torch.randn(6, 2, 3, 5, generator=g, requires_grad=True)
    b = torch.randn(6, generator=g, requires_grad=True)
    gy = torch.randn(2, 6, 6, 4, generator=g)
    grads = []
    for algorithm in ("auto", "pad", "border"):
        y = PF.conv2d(x, w, b, (2, 1), (2, 2), (1, 2), 2, "circular", algorithm=algorithm)
        grads.append(torch.autograd.grad(y, (x, w, b), gy))
    for ref, other in ((grads[1], grads[0]), (grads[1], grads[2])):
        for a, c in zip(ref, other):
            torch.testing.assert_close(a, c, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------------------------------
# module plumbing
def test_state_dict_keys_and_isinstance() -> None:
    conv = pnn.PadConv2d(3, 4, 3, padding=1, padding_mode="edge")
    assert isinstance(conv, nn.Conv2d)
    assert conv.padding_mode == "replicate"
    plain = nn.Conv2d(3, 4, 3, padding=1)
    assert list(conv.state_dict()) == list(plain.state_dict())
    conv.load_state_dict(plain.state_dict(), strict=True)
    assert "padding_mode=replicate" in repr(conv)
    assert pnn.PadConv2d(3, 4, 3, padding="same").padding == "same"
    assert pnn.PadConv2d(3, 4, 3, padding=((1, 2), (0, 1))).padding == ((1, 2), (0, 1))
    assert pnn.PadConv2d(3, 4, 3, padding=(1, 2)).padding == (1, 2)


def test_zeros_equals_torch_conv_bitwise() -> None:
    plain = nn.Conv2d(3, 5, 3, 2, 1, groups=1)
    conv = pnn.PadConv2d.from_conv(plain, "zeros")
    assert conv.weight is plain.weight
    x = torch.randn(2, 3, 11, 12)
    assert torch.equal(conv(x), plain(x))


def test_torch_modes_equal_torch_conv() -> None:
    x = torch.randn(2, 3, 10, 9)
    for mode in ["reflect", "replicate", "circular"]:
        plain = nn.Conv2d(3, 5, 3, 1, 1, padding_mode=mode)
        conv = pnn.PadConv2d.from_conv(plain, mode)
        torch.testing.assert_close(conv(x), plain(x))


def test_channels_last_and_unbatched() -> None:
    conv = pnn.PadConv2d(4, 6, 3, padding=1, padding_mode="reflect")
    x = torch.randn(2, 4, 8, 9)
    ref = conv(x)
    torch.testing.assert_close(conv.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last)), ref)
    torch.testing.assert_close(conv(x[0]), ref[0])
    xr = x.to(memory_format=torch.channels_last).requires_grad_()
    conv(xr).sum().backward()
    assert xr.grad is not None and xr.grad.shape == x.shape


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast(dtype: torch.dtype) -> None:
    if dtype == torch.float16 and not torch.cuda.is_available():
        device = "cpu"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.randn(2, 4, 9, 9, device=device)
    for mode in ["reflect", "circular", "partial", "symmetric"]:
        conv = pnn.PadConv2d(4, 4, 3, padding=1, padding_mode=mode).to(device)
        ref = conv(x)
        with torch.autocast(device_type=device, dtype=dtype):
            y = conv(x)
        assert y.dtype == dtype
        torch.testing.assert_close(y.float(), ref, rtol=5e-2, atol=5e-2)


def test_validation_errors_name_the_argument() -> None:
    with pytest.raises(PadkitError, match="padding_mode='scipy'"):
        pnn.PadConv2d(2, 2, 3, padding_mode="scipy")
    with pytest.raises(PadkitTypeError, match="padding_mode"):
        pnn.PadConv2d(2, 2, 3, padding_mode=3)  # type: ignore[arg-type]
    with pytest.raises(PadkitError, match="padding='full'"):
        pnn.PadConv2d(2, 2, 3, padding="full")
    with pytest.raises(PadkitTypeError, match="padding"):
        pnn.PadConv2d(2, 2, 3, padding=(1, 2, 3))
    with pytest.raises(PadkitError, match="padding"):
        pnn.PadConv2d(2, 2, 3, padding=-1)
    with pytest.raises(PadkitError, match="algorithm"):
        pnn.PadConv2d(2, 2, 3, algorithm="fast")
    with pytest.raises(PadkitError, match="too small"):
        pnn.PadConv2d(2, 2, 5)(torch.randn(1, 2, 3, 3))
    with pytest.raises(PadkitError, match="input_spatial_size"):
        pnn.PadConv2d(2, 2, 3).explicit_padding((3,))
    with pytest.raises(PadkitError, match="return_indices"):
        pnn.PadMaxPool2d(2, return_indices=True)


def test_public_api() -> None:
    assert sorted(pnn.__all__) == sorted(
        [f"Pad{k}{n}d" for k in ("Conv", "ConvTranspose", "MaxPool", "AvgPool") for n in (1, 2, 3)] + ["functional"]
    )
    for name in ("conv1d", "conv2d", "conv3d", "conv_transpose2d", "max_pool2d", "avg_pool3d", "partial_ratio"):
        assert name in PF.__all__


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "circular"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_gradcheck_border_algorithm(mode: str, nd: int) -> None:
    """The border-correction path (the default off the CPU) has its own backward: gradcheck input, weight and bias."""
    g = torch.Generator().manual_seed(nd)
    size = (5,) * nd if nd == 3 else (7,) * nd
    x = torch.randn(2, 2, *size, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(3, 2, *((3,) * nd), dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, generator=g, requires_grad=True)
    fn = {1: PF.conv1d, 2: PF.conv2d, 3: PF.conv3d}[nd]
    stride = 2 if nd == 2 else 1
    assert torch.autograd.gradcheck(
        lambda x_, w_, b_: fn(x_, w_, b_, stride, 1, 1, 1, mode, algorithm="border"), (x, w, b)
    )


# ---------------------------------------------------------------------------------------------------------------------
# regressions


def test_border_algorithm_under_autocast_trains():
    # the border Function runs in the autocast dtype, so its backward never mixes bf16 gradients with fp32 inputs
    conv = pnn.PadConv2d(4, 4, 3, padding=1, padding_mode="reflect", algorithm="border")
    ref = pnn.PadConv2d(4, 4, 3, padding=1, padding_mode="reflect", algorithm="pad")
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, out2 = conv(x), ref(x2)
    assert out.dtype == out2.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), out2.float(), rtol=2e-2, atol=2e-2)
    out.float().sum().backward()
    out2.float().sum().backward()
    assert x.grad.dtype == torch.float32
    torch.testing.assert_close(x.grad, x2.grad, rtol=2e-2, atol=5e-2)
    torch.testing.assert_close(conv.weight.grad, ref.weight.grad, rtol=2e-2, atol=2e-1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: pnn.PadConv2d(4, 4, 3, padding=1, padding_mode="partial"),
        lambda: pnn.PadAvgPool2d(3, 1, 1, padding_mode="partial"),
        lambda: pnn.PadConv2d(4, 4, 3, padding=1, padding_mode="reflect", algorithm="border"),
    ],
)
def test_a_pass_under_inference_mode_does_not_poison_the_caches(make):
    layer = make()
    _border._INDEX_CACHE.clear()
    _partial._RATIO_CACHE.clear()
    with torch.inference_mode():
        layer(torch.randn(2, 4, 8, 8))
    cached = _border._INDEX_CACHE.values() + [r for r, _ in _partial._RATIO_CACHE.values()]
    assert cached and not any(t.is_inference() for t in cached)  # cached once, and usable for training
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_partial_ratio_returns_a_copy():
    args = ((4, 4), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))
    PF.partial_ratio(*args).mul_(0)
    assert PF.partial_ratio(*args)[0, 0].item() == pytest.approx(2.25)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avg_pool_zeros_with_any_padding_is_pad_then_pool(ceil_mode):
    # PyTorch's semantics extended to asymmetric / wide padding: padding counts in the divisor, a ceil_mode window's
    # overhang past the padding does not
    torch.manual_seed(0)
    for n, k, s, b, a in [(5, 4, 3, 1, 0), (7, 3, 2, 0, 2), (6, 2, 2, 3, 1), (9, 4, 3, 2, 2), (3, 4, 2, 0, 0)]:
        x = torch.randn(1, 2, n)
        if n + b + a < k and not ceil_mode:  # no full window: an error, as in PyTorch
            with pytest.raises(PadkitError, match="smaller than the window extent"):
                PF.avg_pool1d(x, k, s, ((b, a),), ceil_mode=ceil_mode)
            continue
        ref = F.avg_pool1d(F.pad(x, (b, a)), k, s, 0, ceil_mode=ceil_mode)
        got = PF.avg_pool1d(x, k, s, ((b, a),), ceil_mode=ceil_mode)
        m = got.shape[-1]
        assert ref.shape[-1] - m in (0, 1)  # the padded reference's ceil rule may allow one window more
        torch.testing.assert_close(got, ref[..., :m])


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.int32])
def test_max_pool_integer_input_with_uneven_padding(dtype):
    x = torch.randint(0, 100, (1, 2, 6, 7)).to(dtype)
    got = PF.max_pool2d(x, 3, 2, "same")
    low = torch.iinfo(dtype).min
    # TF 'same', 3 wide, stride 2: 6 rows -> 3 outputs need 1 more row (at the end); 7 columns -> 4 need 2
    ref = F.max_pool2d(F.pad(x.double(), (1, 1, 0, 1), value=low), 3, 2).to(dtype)
    assert got.dtype == dtype and torch.equal(got, ref)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_transposed_conv_with_too_much_padding_is_a_value_error(mode):
    conv = pnn.PadConvTranspose2d(4, 4, 3, padding=5, padding_mode=mode)
    with pytest.raises(PadkitError, match="padding=\\(5, 5\\) is too large"):
        conv(torch.randn(1, 4, 5, 5))


def test_transposed_conv_refuses_string_padding():
    with pytest.raises(PadkitTypeError, match=r"padding='same' .*PadConvTranspose2d"):
        pnn.PadConvTranspose2d(4, 4, 3, padding="same")


def test_repr_hides_zeros_and_shows_options_like_pytorch():
    assert "padding_mode" not in repr(pnn.PadConv2d(3, 4, 3, padding=1))
    assert repr(pnn.PadConv2d(3, 4, 3, padding=1)) == repr(nn.Conv2d(3, 4, 3, padding=1)).replace("Conv2d", "PadConv2d")
    text = repr(pnn.PadConv2d(3, 4, 3, padding=1, padding_mode="mean", padding_options={"stat_length": 2}))
    assert "padding_mode=mean" in text and "padding_options={'stat_length': 2}" in text
    assert "algorithm=border" in repr(pnn.PadConv2d(3, 4, 3, padding=1, padding_mode="reflect", algorithm="border"))
    assert "padding_mode=reflect" in repr(pnn.PadAvgPool2d(3, 1, 1, padding_mode="reflect"))


# ---------------------------------------------------------------------------------------------------------------------
# geometry against PyTorch and brute force
@given(n=st.integers(1, 30), k=st.integers(1, 6), s=st.integers(1, 4), d=st.integers(1, 3))
def test_same_padding_is_the_smallest_padding_giving_ceil_n_over_s(n: int, k: int, s: int, d: int) -> None:
    assert same_padding(n, k, s, d) == brute_same(n, k, s, d)


def test_conv_and_pool_out_size_match_torch() -> None:
    x = torch.zeros(1, 1, 40)
    for n in range(1, 12):
        for k in range(1, 5):
            for s in range(1, 4):
                for d in range(1, 3):
                    for before, after in ((0, 0), (1, 0), (0, 2), (2, 1)):
                        if n + before + after >= d * (k - 1) + 1:
                            y = F.conv1d(F.pad(x[..., :n], (before, after)), torch.zeros(1, 1, k), stride=s, dilation=d)
                            assert conv_out_size(n, k, s, d, before, after) == y.shape[-1]
                    for p in range(0, k // 2 + 1):
                        for ceil_mode in (False, True):
                            if n + 2 * p < d * (k - 1) + 1:
                                continue
                            y = F.max_pool1d(x[..., :n], k, s, p, d, ceil_mode=ceil_mode)
                            assert pool_out_size(n, k, s, d, p, p, ceil_mode) == y.shape[-1], (n, k, s, d, p, ceil_mode)


# ---------------------------------------------------------------------------------------------------------------------
# names: layers read back the user's mode (layer vocabulary, PyTorch's 'zeros')
def test_layers_read_back_the_mode_given() -> None:
    assert pnn.PadConv2d(3, 4, 3, padding_mode="zeros").padding_mode == "zeros"
    assert pnn.PadConv2d(3, 4, 3).padding_mode == "zeros"
    assert pnn.PadConv2d(3, 4, 3, padding_mode="constant").padding_mode == "constant"
    for alias, name in (("zero", "zeros"), ("edge", "replicate"), ("wrap", "circular"), ("Reflect", "reflect")):
        assert pnn.PadConv2d(3, 4, 3, padding_mode=alias).padding_mode == name
        assert pnn.PadConvTranspose2d(3, 4, 3, padding_mode=alias).padding_mode == name
        assert pnn.PadMaxPool2d(3, padding_mode=alias).padding_mode == name
        assert pnn.PadAvgPool2d(3, padding_mode=alias).padding_mode == name
    assert pnn.PadMaxPool2d(3).padding_mode == pnn.PadAvgPool1d(3).padding_mode == "zeros"
    assert pnn.PadConvTranspose3d(3, 4, 3).padding_mode == "zeros"


def test_repr_shows_constant_and_hides_zeros() -> None:
    assert "padding_mode" not in repr(pnn.PadMaxPool2d(3, 2, 1))
    assert "padding_mode=constant" in repr(pnn.PadConv2d(3, 4, 3, padding=1, padding_mode="constant"))


def test_zeros_and_constant_compute_the_same() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 7, 8, generator=g)
    w = torch.randn(4, 3, 3, 3, generator=g)
    ref = F.conv2d(x, w, padding=1)
    for mode in ("zeros", "zero", "constant"):
        torch.testing.assert_close(PF.conv2d(x, w, padding=1, padding_mode=mode), ref)
        torch.testing.assert_close(PF.max_pool2d(x, 3, 2, 1, padding_mode=mode), F.max_pool2d(x, 3, 2, 1))
        torch.testing.assert_close(PF.avg_pool2d(x, 3, 2, 1, padding_mode=mode), F.avg_pool2d(x, 3, 2, 1))
    filled = PF.conv2d(x, w, padding=1, padding_mode="constant", padding_options={"value": 1.5})
    torch.testing.assert_close(filled, F.conv2d(F.pad(x, (1, 1, 1, 1), value=1.5), w))


def test_arguments_are_checked_once_with_one_grammar() -> None:
    x, w = torch.randn(1, 2, 6, 6), torch.randn(2, 2, 3, 3)
    with pytest.raises(PadkitError, match="stride=0: expected"):
        PF.conv2d(x, w, stride=0)
    with pytest.raises(PadkitError, match=r"stride=\(0, 0\): expected"):
        pnn.PadConv2d(2, 2, 3, stride=0)
    with pytest.raises(PadkitError, match="algorithm='fast': expected"):
        PF.conv2d(x, w, algorithm="fast")
    with pytest.raises(PadkitTypeError, match=r"padding_options\['value'\]='a'"):
        pnn.PadConv2d(2, 2, 3, padding_mode="constant", padding_options={"value": "a"})
    with pytest.raises(PadkitError, match=r"output_padding=\(2, 2\): expected"):
        pnn.PadConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(PadkitError, match="kernel_size=0: expected"):
        PF.max_pool2d(x, 0)
    with pytest.raises(PadkitError, match="input_spatial_size"):
        pnn.PadMaxPool2d(3).explicit_padding((3,))
    with pytest.raises(PadkitTypeError, match="input="):
        PF.conv2d([1.0], w)  # type: ignore[arg-type]


def test_tensor_cache_is_a_bounded_lru() -> None:
    from padkit.nn._cache import TensorCache

    cache: TensorCache[torch.Tensor] = TensorCache(2)
    a = cache.get("a", lambda: torch.zeros(1))
    cache.get("b", lambda: torch.zeros(1))
    assert cache.get("a", lambda: torch.ones(1)) is a  # a hit; "b" is now the least recently used
    cache.get("c", lambda: torch.zeros(1))
    assert len(cache) == 2
    assert cache.get("b", lambda: torch.ones(1)).item() == 1.0  # "b" was dropped and made again
    with torch.inference_mode():
        made = cache.get("d", lambda: torch.zeros(1))
    assert not made.is_inference()
