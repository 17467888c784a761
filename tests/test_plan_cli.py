"""The ``padkit plan`` subcommand: table, JSON, PNG and --fail-on exit codes."""

from __future__ import annotations

import json

import pytest

from padkit import cli


@pytest.fixture
def plan_cli(monkeypatch):
    monkeypatch.setitem(cli.SUBCOMMANDS, "plan", "plan")
    return cli.main


def test_json_table_and_plot(plan_cli, tmp_path, capsys):
    out = tmp_path / "p.json"
    png = tmp_path / "p.png"
    rc = plan_cli(["plan", "torchvision:resnet18", "--input-size", "224", "--json", str(out), "--plot", str(png)])
    assert rc == cli.EXIT_OK
    doc = json.loads(out.read_text())
    assert doc["format"] == 1 and doc["input_size"] == [224, 224] and doc["clean"] is False
    conv1 = doc["layers"][0]
    assert conv1["name"] == "conv1" and conv1["pad_before"] == [3, 3] and conv1["pad_after"] == [2, 2]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "UNEVEN" in text and "225x225" in text


@pytest.mark.parametrize(
    "size,gate,rc",
    [
        ("224", "unread", cli.EXIT_FAIL),
        ("224", "uneven", cli.EXIT_FAIL),
        ("225", "unread", cli.EXIT_OK),
        ("225", "uneven", cli.EXIT_OK),
        ("225,224", "unread", cli.EXIT_FAIL),
    ],
)
def test_fail_on_exit_codes(plan_cli, size, gate, rc):
    assert plan_cli(["plan", "torchvision:resnet18", "--input-size", size, "--fail-on", gate, "--no-suggest"]) == rc


def test_bad_input_size_is_a_usage_error(plan_cli, capsys):
    assert plan_cli(["plan", "torchvision:resnet18", "--input-size", "abc"]) == cli.EXIT_USAGE
    assert "--input-size" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["vgg11", "regnet_y_400mf"])
def test_without_weights_the_model_is_built_for_shapes_only(plan_cli, tmp_path, name):
    # VGG builds on the meta device (no weight init); RegNet's builder computes on tensors, so it falls back to the
    # CPU. Either way the JSON equals a plan of the CPU-built model; a --weights run takes the real-weights path.
    import torch

    from padkit import load_model, plan
    from padkit.models import load_model_meta

    model = load_model_meta(f"torchvision:{name}")
    on_meta = next(model.parameters()).is_meta
    assert on_meta == (name == "vgg11")
    out = tmp_path / "p.json"
    assert plan_cli(["plan", f"torchvision:{name}", "--input-size", "64", "--json", str(out), "--no-suggest"]) == 0
    ref = plan(load_model(f"torchvision:{name}"), 64, name=f"torchvision:{name}", suggest=False)
    assert json.loads(out.read_text()) == json.loads(ref.to_json())
    weights = tmp_path / "w.pt"
    torch.save(load_model(f"torchvision:{name}").state_dict(), weights)
    args = ["plan", f"torchvision:{name}", "--input-size", "64", "--weights", str(weights), "--no-suggest"]
    assert plan_cli(args) == 0


def test_shapes_only_loading_leaves_user_modules_alone(tmp_path, monkeypatch):
    # factories are imported outside any meta-device context: their module-level tensors stay real, the model builds
    # as load_model builds it, and a later load_model of the same module gets real weights
    import sys

    from padkit.models import load_model, load_model_meta

    (tmp_path / "padkit_meta_probe.py").write_text(
        "import torch\n"
        "from torch import nn\n"
        "WIDTH = torch.tensor(8)\n"
        "def net():\n"
        "    return nn.Sequential(nn.Conv2d(3, int(WIDTH), 3, 2, 1))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "padkit_meta_probe", raising=False)
    model = load_model_meta("padkit_meta_probe:net")
    assert model[0].out_channels == 8 and not sys.modules["padkit_meta_probe"].WIDTH.is_meta
    assert not next(load_model("padkit_meta_probe:net").parameters()).is_meta


def test_output_paths_are_checked_before_the_work(plan_cli, tmp_path, capsys):
    folder_as_file = ["plan", "torchvision:resnet18", "--no-suggest", "--json", str(tmp_path)]
    assert plan_cli(folder_as_file) == cli.EXIT_USAGE
    assert "--json=" in capsys.readouterr().err
    nested = tmp_path / "new" / "dir" / "p.json"  # missing folders are made, like --out folders
    assert plan_cli(["plan", "torchvision:resnet18", "--no-suggest", "--json", str(nested)]) == cli.EXIT_OK
    assert json.loads(nested.read_text())["format"] == 1


def test_unexpected_errors_exit_3_not_the_gate_code(plan_cli, monkeypatch, capsys):
    from padkit.analysis import plan as plan_module

    def boom(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(plan_module, "plan", boom)
    assert plan_cli(["plan", "torchvision:resnet18"]) == cli.EXIT_ERROR == 3
    err = capsys.readouterr().err
    assert "ZeroDivisionError: a bug" in err and "unexpected error" in err
