"""padkit.checkpoints: state dicts found in the checkpoints other tools write, prefixes stripped, loaded strictly."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from padkit import PadkitValueError, load_model
from padkit.checkpoints import load_weights, state_dict_candidates


def _net() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1))


def _prefixed(sd: dict, prefix: str) -> dict:
    return {prefix + k: v for k, v in sd.items()}


def _assert_loaded(model: nn.Module, src: nn.Module) -> None:
    for (name, a), b in zip(model.state_dict().items(), src.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(
    "wrap,expect",
    [
        (lambda sd: sd, "loaded the state dict from ckpt.pth (9 tensors)"),
        (lambda sd: _prefixed(sd, "module."), "prefix 'module.' stripped"),
        (lambda sd: _prefixed(sd, "_orig_mod."), "prefix '_orig_mod.' stripped"),
        (lambda sd: _prefixed(sd, "module._orig_mod."), "prefix 'module._orig_mod.' stripped"),
        (
            lambda sd: {"state_dict": _prefixed(sd, "model."), "epoch": 3, "hyper_parameters": {"lr": 0.1}},
            "'state_dict'",
        ),
        (lambda sd: {"model": sd, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]}}, "loaded 'model'"),
        (lambda sd: {"model_state_dict": sd, "epoch": 1}, "loaded 'model_state_dict'"),
        (lambda sd: {"ema": sd}, "loaded 'ema'"),
        (lambda sd: {"checkpoint": {"net": _prefixed(sd, "module.")}}, "loaded 'checkpoint.net'"),
    ],
)
def test_checkpoints_as_other_tools_write_them(tmp_path, wrap, expect: str) -> None:
    src = _net()
    path = tmp_path / "ckpt.pth"
    torch.save(wrap(src.state_dict()), path)
    model = _net().apply(lambda m: torch.nn.init.zeros_(m.weight) if isinstance(m, nn.Conv2d) else None)
    line = load_weights(model, path)
    assert expect in line
    _assert_loaded(model, src)


def test_lightning_module_keys_under_other_prefixes_are_left_out(tmp_path) -> None:
    src = _net()
    state = {**_prefixed(src.state_dict(), "model."), "loss_fn.weight": torch.ones(2)}
    torch.save({"state_dict": state}, tmp_path / "l.ckpt")
    model = _net()
    assert "1 under other prefixes left out" in load_weights(model, tmp_path / "l.ckpt")
    _assert_loaded(model, src)


def test_safetensors(tmp_path) -> None:
    safetensors = pytest.importorskip("safetensors.torch")
    src = _net()
    safetensors.save_file(_prefixed(src.state_dict(), "module."), str(tmp_path / "w.safetensors"))
    model = _net()
    assert "prefix 'module.' stripped" in load_weights(model, str(tmp_path / "w.safetensors"))
    _assert_loaded(model, src)


def test_ambiguous_file_lists_candidates_and_hash_picks_one(tmp_path) -> None:
    src, ema = _net(), _net()
    with torch.no_grad():
        for p in ema.parameters():
            p.add_(1)
    path = tmp_path / "timm.pth"
    torch.save({"state_dict": src.state_dict(), "state_dict_ema": _prefixed(ema.state_dict(), "module.")}, path)
    with pytest.raises(PadkitValueError, match=r"holds 2 state dicts.*'state_dict'.*'state_dict_ema'.*PATH#KEY"):
        load_weights(_net(), path)
    model = _net()
    assert "loaded 'state_dict_ema'" in load_weights(model, f"{path}#state_dict_ema")
    _assert_loaded(model, ema)
    with pytest.raises(PadkitValueError, match="no state dict under 'nope'"):
        load_weights(_net(), f"{path}#nope")


def test_mismatch_lists_keys_and_shapes(tmp_path) -> None:
    state = _net().state_dict()
    state["0.weight"] = torch.zeros(4, 3, 5, 5)
    del state["3.bias"]
    state["extra"] = torch.zeros(1)
    torch.save({"model": state}, tmp_path / "bad.pth")
    with pytest.raises(PadkitValueError, match=r"1 missing \(3.bias\).*1 unexpected \(extra\)") as info:
        load_weights(_net(), tmp_path / "bad.pth")
    assert "'model'" in str(info.value)
    wrong_shape = _net().state_dict()
    wrong_shape["0.weight"] = torch.zeros(4, 3, 5, 5)
    torch.save(wrong_shape, tmp_path / "shape.pth")
    with pytest.raises(PadkitValueError, match=r"1 of another shape \(0.weight: file \(4, 3, 5, 5\)"):
        load_weights(_net(), tmp_path / "shape.pth")


def test_no_state_dict_and_pickles_refused(tmp_path) -> None:
    torch.save({"epoch": 3, "note": "no tensors"}, tmp_path / "empty.pth")
    with pytest.raises(PadkitValueError, match="found none"):
        load_weights(_net(), tmp_path / "empty.pth")

    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    with open(tmp_path / "evil.pth", "wb") as fh:
        pickle.dump({"state_dict": Payload()}, fh)
    with pytest.raises(PadkitValueError, match="refused"):
        load_weights(_net(), tmp_path / "evil.pth")


def test_candidates_stop_at_depth() -> None:
    t = torch.zeros(1)
    deep = {"a": {"b": {"c": {"d": {"w": t}}}}}
    assert state_dict_candidates(deep) == []
    assert [w for w, _ in state_dict_candidates({"a": {"b": {"w": t}}})] == ["a.b"]


def test_load_model_logs_what_it_loaded(tmp_path, caplog) -> None:
    src = load_model("torchvision:squeezenet1_1")
    torch.save({"state_dict": _prefixed(src.state_dict(), "module.")}, tmp_path / "dp.pth")
    with caplog.at_level("INFO", logger="padkit"):
        model = load_model("torchvision:squeezenet1_1", weights=str(tmp_path / "dp.pth"))
    assert any("prefix 'module.' stripped" in r.getMessage() for r in caplog.records)
    _assert_loaded(model, src)


def test_cli_says_what_it_stripped(tmp_path, capsys) -> None:
    from padkit.cli import main

    src = load_model("torchvision:squeezenet1_1")
    torch.save({"model": _prefixed(src.state_dict(), "module.")}, tmp_path / "dp.pth")
    code = main(["plan", "torchvision:squeezenet1_1", "--input-size", "64", "--weights", str(tmp_path / "dp.pth")])
    err = capsys.readouterr().err
    assert code == 0
    assert "padkit plan: weights: loaded 'model' from dp.pth, prefix 'module.' stripped" in err
