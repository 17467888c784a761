"""padkit.lab.experiments and ``padkit experiment``: helper oracles, tiny runs of every experiment, the CLI."""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import pytest
import torch
from scipy import stats as sstats

from padkit import PadkitError, PadkitTypeError, cli
from padkit.commands import experiment as experiment_cmd
from padkit.data import photograph
from padkit.lab.experiments import (
    EXPERIMENTS,
    BoundaryConfig,
    ModesConfig,
    NormalizationConfig,
    PositionConfig,
    RedGreenConfig,
    compare_paired,
    run_boundary,
    run_modes,
    run_normalization,
    run_position,
    run_red_green,
    stat,
)
from padkit.lab.experiments.boundary import heat_initial_conditions, heat_step
from padkit.lab.experiments.datasets import digits_on_canvas, photo_patches
from padkit.lab.experiments.position import _fit_readout, position_targets, spearman_per_image
from padkit.lab.experiments.red_green import red_green_data, shift_dissimilar
from padkit.render.experiments import render_markdown, render_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TINY_RED_GREEN = RedGreenConfig(
    seeds=2, epochs=1, variants=("valid", "same-circular"), n_train=200, n_val=100, n_test=200, patience=1
)
TINY_POSITION = PositionConfig(seeds=1, epochs=0, modes=("none", "zeros"), n_train=50, n_readout=20, n_test=20)
TINY_MODES = ModesConfig(
    seeds=1, epochs=1, modes=("zeros", "reflect"), n_train=100, n_test=100, audit_images=16, batch_size=50
)
TINY_NORMALIZATION = NormalizationConfig(
    seeds=1, epochs=1, settings=("raw 0-255 + zeros", "standardised + reflect"), n_train=100, n_test=50, audit_images=16
)
TINY_BOUNDARY = BoundaryConfig(
    seeds=1, epochs=2, modes=("zeros", "circular"), conditions=("periodic",), n_train=10, n_test=4, rollout=2
)


def results_of(result) -> dict:
    return result.to_dict()["results"]


# --------------------------------------------------------------------------------------------------------------------
# registry and public surface
# --------------------------------------------------------------------------------------------------------------------
def test_registry_matches_cli_names_and_defaults_construct():
    assert tuple(EXPERIMENTS) == experiment_cmd.NAMES
    for config_cls, run_fn in EXPERIMENTS.values():
        cfg = config_cls()
        assert cfg.seeds >= 3 and callable(run_fn)
        assert dataclasses.replace(cfg, seeds=1).seeds == 1


def test_public_api_names():
    import padkit.lab.experiments as exp

    for name in exp.__all__:
        assert hasattr(exp, name), name
    assert {"run_red_green", "RedGreenConfig", "run_normalization", "NormalizationConfig"} <= set(exp.__all__)


def test_zero_padding_is_named_zeros():
    from padkit.lab.experiments.boundary import BOUNDARY_MODES
    from padkit.lab.experiments.modes import MODES
    from padkit.lab.experiments.normalization import NORMALIZATION_SETTINGS
    from padkit.lab.experiments.position import POSITION_MODES
    from padkit.lab.experiments.red_green import RED_GREEN_VARIANTS

    used = {*BOUNDARY_MODES, *MODES, *POSITION_MODES}
    used |= {mode for _, mode in RED_GREEN_VARIANTS.values()} | {mode for _, mode in NORMALIZATION_SETTINGS.values()}
    assert "zeros" in used and "constant" not in used


@pytest.mark.parametrize(
    "make,exc,needle",
    [
        (lambda: RedGreenConfig(variants=("same-bogus",)), PadkitError, "same-bogus"),
        (lambda: RedGreenConfig(seeds=0), PadkitError, "seeds=0"),
        (lambda: RedGreenConfig(epochs=True), PadkitTypeError, "epochs=True"),
        (lambda: PositionConfig(modes=("constant",)), PadkitError, "'constant'"),
        (lambda: ModesConfig(datasets=("cifar",)), PadkitError, "cifar"),
        (lambda: NormalizationConfig(settings=("raw",)), PadkitError, "'raw'"),
        (lambda: BoundaryConfig(conditions=("robin",)), PadkitError, "robin"),
    ],
)
def test_config_validation_names_the_value(make, exc, needle):
    with pytest.raises(exc, match=needle):
        make()


