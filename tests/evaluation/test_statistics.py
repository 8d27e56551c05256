"""Final-loss statistics: IQM, bootstrap intervals (scipy's), probability of improvement."""

import math

import numpy as np
import pytest

from lrctl.evaluation.statistics import (
    iqm,
    iqm_interval,
    mean_interval,
    probability_of_improvement,
)


def test_iqm_ignores_the_outer_quartiles():
    assert iqm([0.0, 1.0, 2.0, 3.0, 100.0, -100.0, 1.5, 2.5]) == pytest.approx(np.mean([1.0, 1.5, 2.0, 2.5]))


def test_interval_holds_the_estimate_and_is_reproducible():
    rng = np.random.default_rng(1)
    values = rng.normal(0.3, 0.02, size=10)
    first = mean_interval(values)
    assert first.low < first.value < first.high
    assert first == mean_interval(values)  # seeded bootstrap: same summary every run
    assert iqm_interval(values).low < iqm_interval(values).high


def test_interval_narrows_with_more_seeds():
    rng = np.random.default_rng(2)
    small, large = mean_interval(rng.normal(0, 1, 10)), mean_interval(rng.normal(0, 1, 200))
    assert large.high - large.low < small.high - small.low


def test_probability_of_improvement_counts_paired_seeds_and_ties_half():
    assert probability_of_improvement([1, 2, 3, 4], [2, 3, 4, 5]).value == 1.0
    assert probability_of_improvement([1, 2, 3, 4], [1, 2, 3, 4]).value == 0.5
    p = probability_of_improvement([1, 5, 1, 5], [2, 2, 2, 2])
    assert p.value == 0.5 and p.low < 0.5 < p.high


def test_a_diverged_run_loses():
    assert probability_of_improvement([math.inf, 1.0], [3.0, 2.0]).value == 0.5


def test_one_seed_has_no_interval():
    assert math.isnan(mean_interval([0.3]).low)
    with pytest.raises(ValueError, match="same seeds"):
        probability_of_improvement([1.0], [1.0, 2.0])
