"""Statistics of final losses over seeds: mean, IQM, bootstrap confidence intervals, probability of
improvement (Agarwal et al., "Deep RL at the edge of the statistical precipice"; rliable's definitions).

The bootstrap is scipy's (`scipy.stats.bootstrap`), seeded, so a summary is the same on every run. One
method at one initial LR is one task, so resampling the seeds is the stratified bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% of the values (robust to outliers, unlike the mean)."""
    return float(stats.trim_mean(np.asarray(values, dtype=np.float64), 0.25)) if len(values) else math.nan


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% bootstrap confidence interval (NaN bounds with fewer than 2 values)."""

    value: float
    low: float
    high: float


def _bootstrap(data: tuple[np.ndarray, ...], statistic, paired: bool = False) -> tuple[float, float]:
    if len(data[0]) < 2:
        return math.nan, math.nan
    if len(data) == 1 and np.all(data[0] == data[0][0]):  # no spread: the interval is the point
        return float(data[0][0]), float(data[0][0])
    result = stats.bootstrap(data, statistic, paired=paired, vectorized=True, confidence_level=CONFIDENCE,
                             n_resamples=RESAMPLES, method="percentile",
                             rng=np.random.default_rng(BOOTSTRAP_SEED))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def mean_interval(values: Sequence[float]) -> Interval:
    """The mean and its percentile-bootstrap 95% confidence interval over seeds."""
    x = np.asarray(values, dtype=np.float64)
    if not len(x):
        return Interval(math.nan, math.nan, math.nan)
    return Interval(float(x.mean()), *_bootstrap((x,), lambda s, axis=-1: np.mean(s, axis=axis)))


def iqm_interval(values: Sequence[float]) -> Interval:
    """The IQM and its percentile-bootstrap 95% confidence interval over seeds."""
    x = np.asarray(values, dtype=np.float64)
    if not len(x):
        return Interval(math.nan, math.nan, math.nan)
    return Interval(iqm(x), *_bootstrap((x,), lambda s, axis=-1: stats.trim_mean(s, 0.25, axis=axis)))


def _paired(first: Sequence[float], second: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Two methods' final losses on the same seeds, as arrays (+inf: diverged)."""
    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if len(a) != len(b) or not len(a):
        raise ValueError(f"need the same seeds for both methods, got {len(a)} and {len(b)} runs")
    return a, b


def _improvement(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean((a < b) + 0.5 * (a == b), axis=axis)


def probability_of_improvement(learned: Sequence[float], other: Sequence[float]) -> Interval:
    """P(learned's final loss < other's) on a seed, ties counting half, over paired seeds, with its
    paired-bootstrap 95% confidence interval. Diverged runs enter as +inf (they lose)."""
    a, b = _paired(learned, other)
    value = float(_improvement(a, b))
    if len(a) < 2:
        return Interval(value, math.nan, math.nan)
    low, high = _bootstrap((a, b), _improvement, paired=True)
    return Interval(value, low, high)


def _regret(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) / np.mean(b, axis=axis) - 1.0


def regret_interval(method: Sequence[float], oracle: Sequence[float]) -> Interval:
    """The regret of a method to the tuned oracle, mean final loss / the oracle's - 1, over paired seeds,
    with its paired-bootstrap 95% confidence interval (a diverged run, +inf, makes it infinite)."""
    a, b = _paired(method, oracle)
    value = float(_regret(a, b))
    if len(a) < 2 or not np.all(np.isfinite(a)) or not np.all(np.isfinite(b)):
        return Interval(value, math.nan, math.nan)
    if np.array_equal(a, b):
        return Interval(value, value, value)
    low, high = _bootstrap((a, b), _regret, paired=True)
    return Interval(value, low, high)
