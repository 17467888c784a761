"""Shared pieces of the experiments: statistics, results, data, layers, training.

Everything here is deterministic given a seed: data comes from ``numpy.random.Generator(seed)`` and model
initialisation from ``torch.manual_seed(seed)``. Results are data (:class:`ExperimentResult`); the Markdown
table and the PNG are rendered separately (:func:`render_markdown`, :func:`render_png`).
"""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .._errors import PadkitTypeError, PadkitValueError

__all__ = [
    "JSON_FORMAT",
    "PHOTOGRAPHS",
    "Comparison",
    "ExperimentResult",
    "Stat",
    "accuracy",
    "compare_paired",
    "conv2d",
    "digits_on_canvas",
    "environment",
    "photo_patches",
    "photographs",
    "render_markdown",
    "render_png",
    "stat",
    "train_classifier",
]

#: Version of the JSON written by :meth:`ExperimentResult.to_json` (the ``format`` key).
JSON_FORMAT = 1

#: scikit-image sample photographs used as offline natural-image data (they ship inside the wheel).
PHOTOGRAPHS: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")


# --------------------------------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (``ddof=1``; 0 for one value) of one figure over seeds."""

    mean: float
    std: float
    values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"mean": _finite(self.mean), "std": _finite(self.std), "values": [_finite(v) for v in self.values]}

    def format(self, digits: int = 1) -> str:
        """``"mean ± std"`` with ``digits`` decimals (just the mean for a single value; ``"n/a"`` for NaN)."""
        if not math.isfinite(self.mean):
            return "n/a"
        if len(self.values) <= 1:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def _finite(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def stat(values: Iterable[float]) -> Stat:
    """Summarise values over seeds as a :class:`Stat` (NaNs are kept, so a NaN anywhere gives a NaN mean).

    Example:
        >>> stat([1.0, 3.0]).format()
        '2.0 ± 1.4'
    """
    vals = tuple(float(v) for v in values)
    if not vals:
        raise PadkitValueError("stat(values): values is empty; need at least one number")
    arr = np.asarray(vals, dtype=np.float64)
    std = float(arr.std(ddof=1)) if len(vals) > 1 else 0.0
    return Stat(mean=float(arr.mean()), std=std, values=vals)


@dataclass(frozen=True)
class Comparison:
    """A paired comparison (same seeds, same data) of one metric between a variant and a baseline.

    ``significant`` is True only when the mean paired difference exceeds two standard errors of the
    paired differences *and* the paired t-test gives ``p < 0.05``; with fewer than 3 seeds it is always False.
    """

    group: str
    metric: str
    variant: str
    baseline: str
    mean_diff: float
    std_diff: float
    p_value: float
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "metric": self.metric,
            "variant": self.variant,
            "baseline": self.baseline,
            "mean_diff": _finite(self.mean_diff),
            "std_diff": _finite(self.std_diff),
            "p_value": _finite(self.p_value),
            "significant": self.significant,
        }


