"""Workload fairness figures against hand-computed values."""

from __future__ import annotations

import itertools

import pytest

from service_requests.fairness import gini, jain_index


def test_jain_of_an_even_load_is_one():
    assert jain_index([4, 4, 4]) == 1.0


def test_jain_when_one_carries_everything_is_one_over_n():
    assert jain_index([0, 0, 0, 8]) == pytest.approx(0.25)


def test_jain_by_hand():
    # (7 + 9 + 11)^2 / (3 * (49 + 81 + 121)) = 729 / 753
    assert jain_index([7, 9, 11]) == pytest.approx(729 / 753)


def test_gini_of_an_even_load_is_zero():
    assert gini([5, 5, 5, 5]) == 0.0


def test_gini_when_one_carries_everything():
    assert gini([0, 0, 0, 8]) == pytest.approx(0.75)


def test_gini_by_hand():
    # pairs |7-9| + |7-11| + |9-11| = 8, doubled over ordered pairs = 16;
    # 16 / (2 * 3^2 * 9) = 16 / 162
    assert gini([7, 9, 11]) == pytest.approx(16 / 162)


def test_gini_agrees_with_the_pairwise_definition():
    loads = [3, 0, 12, 5, 5, 1]
    n, mean = len(loads), sum(loads) / len(loads)
    pairwise = sum(abs(a - b) for a, b in itertools.product(loads, loads)) / (2 * n * n * mean)
    assert gini(loads) == pytest.approx(pairwise)


def test_nobody_loaded_counts_as_even():
    assert jain_index([]) == 1.0
    assert jain_index([0, 0]) == 1.0
    assert gini([]) == 0.0
    assert gini([0, 0]) == 0.0
