"""padkit.models.load_model: spec strings, weights loading, refusal of code-running pickles."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from torch import nn

from padkit import PadkitError, PadkitTypeError
from padkit.models import load_model


def test_torchvision_spec_random_init():
    m = load_model("torchvision:resnet18")
    assert isinstance(m, nn.Module) and not m.training


def test_factory_spec_and_weights_roundtrip(tmp_path):
    m = load_model("torch.nn:Identity")
    assert isinstance(m, nn.Identity)
    src = load_model("torchvision:squeezenet1_1")
    path = tmp_path / "w.pth"
    torch.save(src.state_dict(), path)
    dst = load_model("torchvision:squeezenet1_1", weights=str(path))
    assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), dst.state_dict().values()))


class _Evil:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"weight": _Evil(str(target))}, fh)
    with pytest.raises(PadkitError, match="refused"):
        load_model("torchvision:squeezenet1_1", weights=str(path))
    assert not target.exists()
    # torch.save format with the payload inside, too
    path2 = tmp_path / "evil2.pth"
    torch.save({"weight": _Evil(str(target))}, path2)
    with pytest.raises(PadkitError, match="refused"):
        load_model("torchvision:squeezenet1_1", weights=str(path2))
    assert not os.path.exists(target)


def test_torchscript_and_export_files(tmp_path):
    net = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.ReLU())
    ts = tmp_path / "m.pt"
    torch.jit.script(net).save(str(ts))
    assert isinstance(load_model(str(ts)), torch.jit.ScriptModule)
    ep = torch.export.export(net, (torch.zeros(1, 3, 16, 16),))
    pt2 = tmp_path / "m.pt2"
    torch.export.save(ep, str(pt2))
    out = load_model(str(pt2))
    assert torch.allclose(out(torch.ones(1, 3, 16, 16)), net(torch.ones(1, 3, 16, 16)))


def test_bad_specs(tmp_path):
    with pytest.raises(PadkitError, match="no such torchvision model"):
        load_model("torchvision:nope")
    with pytest.raises(PadkitError, match="spec="):
        load_model("???")
    with pytest.raises(PadkitError, match="no such file"):
        load_model(str(tmp_path / "missing.pt"))
    with pytest.raises(PadkitTypeError, match="spec"):
        load_model(3)  # type: ignore[arg-type]
    with pytest.raises(PadkitError, match="cannot import"):
        load_model("no_such_pkg_xyz.mod:f")
    bad = tmp_path / "list.pth"
    torch.save([1, 2], bad)
    with pytest.raises(PadkitError, match="state_dict"):
        load_model("torchvision:squeezenet1_1", weights=str(bad))


def test_spec_models_are_seeded_and_leave_the_callers_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = load_model("torchvision:resnet18")
    after = torch.rand(3)
    b = load_model("torchvision:resnet18")
    assert torch.equal(before, after)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


def _tamper(src, dst, member_suffix, payload, config_edit=None):
    import json
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if config_edit and name.endswith("_weights_config.json"):
                cfg = json.loads(data)
                config_edit(cfg["config"])
                data = json.dumps(cfg).encode()
            if name.endswith(member_suffix):
                data = payload
            zout.writestr(name, data)


@pytest.mark.parametrize("where", ["pickled weight", "sample inputs"])
def test_export_archive_that_would_unpickle_is_refused_and_not_executed(tmp_path, where):
    # torch.export.load reads pickled weights and sample inputs with weights_only=False: padkit checks first
    import io

    net = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1))
    good = tmp_path / "good.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(1, 3, 8, 8),)), str(good))
    target = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save(_Evil(str(target)), buf)
    evil = tmp_path / "evil.pt2"
    if where == "pickled weight":

        def use_pickle(config):
            config["0.bias"]["use_pickle"] = True

        bias_file = None
        import json
        import zipfile

        with zipfile.ZipFile(good) as z:
            name = next(n for n in z.namelist() if n.endswith("_weights_config.json"))
            bias_file = json.loads(z.read(name))["config"]["0.bias"]["path_name"]
        _tamper(good, evil, f"/{bias_file}", buf.getvalue(), use_pickle)
    else:
        _tamper(good, evil, "sample_inputs/model.pt", buf.getvalue())
    with pytest.raises(PadkitError, match="refused"):
        load_model(str(evil))
    assert not target.exists()
    assert isinstance(load_model(str(good)), nn.Module)  # the untampered archive still loads


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Make every connection fail and the hub cache empty: an attempted download fails the test."""
    import socket
    import urllib.request

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield
    torch.hub.set_dir(old)


def test_the_no_network_fixture_catches_a_download(no_network):
    import torchvision

    with pytest.raises(Exception, match="network disabled"), torch.device("meta"):
        torchvision.models.get_model("fcn_resnet50", weights=None)  # weights_backbone defaults to ImageNet weights


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
def test_every_torchvision_builder_builds_without_any_download(no_network):
    """Classification, segmentation, detection, video, optical flow and quantized builders, all weights None."""
    import torchvision

    from padkit.models import load_model_meta

    names = torchvision.models.list_models()
    assert len(names) > 100
    for name in names:
        assert isinstance(load_model_meta(f"torchvision:{name}"), nn.Module), name


TIMM_SAMPLE = [
    "resnet18",
    "efficientnet_b0",
    "tf_efficientnet_b0",  # pad_type='same': Conv2dSame / MaxPool2dSame
    "hrnet_w18_small",
    "vit_base_patch16_clip_384",
    "convnext_atto",
    "mobilenetv3_small_050",
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", TIMM_SAMPLE)
def test_timm_models_build_without_any_download(no_network, name):
    pytest.importorskip("timm")
    from padkit.models import load_model_meta

    assert isinstance(load_model_meta(f"timm:{name}"), nn.Module)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_every_timm_model_builds_without_any_download(no_network):
    timm = pytest.importorskip("timm")
    from padkit.models import load_model_meta

    failed = {}
    for name in timm.list_models():
        try:
            load_model_meta(f"timm:{name}")
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    assert not any("network disabled" in why for why in failed.values()), failed


def test_factory_in_the_working_directory_and_in_a_file(tmp_path, monkeypatch):
    (tmp_path / "my_models_xyz.py").write_text(
        "import torch.nn as nn\nfrom helper_xyz import width\n\ndef build_unet():\n    return nn.Conv2d(1, width, 3)\n"
    )
    (tmp_path / "helper_xyz.py").write_text("width = 5\n")
    monkeypatch.chdir(tmp_path)
    model = load_model("my_models_xyz:build_unet")
    assert isinstance(model, nn.Conv2d) and model.out_channels == 5 and not model.training
    sub = tmp_path / "pkg_dir"
    sub.mkdir()
    (sub / "net.py").write_text("import torch.nn as nn\nfrom helper_xyz import width\nnet = nn.Conv1d(2, width, 3)\n")
    monkeypatch.chdir(tmp_path.parent)
    assert isinstance(load_model(f"{sub / 'net.py'}:net"), nn.Conv1d)
    with pytest.raises(PadkitError, match="no such file"):
        load_model(f"{tmp_path / 'missing.py'}:net")
    with pytest.raises(PadkitError, match="has no attribute 'nope'"):
        load_model(f"{sub / 'net.py'}:nope")


def test_declared_input_size():
    pytest.importorskip("timm")
    from padkit.models import declared_input_size

    assert declared_input_size(load_model("timm:vit_base_patch16_clip_384")) == (384, 384)
    assert declared_input_size(load_model("torchvision:resnet18")) is None
