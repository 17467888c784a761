"""Tests for ``padkit bench``: harness order, memory reading, result structure, ratios from real timings.

No timing assertions: ratios are checked to be finite, positive and computed from the recorded samples.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time

import pytest
import torch
from torch import nn

import padkit.cli as cli
from padkit import PadkitError
from padkit.commands import bench as bench_cmd
from padkit.lab.benchmarks import (
    SUITES,
    Budget,
    Ratio,
    Report,
    VariantResult,
    _suites,
    cases_for,
    run_benchmarks,
    time_interleaved,
    torch_native_padding,
)
from padkit.render.bench import render_markdown, render_table

LINUX = sys.platform.startswith("linux")


@pytest.fixture
def bench_cli(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(cli.SUBCOMMANDS, "bench", "bench")
    return cli.main


def _check_report_numbers(data: dict, *, suite: str) -> None:
    """Every ratio is finite, positive, and equals the ratio of the medians of the recorded samples."""
    assert data["format"] == 1 and data["kind"] == "padkit.bench"  # "format": 1 like every padkit report
    assert data["machine"]["cores"] >= 1 and data["machine"]["torch"] == torch.__version__
    cases = [c for c in data["cases"] if c["suite"] == suite]
    assert cases, data["skipped"]
    for case in cases:
        variants = {v["name"]: v for v in case["variants"]}
        for v in variants.values():
            assert all(s > 0 and math.isfinite(s) for s in v["samples_s"])
            assert v["median_s"] == pytest.approx(statistics.median(v["samples_s"]), rel=1e-12)
            assert v["q1_s"] <= v["median_s"] <= v["q3_s"]
            assert v["inner"] >= 1
        for r in case["ratios"]:
            num, den = variants[r["numerator"]], variants[r["denominator"]]
            assert math.isfinite(r["time"]) and r["time"] > 0
            assert r["time"] == pytest.approx(num["median_s"] / den["median_s"], rel=1e-12)
            if r["memory"] is not None:
                assert math.isfinite(r["memory"]) and r["memory"] >= 0
                assert r["memory"] == pytest.approx(num["peak_bytes"] / den["peak_bytes"], rel=1e-12)
            if r["time_target"] is not None:
                assert r["met"] is not None


def test_cli_pad_quick_table_and_json(bench_cli, tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert bench_cli(["bench", "pad", "--quick", "--repeats", "3", "--json", str(path)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "machine:" in out and "torch" in out and "targets met:" in out
    for label in ("padkit / F.pad (fwd+bwd)", "padkit / copy (fwd)"):
        assert label in out
    data = json.loads(path.read_text())
    _check_report_numbers(data, suite="pad")
    modes = {c["params"]["mode"] for c in data["cases"]}
    assert modes == {"constant", "reflect", "replicate", "circular", "symmetric"}
    for case in data["cases"]:
        assert all(len(v["samples_s"]) == 3 for v in case["variants"])
        if LINUX:  # the fwd+bwd variants allocate the padded output and the input gradient: more than 64 KiB
            peaks = [v["peak_bytes"] for v in case["variants"] if v["name"] in ("padkit", "F.pad")]
            assert all(p is not None and p >= 2 * 16 * 66 * 66 * 4 for p in peaks), peaks


def test_cli_conv_quick(bench_cli, tmp_path, capsys):
    pytest.importorskip("padkit.nn", reason="padkit.nn not written yet")
    path = tmp_path / "conv.json"
    assert bench_cli(["bench", "conv", "--quick", "--no-memory", "--json", str(path)]) == cli.EXIT_OK
    data = json.loads(path.read_text())
    assert not data["skipped"], data["skipped"]
    _check_report_numbers(data, suite="conv")
    labels = {r["label"] for c in data["cases"] for r in c["ratios"]}
    assert "PadConv2d partial / nn.Conv2d zeros" in labels and "PadConv2d circular / nn.Conv2d circular" in labels
    assert "PadConv2d reflect (algorithm=pad) / nn.Conv2d zeros" in labels
    assert "PadConv2d reflect / nn.Conv2d zeros" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("suite", "needs"),
    [("model", "padkit.conversion"), ("plan", "padkit.analysis.plan"), ("audit", "padkit.analysis.audit")],
)
def test_cli_other_suites_quick(bench_cli, tmp_path, suite, needs):
    pytest.importorskip(needs)
    path = tmp_path / f"{suite}.json"
    assert bench_cli(["bench", suite, "--quick", "--repeats", "1", "--no-memory", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert not data["skipped"], data["skipped"]
    _check_report_numbers(data, suite=suite)
    if suite == "plan":
        medians = {v["name"]: v["median_s"] for v in data["cases"][0]["variants"]}
        assert set(medians) == {"plan", "plan (no suggest)", "load_model"}
        budgets = {b["variant"]: b for b in data["cases"][0]["budgets"]}
        assert set(budgets) == {"plan", "load_model + plan"}
        assert budgets["plan"]["seconds"] == medians["plan"]
        assert budgets["load_model + plan"]["seconds"] == pytest.approx(medians["plan"] + medians["load_model"])
        for budget in budgets.values():
            assert budget["limit_s"] == 2.0 and budget["met"] == (budget["seconds"] <= 2.0)
    if suite == "model":
        assert {v["name"] for v in data["cases"][0]["variants"]} == {
            "zeros",
            "padkit reflect",
            "padkit reflect (convs only)",
            "torch reflect",
        }


def test_time_interleaved_rotates_order_and_counts_calls():
    calls: list[str] = []
    variants = {name: (lambda name=name: calls.append(name)) for name in "ABC"}
    res = time_interleaved(variants, repeats=3, warmup=2, min_sample_s=0.0, device=torch.device("cpu"))
    # min_sample_s=0 -> one call per sample; warm-up ABAB.., calibration A B C, then rotated rounds ABC BCA CAB
    assert calls == list("ABC" * 2) + list("ABC") + list("ABC") + list("BCA") + list("CAB")
    for name, r in res.items():
        assert r.name == name and r.inner == 1 and len(r.samples_s) == 3
        assert r.median_s == statistics.median(r.samples_s) and all(s > 0 for s in r.samples_s)


_RSS_SCRIPT = """
import json
from padkit.lab.benchmarks._harness import peak_rss_call, pin_malloc
pinned = pin_malloc()
import torch
size = 64 * 2**20
def alloc():
    t = torch.ones(size // 4)  # touches every page
    del t
alloc()  # warm-up, as the memory worker does
print(json.dumps({"pinned": pinned, "peak": peak_rss_call(alloc), "idle": peak_rss_call(lambda: None)}))
"""


@pytest.mark.skipif(not LINUX, reason="peak RSS via /proc is Linux-only")
def test_peak_rss_call_sees_a_large_allocation():
    """In a fresh process with the mmap threshold pinned (as the memory worker runs it), a 64 MiB tensor shows."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT], check=True, capture_output=True, text=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    assert res["pinned"] is True
    size = 64 * 2**20
    assert res["peak"] is not None and size * 0.95 <= res["peak"] <= size + 16 * 2**20
    assert res["idle"] is not None and res["idle"] < 4 * 2**20


def test_case_warmup_and_repeats_defaults(monkeypatch):
    calls: list[str] = []

    def counting_builder(params, device):
        def step(name: str) -> None:
            calls.append(name)
            time.sleep(0.025)  # longer than a sample's minimum (0.02 s): one call per sample

        return {"A": lambda: step("A"), "B": lambda: step("B")}

    spec = _suites.CaseSpec(suite="pad", case="count", builder="count", params={}, repeats=4, warmup=0)
    monkeypatch.setitem(_suites.BUILDERS, "count", counting_builder)
    monkeypatch.setitem(_suites._CASES, "pad", lambda quick: [spec])
    report = run_benchmarks(["pad"], memory=False)  # the case's own warm-up (0) and repeats (4)
    assert len(calls) == 2 + 2 * 4  # calibration, then 4 rotated rounds; no warm-up
    assert [len(v.samples_s) for v in report.cases[0].variants] == [4, 4]
    calls.clear()
    report = run_benchmarks(["pad"], memory=False, warmup=1, repeats=2)  # the run's settings win
    assert len(calls) == 2 + 2 + 2 * 2
    assert [len(v.samples_s) for v in report.cases[0].variants] == [2, 2]


def test_ratio_and_budget_verdicts():
    assert Ratio("a/b", "a", "b", time=0.9, time_target=1.0).met is True
    assert Ratio("a/b", "a", "b", time=1.1, time_target=1.0).met is False
    assert Ratio("a/b", "a", "b", time=0.9, memory=1.2, time_target=1.0, memory_target=1.05).met is False
    assert Ratio("a/b", "a", "b", time=0.9, memory=None, time_target=1.0, memory_target=1.05).met is True
    assert Ratio("a/b", "a", "b", time=3.0).met is None
    assert Budget("plan", 1.5, 2.0).met and not Budget("plan", 2.5, 2.0).met


def test_renderers_and_json_agree(monkeypatch):
    def fake_builder(params, device):
        x = torch.randn(64, 64)
        return {"slow": lambda: (x @ x @ x, None)[1], "fast": lambda: (x @ x, None)[1]}

    spec = _suites.CaseSpec(
        suite="pad",
        case="fake matmuls",
        builder="fake",
        params={},
        ratios=(_suites.RatioSpec("slow / fast", "slow", "fast", time_target=100.0),),
    )
    monkeypatch.setitem(_suites.BUILDERS, "fake", fake_builder)
    monkeypatch.setitem(_suites._CASES, "pad", lambda quick: [spec])
    report = run_benchmarks(["pad"], quick=True, repeats=3, memory=False)
    assert isinstance(report, Report) and len(report.cases) == 1
    (case,) = report.cases
    assert [v.name for v in case.variants] == ["slow", "fast"]
    assert all(isinstance(v, VariantResult) for v in case.variants)
    (ratio,) = case.ratios
    assert ratio.time == case.variants[0].median_s / case.variants[1].median_s
    data = json.loads(report.to_json())
    assert data["cases"][0]["ratios"][0]["time"] == ratio.time
    assert data["cases"][0]["ratios"][0]["met"] == ratio.met
    table, md = render_table(report), render_markdown(report, variants=True)
    assert f"{ratio.time:.2f}x" in table and "slow / fast" in table and "fake matmuls" in table
    assert "| suite | case | ratio |" in md and f"{ratio.time:.2f}x" in md


def test_failing_builder_is_reported_not_hidden(monkeypatch):
    def broken(params, device):
        raise RuntimeError("kaboom")

    monkeypatch.setitem(_suites.BUILDERS, "pad", broken)
    report = run_benchmarks(["pad"], quick=True, memory=False)
    assert report.cases == ()
    assert len(report.skipped) == len(cases_for("pad", True))
    assert all("RuntimeError: kaboom" in why for _, why in report.skipped)
    assert "RuntimeError: kaboom" in render_table(report)


def test_bad_arguments_name_the_value(bench_cli, capsys):
    assert bench_cmd.SUITES == SUITES  # the CLI spells the suites out so its parser does not import the lab
    with pytest.raises(PadkitError, match=r"suites\[0\]='nope'"):
        run_benchmarks(["nope"])
    with pytest.raises(PadkitError, match="repeats=0"):
        run_benchmarks(["pad"], repeats=0)
    with pytest.raises(PadkitError, match="device='tpu'"):
        run_benchmarks(["pad"], device="tpu")
    if not torch.cuda.is_available():
        assert bench_cli(["bench", "pad", "--device", "cuda", "--quick"]) == cli.EXIT_USAGE
        assert "device='cuda'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench_cli(["bench", "everything"])


def test_torch_native_padding_sets_mode_on_padded_convs_only():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 1), nn.Conv2d(4, 2, 3, padding=2))
    native = torch_native_padding(model, "reflect")
    assert [m.padding_mode for m in model if isinstance(m, nn.Conv2d)] == ["zeros"] * 3
    assert [m.padding_mode for m in native if isinstance(m, nn.Conv2d)] == ["reflect", "zeros", "reflect"]
    x = torch.randn(1, 3, 8, 8, dtype=torch.float64)
    model, native = model.double(), native.double()
    # oracle: reflect-pad by hand, then the zero-padding-free convolutions with the same weights
    h = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), model[0].weight, model[0].bias
    )
    h = torch.nn.functional.conv2d(torch.relu(h), model[2].weight, model[2].bias)
    h = torch.nn.functional.conv2d(
        torch.nn.functional.pad(h, (2, 2, 2, 2), mode="reflect"), model[3].weight, model[3].bias
    )
    torch.testing.assert_close(native(x), h)


