"""Padded convs and max pools keep what their zero-padded counterparts keep for backward, with the same gradients.

Oracles: ``np.pad`` then a valid conv (values), float64 ``gradcheck``/``gradgradcheck`` (gradients), the bytes of the
distinct storages autograd saves (``padkit.lab.benchmarks.saved_bytes``) against the zero-padded layer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck, gradgradcheck

import padkit.nn as pnn
from padkit.lab.benchmarks import saved_bytes
from padkit.nn._dilated import compact_rows
from padkit.nn._repad import fold_in_place

NUMPY = {"reflect": "reflect", "symmetric": "symmetric", "replicate": "edge", "circular": "wrap"}
KEPT_MODES = [
    "reflect",
    "symmetric",
    "replicate",
    "circular",
    "partial",
    "linear_ramp",
    "spherical",
    ("zeros", "circular"),
    ("reflect", "circular"),
]


def _kept(layer: nn.Module, x: torch.Tensor) -> int:
    return saved_bytes(lambda: layer(x).sum().backward())


@pytest.mark.parametrize("mode", KEPT_MODES, ids=str)
def test_padded_conv_keeps_what_the_zero_padded_conv_keeps(mode) -> None:
    x = torch.randn(2, 4, 12, 10, requires_grad=True)
    zeros = nn.Conv2d(4, 6, 3, padding=1, bias=False)
    layer = pnn.PadConv2d(4, 6, 3, padding=1, bias=False, padding_mode=mode)
    ratio_map = 12 * 10 * 4 if mode == "partial" else 0  # partial keeps its cached (H, W) ratio map, batch-free
    assert _kept(layer, x) == _kept(zeros, x) + ratio_map


def test_padded_max_pool_keeps_what_the_zero_padded_pool_keeps() -> None:
    x = torch.randn(2, 3, 11, 12, requires_grad=True)
    assert _kept(pnn.PadMaxPool2d(3, 2, 1, padding_mode="reflect"), x) == _kept(nn.MaxPool2d(3, 2, 1), x)


def test_converted_resnet_block_keeps_what_zeros_keeps() -> None:
    torchvision = pytest.importorskip("torchvision")
    import padkit

    torch.manual_seed(0)
    net = torchvision.models.resnet18().layer1.train()
    x = torch.randn(2, 64, 16, 16, requires_grad=True)
    assert _kept(padkit.convert(net, "reflect"), x) == _kept(net, x)


@pytest.mark.parametrize("mode", ["reflect", "circular", "constant", ("symmetric", "replicate"), "mean"], ids=str)
def test_repad_conv_gradcheck_and_gradgradcheck(mode) -> None:
    torch.manual_seed(0)
    opts = {"value": 0.5} if mode == "constant" else None
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)

    def f(x, w, b):
        return pnn.functional.conv2d(x, w, b, padding=((2, 1), (1, 2)), padding_mode=mode, padding_options=opts)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "circular"])
@pytest.mark.parametrize("n, d, s", [(5, 4, 1), (6, 9, 2), (4, 11, 1)])
def test_dilated_conv_matches_np_pad_oracle(mode: str, n: int, d: int, s: int) -> None:
    torch.manual_seed(n + d)
    x = torch.randn(2, 3, n, n + 1, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    got = pnn.functional.conv2d(x, w, stride=s, padding=d, dilation=d, padding_mode=mode)
    xp = np.pad(x.detach().numpy(), ((0, 0), (0, 0), (d, d), (d, d)), mode=NUMPY[mode])
    ref = F.conv2d(torch.from_numpy(xp), w.detach(), None, s, 0, d)
    torch.testing.assert_close(got, ref)
    g = torch.randn_like(ref)
    gx, gw = torch.autograd.grad(got, (x, w), g)
    xr = torch.from_numpy(xp).requires_grad_(True)
    gxp, gwr = torch.autograd.grad(F.conv2d(xr, w, None, s, 0, d), (xr, w), g)
    # the oracle's input gradient: np.pad's index table folds the padded gradient onto the input
    rows = np.pad(np.arange(n), d, mode=NUMPY[mode])
    cols = np.pad(np.arange(n + 1), d, mode=NUMPY[mode])
    ref_gx = torch.zeros_like(x)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ref_gx[:, :, r, c] += gxp[:, :, i, j]
    torch.testing.assert_close(gx, ref_gx)
    torch.testing.assert_close(gw, gwr)


def test_dilated_conv_gradgradcheck() -> None:
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert gradgradcheck(
        lambda x, w: pnn.functional.conv2d(x, w, padding=7, dilation=7, padding_mode="replicate"), (x, w)
    )


def test_compact_rows_reads_every_tap_of_every_output() -> None:
    rows, stride, dilation = compact_rows(n=3, before=5, after=5, k=3, s=2, d=5, mode="circular")
    table = np.pad(np.arange(3), 5, mode="wrap")
    out = (3 + 10 - 11) // 2 + 1
    assert (stride, dilation) == (3, 1)
    assert rows == tuple(int(table[t * 5 + i * 2]) for i in range(out) for t in range(3))


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "circular", ("constant", "reflect")], ids=str)
def test_fold_in_place_is_the_adjoint_of_the_pad(mode) -> None:
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    widths = ((0, 0), (0, 0), (2, 7), (3, 1))
    modes = mode if isinstance(mode, str) else ("constant", "constant", *mode)
    np_modes = [NUMPY.get(m, "constant") for m in (modes if isinstance(modes, tuple) else (modes,) * 4)]
    g = torch.randn(2, 3, 4 + 9, 5 + 4, dtype=torch.float64)
    # <pad(x), g> == <x, fold(g)>, with the pad as np.pad per dim
    xp = x.numpy()
    for dim in (2, 3):
        w = [(0, 0)] * 4
        w[dim] = widths[dim]
        xp = np.pad(xp, w, mode=np_modes[dim]) if np_modes[dim] != "constant" else np.pad(xp, w)
    lhs = float((torch.from_numpy(xp) * g).sum())
    rhs = float((x * fold_in_place(g.clone(), widths, modes)).sum())
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_backward_is_bitwise_repeatable() -> None:
    torch.manual_seed(0)
    layer = pnn.PadConv2d(3, 4, 3, padding=2, dilation=2, padding_mode="circular")
    pool = pnn.PadMaxPool2d(3, 2, 1, padding_mode="symmetric")
    x = torch.randn(2, 3, 9, 10, requires_grad=True)
    runs = [torch.autograd.grad(pool(layer(x)).square().sum(), (x, layer.weight)) for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_autocast_runs_in_one_dtype() -> None:
    layer = pnn.PadConv2d(3, 4, 3, padding=1, padding_mode="reflect")
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.float32
