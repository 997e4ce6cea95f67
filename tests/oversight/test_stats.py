"""The statistics behind the figures, against hand-computed values."""

from __future__ import annotations

import math

import pytest

from oversight import stats


def test_percentiles_interpolate_between_closest_ranks() -> None:
    assert stats.percentile([], 50) is None
    assert stats.percentile([7.0], 90) == 7.0
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    assert stats.percentile([0.5, 1, 2, 8], 90) == pytest.approx(6.2)


def test_the_mean_and_its_95_percent_interval() -> None:
    assert stats.mean([]) is None
    assert stats.mean_interval_95([4]) is None
    # 2 and 4: mean 3, s = sqrt(2), half-width 1.96 x sqrt(2) / sqrt(2).
    low, high = stats.mean_interval_95([2, 4]) or (0, 0)
    assert low == pytest.approx(3 - 1.959964, abs=1e-6)
    assert high == pytest.approx(3 + 1.959964, abs=1e-6)


def test_ratio_jain_and_gini() -> None:
    assert stats.ratio(1, 0) is None
    assert stats.ratio(1, 4) == 0.25
    assert stats.jain([]) is None
    assert stats.jain([0, 0]) is None
    assert stats.jain([3, 3, 3]) == 1.0
    assert stats.jain([1, 0, 0, 0]) == 0.25  # one holds all: 1/n
    assert stats.gini([]) is None
    assert stats.gini([0, 0]) is None
    assert stats.gini([5, 5]) == 0.0
    # 0, 0, 0, 4: pairwise differences 4 x 6 = 24 over ordered pairs x 2 = 24; 2 n^2 mean = 32.
    assert stats.gini([0, 0, 0, 4]) == pytest.approx(0.75)
    assert math.isclose(stats.gini([1, 2]) or 0, 1 / 6)
