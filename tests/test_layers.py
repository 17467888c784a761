"""The layer registry (padkit.layers) on torch, timm and padkit layers; padding_pairs against the layers' own output."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import padkit.nn as pnn
from padkit.geometry import flat_pad
from padkit.layers import (
    has_padding,
    layer_kind,
    padded_layers,
    padded_subclass,
    padding_mode,
    padding_pairs,
    pads_with_zeros,
)

timm = pytest.importorskip("timm")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_torch_and_padkit_layers_map_to_each_other(nd: int) -> None:
    for kind, torch_name, padkit_name in (
        ("conv", f"Conv{nd}d", f"PadConv{nd}d"),
        ("conv_transpose", f"ConvTranspose{nd}d", f"PadConvTranspose{nd}d"),
        ("max_pool", f"MaxPool{nd}d", f"PadMaxPool{nd}d"),
        ("avg_pool", f"AvgPool{nd}d", f"PadAvgPool{nd}d"),
    ):
        torch_cls, padkit_cls = getattr(nn, torch_name), getattr(pnn, padkit_name)
        args = (2, 2, 3) if "Conv" in torch_name else (3,)
        for module, source in ((torch_cls(*args), "torch"), (padkit_cls(*args), "padkit")):
            spec = layer_kind(module)
            assert spec is not None and (spec.kind, spec.nd, spec.source) == (kind, nd, source)
            assert spec.torch_type is torch_cls and spec.padkit_type is padkit_cls and spec.pads
    spec = layer_kind(getattr(nn, f"AdaptiveAvgPool{nd}d")(1))
    assert spec is not None and spec.kind == "adaptive_avg_pool" and not spec.pads
    assert layer_kind(nn.ReLU()) is None


def test_timm_same_layers_and_subclasses() -> None:
    from timm.layers import Conv2dSame, StdConv2d
    from timm.layers.pool2d_same import AvgPool2dSame, MaxPool2dSame

    for module, kind in ((Conv2dSame(3, 4, 3, stride=2), "conv"), (MaxPool2dSame(3, 2), "max_pool")):
        spec = layer_kind(module)
        assert spec is not None and (spec.kind, spec.source, spec.tf_same) == (kind, "timm", True)
        assert has_padding(module) and not padded_subclass(module)
    assert layer_kind(AvgPool2dSame(3, 2)).kind == "avg_pool"  # type: ignore[union-attr]
    std = StdConv2d(3, 4, 3, padding=1)
    assert layer_kind(std) is None and padded_subclass(std)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("size", [(7, 8), (16, 15), (1, 5)])
def test_padding_pairs_reproduce_each_layer_output(size: tuple[int, int]) -> None:
    """Zero-pad by padding_pairs, run the layer unpadded: the layer's own output (an oracle the registry cannot see)."""
    from timm.layers import Conv2dSame

    torch.manual_seed(0)
    x = torch.randn(1, 2, *size, dtype=torch.float64)
    convs = [
        nn.Conv2d(2, 3, 3, padding=1),
        nn.Conv2d(2, 3, (4, 2), padding="same", dilation=(1, 2)),
        nn.Conv2d(2, 3, 3, padding="valid"),
        Conv2dSame(2, 3, 3, stride=2),
        pnn.PadConv2d(2, 3, 3, stride=2, padding="same"),
        pnn.PadConv2d(2, 3, 3, padding=((0, 2), (1, 0))),
    ]
    for conv in convs:
        conv = conv.double()
        pairs = padding_pairs(conv, size)
        if min(s + b + a for s, (b, a) in zip(size, pairs)) < 4:
            continue
        want = conv(x)
        got = F.conv2d(F.pad(x, flat_pad(pairs)), conv.weight, conv.bias, conv.stride, 0, conv.dilation)
        torch.testing.assert_close(got, want, msg=type(conv).__name__)


def test_modes_padding_and_zero_fill() -> None:
    assert padding_mode(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")) == "reflect"
    assert padding_mode(nn.Conv2d(1, 1, 3, padding=1)) == "zeros"
    assert padding_mode(nn.MaxPool2d(3, 2, 1)) == "zeros"
    assert pads_with_zeros(nn.Conv2d(1, 1, 3, padding=1))
    assert not pads_with_zeros(nn.Conv2d(1, 1, 3))
    assert not pads_with_zeros(nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular"))
    assert not pads_with_zeros(nn.MaxPool2d(3, 2, 1))  # pools never pad with a value a conv reads
    assert not pads_with_zeros(pnn.PadConv2d(1, 1, 3, padding=1, padding_mode="reflect"))
    assert pads_with_zeros(pnn.PadConv2d(1, 1, 3, padding=1, padding_mode="zeros"))
    assert not pads_with_zeros(pnn.PadConv2d(1, 1, 3, padding=1, padding_mode="constant", padding_options={"value": 1}))
    assert has_padding(nn.Conv2d(1, 1, 3, padding="same")) and not has_padding(nn.Conv2d(1, 1, 3, padding="valid"))
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Sequential(nn.MaxPool2d(2), nn.Linear(2, 2)))
    assert [name for name, _ in padded_layers(model)] == ["0", "2.0"]
