"""padkit.padding: in-place, reversible, nestable conversion; selection by name, type and kernel size; peft LoRA."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import padkit
from padkit import PaddingScope, PadkitError, PadkitTypeError, PadkitValueError, padding
from padkit.nn import PadConv2d, PadMaxPool2d


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 5, padding=2), nn.ReLU(), nn.Conv2d(8, 8, (1, 3), padding=(0, 1)))
        self.pool = nn.MaxPool2d(3, 1, 1)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.block(torch.relu(self.conv1(x)))))


def _net() -> Net:
    torch.manual_seed(0)
    return Net()


def _circular_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """Reference: pad circularly by the conv's padding, then a valid conv with its weights."""
    ph, pw = conv.padding  # type: ignore[misc]
    return F.conv2d(F.pad(x, (pw, pw, ph, ph), mode="circular"), conv.weight, conv.bias)


def _layers(model: nn.Module) -> dict[str, nn.Module]:
    return dict(model.named_modules())


def test_converts_in_place_and_restores_the_original_objects() -> None:
    net = _net()
    before = _layers(net)
    params = {n: p for n, p in net.named_parameters()}
    x = torch.randn(2, 3, 9, 11)
    y0 = net(x)
    with padding(net, "circular") as scope:
        assert isinstance(scope, PaddingScope) and scope.active
        assert isinstance(net.conv1, PadConv2d) and net.conv1.padding_mode == "circular"
        assert isinstance(net.pool, PadMaxPool2d)
        assert net.head is before["head"]  # no padding: left alone
        assert net.block is before["block"]  # the containers stay
        assert {n: p for n, p in net.named_parameters()} == params  # same parameter objects
        assert all(net_p is params[n] for n, net_p in net.named_parameters())
        torch.testing.assert_close(net.conv1(x), _circular_conv(x, before["conv1"]))  # type: ignore[arg-type]
        assert [c.name for c in scope.report.changes] == ["conv1", "block.0", "block.2", "pool"]  # type: ignore[union-attr]
    assert not scope.active
    after = _layers(net)
    assert after.keys() == before.keys()
    assert all(after[n] is before[n] for n in before)
    assert torch.equal(net(x), y0)


def test_exception_inside_restores() -> None:
    net = _net()
    conv1 = net.conv1
    with pytest.raises(RuntimeError, match="boom"), padding(net, "reflect"):
        assert net.conv1 is not conv1
        raise RuntimeError("boom")
    assert net.conv1 is conv1


def test_nested_scopes_restore_the_outer_state() -> None:
    net = _net()
    conv1 = net.conv1
    with padding(net, "circular"):
        outer = net.conv1
        assert outer.padding_mode == "circular"
        with padding(net, "reflect", include="conv1") as inner:
            assert net.conv1.padding_mode == "reflect"
            assert net.conv1.weight is conv1.weight
            assert [c.old for c in inner.report.changes] == ["PadConv2d(circular)"]  # type: ignore[union-attr]
        assert net.conv1 is outer
    assert net.conv1 is conv1


def test_restoring_the_outer_scope_first_restores_the_inner_one() -> None:
    net = _net()
    before = _layers(net)
    outer = padding(net, "circular").apply()
    inner = padding(net.block, "replicate").apply()
    outer.restore()
    assert not inner.active and not outer.active
    assert all(_layers(net)[n] is before[n] for n in before)
    inner.restore()  # a no-op once restored
    assert all(_layers(net)[n] is before[n] for n in before)


def test_without_with_and_reentry() -> None:
    net = _net()
    conv1 = net.conv1
    scope = padding(net, "circular")
    assert scope.report is None and net.conv1 is conv1  # nothing happens before entry
    assert scope.__enter__() is scope
    with pytest.raises(PadkitValueError, match="already entered"):
        scope.__enter__()
    scope.restore()
    scope.restore()
    assert net.conv1 is conv1
    with scope:  # a scope can be entered again
        assert net.conv1.padding_mode == "circular"
    assert net.conv1 is conv1


def test_training_inside_updates_the_original_parameters() -> None:
    net = _net()
    conv1 = net.conv1
    w0 = conv1.weight.detach().clone()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)  # made before the scope: holds the original parameters
    with padding(net, "circular"):
        net(torch.randn(2, 3, 8, 8)).square().mean().backward()
        opt.step()
    assert net.conv1 is conv1
    assert not torch.equal(conv1.weight, w0)
    assert conv1.weight.grad is not None


def test_dtype_change_inside_reaches_the_originals() -> None:
    net = _net()
    conv1 = net.conv1
    with padding(net, "circular"):
        net.double()
    assert net.conv1 is conv1 and conv1.weight.dtype == torch.float64
    assert net(torch.randn(1, 3, 8, 8, dtype=torch.float64)).dtype == torch.float64


def test_train_eval_and_hooks_survive() -> None:
    net = _net().train()
    conv1 = net.conv1
    calls: list[str] = []
    handle = conv1.register_forward_hook(lambda m, i, o: calls.append(type(m).__name__))
    with padding(net, "circular"):
        net(torch.randn(1, 3, 8, 8))
        net.eval()  # the pipeline switches mode inside the scope
        assert not net.conv1.training
    assert calls == ["PadConv2d"]
    assert not conv1.training and not net.pool.training
    net(torch.randn(1, 3, 8, 8))
    assert calls == ["PadConv2d", "Conv2d"]
    handle.remove()


