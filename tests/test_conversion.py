"""padkit.conversion: whole-model padding conversion on torchvision / timm models and small hand-made nets."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from torch import nn

import padkit.nn as pnn
from padkit import PadkitError, PadkitTypeError
from padkit.conversion import ConversionReport, convert, convert_report
from padkit.layers import padding_mode
from padkit.modes import is_zero_fill

tvm = pytest.importorskip("torchvision.models")
seg = pytest.importorskip("torchvision.models.segmentation")


def _out(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        y = model(x)
    if isinstance(y, dict):
        y = y["out"]
    if hasattr(y, "logits"):
        y = y.logits
    return y


def _layer_output(model: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """Output of the submodule ``name`` during a forward pass."""
    seen: list[torch.Tensor] = []
    handle = model.get_submodule(name).register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
    try:
        _out(model, x)
    finally:
        handle.remove()
    return seen[0]


def _is_padded(m: nn.Module) -> bool:
    kinds = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)
    if not isinstance(m, kinds):
        return False
    padding = m.padding
    if isinstance(padding, str):
        return padding == "same"
    return any(torch.tensor(padding).view(-1).tolist())


def _check_model(model: nn.Module, x: torch.Tensor, mode: str = "reflect") -> ConversionReport:
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ref = _out(model, x)
    conv, report = convert_report(model, mode)
    assert not conv.training
    # original untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(type(m).__module__.startswith("padkit") for m in model.modules())
    # strict state_dict load from the original, same keys
    assert list(conv.state_dict()) == list(model.state_dict())
    conv.load_state_dict(model.state_dict(), strict=True)
    changed = _out(conv, x)
    assert changed.shape == ref.shape
    padded = [n for n, m in model.named_modules() if _is_padded(m)]
    if not padded:  # e.g. ViT / Swin: no padded layer, nothing to convert, outputs identical
        assert report.changes == ()
        assert torch.equal(changed, ref)
        return report
    assert report.changes, "nothing converted"
    # the first converted layer's own output changes visibly (final logits can hide it at random init, e.g. ConvNeXt's
    # 1e-6 layer scale); the model output must differ too
    first = report.changes[0].name
    a, b = _layer_output(model, first, x), _layer_output(conv, first, x)
    assert (a - b).abs().max() > 1e-3 * a.abs().max(), "a non-zero mode must change the converted layer's output"
    # the model output must differ too, unless it does not depend on the input at all: at random init some models (e.g.
    # deeplabv3_mobilenet_v3_large: backbone features ~1e-8, head output constant) give the same output for any input
    input_independent = torch.equal(_out(model, torch.randn_like(x)), ref)
    assert input_independent or not torch.equal(changed, ref)
    back = convert(conv, "zeros")
    scale = ref.abs().max().clamp_min(1e-30)
    assert ((_out(back, x) - ref).abs().max() <= 1e-6 * scale).item()
    # converting twice == once
    twice = convert(conv, mode)
    torch.testing.assert_close(_out(twice, x), changed, rtol=0, atol=0)
    return report


FAST_CLASSIFIERS = ["resnet18", "mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5"]


@pytest.mark.parametrize("name", FAST_CLASSIFIERS)
def test_torchvision_classifiers_fast(name: str) -> None:
    torch.manual_seed(0)
    model = tvm.get_model(name, weights=None, num_classes=10)
    _check_model(model, torch.randn(1, 3, 64, 64))


def test_torchvision_segmentation_fast() -> None:
    torch.manual_seed(0)
    model = seg.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3)
    _check_model(model, torch.randn(1, 3, 64, 64))


def _classifier_names() -> list[str]:
    return sorted(tvm.list_models(module=tvm))


def _input_for(name: str) -> torch.Tensor:
    if name.startswith("inception") or name.startswith("googlenet"):
        return torch.randn(1, 3, 96, 96)
    if name.startswith("vit") or name.startswith("swin") or name.startswith("maxvit"):
        return torch.randn(1, 3, 224, 224)
    return torch.randn(1, 3, 64, 64)


@pytest.mark.parametrize("name", _classifier_names())
def test_all_torchvision_classifiers(name: str) -> None:
    torch.manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("inception_v3", "googlenet") else {}
    model = tvm.get_model(name, weights=None, num_classes=10, **kwargs)
    x = _input_for(name)
    model.eval()
    try:
        _out(model, x)
    except Exception as exc:  # architecture needs a specific input size
        pytest.skip(f"{name} does not run at {tuple(x.shape)}: {exc}")
    _check_model(model, x)


@pytest.mark.parametrize("name", sorted(tvm.list_models(module=seg)))
def test_all_torchvision_segmentation(name: str) -> None:
    torch.manual_seed(0)
    model = tvm.get_model(name, weights=None, weights_backbone=None, num_classes=3, aux_loss=False)
    _check_model(model, torch.randn(1, 3, 64, 64))


# ---------------------------------------------------------------------------------------------------------------------
def _net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.MaxPool2d(3, 2, 1),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.Conv2d(8, 8, 1)),
        nn.AvgPool2d(3, 1, 1),
        nn.ConvTranspose2d(8, 4, 3, 2, 1, 1),
        nn.Conv1d(1, 1, 1) if False else nn.Identity(),
    )


def test_report_lists_changes_and_to_json() -> None:
    _, report = convert_report(_net(), "edge")
    names = [c.name for c in report.changes]
    assert names == ["0", "2", "3.0", "4", "5"]  # the 1x1 conv (no padding) is untouched
    assert report.changes[0].old == "Conv2d(zeros)" and report.changes[0].new == "PadConv2d(replicate)"
    assert report.changes[1].old == "MaxPool2d(zeros)"
    data = json.loads(report.to_json())
    assert data["format"] == 1 and data["mode"] == "replicate" and len(data["changes"]) == 5
    assert "5 layer(s) converted to replicate" in report.format()


def test_zero_padding_is_named_zeros() -> None:
    net, report = convert_report(_net(), "zeros")
    assert report.mode == "zeros"
    assert [(c.old, c.new) for c in report.changes[:2]] == [
        ("Conv2d(zeros)", "PadConv2d(zeros)"),
        ("MaxPool2d(zeros)", "PadMaxPool2d(zeros)"),
    ]
    assert "5 layer(s) converted to zeros" in report.format()
    assert is_zero_fill(padding_mode(net[0]), net[0].padding_options)  # a padkit layer that pads with 0
    _, report = convert_report(_net(), "constant")
    assert report.mode == "constant" and report.changes[0].new == "PadConv2d(constant)"


def test_parameters_shared_and_inplace() -> None:
    net = _net()
    conv = convert(net, "reflect")
    assert conv[0].weight is not net[0].weight  # a deep copy
    same = convert(net, "reflect", inplace=True)
    assert same is net and isinstance(net[0], pnn.PadConv2d)


def test_partial_skips_transposed_conv() -> None:
    _, report = convert_report(_net(), "partial")
    assert [s.name for s in report.skipped] == ["5"]
    assert "transposed" in report.skipped[0].reason


def test_include_exclude_by_name_and_type() -> None:
    _, rep = convert_report(_net(), "reflect", include="3.*")
    assert [c.name for c in rep.changes] == ["3.0"]
    _, rep = convert_report(_net(), "reflect", exclude=[nn.MaxPool2d, "5"])
    assert [c.name for c in rep.changes] == ["0", "3.0", "4"]
    _, rep = convert_report(_net(), "reflect", include=nn.Conv2d)
    assert [c.name for c in rep.changes] == ["0", "3.0"]
    with pytest.raises(PadkitTypeError):
        convert(_net(), "reflect", include=[3])  # type: ignore[list-item]
    with pytest.raises(PadkitError, match="mode='nope'"):
        convert(_net(), "nope")


def test_device_dtype_training_state_kept() -> None:
    net = _net().double().train()
    net[0].eval()
    conv = convert(net, "circular")
    assert conv.training and not conv[0].training
    assert conv[0].weight.dtype == torch.float64


def test_root_layer_and_custom_subclass_skipped() -> None:
    class WeirdConv(nn.Conv2d):
        def forward(self, x):  # pragma: no cover - never run
            return super().forward(x) * 2

    root = convert(nn.Conv2d(2, 2, 3, padding=1), "symmetric")
    assert isinstance(root, pnn.PadConv2d) and root.padding_mode == "symmetric"
    _, rep = convert_report(nn.Sequential(WeirdConv(2, 2, 3, padding=1)), "reflect")
    assert not rep.changes and rep.skipped[0].type == "WeirdConv"


def test_timm_same_layers() -> None:
    timm = pytest.importorskip("timm")
    from timm.layers import create_conv2d, create_pool2d

    torch.manual_seed(0)
    net = nn.Sequential(
        create_conv2d(3, 8, 3, stride=2, padding="same"),
        create_pool2d("max", 3, stride=2, padding="same"),
        create_pool2d("avg", 3, stride=2, padding="same"),
    ).eval()
    assert type(net[0]).__name__ in ("Conv2dSame", "Conv2d")
    x = torch.randn(1, 3, 17, 18)
    ref = net(x)
    conv, rep = convert_report(net, "zeros")
    assert len(rep.changes) == 3
    torch.testing.assert_close(conv(x), ref)
    assert not torch.allclose(convert(net, "reflect")(x), ref)
    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False, num_classes=5)
    _check_model(model, torch.randn(1, 3, 64, 64))


def test_cli_convert_lists_changes_and_output_change(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    from padkit.cli import main

    path = tmp_path / "changes.json"
    assert main(["convert", "torchvision:resnet18", "reflect", "--input-size", "32", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "conv1: Conv2d(zeros) -> PadConv2d(reflect)" in out
    assert "18 layer(s) converted to reflect" in out
    change = float(out.rsplit("relative L2", 1)[1])
    assert change > 0
    data = json.loads(path.read_text())
    assert data["format"] == 1 and len(data["changes"]) == 18
    assert main(["convert", "torchvision:resnet18", "zeros", "--input-size", "32"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("relative L2 0")


def test_cli_convert_rejects_unknown_mode(capsys: pytest.CaptureFixture[str]) -> None:
    from padkit.cli import main

    assert main(["convert", "torchvision:resnet18", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err


def test_cli_convert_refuses_models_without_layers(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    from padkit.cli import main

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    ts = tmp_path / "m.pt"
    torch.jit.script(net).save(str(ts))
    pt2 = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(1, 3, 8, 8),)), str(pt2))
    for path, word in ((ts, "TorchScript"), (pt2, "torch.export")):
        assert main(["convert", str(path), "reflect"]) == 2
        assert word in capsys.readouterr().err
    # a bad --input-size is reported before any output
    assert main(["convert", "torchvision:resnet18", "reflect", "--input-size", "abc"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "--input-size" in err
