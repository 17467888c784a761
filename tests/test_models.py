"""padkit.models.load_model: spec strings, weights loading, refusal of code-running pickles."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from torch import nn

from padkit._errors import PadkitError, PadkitTypeError
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