def compare_paired(
    variant: Sequence[float], baseline: Sequence[float], *, group: str, metric: str, names: tuple[str, str]
) -> Comparison:
    """Paired test of ``variant - baseline`` over seeds (see :class:`Comparison` for the decision rule)."""
    a = np.asarray(variant, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise PadkitValueError(f"compare_paired: variant has shape {a.shape} and baseline {b.shape}; need equal 1-D")
    d = a - b
    n = len(d)
    mean = float(d.mean())
    std = float(d.std(ddof=1)) if n > 1 else 0.0
    p = float("nan")
    significant = False
    if n >= 3:
        from scipy import stats as sstats

        if std == 0.0:
            p = 0.0 if mean != 0.0 else 1.0
        else:
            p = float(sstats.ttest_rel(a, b).pvalue)
        sem = std / math.sqrt(n)
        significant = bool(abs(mean) > 2.0 * sem and p < 0.05)
    return Comparison(group, metric, names[0], names[1], mean, std, p, significant)


# --------------------------------------------------------------------------------------------------------------------
# results and renderers
# --------------------------------------------------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    """Machine facts recorded with every result (``uname -m``, cores, torch threads and version)."""
    import os

    return {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (Linux), else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass(frozen=True)
class ExperimentResult:
    """The outcome of one experiment.

    Attributes:
        name: experiment name (``"red-green"``, ...).
        title: one-line description used as the table heading.
        config: the settings it ran with (JSON-able).
        results: ``results[row][metric]`` -> :class:`Stat` over seeds. Rows are ``"variant"`` or ``"group/variant"``.
        metrics: metric names in display order, with ``units`` giving each one's unit (``"%"``, ``""``).
        comparisons: paired tests against the baseline variant, where the experiment makes them.
        notes: sentences that belong with the numbers (what was measured, caveats).
        seconds: wall-clock time of the computation.
        cpu_seconds: CPU time of this process over the computation (all threads; less sensitive than ``seconds``
            to other processes sharing the machine).
        env: :func:`environment` at run time.
        plot_metrics: the metrics :func:`render_png` draws by default.
        precision: decimals per metric in the Markdown table (default 1).
    """

    name: str
    title: str
    config: Mapping[str, Any]
    results: Mapping[str, Mapping[str, Stat]]
    metrics: tuple[str, ...]
    units: Mapping[str, str] = field(default_factory=dict)
    comparisons: tuple[Comparison, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    env: Mapping[str, Any] = field(default_factory=dict)
    plot_metrics: tuple[str, ...] = ()
    precision: Mapping[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> tuple[str, ...]:
        return tuple(self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": JSON_FORMAT,
            "experiment": self.name,
            "title": self.title,
            "config": dict(self.config),
            "metrics": list(self.metrics),
            "units": dict(self.units),
            "results": {row: {m: s.to_dict() for m, s in cols.items()} for row, cols in self.results.items()},
            "comparisons": [c.to_dict() for c in self.comparisons],
            "notes": list(self.notes),
            "seconds": round(self.seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "environment": dict(self.env),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (what ``--json`` writes), like the plan, audit and bench reports."""
        return json.dumps(self.to_dict(), indent=indent)


def _split_row(row: str) -> tuple[str, str]:
    group, _, variant = row.rpartition("/")
    return group, variant


def render_markdown(result: ExperimentResult, digits: int = 1) -> str:
    """Markdown tables (one per row group) of ``mean ± std`` over seeds, plus comparisons and notes."""
    groups: dict[str, list[str]] = {}
    for row in result.rows:
        groups.setdefault(_split_row(row)[0], []).append(row)
    out: list[str] = [f"### {result.title}", ""]
    for group, rows in groups.items():
        if group:
            out += [f"**{group}**", ""]
        heads = [f"{m} ({result.units[m]})" if result.units.get(m) else m for m in result.metrics]
        out.append("| variant | " + " | ".join(heads) + " |")
        out.append("|---|" + "---|" * len(heads))
        for row in rows:
            cells = []
            for m in result.metrics:
                s = result.results[row].get(m)
                cells.append("–" if s is None else s.format(result.precision.get(m, digits)))
            out.append(f"| {_split_row(row)[1]} | " + " | ".join(cells) + " |")
        out.append("")
    if result.comparisons:
        out += [
            "Paired comparisons against the baseline (same seeds); * = |mean diff| > 2 SE and paired t-test p < 0.05:",
            "",
        ]
        out.append("| group | metric | variant − baseline | mean diff ± std | p | significant |")
        out.append("|---|---|---|---|---|---|")
        for c in result.comparisons:
            p = "–" if not math.isfinite(c.p_value) else f"{c.p_value:.3f}"
            out.append(
                f"| {c.group or '–'} | {c.metric} | {c.variant} − {c.baseline} | {c.mean_diff:+.3f} ± {c.std_diff:.3f} "
                f"| {p} | {'*' if c.significant else 'no'} |"
            )
        out.append("")
    n_seeds = result.config.get("seeds")
    env = result.env
    out.append(
        f"_{n_seeds} seed(s); mean ± sample std over seeds; "
        f"{result.seconds:.0f} s wall ({result.cpu_seconds:.0f} s CPU) on {env.get('cpu')} "
        f"({env.get('cpu_count')} cores) "
        f"with {env.get('torch_threads')} torch thread(s), torch {env.get('torch')}._"
    )
    for note in result.notes:
        out += ["", note]
    return "\n".join(out) + "\n"


def render_png(result: ExperimentResult, path: str | Path, metrics: Sequence[str] | None = None) -> Path:
    """Grouped bar chart (error bars = std over seeds) of ``metrics`` per row group.

    ``metrics`` defaults to ``result.plot_metrics`` (all metrics when that is empty).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(metrics or result.plot_metrics or result.metrics)
    groups: dict[str, list[str]] = {}
    for row in result.rows:
        groups.setdefault(_split_row(row)[0], []).append(row)
    fig, axes = plt.subplots(
        len(groups), len(metrics), figsize=(3.6 * len(metrics) + 0.5, 2.8 * len(groups) + 0.4), squeeze=False
    )
    for gi, (group, rows) in enumerate(groups.items()):
        labels = [_split_row(r)[1] for r in rows]
        for mi, metric in enumerate(metrics):
            ax = axes[gi][mi]
            means = [result.results[r][metric].mean if metric in result.results[r] else np.nan for r in rows]
            stds = [result.results[r][metric].std if metric in result.results[r] else 0.0 for r in rows]
            ax.bar(range(len(rows)), means, yerr=stds, capsize=3, color="#4c72b0")
            ax.set_xticks(range(len(rows)))
            ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
            unit = result.units.get(metric, "")
            ax.set_title(f"{group + ': ' if group else ''}{metric}{f' ({unit})' if unit else ''}", fontsize=8)
            ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(result.title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------------------------------------------------
def conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    padding: int = 0,
    mode: str = "constant",
    bias: bool = True,
) -> nn.Conv2d:
    """A padkit ``PadConv2d`` (what users build with) with the given padding width and mode.

    ``padding=0`` gives a valid convolution (the mode is then irrelevant and stored as ``"constant"``).
    """
    from ..nn import PadConv2d

    return PadConv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        padding_mode=mode if padding else "constant",
        bias=bias,
    )


# --------------------------------------------------------------------------------------------------------------------
# offline data
# --------------------------------------------------------------------------------------------------------------------
_PHOTO_CACHE: dict[str, np.ndarray] = {}


def photographs(names: Sequence[str] = PHOTOGRAPHS) -> list[np.ndarray]:
    """The scikit-image sample photographs as ``(H, W, 3)`` uint8 arrays (no download: they ship in the wheel)."""
    import skimage.data

    out = []
    for name in names:
        if name not in _PHOTO_CACHE:
            fn = getattr(skimage.data, name, None)
            if fn is None:
                raise PadkitValueError(f"photographs(names): {name!r} is not a scikit-image sample image")
            img = np.asarray(fn())
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            _PHOTO_CACHE[name] = np.ascontiguousarray(img[..., :3]).astype(np.uint8)
        out.append(_PHOTO_CACHE[name])
    return out


def photo_patches(
    n: int, size: int, rng: np.random.Generator, names: Sequence[str] = PHOTOGRAPHS, *, scale: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random patches of the built-in photographs, labelled by which photograph they come from.

    Each photograph is first downsampled by ``scale`` (block mean) so a patch holds a recognisable part of it.

    Returns:
        ``(x, y)``: x ``(n, 3, size, size)`` float32 in the raw 0–255 range, y ``(n,)`` int64 in ``[0, len(names))``.
    """
    imgs = []
    for img in photographs(names):
        h, w = (img.shape[0] // scale) * scale, (img.shape[1] // scale) * scale
        small = img[:h, :w].astype(np.float32).reshape(h // scale, scale, w // scale, scale, 3).mean(axis=(1, 3))
        if min(small.shape[:2]) < size:
            raise PadkitValueError(f"photo_patches: size={size} exceeds a photograph downsampled by scale={scale}")
        imgs.append(small)
    y = rng.integers(0, len(imgs), size=n)
    x = np.empty((n, 3, size, size), dtype=np.float32)
    for i, label in enumerate(y):
        img = imgs[label]
        r = rng.integers(0, img.shape[0] - size + 1)
        c = rng.integers(0, img.shape[1] - size + 1)
        x[i] = img[r : r + size, c : c + size].transpose(2, 0, 1)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def digits_on_canvas(n: int, canvas: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits pasted at uniformly random positions (anywhere, borders included) on a black canvas.

    Returns:
        ``(x, y)``: x ``(n, 1, canvas, canvas)`` float32 in ``[0, 1]``, y ``(n,)`` int64 digit labels.
    """
    from sklearn.datasets import load_digits

    if canvas < 8:
        raise PadkitValueError(f"digits_on_canvas: canvas={canvas} is smaller than a digit (8)")
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    idx = rng.integers(0, len(images), size=n)
    x = np.zeros((n, 1, canvas, canvas), dtype=np.float32)
    rows = rng.integers(0, canvas - 8 + 1, size=n)
    cols = rng.integers(0, canvas - 8 + 1, size=n)
    for i in range(n):
        x[i, 0, rows[i] : rows[i] + 8, cols[i] : cols[i] + 8] = images[idx[i]]
    return torch.from_numpy(x), torch.from_numpy(digits.target[idx].astype(np.int64))


# --------------------------------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy in percent of ``model`` on ``(x, y)`` (eval mode; the model's mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        correct = 0
        for i in range(0, len(x), batch_size):
            correct += int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    finally:
        model.train(was_training)
    return 100.0 * correct / max(len(x), 1)


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
    seed: int,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    patience: int | None = None,
    desc: str = "train",
    progress: bool = True,
) -> dict[str, Any]:
    """Train with cross-entropy, keeping the weights of the best validation epoch (early stopping by ``patience``).

    Returns:
        ``{"epochs_run", "best_epoch", "best_val", "seconds"}``; ``model`` holds the best weights on return.
    """
    if epochs < 1:
        raise PadkitValueError(f"train_classifier: epochs={epochs}; need >= 1")
    from tqdm.auto import tqdm

    opt = optimizer(model.parameters())
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    best_val, best_epoch, best_state = -1.0, 0, None
    start = time.perf_counter()
    epoch = 0
    bar = tqdm(range(epochs), desc=desc, leave=False, disable=not progress, dynamic_ncols=True)
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        if x_val is not None and y_val is not None:
            val = accuracy(model, x_val, y_val)
            bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{val:.1f}")
            if val > best_val:
                best_val, best_epoch = val, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif patience is not None and epoch - best_epoch >= patience:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return {
        "epochs_run": epoch + 1,
        "best_epoch": best_epoch + 1,
        "best_val": best_val,
        "seconds": time.perf_counter() - start,
    }


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Validate an integer setting (seeds, epochs, sizes) and return it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise PadkitTypeError(f"{name}={value!r} must be an int >= {minimum}")
    if value < minimum:
        raise PadkitValueError(f"{name}={value!r} must be >= {minimum}")
    return int(value)
