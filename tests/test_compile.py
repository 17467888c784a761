"""torch.compile(fullgraph=True): padkit.pad and every padkit.nn layer kind trace into one graph and match eager.

The ``aot_eager`` backend runs Dynamo's full graph capture and AOTAutograd (forward and backward graphs) without
needing a C++ toolchain; one inductor case (the real compiler) is marked slow.
"""

from __future__ import annotations

import pytest
import torch

import padkit
import padkit.nn as pnn

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> None:
    torch._dynamo.reset()


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular", "symmetric"])
def test_pad_fullgraph_forward_and_backward(mode: str) -> None:
    pad = (2, 3, 1, 4)

    def f(x: torch.Tensor) -> torch.Tensor:
        return padkit.pad(x, pad, mode=mode)

    x = torch.randn(2, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    got, ref = compiled(x), f(x2)
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    g = torch.randn_like(ref)
    got.backward(g)
    ref.backward(g)
    torch.testing.assert_close(x.grad, x2.grad)


LAYERS = [
    lambda m: pnn.PadConv1d(3, 4, 3, padding=1, padding_mode=m),
    lambda m: pnn.PadConv2d(3, 4, 3, stride=2, padding="same", padding_mode=m),
    lambda m: pnn.PadConv3d(2, 3, 3, padding=1, padding_mode=m),
    lambda m: pnn.PadConvTranspose2d(3, 4, 3, stride=2, padding=1, padding_mode=m),
    lambda m: pnn.PadMaxPool2d(3, stride=2, padding=1, padding_mode=m),
    lambda m: pnn.PadAvgPool2d(3, stride=1, padding=1, padding_mode=m),
]
INPUTS = [(2, 3, 9), (2, 3, 9, 10), (1, 2, 5, 6, 7), (2, 3, 5, 6), (2, 3, 9, 10), (2, 3, 9, 10)]


@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular", "symmetric", "partial"])
@pytest.mark.parametrize("which", range(len(LAYERS)))
def test_layers_fullgraph_match_eager(which: int, mode: str) -> None:
    if mode == "partial" and which in (3, 4):
        pytest.skip("partial padding is defined for convolutions and average pooling only")
    torch.manual_seed(which)
    layer = LAYERS[which](mode).double()
    x = torch.randn(INPUTS[which], dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    got, ref = compiled(x), layer(x2)
    torch.testing.assert_close(got, ref)
    got.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)


@pytest.mark.slow
def test_inductor_compiles_a_converted_block() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3, padding=1))
    net = padkit.convert(net, "reflect")
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(torch.compile(net, fullgraph=True)(x), net(x), rtol=1e-4, atol=1e-5)


def test_pad_fullgraph_when_padkit_is_imported_before_dynamo() -> None:
    # padkit marks its index-table function constant without importing torch._dynamo (it costs ~1 s of import time);
    # in a fresh interpreter, prove that nothing imported dynamo and that fullgraph compilation still traces it
    import subprocess
    import sys

    code = (
        "import sys, torch, padkit\n"
        "assert 'torch._dynamo' not in sys.modules, 'importing padkit loaded torch._dynamo'\n"
        "x = torch.randn(2, 3, 5, 6, dtype=torch.float64, requires_grad=True)\n"
        "f = lambda t: padkit.pad(t, (2, 7, 1, 3), mode='symmetric')\n"
        "y = torch.compile(f, fullgraph=True, backend='aot_eager')(x)\n"
        "assert torch.equal(y, f(x.detach()))\n"
        "y.sum().backward()\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr[-2000:]


@pytest.mark.parametrize(
    "mode, options",
    [
        ("linear_ramp", {"end_values": 1.5}),
        ("mean", {}),
        ("maximum", {"stat_length": 2}),
        ("minimum", {}),
        ("median", {"stat_length": 3}),
        ("reflect", {"reflect_type": "odd"}),
        ("symmetric", {"reflect_type": "odd"}),
    ],
)
def test_numpy_modes_fullgraph_forward_and_backward(mode: str, options: dict) -> None:
    # the modes F.pad lacks: one graph too, with gradients equal to eager
    pad = (2, 3, 1, 4)

    def f(x: torch.Tensor) -> torch.Tensor:
        return padkit.pad(x, pad, mode=mode, **options)

    x = torch.randn(2, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    got, ref = torch.compile(f, fullgraph=True, backend="aot_eager")(x), f(x2)
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    g = torch.randn_like(ref)
    got.backward(g)
    ref.backward(g)
    torch.testing.assert_close(x.grad, x2.grad)
