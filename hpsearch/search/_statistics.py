"""Which differences between configurations and models are real: seed statistics and expected-best curves.

A configuration's score is the mean dev F1 of its seeds, and single seeds of the same configuration
spread by about a point. Ranking by the mean alone cannot tell the best from the luckiest, so:

- within a study, each configuration is compared with the best *paired by seed* (the same seed numbers
  trained both): mean difference, a paired-bootstrap 95% interval and an exact one-sided sign-flip
  permutation test (Dror et al. 2018);
- across studies, the best configurations' runs are compared *unpaired* with a permutation test on the
  difference of means (different models share seed numbers, not random streams);
- the expected best mean dev F1 of ``n`` trials drawn from a study's ``N`` finished ones, exactly from the
  order statistics (Dodge et al. 2019), says what a model reaches at a given search budget.

Pure: plain floats in, frozen dataclasses out; no Optuna, no Flair, no storage. Every random draw uses a
fixed seed, so a report printed twice says the same.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05
"""The default significance level of every verdict (``report --alpha``)."""

WORSE = "worse"
TIED = "tied with the best"
BEST = "best"

BOOTSTRAP_RESAMPLES = 10_000
RANDOM_SEED = 0
"""The seed of every random draw here (bootstrap, Monte-Carlo permutations): reports are reproducible."""

_EXACT_SIGN_FLIPS_UP_TO = 20  # 2^20 sign patterns; beyond, a Monte-Carlo sample of them
_EXACT_SPLITS_UP_TO = 50_000  # ways to split the pooled runs of two models
_MONTE_CARLO_RESAMPLES = 2**16
_TOLERANCE = 1e-12  # sums of 0..1 scores that differ by less are equal (floating-point rounding)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), but got {alpha=}.")


def smallest_p_value(n: int) -> float:
    """The smallest p-value an exact one-sided sign-flip test over ``n`` paired seeds can give: ``2^-n``."""
    return 2.0**-n


def too_few_seeds(n: int, alpha: float = ALPHA) -> bool:
    """Whether ``n`` paired seeds can never give ``p < alpha``: then every configuration is "tied"."""
    return smallest_p_value(n) >= alpha


def min_seeds(alpha: float = ALPHA) -> int:
    """The fewest paired seeds whose sign-flip test can reach ``p < alpha`` (5 at 0.05: 1/32 = 0.031)."""
    _check_alpha(alpha)
    n = 1
    while too_few_seeds(n, alpha):
        n += 1
    return n


@dataclass(frozen=True)
class PairedComparison:
    """One configuration against the best, on the seeds both trained; scores are 0..1 floats.

    Attributes:
        delta: Mean of (configuration - best) over the paired seeds; negative when the best is ahead.
        ci95: Paired-bootstrap 95% percentile interval of ``delta``.
        p_value: Exact one-sided sign-flip permutation p-value for "the best is better".
        seeds_paired: How many seeds both trained (incomplete and pruned trials share fewer).
        alpha: The level the verdict uses.
    """

    delta: float
    ci95: tuple[float, float]
    p_value: float
    seeds_paired: int
    alpha: float = ALPHA

    @property
    def verdict(self) -> str:
        """``worse`` when ``p_value < alpha``, else ``tied with the best``."""
        return WORSE if self.p_value < self.alpha else TIED

    @property
    def too_few_seeds(self) -> bool:
        """Whether the paired seeds are too few for any p-value below ``alpha`` (``2^-n >= alpha``)."""
        return too_few_seeds(self.seeds_paired, self.alpha)

    @property
    def note(self) -> str:
        """Empty, or a sentence saying that these seeds cannot separate anything at ``alpha``."""
        if not self.too_few_seeds:
            return ""
        return too_few_seeds_note(self.seeds_paired, self.alpha)


def too_few_seeds_note(n: int, alpha: float = ALPHA) -> str:
    """The sentence reports print when ``n`` paired seeds cannot reach ``p < alpha``."""
    return (
        f"{n} paired seed{'s' if n != 1 else ''} cannot separate anything at alpha={alpha:g}: "
        f"the smallest possible p is 2^-{n} = {smallest_p_value(n):.4g}; "
        f"{min_seeds(alpha)} seeds are needed."
    )


def sign_flip_p_value(differences: Sequence[float]) -> float:
    """Exact one-sided paired permutation p-value that the differences are positive.

    Under the null hypothesis each paired difference is as likely to have either sign; the p-value is
    the share of the ``2^n`` sign patterns whose sum is at least the observed sum (the observed one
    included, so ``p >= 2^-n``). All patterns are enumerated up to 20 pairs; beyond, a fixed-seed
    Monte-Carlo sample of them is used, with the observed pattern counted in (``(k + 1) / (B + 1)``).

    Args:
        differences: ``best - other`` per paired seed.

    Raises:
        ValueError: No differences.
    """
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        raise ValueError("sign_flip_p_value needs at least one paired difference, but got none.")
    observed = d.sum()
    if d.size <= _EXACT_SIGN_FLIPS_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        return float(np.count_nonzero(signs @ d >= observed - _TOLERANCE) / len(signs))
    rng = np.random.default_rng(RANDOM_SEED)
    signs = rng.choice((1.0, -1.0), size=(_MONTE_CARLO_RESAMPLES, d.size))
    hits = np.count_nonzero(signs @ d >= observed - _TOLERANCE)
    return float((hits + 1) / (_MONTE_CARLO_RESAMPLES + 1))


def paired_bootstrap_ci(
    differences: Sequence[float], *, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """Percentile interval of the mean difference, resampling the paired seeds with replacement.

    The random stream is seeded with :data:`RANDOM_SEED`, so the same scores give the same interval.
    """
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        raise ValueError("paired_bootstrap_ci needs at least one paired difference, but got none.")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), but got {level=}.")
    rng = np.random.default_rng(RANDOM_SEED)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def compare_to_best(
    best: Mapping[int, float], other: Mapping[int, float], *, alpha: float = ALPHA
) -> PairedComparison | None:
    """Compare one configuration with the best on the seeds both trained.

    Args:
        best: The best configuration's dev F1 per seed number.
        other: The other configuration's dev F1 per seed number; seeds the best lacks are ignored.
        alpha: The level of the verdict.

    Returns:
        The comparison, or None when the two share no seed.

    Example:
        >>> c = compare_to_best({1: 0.86, 2: 0.87, 3: 0.85}, {1: 0.85, 2: 0.86, 3: 0.84})
        >>> round(c.delta, 4), c.p_value, c.verdict, c.too_few_seeds
        (-0.01, 0.125, 'tied with the best', True)
    """
    _check_alpha(alpha)
    seeds = sorted(set(best) & set(other))
    if not seeds:
        return None
    gaps = [best[s] - other[s] for s in seeds]
    low, high = paired_bootstrap_ci(gaps)
    return PairedComparison(
        delta=-float(np.mean(gaps)),
        ci95=(-high, -low),
        p_value=sign_flip_p_value(gaps),
        seeds_paired=len(seeds),
        alpha=alpha,
    )


@dataclass(frozen=True)
class UnpairedComparison:
    """One model's best configuration against the best model's, unpaired; scores are 0..1 floats.

    Attributes:
        delta: mean(this model's runs) - mean(the best model's runs).
        ci95: Bootstrap 95% percentile interval of ``delta``, each side's runs resampled on their own.
        p_value: One-sided permutation p-value for "the best model is better" (NaN when either side
            has fewer than two runs: nothing to permute).
        runs: This model's runs and the best model's runs.
        alpha: The level the verdict uses.
    """

    delta: float
    ci95: tuple[float, float]
    p_value: float
    runs: tuple[int, int]
    alpha: float = ALPHA

    @property
    def verdict(self) -> str:
        """``worse`` when ``p_value < alpha``, else ``tied with the best`` (also when untestable)."""
        return WORSE if self.p_value < self.alpha else TIED


def unpaired_bootstrap_ci(
    best: Sequence[float], other: Sequence[float], *, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """Percentile interval of mean(other) - mean(best), resampling each side's runs with replacement.

    The random stream is seeded with :data:`RANDOM_SEED`, so the same scores give the same interval.
    """
    a, b = np.asarray(best, dtype=float), np.asarray(other, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError(f"unpaired_bootstrap_ci needs runs on both sides, but got {a.size} and {b.size}.")
    rng = np.random.default_rng(RANDOM_SEED)
    means_a = a[rng.integers(0, a.size, size=(resamples, a.size))].mean(axis=1)
    means_b = b[rng.integers(0, b.size, size=(resamples, b.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means_b - means_a, [tail, 100 - tail])
    return float(low), float(high)


def compare_unpaired(best: Sequence[float], other: Sequence[float], *, alpha: float = ALPHA) -> UnpairedComparison:
    """Permutation test on the difference of means of two independent score samples.

    Under the null hypothesis the pooled runs are exchangeable; the p-value is the share of the ways
    to split them into groups of the two sizes whose difference of means (best - other) is at least
    the observed one. Exact (every split enumerated) up to 50,000 splits (5 + 5 runs give 252), else a
    fixed-seed Monte-Carlo sample of splits with the observed one counted in.

    Args:
        best: The runs (dev F1 per seed) of the best model's best configuration.
        other: The runs of another model's best configuration.
        alpha: The level of the verdict.

    Raises:
        ValueError: Either sample is empty.
    """
    _check_alpha(alpha)
    if not best or not other:
        raise ValueError(f"compare_unpaired needs runs on both sides, but got {len(best)} and {len(other)}.")
    a, b = np.asarray(best, dtype=float), np.asarray(other, dtype=float)
    delta = float(b.mean() - a.mean())
    ci95 = unpaired_bootstrap_ci(a, b)
    runs = (b.size, a.size)
    if a.size < 2 or b.size < 2:
        return UnpairedComparison(delta, ci95, math.nan, runs, alpha)
    pooled = np.concatenate([a, b])
    # With the pooled total fixed, mean(a) - mean(b) grows with sum(a): compare the first group's sums.
    observed = a.sum()
    if math.comb(pooled.size, a.size) <= _EXACT_SPLITS_UP_TO:
        groups = np.array(list(itertools.combinations(range(pooled.size), a.size)))
        sums = pooled[groups].sum(axis=1)
        return UnpairedComparison(delta, ci95, float(np.mean(sums >= observed - _TOLERANCE)), runs, alpha)
    rng = np.random.default_rng(RANDOM_SEED)
    groups = rng.permuted(np.tile(np.arange(pooled.size), (_MONTE_CARLO_RESAMPLES, 1)), axis=1)[:, : a.size]
    hits = np.count_nonzero(pooled[groups].sum(axis=1) >= observed - _TOLERANCE)
    return UnpairedComparison(delta, ci95, float((hits + 1) / (_MONTE_CARLO_RESAMPLES + 1)), runs, alpha)


def expected_max(values: Sequence[float], n: int) -> float:
    """Expected maximum of ``n`` draws *with replacement* from ``values`` (Dodge et al. 2019).

    Exact, from the order statistics: with ``v_(1) <= ... <= v_(N)``,
    ``E[max] = sum_i v_(i) * ((i/N)^n - ((i-1)/N)^n)``, since ``(i/N)^n`` is the chance that all ``n``
    draws fall among the ``i`` smallest. Drawing with replacement is Dodge et al.'s choice; it lets
    ``n`` exceed ``N`` and tends to the best value as ``n`` grows.

    Args:
        values: One score per finished trial (a study's mean dev F1 per configuration).
        n: Trials drawn, at least 1.

    Raises:
        ValueError: No values, or ``n < 1``.

    Example:
        >>> expected_max([0.80, 0.90], 1), expected_max([0.80, 0.90], 2)
        (0.8500000000000001, 0.875)
    """
    if not values:
        raise ValueError("expected_max needs at least one value, but got none.")
    if n < 1:
        raise ValueError(f"n must be at least 1, but got {n=}.")
    v = np.sort(np.asarray(values, dtype=float))
    size = v.size
    below = (np.arange(size + 1) / size) ** n  # P(all n draws among the i smallest), i = 0..N
    return float(np.dot(v, np.diff(below)))


def expected_best_curve(values: Sequence[float], budget: int | None = None) -> list[float]:
    """:func:`expected_max` for ``n = 1 .. budget`` (default: ``len(values)``), non-decreasing in ``n``."""
    if not values:
        return []
    last = len(values) if budget is None else budget
    return [expected_max(values, n) for n in range(1, last + 1)]


def seeds_needed(
    difference: float, seed_std: float, *, alpha: float = ALPHA, power: float = 0.8, max_seeds: int = 1000
) -> int:
    """How many paired seeds a true mean difference needs to come out ``worse`` with probability ``power``.

    The paired differences are taken as normal with standard deviation ``seed_std * sqrt(2)`` (two
    independent seeds' spread; pairing by seed number shares no random stream across
    configurations), and the power is that of the one-sided paired t-test, from the noncentral t
    distribution; the sign-flip test is close to it for such data. The answer is never below
    :func:`min_seeds`, the fewest seeds for which ``p < alpha`` is possible at all.

    Args:
        difference: The true difference of mean dev F1, in the same unit as ``seed_std``; positive.
        seed_std: One configuration's standard deviation across seeds.
        alpha: The level of the test.
        power: The wanted chance of a ``worse`` verdict.
        max_seeds: Give up above this.

    Returns:
        The seeds needed, or ``max_seeds + 1`` when even ``max_seeds`` seeds are not enough.

    Raises:
        ValueError: A non-positive ``difference`` or ``seed_std``, or ``power`` outside (0, 1).
    """
    _check_alpha(alpha)
    if difference <= 0 or seed_std <= 0:
        raise ValueError(f"difference and seed_std must be positive, but got {difference=} and {seed_std=}.")
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), but got {power=}.")
    from scipy import stats  # only here: importing it costs every command a noticeable start-up

    effect = difference / (seed_std * math.sqrt(2))
    for n in range(max(2, min_seeds(alpha)), max_seeds + 1):
        critical = stats.t.ppf(1 - alpha, df=n - 1)
        if stats.nct.sf(critical, df=n - 1, nc=effect * math.sqrt(n)) >= power:
            return n
    return max_seeds + 1