# --------------------------------------------------------------------------------------------------------------------
# statistics helpers against scipy / hand computation
# --------------------------------------------------------------------------------------------------------------------
def test_stat_mean_and_sample_std():
    s = stat([1.0, 3.0, 8.0])
    assert s.mean == pytest.approx(4.0)
    assert s.std == pytest.approx(np.std([1.0, 3.0, 8.0], ddof=1))
    assert s.format(2) == "4.00 ± 3.61"
    assert stat([2.5]).std == 0.0 and stat([2.5]).format() == "2.5"
    assert stat([float("nan"), 1.0]).format() == "n/a"
    assert stat([float("nan"), 1.0]).to_dict()["mean"] is None
    with pytest.raises(PadkitError, match="empty"):
        stat([])


def test_compare_paired_matches_scipy_ttest_rel():
    a = [80.0, 82.0, 85.0, 81.0]
    b = [70.0, 75.0, 74.0, 72.0]
    c = compare_paired(a, b, group="g", metric="acc", names=("x", "y"))
    d = np.subtract(a, b)
    assert c.mean_diff == pytest.approx(d.mean())
    assert c.std_diff == pytest.approx(d.std(ddof=1))
    assert c.p_value == pytest.approx(sstats.ttest_rel(a, b).pvalue)
    assert c.significant
    noisy = compare_paired([80.0, 70.0, 90.0], [79.0, 81.0, 82.0], group="g", metric="acc", names=("x", "y"))
    assert not noisy.significant
    # two seeds can never support a claim
    assert not compare_paired([90.0, 91.0], [10.0, 11.0], group="g", metric="acc", names=("x", "y")).significant
    with pytest.raises(PadkitError, match="shape"):
        compare_paired([1.0, 2.0], [1.0], group="g", metric="acc", names=("x", "y"))


@pytest.mark.parametrize("seed", range(5))
def test_spearman_per_image_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    pred = rng.integers(0, 5, size=(3, 6, 7)).astype(np.float64)  # many ties
    pred[1] = rng.normal(size=(6, 7))
    target = rng.normal(size=(6, 7))
    target[0, :3] = target[0, 0]  # ties in the target too
    got = spearman_per_image(torch.from_numpy(pred), torch.from_numpy(target)).numpy()
    want = [sstats.spearmanr(p.ravel(), target.ravel()).statistic for p in pred]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_spearman_constant_prediction_is_zero():
    got = spearman_per_image(torch.ones(2, 4, 4), position_targets(4)[0])
    assert torch.equal(got, torch.zeros(2, dtype=torch.float64))


def test_position_targets_values():
    t = position_targets(5)
    assert t.shape == (3, 5, 5)
    assert t[0, 3, 0] == 0 and t[0, 3, 4] == 1 and t[1, 0, 2] == 0 and t[1, 4, 2] == 1
    assert t[2, 2, 2] == 1 and t[2, 0, 0] == pytest.approx(math.exp(-(4 + 4) / (2 * 1.25**2)))


def test_fit_readout_recovers_a_linear_position_map():
    torch.manual_seed(0)
    feats = torch.randn(6, 3, 10, 10)
    true = torch.nn.Conv2d(3, 2, 3)
    with torch.no_grad():
        targets = true(feats[:1])[0]  # the same map for every image only when features are equal ...
    feats = feats[:1].expand(6, -1, -1, -1).contiguous()  # ... so make them equal
    full = torch.zeros(2, 10, 10)
    full[:, 1:-1, 1:-1] = targets
    readout = _fit_readout(feats, full, ridge=1e-10)
    with torch.no_grad():
        torch.testing.assert_close(readout(feats), targets.expand(6, -1, -1, -1), rtol=1e-3, atol=1e-3)


