"""Seed statistics: paired and unpaired tests, bootstrap intervals, expected-best curves, seeds needed."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch.search import (
    TIED,
    WORSE,
    compare_to_best,
    compare_unpaired,
    expected_best_curve,
    expected_max,
    min_seeds,
    seeds_needed,
    sign_flip_p_value,
)

# The recipe's published BERT grid: dev F1 per seed, seed i + 1 at index i (benchmarks/replay.py PAPER_BERT).
BEST = [86.60, 85.99, 86.12, 84.96, 85.92]  # wsFalse-bs8-e10-lr5e-05, mean 85.918
PAPER_BERT = {
    "wsFalse-bs4-e10-lr5e-05": [85.48, 84.56, 84.76, 87.11, 84.75],
    "wsFalse-bs4-e10-lr3e-05": [87.09, 85.51, 85.17, 86.05, 85.00],
    "wsFalse-bs8-e10-lr3e-05": [85.31, 83.80, 84.73, 86.87, 85.14],
}


def by_seed(points: list[float]) -> dict[int, float]:
    return {seed: p / 100 for seed, p in enumerate(points, start=1)}


def test_identical_scores_give_p_one_and_a_zero_interval() -> None:
    scores = by_seed(BEST)
    c = compare_to_best(scores, scores)

    assert c is not None
    assert c.delta == 0.0
    assert c.ci95 == (0.0, 0.0)
    assert c.p_value == 1.0
    assert c.verdict == TIED
    assert c.seeds_paired == 5


def test_best_better_on_every_one_of_five_seeds_gives_one_in_32() -> None:
    c = compare_to_best(by_seed(BEST), by_seed([p - 0.5 + 0.1 * i for i, p in enumerate(BEST)]))

    assert c is not None
    assert c.p_value == 1 / 32
    assert c.verdict == WORSE
    assert not c.too_few_seeds
    assert c.ci95[0] <= c.delta <= c.ci95[1] < 0


@pytest.mark.parametrize(
    ("name", "delta", "p_value"),
    [
        # best - other per seed: 1.12 1.43 1.36 -2.15 1.17 (sum 2.93). Sign patterns with a sum >= 2.93
        # negate a set of |d| summing to <= (7.23 - 2.93) / 2 = 2.15: none, or one value (any of 5).
        ("wsFalse-bs4-e10-lr5e-05", -0.586, 6 / 32),
        # -0.49 0.48 0.95 -1.09 0.92 (sum 0.77): negated sets summing to <= (3.93 - 0.77) / 2 = 1.58:
        # none, 5 singles, 7 pairs (0.97 1.44 1.58 1.41 1.43 1.57 1.40).
        ("wsFalse-bs4-e10-lr3e-05", -0.154, 13 / 32),
        # 1.29 2.19 1.39 -1.91 0.78 (sum 3.74): negated sets <= (7.56 - 3.74) / 2 = 1.91: none, 4 singles.
        ("wsFalse-bs8-e10-lr3e-05", -0.748, 5 / 32),
    ],
)
def test_the_recipes_bert_grid_is_all_tied_with_the_best(name: str, delta: float, p_value: float) -> None:
    c = compare_to_best(by_seed(BEST), by_seed(PAPER_BERT[name]))

    assert c is not None
    assert c.delta * 100 == pytest.approx(delta, abs=1e-9)
    assert c.p_value == pytest.approx(p_value)
    assert c.verdict == TIED
    assert c.seeds_paired == 5
    assert c.note == ""


def test_only_shared_seeds_are_paired_and_too_few_are_flagged() -> None:
    c = compare_to_best(by_seed(BEST), {2: 0.80, 3: 0.80, 9: 0.99})

    assert c is not None
    assert c.seeds_paired == 2
    assert c.p_value == 1 / 4
    assert c.verdict == TIED
    assert c.too_few_seeds
    assert "2^-2 = 0.25" in c.note
    assert "5 seeds are needed" in c.note
    assert compare_to_best(by_seed(BEST), {7: 0.9}) is None


def test_alpha_decides_the_verdict() -> None:
    worse = by_seed([p - 0.5 for p in BEST])
    assert compare_to_best(by_seed(BEST), worse, alpha=0.05).verdict == WORSE  # type: ignore[union-attr]
    assert compare_to_best(by_seed(BEST), worse, alpha=0.01).verdict == TIED  # type: ignore[union-attr]
    assert min_seeds(0.05) == 5
    assert min_seeds(0.01) == 7
    with pytest.raises(ValueError, match="alpha must be in"):
        compare_to_best(by_seed(BEST), worse, alpha=1.5)


def test_the_bootstrap_interval_is_reproducible() -> None:
    other = by_seed(PAPER_BERT["wsFalse-bs4-e10-lr3e-05"])
    first = compare_to_best(by_seed(BEST), other)
    assert first == compare_to_best(by_seed(BEST), other)
    assert first is not None
    assert first.ci95[0] < first.delta < first.ci95[1]


def test_sign_flip_matches_brute_force() -> None:
    d = [0.3, -0.1, 0.2, 0.05, -0.4, 0.25]
    patterns = list(itertools.product((1, -1), repeat=len(d)))
    hits = sum(sum(s * x for s, x in zip(signs, d, strict=True)) >= sum(d) - 1e-12 for signs in patterns)
    assert sign_flip_p_value(d) == hits / len(patterns)


def test_many_seeds_use_a_reproducible_monte_carlo_sample() -> None:
    d = [0.01] * 25
    p = sign_flip_p_value(d)
    assert p == sign_flip_p_value(d)
    assert 0 < p < 0.001


def test_unpaired_permutation_test_is_exact_for_five_runs_each() -> None:
    best = [0.87, 0.865, 0.872, 0.868, 0.875]
    clearly_worse = [0.84, 0.845, 0.842, 0.838, 0.85]
    c = compare_unpaired(best, clearly_worse)
    assert c.p_value == pytest.approx(1 / comb(10, 5))
    assert c.verdict == WORSE
    assert c.delta == pytest.approx(-0.027)
    assert compare_unpaired(best, best).p_value == pytest.approx(144 / 252)  # splits with sum(first) >= sum(best)
    tied = compare_unpaired([p / 100 for p in BEST], [p / 100 for p in PAPER_BERT["wsFalse-bs4-e10-lr3e-05"]])
    assert tied.verdict == TIED


def test_unpaired_with_one_run_cannot_be_tested() -> None:
    c = compare_unpaired([0.9, 0.91], [0.5])
    assert np.isnan(c.p_value)
    assert c.verdict == TIED
    with pytest.raises(ValueError, match="runs on both sides"):
        compare_unpaired([], [0.5])


def brute_force_expected_max(values: list[float], n: int) -> float:
    """The mean of max over every ordered n-tuple drawn with replacement."""
    tuples = list(itertools.product(values, repeat=n))
    return sum(max(t) for t in tuples) / len(tuples)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_expected_max_matches_brute_force_enumeration(n: int) -> None:
    values = [0.8517, 0.8592, 0.8533, 0.8576, 0.8517]  # a tie included
    assert expected_max(values, n) == pytest.approx(brute_force_expected_max(values, n), abs=1e-12)


def test_expected_best_curve_by_hand() -> None:
    # Two trials: n = 1 is the mean; n = 2 is the max unless both draws are the worse one (1/4).
    assert expected_best_curve([0.8, 0.9]) == pytest.approx([0.85, 0.875])
    assert expected_best_curve([0.8, 0.9], budget=3) == pytest.approx([0.85, 0.875, 0.8875])
    assert expected_best_curve([]) == []
    with pytest.raises(ValueError, match="n must be at least 1"):
        expected_max([0.8], 0)


def test_seeds_needed_grows_as_the_difference_shrinks() -> None:
    spread = 0.75  # about the recipe's BERT seed spread, in points
    needed = [seeds_needed(d, spread) for d in (2.0, 1.0, 0.5, 0.25)]
    assert needed == sorted(needed)
    assert needed[0] == min_seeds()
    assert needed[-1] > 50
    assert seeds_needed(0.001, spread, max_seeds=20) == 21
    with pytest.raises(ValueError, match="must be positive"):
        seeds_needed(0.0, spread)


scores = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(scores, scores), min_size=1, max_size=8), st.floats(min_value=0.001, max_value=0.5))
def test_paired_properties(pairs: list[tuple[float, float]], alpha: float) -> None:
    best = {i: b for i, (b, _) in enumerate(pairs)}
    other = {i: o for i, (_, o) in enumerate(pairs)}
    c = compare_to_best(best, other, alpha=alpha)
    assert c is not None
    assert 2.0 ** -len(pairs) <= c.p_value <= 1
    assert c.ci95[0] - 1e-12 <= c.delta <= c.ci95[1] + 1e-12
    assert (c.verdict == WORSE) == (c.p_value < alpha)
    if c.too_few_seeds:
        assert c.verdict == TIED


@settings(max_examples=60, deadline=None)
@given(st.lists(scores, min_size=1, max_size=12))
def test_expected_best_is_non_decreasing_and_between_min_and_max(values: list[float]) -> None:
    curve = expected_best_curve(values, budget=len(values) + 3)
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(curve))
    assert all(min(values) - 1e-12 <= e <= max(values) + 1e-12 for e in curve)
    assert curve[0] == pytest.approx(sum(values) / len(values))


def test_unpaired_matches_brute_force_and_samples_large_groups_reproducibly() -> None:
    best, other = [0.86, 0.87, 0.85, 0.88], [0.84, 0.86, 0.85]
    pooled = best + other
    splits = list(itertools.combinations(range(len(pooled)), len(best)))
    hits = sum(sum(pooled[i] for i in split) >= sum(best) - 1e-12 for split in splits)
    assert compare_unpaired(best, other).p_value == hits / len(splits)
    many = [0.85 + 0.001 * i for i in range(12)]
    sampled = compare_unpaired(many, [s - 0.01 for s in many])
    assert sampled == compare_unpaired(many, [s - 0.01 for s in many])
    assert 0 < sampled.p_value < 0.1


def test_unpaired_interval_is_reproducible_and_holds_the_difference() -> None:
    best, other = [0.86, 0.87, 0.85, 0.88], [0.84, 0.86, 0.85]
    c = compare_unpaired(best, other)
    assert c == compare_unpaired(best, other)
    assert c.ci95[0] < c.delta < c.ci95[1]
    assert compare_unpaired([0.9, 0.9], [0.8, 0.8]).ci95 == pytest.approx((-0.1, -0.1))


def test_the_docs_seed_table() -> None:
    # docs/statistics.md: the recipe's BERT seed spread (pooled sample std 0.93 points).
    table = {2.0: (5, 8), 1.5: (7, 11), 1.0: (13, 21), 0.75: (21, 34), 0.5: (45, 73), 0.25: (173, 281)}
    for difference, (at_05, at_01) in table.items():
        assert seeds_needed(difference, 0.93) == at_05
        assert seeds_needed(difference, 0.93, alpha=0.01) == at_01
