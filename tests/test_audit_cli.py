"""padkit audit: the CLI subcommand, --fail-above gates, and a 2-process gloo run equal to a single process."""

from __future__ import annotations

import json
import socket

import pytest
import torch
from torch import nn

from padkit import cli
from padkit.analysis.audit import audit


def tiny_net() -> nn.Module:
    """Factory used through the ``test_audit_cli:tiny_net`` model spec."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2)
    )


@pytest.fixture
def padkit_audit(monkeypatch):
    monkeypatch.setitem(cli.SUBCOMMANDS, "audit", "audit")
    return lambda *argv: cli.main(["audit", *argv])


def _common(tmp_path):
    return [
        "test_audit_cli:tiny_net",
        "--data",
        "synthetic:smooth",
        "--images",
        "6",
        "--input-size",
        "24",
        "--no-progress",
        "--json",
        str(tmp_path / "r.json"),
    ]


def test_cli_writes_table_json_and_html(padkit_audit, tmp_path, capsys):
    rc = padkit_audit(
        *_common(tmp_path), "--html", str(tmp_path / "r.html"), "--plot", str(tmp_path / "r.png"), "--normalize", "none"
    )
    out = capsys.readouterr().out
    assert rc == cli.EXIT_OK
    assert "border_shift" in out and "[as-is]" in out
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["format"] == 1 and d["images"] == 6 and d["input_size"] == [24, 24]
    assert set(d["results"]["as-is"]["layers"]) == {"0", "2", "4"}
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the CLI and the API agree (same data spec, same seed)
    from padkit.data import SyntheticImages

    api = audit(tiny_net(), SyntheticImages("smooth", 6, 24), progress=False)
    assert d["results"]["as-is"]["summary"]["border_shift"] == pytest.approx(api.results[0].summary.border_shift)


def test_fail_above_gate(padkit_audit, tmp_path, capsys):
    assert padkit_audit(*_common(tmp_path), "--fail-above", "border_shift=1e9") == cli.EXIT_OK
    assert padkit_audit(*_common(tmp_path), "--fail-above", "false_edge_ratio=0.0") == cli.EXIT_FAIL
    assert "false_edge_ratio" in capsys.readouterr().err
    assert padkit_audit(*_common(tmp_path), "--fail-above", "sharpness=1") == cli.EXIT_USAGE
    assert padkit_audit(*_common(tmp_path), "--border", "wide") == cli.EXIT_USAGE


def test_cli_parses_mean_std_and_mode_lists(padkit_audit, tmp_path):
    rc = padkit_audit(*_common(tmp_path), "--normalize", "0.5,0.25", "--modes", "zeros,wrap", "--border", "4")
    assert rc == cli.EXIT_OK
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["normalize"] == "0.5,0.25" and d["modes"] == ["zeros", "circular"] and d["settings"]["border"] == 4
    api = audit(
        tiny_net(), "synthetic:smooth", images=6, input_size=24, normalize=((0.5,), (0.25,)), progress=False, border=4
    )
    assert d["input"]["zero_z"] == pytest.approx(list(api.input_stats.zero_z))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dist_data() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.rand(11, 3, 20, 20, generator=g)


_KW = dict(batch_size=3, probe_images=8, equivariance_images=5, progress=False, border=4)


def _worker(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        rep = audit(tiny_net(), _dist_data(), **_KW)
        if rank == 0:
            with open(out, "w") as f:
                f.write(rep.to_json())
    finally:
        dist.destroy_process_group()


def _close(a, b, path="") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            if k in ("world_size",):
                continue
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{k}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9), path
    else:
        assert a == b, path


def test_two_gloo_processes_equal_one_process(tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "rank0.json"
    mp.spawn(_worker, args=(_free_port(), str(out)), nprocs=2, join=True)
    dist_report = json.loads(out.read_text())
    single = json.loads(audit(tiny_net(), _dist_data(), **_KW).to_json())
    assert dist_report["world_size"] == 2 and single["world_size"] == 1
    assert dist_report["images"] == single["images"] == 11
    _close(dist_report, single)


def test_torchrun_cli_equals_single_process(tmp_path):
    """The real launcher: `torchrun --nproc_per_node=2 -m padkit audit` (every rank builds the seeded model)."""
    import subprocess
    import sys
    from pathlib import Path

    args = ["torchvision:resnet18", "--images", "8", "--input-size", "64", "--batch-size", "2", "--no-progress"]
    args += ["--probe-images", "8", "--equivariance-images", "2"]
    torchrun = Path(sys.executable).with_name("torchrun")
    launcher = [str(torchrun), "--standalone", "--nproc_per_node=2"]  # standalone: a free rendezvous port
    subprocess.run(
        [*launcher, "-m", "padkit", "audit", *args, "--json", str(tmp_path / "dist.json")],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    assert cli.main(["audit", *args, "--json", str(tmp_path / "one.json")]) == cli.EXIT_OK
    dist_sum = json.loads((tmp_path / "dist.json").read_text())["results"]["as-is"]["summary"]
    one_sum = json.loads((tmp_path / "one.json").read_text())["results"]["as-is"]["summary"]
    for metric in ("border_shift", "false_edge_ratio", "equivariance_gap", "position_r2"):
        assert dist_sum[metric] == pytest.approx(one_sum[metric], rel=1e-6, abs=1e-9), metric
    assert dist_sum["padding_aware_channels"] == one_sum["padding_aware_channels"]


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--top", "-8", "argument --top: expected an int >= 1, got '-8'"),
        ("--images", "0", "argument --images: expected an int >= 1, got '0'"),
        ("--device", "bogus", "--device='bogus'"),
        ("--seed", "-1", "--seed=-1"),
        ("--normalize", "0.5", "--normalize='0.5'"),
    ],
)
def test_bad_values_are_usage_errors_named_by_flag(padkit_audit, capsys, flag, value, message):
    args = ["test_audit_cli:tiny_net", "--images", "2", flag, value]
    try:
        rc = padkit_audit(*args)
    except SystemExit as exc:  # argparse's own usage errors
        rc = exc.code
    assert rc == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