# --------------------------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------------------------
def test_red_green_data_layout_and_dissimilar_shift():
    x, y, rows = red_green_data(64, np.random.default_rng(0))
    assert x.shape == (64, 3, 32, 32) and set(y.tolist()) == {0, 1}
    for i in range(64):
        red, green = x[i, 0].nonzero(), x[i, 1].nonzero()
        assert len(red) == 16 and len(green) == 16 and x[i, 2].abs().sum() == 0
        assert red[:, 0].min() == green[:, 0].min() == rows[i]
        assert (red[:, 1].min() < green[:, 1].min()) == (y[i] == 0)
        assert abs(int(rows[i]) - (7 if y[i] == 0 else 23)) <= 4
    dis = shift_dissimilar(x, y)
    # all content survives the ±16 shift, so it equals a circular roll (oracle)
    for i in range(64):
        torch.testing.assert_close(dis[i], torch.roll(x[i], 16 if y[i] == 0 else -16, dims=1), rtol=0, atol=0)


def test_digits_on_canvas_places_whole_digits():
    from sklearn.datasets import load_digits

    x, y = digits_on_canvas(20, 12, np.random.default_rng(1))
    digits = load_digits()
    assert x.shape == (20, 1, 12, 12) and x.min() >= 0 and x.max() <= 1
    for i in range(20):
        canvas = x[i, 0].numpy()
        candidates = digits.images[digits.target == int(y[i])] / 16.0
        found = False
        for r in range(5):
            for c in range(5):
                rest = canvas.copy()
                rest[r : r + 8, c : c + 8] = 0
                block = canvas[r : r + 8, c : c + 8]
                found |= not rest.any() and bool(np.isclose(candidates, block).all(axis=(1, 2)).any())
        assert found, i