def test_references_held_by_a_pipeline_see_the_conversion() -> None:
    net = _net()
    block = net.block  # what a pipeline keeps
    with padding(net, "circular"):
        assert block is net.block and block[0].padding_mode == "circular"
    assert type(block[0]) is nn.Conv2d


@pytest.mark.parametrize(
    ("kwargs", "converted"),
    [
        ({"include": "block.*"}, ["block.0", "block.2"]),
        ({"include": nn.MaxPool2d}, ["pool"]),
        ({"exclude": ["conv1", nn.MaxPool2d]}, ["block.0", "block.2"]),
        ({"kernel_size": 3}, ["conv1", "pool"]),
        ({"kernel_size": (1, 3)}, ["block.2"]),
        ({"kernel_size": [5, (1, 3)]}, ["block.0", "block.2"]),
        ({"kernel_size": {3, 5}, "include": nn.Conv2d}, ["conv1", "block.0"]),
        ({"kernel_size": 3, "exclude": "pool"}, ["conv1"]),
        ({"kernel_size": 7}, []),
    ],
)
def test_selection(kwargs: dict, converted: list[str]) -> None:
    net = _net()
    with padding(net, "reflect", **kwargs) as scope:
        assert [c.name for c in scope.report.changes] == converted  # type: ignore[union-attr]
        modes = {n: m.padding_mode for n, m in net.named_modules() if isinstance(m, (PadConv2d, PadMaxPool2d))}
        assert sorted(modes) == sorted(converted)


def test_names_with_fnmatch_characters_are_matched_exactly() -> None:
    model = nn.ModuleDict({"a[1]": nn.Conv2d(1, 1, 3, padding=1), "a1": nn.Conv2d(1, 1, 5, padding=2)})
    with padding(model, "circular", kernel_size=3) as scope:
        assert [c.name for c in scope.report.changes] == ["a[1]"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kernel_size": 0}, PadkitValueError),
        ({"kernel_size": "3"}, PadkitTypeError),
        ({"kernel_size": [3, (2, 0)]}, PadkitValueError),
        ({"kernel_size": []}, PadkitValueError),
        ({"include": 3}, PadkitTypeError),
    ],
)
def test_bad_arguments(kwargs: dict, error: type) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        padding(_net(), "circular", **kwargs)


def test_bad_mode_and_root_layer_leave_the_model_alone() -> None:
    net = _net()
    conv1 = net.conv1
    with pytest.raises(PadkitError, match="mode"), padding(net, "no-such-mode"):
        pass
    assert net.conv1 is conv1
    with pytest.raises(TypeError, match="model"):
        padding("net", "circular")  # type: ignore[arg-type]
    root = nn.Conv2d(1, 1, 3, padding=1)
    with pytest.raises(PadkitValueError, match="root"), padding(root, "circular"):
        pass
    with padding(root, "circular", exclude="") as scope:  # the root excluded: nothing to do
        assert scope.report.changes == ()  # type: ignore[union-attr]
    assert type(root) is nn.Conv2d


def test_padding_is_the_public_name() -> None:
    assert padkit.padding is padding


# --- peft LoRA ------------------------------------------------------------------------------------------------------


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_peft_lora_conv_converts_base_and_lora_and_trains() -> None:
    peft = pytest.importorskip("peft")
    torch.manual_seed(0)
    model = peft.get_peft_model(Tiny(), peft.LoraConfig(r=2, lora_alpha=4, target_modules=["conv"]))
    wrapper = model.base_model.model.conv
    base, lora_a, lora_b = wrapper.base_layer, wrapper.lora_A["default"], wrapper.lora_B["default"]
    with torch.no_grad():
        lora_b.weight.normal_()  # peft starts lora_B at zero; non-zero makes the LoRA path visible
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.02)
    x = torch.randn(2, 3, 6, 7)
    lora = {"base_model.model.conv.lora_A.default.weight", "base_model.model.conv.lora_B.default.weight"}
    with padding(model, "circular") as scope:
        names = [c.name for c in scope.report.changes]  # type: ignore[union-attr]
        assert names == ["base_model.model.conv.base_layer", "base_model.model.conv.lora_A.default"]
        assert model.base_model.model.conv is wrapper  # the wrapper stays, its inner convs convert
        assert wrapper.base_layer.padding_mode == "circular" and wrapper.lora_A["default"].padding_mode == "circular"
        assert wrapper.lora_B["default"] is lora_b  # 1x1: no padding
        # reference, computed from the weights: circular base conv + scaled circular LoRA path
        scaling = wrapper.scaling["default"]
        xp = F.pad(x, (1, 1, 1, 1), mode="circular")
        ref = F.conv2d(xp, base.weight, base.bias) + F.conv2d(F.conv2d(xp, lora_a.weight), lora_b.weight) * scaling
        out = model(x)
        torch.testing.assert_close(out, ref)
        (out - 1).square().mean().backward()
        opt.step()
        changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
        assert changed == lora  # the frozen base conv stays
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = (model(x) - 1).square().mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0]  # the LoRA trains
    assert wrapper.base_layer is base and wrapper.lora_A["default"] is lora_a
    assert {n for n, p in model.named_parameters() if not torch.equal(p, before[n])} == lora
    assert not lora_a.weight.equal(before["base_model.model.conv.lora_A.default.weight"])  # trained in the scope
    assert type(base) is nn.Conv2d and base.padding_mode == "zeros"