def test_report_json_round_trip(tmp_path):
    report = run_benchmarks(["pad"], quick=True, repeats=2, memory=False)
    again = Report.from_dict(json.loads(report.to_json()))
    assert again == report
    assert render_table(again) == render_table(report)
    with pytest.raises(PadkitError, match=r"expected format 1 and kind 'padkit\.bench'"):
        Report.from_dict({"format": "other", "version": 1})
    versioned = json.loads(report.to_json())  # the form {"format": "padkit.bench", "version": 1} also loads
    versioned.pop("kind")
    versioned.update(format="padkit.bench", version=1)
    assert Report.from_dict(versioned) == report


def test_convs_only_conversion_is_the_model_torch_reflect_times():
    # the fair comparison with PyTorch's padding_mode: the same layers converted, the same outputs
    import torchvision

    from padkit.conversion import convert
    from padkit.lab.benchmarks._suites import torch_native_padding

    torch.manual_seed(0)
    base = torchvision.models.resnet18(num_classes=10).eval()
    ours, theirs = convert(base, "reflect", include=torch.nn.Conv2d), torch_native_padding(base, "reflect")
    assert isinstance(ours.maxpool, torch.nn.MaxPool2d) and type(ours.maxpool).__module__.startswith("torch")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(ours(x), base(x), rtol=1e-3, atol=1e-3)