def test_photo_patches_are_block_means_of_their_photograph():
    rng = np.random.default_rng(2)
    names = ("skimage:astronaut.png", "skimage:coffee.png")
    x, y = photo_patches(5, 16, rng, names=names, scale=4)
    assert x.shape == (5, 3, 16, 16) and x.dtype == torch.float32 and set(y.tolist()) <= {0, 1}
    for i in range(5):
        img = photograph(names[int(y[i])]).astype(np.float64)
        h, w = img.shape[0] // 4 * 4, img.shape[1] // 4 * 4
        small = img[:h, :w].reshape(h // 4, 4, w // 4, 4, 3).mean(axis=(1, 3)).transpose(2, 0, 1)
        patch = x[i].numpy().astype(np.float64)
        found = any(
            np.allclose(small[:, r : r + 16, c : c + 16], patch, atol=1e-3)
            for r in range(small.shape[1] - 15)
            for c in range(small.shape[2] - 15)
            if abs(small[0, r, c] - patch[0, 0, 0]) < 1e-3
        )
        assert found


# --------------------------------------------------------------------------------------------------------------------
# heat equation against a hand-written 5-point stencil
# --------------------------------------------------------------------------------------------------------------------
def _heat_loop(u: np.ndarray, bc: str, r: float) -> np.ndarray:
    h, w = u.shape
    out = u.copy()
    for i in range(h):
        for j in range(w):

            def at(a: int, b: int) -> float:
                if 0 <= a < h and 0 <= b < w:
                    return u[a, b]
                if bc == "dirichlet-0":
                    return 0.0
                if bc == "neumann":
                    return u[min(max(a, 0), h - 1), min(max(b, 0), w - 1)]
                return u[a % h, b % w]

            lap = at(i - 1, j) + at(i + 1, j) + at(i, j - 1) + at(i, j + 1) - 4 * u[i, j]
            out[i, j] = u[i, j] + r * lap
    return out


@pytest.mark.parametrize("bc", ["dirichlet-0", "neumann", "periodic"])
def test_heat_step_matches_stencil_loop_and_conservation(bc):
    rng = np.random.default_rng(3)
    u = rng.normal(size=(5, 6))
    want = _heat_loop(_heat_loop(u, bc, 0.2), bc, 0.2)
    np.testing.assert_allclose(heat_step(u, bc, steps=2), want, rtol=1e-12, atol=1e-12)
    v = heat_initial_conditions(2, rng, size=12) + 0.1
    after = heat_step(v, bc, steps=5)
    if bc == "dirichlet-0":
        assert (after.sum(axis=(1, 2)) < v.sum(axis=(1, 2))).all()  # heat leaves through the boundary
    else:
        np.testing.assert_allclose(after.sum(axis=(1, 2)), v.sum(axis=(1, 2)), rtol=1e-12)  # no flux
    with pytest.raises(PadkitError, match="robin"):
        heat_step(u, "robin")


# --------------------------------------------------------------------------------------------------------------------
# tiny runs of every experiment
# --------------------------------------------------------------------------------------------------------------------
def test_red_green_tiny_deterministic_schema_and_circular_invariance():
    a = run_red_green(TINY_RED_GREEN, progress=False)
    b = run_red_green(TINY_RED_GREEN, progress=False)
    ra, rb = results_of(a), results_of(b)
    assert ra == rb  # same seeds, same numbers
    assert set(ra) == {"valid", "same-circular"}
    for variant in ra:
        for split in ("similar", "dissimilar"):
            cell = ra[variant][split]
            assert set(cell) >= {"mean", "std"} and 0 <= cell["mean"] <= 100 and len(cell["values"]) == 2
    # a circular net with total stride 8 sees the ±16-row shift as a roll of its feature maps: the global max
    # pool is blind to it, so both test sets score exactly the same, seed by seed
    assert ra["same-circular"]["similar"]["values"] == ra["same-circular"]["dissimilar"]["values"]
    doc = json.loads(a.to_json())
    assert doc == a.to_dict()
    assert doc["experiment"] == "red-green" and doc["format"] == 1 and doc["config"]["seeds"] == 2


def test_position_tiny_zero_padding_carries_position_valid_does_not():
    r = results_of(run_position(TINY_POSITION, progress=False))
    assert set(r) == {"random-init/none", "random-init/zeros"}
    zeros, valid = r["random-init/zeros"], r["random-init/none"]
    for t in ("H", "V", "G"):
        assert zeros[f"SPC {t}"]["mean"] > 0.5 > abs(valid[f"SPC {t}"]["mean"])
        assert zeros[f"MAE {t}"]["mean"] < valid[f"MAE {t}"]["mean"]


def test_modes_tiny_schema_and_paired_comparisons():
    res = run_modes(TINY_MODES, progress=False)
    r = results_of(res)
    assert set(r) == {"digits/zeros", "digits/reflect", "photos/zeros", "photos/reflect"}
    for cols in r.values():
        assert set(cols) == {"accuracy", *res.metrics[1:]}
        assert 0 <= cols["accuracy"]["mean"] <= 100 and cols["border_shift"]["mean"] >= 0
    # one seed: comparisons are made but never declared significant
    assert len(res.comparisons) == 4 and not any(c.significant for c in res.comparisons)
    assert "reflect − zeros" in render_markdown(res)


def test_normalization_tiny_raw_zeros_shift_exceeds_standardised_reflect():
    res = run_normalization(TINY_NORMALIZATION, progress=False)
    r = results_of(res)
    raw, std = r["raw 0-255 + zeros"], r["standardised + reflect"]
    for layer in ("conv1", "conv2"):
        assert raw[f"border_shift {layer} (init)"]["mean"] > 3 * std[f"border_shift {layer} (init)"]["mean"]
        assert raw[f"false_edge {layer} (init)"]["mean"] > std[f"false_edge {layer} (init)"]["mean"]
    assert "accuracy" in raw and "border_shift conv1 (trained)" in raw


def test_boundary_tiny_deterministic_and_finite():
    a, b = run_boundary(TINY_BOUNDARY, progress=False), run_boundary(TINY_BOUNDARY, progress=False)
    ra = results_of(a)
    assert ra == results_of(b)
    assert set(ra) == {"periodic/zeros", "periodic/circular"}
    for cols in ra.values():
        assert set(cols) == {"border", "interior", "rollout border", "rollout interior"}
        assert all(math.isfinite(c["mean"]) and c["mean"] > 0 for c in cols.values())


def test_surrogate_padding_is_the_ghost_cell():
    """A surrogate whose convolutions are the exact stencil reproduces the solver iff padding matches the BC."""
    from padkit.lab.experiments.boundary import HeatSurrogate

    u = heat_initial_conditions(2, np.random.default_rng(4))
    stencil = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]) * 0.2
    for bc, mode in (("dirichlet-0", "zeros"), ("neumann", "replicate"), ("periodic", "circular")):
        model = HeatSurrogate(mode)
        first = model.net[0]
        x = torch.from_numpy(u).float().unsqueeze(1)
        with torch.no_grad():
            first.weight.zero_()
            first.weight[0, 0] = stencil
            out = x + first(x)[:, :1]
        want = torch.from_numpy(heat_step(u, bc)).float().unsqueeze(1)
        torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------------------------------------
