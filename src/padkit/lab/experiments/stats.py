"""Statistics over seeds: a figure's mean and spread (:class:`Stat`) and paired comparisons (:class:`Comparison`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from ..._errors import PadkitValueError
from ..._report import jsonable
from ..._validate import bad_value

__all__ = ["Comparison", "Stat", "compare_paired", "spearman_over_modes", "stat", "t_interval"]


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (``ddof=1``; 0 for one value) of one figure over seeds."""

    mean: float
    std: float
    values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"mean", "std", "values"}`` as JSON data (non-finite numbers are ``None``)."""
        out: dict[str, Any] = jsonable({"mean": self.mean, "std": self.std, "values": self.values})
        return out

    def format(self, digits: int = 1) -> str:
        """``"mean ± std"`` with ``digits`` decimals (just the mean for a single value; ``"n/a"`` for NaN)."""
        if not math.isfinite(self.mean):
            return "n/a"
        if len(self.values) <= 1:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def stat(values: Iterable[float]) -> Stat:
    """Summarise values over seeds as a :class:`Stat` (NaNs are kept, so a NaN anywhere gives a NaN mean).

    Example:
        >>> stat([1.0, 3.0]).format()
        '2.0 ± 1.4'
    """
    vals = tuple(float(v) for v in values)
    if not vals:
        raise bad_value("values", vals, "a non-empty sequence of numbers")
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
        """The comparison as JSON data (non-finite numbers are ``None``)."""
        out: dict[str, Any] = jsonable(
            {
                "group": self.group,
                "metric": self.metric,
                "variant": self.variant,
                "baseline": self.baseline,
                "mean_diff": self.mean_diff,
                "std_diff": self.std_diff,
                "p_value": self.p_value,
                "significant": self.significant,
            }
        )
        return out


def compare_paired(
    variant: Sequence[float], baseline: Sequence[float], *, group: str, metric: str, names: tuple[str, str]
) -> Comparison:
    """Paired test of ``variant - baseline`` over seeds (see :class:`Comparison` for the decision rule)."""
    a = np.asarray(variant, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise PadkitValueError(
            f"variant, baseline: shapes {a.shape} and {b.shape}: expected two 1-D sequences of equal length"
        )
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


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean of ``values`` (over seeds); ``(mean, mean)`` for one value or zero
    spread.

    Example:
        >>> lo, hi = t_interval([1.0, 2.0, 3.0])
        >>> round(lo, 3), round(hi, 3)
        (-0.484, 4.484)
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or len(arr) == 0:
        raise bad_value("values", tuple(arr.ravel()), "a non-empty 1-D sequence of numbers")
    if not 0.0 < level < 1.0:
        raise bad_value("level", level, "a number in (0, 1)")
    mean = float(arr.mean())
    if len(arr) < 2:
        return mean, mean
    from scipy import stats as sstats

    half = float(sstats.t.ppf(0.5 + level / 2, len(arr) - 1)) * float(arr.std(ddof=1)) / math.sqrt(len(arr))
    return mean - half, mean + half


def _average_ranks(a: np.ndarray) -> np.ndarray:
    order = np.argsort(a, kind="stable")
    ranks = np.empty(len(a), dtype=np.float64)
    sorted_a = a[order]
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0
        i = j + 1
    return ranks


def spearman_over_modes(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation of two measures over the same modes (ties share their mean rank).

    NaN where either measure is constant or has a NaN, or with fewer than 2 modes.

    Example:
        >>> spearman_over_modes([0.1, 0.5, 0.3], [10.0, 40.0, 35.0])
        1.0
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise PadkitValueError(f"a, b: shapes {x.shape} and {y.shape}: expected two 1-D sequences of equal length")
    if len(x) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return math.nan
    rx, ry = _average_ranks(x), _average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx**2).sum() * (ry**2).sum()))
    return float((rx * ry).sum() / den) if den > 0 else math.nan
