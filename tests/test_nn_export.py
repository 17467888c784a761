"""padkit.nn under torch.compile and torch.onnx.export (onnxruntime as the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import padkit.nn as pnn


def _tiny(mode: str) -> nn.Module:
    pool_mode = mode if mode != "partial" else "partial"
    return nn.Sequential(
        pnn.PadConv2d(3, 4, 3, padding=1, padding_mode=mode),
        pnn.PadMaxPool2d(3, 2, 1, padding_mode=pool_mode),
        pnn.PadConv2d(4, 4, 3, stride=2, padding="same", padding_mode=mode),
    )


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["reflect", "partial"])
def test_torch_compile_matches_eager(mode: str) -> None:
    torch.manual_seed(0)
    net = _tiny(mode)
    x = torch.randn(2, 3, 11, 12, requires_grad=True)
    ref = net(x)
    (gref,) = torch.autograd.grad(ref.sum(), x)
    compiled = torch.compile(net, backend="aot_eager", fullgraph=False)
    y = compiled(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g, gref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_onnx_export_matches_onnxruntime(mode: str, tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    net = nn.Sequential(
        pnn.PadConv2d(3, 4, 3, padding=1, padding_mode=mode),
        pnn.PadMaxPool2d(3, 2, 1, padding_mode=mode),
        pnn.PadConvTranspose2d(4, 2, 3, 2, 1, 1, padding_mode=mode),
    ).eval()
    x = torch.randn(1, 3, 12, 12)
    path = tmp_path / f"{mode}.onnx"
    torch.onnx.export(net, (x,), str(path), dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        ref = net(x).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


EXPORT_MODES = [
    "zeros",
    "constant",
    "reflect",
    "symmetric",
    "replicate",
    "circular",
    "linear_ramp",
    "mean",
    "partial",
    "spherical",
    ("zeros", "circular"),
    ("symmetric", "reflect"),
]


def _onnx_matches(net: nn.Module, x: torch.Tensor, path, dynamo: bool) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    if dynamo:
        pytest.importorskip("onnxscript")
    torch.onnx.export(net, (x,), str(path), dynamo=dynamo)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        ref = net(x).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("mode", EXPORT_MODES, ids=str)
def test_every_mode_exports_with_both_exporters(mode, dynamo: bool, tmp_path) -> None:
    torch.manual_seed(0)
    layers: list[nn.Module] = [
        pnn.PadConv2d(3, 4, 3, padding=1, padding_mode=mode),
        pnn.PadMaxPool2d(3, 2, 1, padding_mode=mode),
        pnn.PadConv2d(4, 4, 3, stride=2, padding="same", padding_mode=mode),
    ]
    if mode != "partial":  # partial padding is not defined for transposed convolutions
        layers.append(pnn.PadConvTranspose2d(4, 2, 3, 2, 1, 1, padding_mode=mode))
    _onnx_matches(nn.Sequential(*layers).eval(), torch.randn(1, 3, 12, 16), tmp_path / "m.onnx", dynamo)


@pytest.mark.filterwarnings("ignore")
def test_symmetric_resnet18_exports_with_the_torchscript_exporter(tmp_path) -> None:
    torchvision = pytest.importorskip("torchvision")
    import padkit

    torch.manual_seed(0)
    net = padkit.convert(torchvision.models.resnet18().eval(), "symmetric")
    _onnx_matches(net, torch.randn(1, 3, 64, 64), tmp_path / "r18.onnx", dynamo=False)