# renderers and the CLI
# --------------------------------------------------------------------------------------------------------------------
def test_render_markdown_and_png(tmp_path):
    res = run_red_green(dataclasses.replace(TINY_RED_GREEN, variants=("valid",)), progress=False)
    md = render_markdown(res)
    assert "| valid |" in md and " ± " in md and "2 seed(s)" in md
    png = render_png(res, tmp_path / "sub" / "rg.png")
    assert png.read_bytes()[:8] == PNG_MAGIC


@pytest.fixture
def experiment_cli(monkeypatch):
    monkeypatch.setitem(cli.SUBCOMMANDS, "experiment", "experiment")
    small = functools.partial(
        RedGreenConfig, variants=("valid", "same-zeros"), n_train=200, n_val=100, n_test=100, patience=1
    )
    monkeypatch.setitem(EXPERIMENTS, "red-green", (small, run_red_green))
    return cli.main


def test_cli_runs_writes_md_png_json(experiment_cli, tmp_path, capsys):
    out = tmp_path / "out"
    js = tmp_path / "rg.json"
    argv = ["experiment", "red-green", "--seeds", "1", "--epochs", "1", "--out", str(out), "--json", str(js)]
    rc = experiment_cli([*argv, "--no-progress"])
    assert rc == cli.EXIT_OK
    doc = json.loads(js.read_text())
    assert doc["config"]["seeds"] == 1 and doc["config"]["epochs"] == 1
    assert set(doc["results"]) == {"valid", "same-zeros"}
    for cols in doc["results"].values():
        assert {"mean", "std"} <= set(cols["similar"]) and {"mean", "std"} <= set(cols["dissimilar"])
    text = capsys.readouterr().out
    assert "| same-zeros |" in text
    assert (out / "red-green.md").read_text(encoding="utf-8") in text + "\n"
    assert (out / "red-green.png").read_bytes()[:8] == PNG_MAGIC


def test_cli_json_to_stdout(experiment_cli, tmp_path, capsys):
    rc = experiment_cli(
        ["experiment", "red-green", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path), "--json", "-"]
    )
    assert rc == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["experiment"] == "red-green"


def test_cli_list_and_errors(experiment_cli, tmp_path, capsys):
    assert experiment_cli(["experiment", "list"]) == cli.EXIT_OK
    text = capsys.readouterr().out
    for name in EXPERIMENTS:
        assert name in text
    assert experiment_cli(["experiment", "bogus", "--out", str(tmp_path)]) == cli.EXIT_USAGE
    assert "'bogus'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse rejects it, naming the flag
        experiment_cli(["experiment", "red-green", "--seeds", "0", "--out", str(tmp_path)])
    assert usage.value.code == cli.EXIT_USAGE
    assert "argument --seeds: expected an int >= 1, got '0'" in capsys.readouterr().err
    assert experiment_cli(["experiment", "list", "--json", "-"]) == cli.EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == 1 and [e["name"] for e in doc["experiments"]] == list(EXPERIMENTS)


