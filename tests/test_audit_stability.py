"""The audit's intervals on real photographs: they shrink like 1/sqrt(n), cover the estimate from more images, and
two audits of disjoint crops (``--seed`` 1 and 2) agree within them.

The slow test is the study of ``docs/metrics.md`` (ResNet-18, random init, 224x224); run it with
``pytest -m slow -s tests/test_audit_stability.py`` to print its table.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from padkit.analysis.audit import audit
from padkit.data import BuiltinImages, builtin_image_paths

#: The summary figures the study follows.
FIGURES = ("border_shift", "false_edge_ratio", "equivariance_gap", "position_r2")
#: The figures whose intervals shrink like 1/sqrt(n) from 8 images on. The held-out R^2 of the position probe is
#: not among them: fitted on 4 images it overfits, its replicates have a long negative tail and its interval at 8
#: images says little (docs/metrics.md); it is checked from 32 images on.
ROOT_N = ("border_shift", "false_edge_ratio", "equivariance_gap")


def nested_images(n: int, size: int) -> torch.Tensor:
    """The first ``n`` crops of the built-in photographs (seed 0): the sets of 8, 32 and 128 images are nested."""
    data = BuiltinImages(n, size, seed=0)
    return torch.stack([data[i] for i in range(n)])


def disjoint_images(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint sets of ``n`` crops: items ``0..n-1`` of the photographs cropped with seed 1 and items
    ``n..2n-1`` cropped with seed 2 (every photograph appears in both, at other positions)."""
    a = BuiltinImages(2 * n, size, seed=1)
    b = BuiltinImages(2 * n, size, seed=2)
    return torch.stack([a[i] for i in range(n)]), torch.stack([b[i] for i in range(n, 2 * n)])


def photo_split_images(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` crops of the even-numbered photographs (crop seed 1) and ``n`` of the odd-numbered ones (seed 2)."""
    photos = len(builtin_image_paths())
    sets = []
    for parity, seed in ((0, 1), (1, 2)):
        data = BuiltinImages(4 * n, size, seed=seed)
        picked = [i for i in range(4 * n) if (i % photos) % 2 == parity][:n]
        sets.append(torch.stack([data[i] for i in picked]))
    return sets[0], sets[1]


def study(
    model: nn.Module,
    size: int,
    sizes=(8, 32, 128),
    disjoint: int = 64,
    replicates: int = 200,
    photo_split: bool = False,
) -> dict:
    """Summary figures and intervals at each image count, of two audits of disjoint crops (``--seed`` 1 and 2)
    and, with ``photo_split``, of two audits of disjoint photographs (reported, not checked)."""

    def run(x: torch.Tensor, seed: int) -> dict:
        rep = audit(
            model,
            x,
            normalize="imagenet",
            probe_images=len(x),
            equivariance_images=len(x),
            bootstrap=replicates,
            seed=seed,
            progress=False,
        )
        s = rep.results[0].summary
        return {m: (s.value(m), s.ci[m]) for m in FIGURES}

    out: dict = {"nested": {n: run(nested_images(n, size), 0) for n in sizes}}
    a, b = disjoint_images(disjoint, size)
    out["disjoint"] = (run(a, 1), run(b, 2))
    if photo_split:
        a, b = photo_split_images(disjoint, size)
        out["photos"] = (run(a, 1), run(b, 2))
    return out


def check(result: dict, sizes=(8, 32, 128)) -> None:
    nested = result["nested"]
    big = sizes[-1]
    for m in FIGURES:
        width = {n: nested[n][m][1][1] - nested[n][m][1][0] for n in sizes}
        point = nested[big][m][0]
        for n in sizes[:-1]:
            if m not in ROOT_N and n < 32:
                continue
            expected = math.sqrt(big / n)  # widths shrink like 1 / sqrt(n)
            if m in ROOT_N:
                assert expected / 2 <= width[n] / width[big] <= expected * 2, (m, n, width)
            else:
                assert width[n] > width[big], (m, n, width)
            lo, hi = nested[n][m][1]
            assert lo <= point <= hi, (m, n, point, (lo, hi))  # the interval covers the estimate from more images
        (_, (la, ha)), (_, (lb, hb)) = result["disjoint"][0][m], result["disjoint"][1][m]
        assert la <= hb and lb <= ha, (m, (la, ha), (lb, hb))  # disjoint crops: the intervals overlap


def table(result: dict) -> str:
    def cell(v: tuple[float, tuple[float, float]]) -> str:
        return f"{v[0]:.3f} [{v[1][0]:.3f}, {v[1][1]:.3f}]"

    lines = ["| images | " + " | ".join(FIGURES) + " |", "|" + "---|" * (len(FIGURES) + 1)]
    for n, figs in result["nested"].items():
        lines.append(f"| {n} | " + " | ".join(cell(figs[m]) for m in FIGURES) + " |")
    names = {
        "disjoint": ("64 crops, seed 1", "64 other crops, seed 2"),
        "photos": ("64 crops of the even photographs", "64 crops of the odd photographs"),
    }
    for key, labels in names.items():
        for name, figs in zip(labels, result.get(key, ())):
            lines.append(f"| {name} | " + " | ".join(cell(figs[m]) for m in FIGURES) + " |")
    widths = []
    for m in FIGURES:
        w = {n: figs[m][1][1] - figs[m][1][0] for n, figs in result["nested"].items()}
        ns = sorted(w)
        widths.append(" / ".join(f"{w[n] / w[ns[-1]]:.1f}" for n in ns))
    lines.append("| width / width at 128 | " + " | ".join(widths) + " |")
    return "\n".join(lines)


def _small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
    )


def test_intervals_shrink_and_cover_on_a_small_cnn():
    check(study(_small_cnn(), 32, replicates=200))


@pytest.mark.slow
def test_intervals_shrink_and_cover_on_resnet18():
    from padkit.models import load_model

    result = study(load_model("torchvision:resnet18"), 224, photo_split=True)
    print()
    print(table(result))
    check(result)
