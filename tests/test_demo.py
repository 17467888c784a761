"""``padkit demo``: the quick run end to end (HTML, PNGs, JSON, summary), its errors, and the CLI wrapper."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import pytest

from padkit import PadkitError, PadkitTypeError, cli
from padkit.analysis.audit import METRICS
from padkit.lab.demo import DEMO_MODES, DemoResult, demo_settings, run_demo
from padkit.modes import layer_mode, pad_mode_of
from padkit.render.demo import render_html, render_summary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(a)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(str(a[key]))


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    out = tmp_path_factory.mktemp("demo") / "out"
    return run_demo(out, quick=True, progress=False)


def test_files_exist_and_are_png(quick: DemoResult) -> None:
    out = Path(quick.out_dir)
    assert Path(quick.report_path) == out / "report.html" and (out / "report.html").is_file()
    expected = {"plan", "audit_comparison", "audit_mean", "audit_std", "red_green", "normalization"}
    assert expected <= set(quick.figures)
    assert any(k.startswith("audit_profiles_") for k in quick.figures)
    for path in quick.figures.values():
        p = Path(path)
        assert p.parent == out and p.read_bytes()[:8] == PNG_MAGIC


def test_html_sections_and_inline_images(quick: DemoResult) -> None:
    text = Path(quick.report_path).read_text("utf-8")
    parser = _Collect()
    parser.feed(text)
    parser.close()
    for section in ("plan", "audit", "red_green", "normalization", "reproduce"):
        assert section in parser.ids
    # one <img> per figure, every one an inline PNG that decodes to the very bytes of the PNG file
    srcs = [str(img["src"]) for img in parser.imgs]
    assert len(srcs) == len(quick.figures)
    prefix = "data:image/png;base64,"
    assert all(s.startswith(prefix) for s in srcs)
    decoded = sorted(base64.b64decode(s[len(prefix) :]) for s in srcs)
    assert decoded == sorted(Path(p).read_bytes() for p in quick.figures.values())
    # self-contained: nothing is fetched (only in-page anchors and data URIs)
    assert all(link.startswith(("#", "data:")) for link in parser.links)
    assert "<script" not in text
    # the audit's summary numbers and the red-green variants appear in the tables
    for mode in quick.audit.modes:
        assert f"<td>{mode}</td>" in text
    for variant in quick.red_green.results:
        assert f"<td>{variant}</td>" in text
    assert "random" in text.lower()


def test_json_summary_matches_results(quick: DemoResult) -> None:
    doc = json.loads(quick.to_json())
    assert doc["format"] == 1 and doc["tool"] == "padkit demo" and doc["quick"] is True
    assert set(doc["summary"]) == {"plan", "audit", "audit_ci", "audit_differences", "red_green", "normalization"}
    modes = list(quick.audit.modes)
    assert list(doc["summary"]["audit"]) == modes
    # the audit's names for DEMO_MODES, whichever spelling of zero padding it reports
    assert [pad_mode_of(layer_mode(m)) for m in modes] == [pad_mode_of(layer_mode(m)) for m in DEMO_MODES]
    for mode in modes:
        got = doc["summary"]["audit"][mode]
        assert set(got) == set(METRICS)
        want = quick.audit.result(mode).summary
        for metric in METRICS:
            v = want.value(metric)
            assert got[metric] == (None if not math.isfinite(v) else pytest.approx(v))
    for mode in modes:
        ci = quick.audit.result(mode).summary.ci
        assert set(doc["summary"]["audit_ci"][mode]) == set(ci) >= set(METRICS)
    diffs = doc["summary"]["audit_differences"]
    assert set(diffs) == set(modes[1:]) and all(d["baseline"] == modes[0] for d in diffs.values())
    for mode, d in diffs.items():
        want = quick.audit.result(mode).difference("border_shift")
        assert d["border_shift"]["value"] == pytest.approx(want.value)
        assert d["border_shift"]["excludes_zero"] == want.excludes_zero
    rg = doc["summary"]["red_green"]
    assert list(rg) == list(demo_settings(True)["red_green"]["variants"])
    for variant, cols in quick.red_green.results.items():
        assert rg[variant]["similar"] == pytest.approx(cols["similar"].mean)
        assert 0.0 <= rg[variant]["similar"] <= 100.0
    assert list(doc["summary"]["normalization"]) == list(demo_settings(True)["normalization"]["settings"])
    assert doc["summary"]["plan"]["input_size"] == [224, 224] and doc["summary"]["plan"]["clean"] is False
    assert doc["audit"]["input_size"] == [64, 64] and doc["audit"]["images"] == 4
    steps = {"plan", "audit", "red-green", "normalization", "report", "total"}
    assert set(doc["seconds"]) == set(doc["cpu_seconds"]) == steps
    assert doc["report"] == quick.report_path and doc["figures"] == dict(quick.figures)


def test_summary_text(quick: DemoResult) -> None:
    text = render_summary(quick)
    lines = text.splitlines()
    assert lines[-1] == f"report: {quick.report_path}"
    assert "RANDOM weights" in lines[0]
    header = next(i for i, line in enumerate(lines) if line.startswith("mode "))
    assert lines[header].split() == ["mode", *METRICS]
    for k, res in enumerate(quick.audit.results):
        row = lines[header + 2 + k]
        cells = row.split()
        assert cells[0] == res.mode
        lo, hi = res.summary.ci["border_shift"]
        assert " ".join(cells[1:4]) == f"{res.summary.border_shift:.2f} [{lo:.2f}, {hi:.2f}]"
        assert f" {res.summary.padding_aware_channels} [" in row
    for res in quick.audit.results[1:]:
        assert any(line.startswith(f"{res.mode} − {quick.audit.results[0].mode}: border_shift") for line in lines)
    for variant in quick.red_green.results:
        assert any(line.startswith(variant + " ") for line in lines)
    for setting in quick.normalization.results:
        assert any(line.startswith(setting + " ") for line in lines)
    assert DEMO_MODES[0] == "zeros" and "constant = zero padding" not in text


def test_html_escapes_text(quick: DemoResult) -> None:
    evil = dataclasses.replace(quick, model="<script>alert(1)</script>", weights="a & b <i>")
    text = render_html(evil)
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<i>" not in text and "a &amp; b &lt;i&gt;" in text


def test_quick_shrinks_every_step() -> None:
    full, quick = demo_settings(False), demo_settings(True)
    assert set(full) == set(quick) == {"plan", "audit", "red_green", "normalization"}
    assert (
        quick["audit"]["input_size"] * quick["audit"]["images"] < full["audit"]["input_size"] * full["audit"]["images"]
    )
    for step in ("red_green", "normalization"):
        for key in ("epochs", "n_train", "n_test"):
            assert quick[step][key] < full[step][key], (step, key)
    assert len(quick["red_green"]["variants"]) < len(full["red_green"]["variants"])


@pytest.mark.parametrize(
    "kwargs,exc,words",
    [
        ({"out_dir": 3}, PadkitTypeError, "out_dir"),
        ({"out_dir": ""}, PadkitError, "out_dir"),
        ({"out_dir": "x", "quick": 1}, PadkitTypeError, "quick"),
        ({"out_dir": "x", "progress": "no"}, PadkitTypeError, "progress"),
    ],
)
def test_bad_arguments(kwargs, exc, words, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(exc, match=words):
        run_demo(**kwargs)
    assert not (tmp_path / "x").exists()


def test_out_dir_is_a_file(tmp_path) -> None:
    f = tmp_path / "taken"
    f.write_text("")
    with pytest.raises(PadkitError, match="expected a folder path, not a file"):
        run_demo(f, quick=True, progress=False)


@pytest.fixture
def demo_cli(monkeypatch):
    monkeypatch.setitem(cli.SUBCOMMANDS, "demo", "demo")
    return cli.main


def test_cli_passes_arguments_and_prints(demo_cli, quick, monkeypatch, tmp_path, capsys) -> None:
    calls = []

    def fake(out_dir, *, quick: bool = False, progress: bool = True):
        calls.append((out_dir, quick, progress))
        return quick_result

    quick_result = quick
    monkeypatch.setattr("padkit.lab.demo.run_demo", fake)
    path = tmp_path / "d.json"
    rc = demo_cli(["demo", "--out", str(tmp_path / "o"), "--quick", "--json", str(path), "--no-progress"])
    assert rc == cli.EXIT_OK
    assert calls == [(str(tmp_path / "o"), True, False)]
    assert capsys.readouterr().out == render_summary(quick) + "\n"
    assert json.loads(path.read_text()) == json.loads(quick.to_json())
    rc = demo_cli(["demo", "--json", "-"])
    assert rc == cli.EXIT_OK and calls[-1] == ("padkit-demo", False, True)
    assert json.loads(capsys.readouterr().out)["summary"]["audit"] == json.loads(quick.to_json())["summary"]["audit"]


def test_cli_bad_out_is_usage_error(demo_cli, tmp_path, capsys) -> None:
    f = tmp_path / "file"
    f.write_text("")
    assert demo_cli(["demo", "--out", str(f), "--quick", "--no-progress"]) == cli.EXIT_USAGE
    assert "--out=" in capsys.readouterr().err  # named by its flag, checked before any work


def test_cli_quick_end_to_end(demo_cli, tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert demo_cli(["demo", "--out", str(out), "--quick", "--no-progress"]) == cli.EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == f"report: {out / 'report.html'}"
    assert (out / "report.html").read_text("utf-8").count("data:image/png;base64,") >= 6