# --------------------------------------------------------------------------------------------------------------------
# protocols: the paper preset of red-green, its data generator, training options, merging and rendering
# --------------------------------------------------------------------------------------------------------------------
def test_paper_protocol_is_the_authors_script():
    from padkit.lab.experiments import PROTOCOLS, experiment_config
    from padkit.lab.experiments.red_green import PAPER_VARIANTS, PUBLISHED, red_green_config

    cfg = red_green_config("paper")
    assert (cfg.seeds, cfg.epochs, cfg.batch_size, cfg.n_train, cfg.n_val, cfg.n_test) == (
        10,
        50,
        200,
        2000,
        1000,
        1000,
    )
    # the authors' counter (`patience < 8: patience += 1, else stop`) stops at the 9th epoch without improvement
    assert (cfg.patience, cfg.monitor, cfg.shuffle, cfg.data, cfg.protocol) == (9, "loss", False, "authors", "paper")
    assert cfg.variants == PAPER_VARIANTS == ("valid", "same-zeros", "same-circular", "full-zeros")
    assert set(PUBLISHED) == set(PAPER_VARIANTS)
    assert red_green_config("cpu") == RedGreenConfig() and RedGreenConfig().protocol == "cpu"
    assert experiment_config("red-green", "paper", seeds=2) == dataclasses.replace(cfg, seeds=2)
    assert PROTOCOLS["red-green"] == ("cpu", "paper") and PROTOCOLS["position"] == ("cpu",)
    with pytest.raises(PadkitError, match=r"protocol='paper'.*'position'.*red-green"):
        experiment_config("position", "paper")
    with pytest.raises(PadkitError, match="protocol='bogus'"):
        red_green_config("bogus")
    with pytest.raises(PadkitError, match="data='bogus'"):
        RedGreenConfig(data="bogus")
    with pytest.raises(PadkitError, match="monitor='bogus'"):
        RedGreenConfig(monitor="bogus")
    with pytest.raises(PadkitTypeError, match="shuffle=1"):
        RedGreenConfig(shuffle=1)


def _authors_oracle(n: int) -> np.ndarray:
    """The authors' sampling from their description: legacy RandomState(1988), float bounds as they pass them."""
    rs = np.random.RandomState(1988)
    out = np.zeros((n, 3, 32, 32), dtype=np.float32)
    for i in range(n):
        nominal = 7 if i % 2 == 0 else 23
        xa = rs.randint(28 / 2 - 4)
        ya = rs.randint(-28 / 6, 28 / 6) + nominal
        xb = rs.randint(xa, 28)
        yb = rs.randint(-28 / 6, 28 / 6) + nominal
        while abs(xa - xb) < 5:
            xb = rs.randint(xa, 28)
            yb = rs.randint(-28 / 6, 28 / 6) + nominal
        ca, cb = (0, 1) if i % 2 == 0 else (1, 0)
        out[i, ca, ya : ya + 4, xa : xa + 4] = 1
        out[i, cb, yb : yb + 4, xb : xb + 4] = 1
    return out


def test_authors_data_matches_oracle_and_shares_one_sequence():
    from padkit.lab.experiments.red_green import red_green_authors_data

    x, y = red_green_authors_data(300)
    assert x.dtype == torch.float32 and y.tolist() == [i % 2 for i in range(300)]
    np.testing.assert_array_equal(x.numpy(), _authors_oracle(300))
    x_val, _ = red_green_authors_data(120)
    assert torch.equal(x_val, x[:120])  # validation / test images are the first training images
    # each box is 4x4 ones; rows nominal-4..nominal+3, boxes at least 5 columns apart
    for i in range(300):
        for c in (0, 1):
            rows, _ = torch.nonzero(x[i, c], as_tuple=True)
            assert len(rows) == 16 and float(x[i, c].sum()) == 16
            top = int(rows.min())
            assert (3 <= top <= 10) if y[i] == 0 else (19 <= top <= 26)
    left_red = torch.nonzero(x[0, 0])[:, 1].min() < torch.nonzero(x[0, 1])[:, 1].min()
    assert bool(left_red)  # class 0: red left of green


def test_train_classifier_monitor_loss_patience_and_order():
    from padkit.lab.experiments.training import mean_loss, train_classifier

    torch.manual_seed(0)
    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    model = torch.nn.Linear(3, 2)
    ref = torch.nn.functional.cross_entropy(model(x), y).item()
    assert mean_loss(model, x, y, batch_size=7) == pytest.approx(ref, rel=1e-6)
    for monitor in ("loss", "accuracy"):  # lr 0: nothing improves after the first epoch -> stop after `patience` more
        info = train_classifier(
            torch.nn.Linear(3, 2), x, y, epochs=10, batch_size=8, optimizer=lambda p: torch.optim.SGD(p, lr=0.0),
            seed=0, x_val=x, y_val=y, patience=2, monitor=monitor, progress=False,
        )  # fmt: skip
        assert (info["epochs_run"], info["best_epoch"]) == (3, 1)
    seen: list[torch.Tensor] = []

    class Spy(torch.nn.Linear):
        def forward(self, inp: torch.Tensor) -> torch.Tensor:
            if self.training:
                seen.append(inp.detach().clone())
            return super().forward(inp)

    train_classifier(
        Spy(3, 2), x, y, epochs=2, batch_size=8, optimizer=lambda p: torch.optim.SGD(p, lr=0.1), seed=0,
        shuffle=False, progress=False,
    )  # fmt: skip
    assert torch.equal(torch.cat(seen[:5]), x) and torch.equal(torch.cat(seen[5:]), x)
    with pytest.raises(PadkitError, match="monitor='bogus'"):
        train_classifier(model, x, y, epochs=1, batch_size=8, optimizer=torch.optim.SGD, seed=0, monitor="bogus")


def test_paper_protocol_tiny_run_records_protocol_and_reference(tmp_path):
    from padkit.lab.experiments.red_green import PUBLISHED, red_green_config

    cfg = red_green_config("paper", seeds=1, epochs=1, variants=("same-zeros",), n_train=200, n_val=100, n_test=100)
    res = run_red_green(cfg, progress=False)
    doc = json.loads(res.to_json())
    assert doc["protocol"]["name"] == "paper" and "oskyhn/CNNs-Without-Borders" in doc["protocol"]["source"]
    assert (
        doc["config"]["data"] == "authors" and doc["config"]["monitor"] == "loss" and doc["config"]["shuffle"] is False
    )
    assert doc["reference"] == {"same-zeros": {"similar": PUBLISHED["same-zeros"][0], "dissimilar": 8.4}}
    assert doc["results"]["same-zeros"]["epochs_run"]["values"] == [1.0]
    text = render_markdown(res)
    assert "Beside the published numbers" in text and "| same-zeros | dissimilar |" in text
    assert "first 100 training images" in text  # the note on the authors' data
    cpu = results_of(run_red_green(dataclasses.replace(TINY_RED_GREEN, seeds=1, variants=("valid",)), progress=False))
    assert set(cpu["valid"]) == {"similar", "dissimilar", "epochs", "epochs_run"}


def test_from_dict_round_trip_and_merge():
    from padkit.lab.experiments.result import ExperimentResult, merge_results

    a = run_red_green(dataclasses.replace(TINY_RED_GREEN, seeds=1, variants=("valid",)), progress=False)
    b = run_red_green(dataclasses.replace(TINY_RED_GREEN, seeds=1, variants=("same-circular",)), progress=False)
    back = ExperimentResult.from_dict(json.loads(a.to_json()))
    assert back.to_dict() == a.to_dict()
    both = merge_results([a, b])
    assert both.rows == ("valid", "same-circular")
    assert set(both.config["variants"]) == {"valid", "same-circular"}
    assert both.cpu_seconds == pytest.approx(a.cpu_seconds + b.cpu_seconds)
    with pytest.raises(PadkitError, match="disjoint rows"):
        merge_results([a, a])
    with pytest.raises(PadkitError, match="epochs"):
        merge_results([a, dataclasses.replace(b, config={**b.config, "epochs": 5})])
    a1 = run_red_green(dataclasses.replace(TINY_RED_GREEN, seeds=1, seed_start=1, variants=("valid",)), progress=False)
    seeds01 = merge_results([a, a1])  # the same row over seeds 0 and 1 == one run over 2 seeds
    two = run_red_green(dataclasses.replace(TINY_RED_GREEN, seeds=2, variants=("valid",)), progress=False)
    assert results_of(seeds01) == results_of(two)
    assert (seeds01.config["seeds"], seeds01.config["seed_start"]) == (2, 0)
    with pytest.raises(PadkitError, match="data="):
        ExperimentResult.from_dict({"bogus": 1})


@pytest.mark.parametrize("seed", range(4))
def test_spearman_over_modes_and_t_interval_match_scipy(seed):
    from padkit.lab.experiments.stats import spearman_over_modes, t_interval

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, size=7).astype(float)  # ties included
    b = rng.normal(size=7)
    assert spearman_over_modes(a, b) == pytest.approx(sstats.spearmanr(a, b).statistic, abs=1e-12)
    assert math.isnan(spearman_over_modes([1.0, 1.0], [0.0, 2.0]))
    assert math.isnan(spearman_over_modes([1.0, math.nan], [0.0, 2.0]))
    lo, hi = t_interval(b)
    ref = sstats.t.interval(0.95, len(b) - 1, loc=b.mean(), scale=sstats.sem(b))
    assert (lo, hi) == pytest.approx(ref, abs=1e-12)
    assert t_interval([2.0]) == (2.0, 2.0)


def test_agreement_tiny_zero_padding_ranks_first_on_both_measures():
    from padkit.lab.experiments.agreement import AgreementConfig, run_agreement

    cfg = AgreementConfig(seeds=1, epochs=1, position_epochs=1, position_modes=("none", "zeros", "reflect"),
                          red_green_variants=(), n_train=200, n_readout=40, n_test=40, audit_images=16)  # fmt: skip
    res = run_agreement(cfg, progress=False)
    rows = res.results
    assert set(rows) == {f"position {b}/{m}" for b in ("random-init", "trained") for m in cfg.position_modes} | {
        "agreement/position random-init",
        "agreement/position trained",
    }
    for b in ("random-init", "trained"):
        best = max(cfg.position_modes, key=lambda m: rows[f"position {b}/{m}"]["measure"].mean)
        assert best == "zeros"
        assert max(cfg.position_modes, key=lambda m: rows[f"position {b}/{m}"]["position_r2"].mean) == "zeros"
        assert -1.0 <= rows[f"agreement/position {b}"]["spearman"].mean <= 1.0


def test_cli_paper_protocol_and_variants(experiment_cli, tmp_path, capsys):
    js = tmp_path / "rg.json"
    argv = ["experiment", "red-green", "--protocol", "paper", "--seeds", "1", "--epochs", "1", "--variants", "valid"]
    assert experiment_cli([*argv, "--out", str(tmp_path), "--json", str(js), "--no-progress"]) == cli.EXIT_OK
    doc = json.loads(js.read_text())
    assert doc["protocol"]["name"] == "paper" and list(doc["results"]) == ["valid"]
    assert doc["config"]["epochs"] == 1 and doc["config"]["patience"] == 9
    capsys.readouterr()
    assert experiment_cli(["experiment", "position", "--protocol", "paper", "--out", str(tmp_path)]) == cli.EXIT_USAGE
    assert "protocol='paper'" in capsys.readouterr().err
    assert experiment_cli(["experiment", "modes", "--variants", "valid", "--out", str(tmp_path)]) == cli.EXIT_USAGE
    assert "--variants='valid'" in capsys.readouterr().err
    assert experiment_cli(["experiment", "red-green", "--variants", "same-bogus", "--out", str(tmp_path)]) == 2
    assert "same-bogus" in capsys.readouterr().err
