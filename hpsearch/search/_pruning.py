"""Seed-aware early stopping: pure rules over dev F1 curves, and the names ``--pruner`` takes.

A trial trains one configuration with every seed of the spec, one after another, and each run
reports its dev F1 after every epoch. Seeds are paired across trials: seed 3 of one configuration
meets seed 3 of another (same data order and initialisation of everything the configuration does
not change). A rule sees:

- ``finished``: the study's other trials as ``TrialCurves``: complete ones (every seed trained; the
  best of them is the reference), and the finished seeds of pruned and running ones
  (``complete=False``), which only show how runs climb;
- ``done``: the current trial's finished seeds, seed -> dev curve;
- and, inside a run, the running seed and its curve so far.

It answers ``None`` (go on) or the reason to stop, one line. The worker's glue lives in
``hpsearch.worker._trial`` (it raises ``RunPruned`` from the epoch hook and stops the trial between
seeds); ``benchmarks/replay.py`` replays recorded curves through the same functions.

Rules (``make_pruner(name)``):

- ``none``: never stops.
- ``wilcoxon``: Optuna's ``WilcoxonPruner`` (p < 0.1, at least 2 seeds) between seeds, on each
  seed's best-epoch dev F1 against the best trial's; with 5 seeds it can first stop after the 4th.
- ``paired``: compares the running seed, epoch by epoch, with the best trial's same seed at the
  same epoch (see ``PairedPruner``), and the finished seeds between seeds.

Scores are Flair's dev micro-F1 on a 0-1 scale; a trial's score is the mean over its seeds of each
seed's best epoch, as ``hpsearch.worker._trial`` scores it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from hpsearch.errors import SpecError

Curve = tuple[float, ...]
"""A run's dev F1 after each epoch (epoch 1 first)."""

DEFAULT_PRUNER = {"grid": "none", "sampled": "rungs"}
"""The pruner a study gets without ``--pruner``, by space kind (``rungs`` measured best: docs/search-spaces.md)."""


def best_so_far(curve: Sequence[float], epoch: int) -> float:
    """The run's best dev F1 up to ``epoch`` (1-based); the objective keeps a run's best epoch."""
    head = curve[: max(1, epoch)]
    return max(head) if head else math.nan


@dataclass(frozen=True)
class TrialCurves:
    """A complete trial: the dev curve of each seed. ``number`` names it in reasons."""

    runs: Mapping[int, Curve]
    number: int | None = None
    complete: bool = True
    """False for a pruned trial: its finished seeds are evidence of how runs climb, but it is never the reference."""

    @property
    def score(self) -> float:
        """Mean over seeds of each seed's best epoch (the trial's objective value)."""
        return sum(max(c) for c in self.runs.values()) / len(self.runs) if self.runs else math.nan

    @property
    def label(self) -> str:
        return f"trial {self.number}" if self.number is not None else "the best trial"


def reference(finished: Sequence[TrialCurves]) -> TrialCurves | None:
    """The best complete trial (highest score), or None before any trial finished."""
    scored = [t for t in finished if t.runs and t.complete]
    return max(scored, key=lambda t: t.score) if scored else None


class SeedPruner(ABC):
    """Decides, from curves alone, whether a run or a trial should stop. Stateless: safe across workers.

    ``stop_run`` is asked after each epoch of a run but the last; ``stop_trial`` after each
    seed but the last. Neither may stop the trial that becomes the study's best by its score,
    as far as the noise measured so far allows to tell.
    """

    name: str = ""

    def stop_run(
        self, finished: Sequence[TrialCurves], done: Mapping[int, Curve], seed: int, curve: Curve
    ) -> str | None:
        """Whether to stop the running seed (and so the trial) after epoch ``len(curve)``; the reason, or None."""
        return None

    @abstractmethod
    def stop_trial(self, finished: Sequence[TrialCurves], done: Mapping[int, Curve]) -> str | None:
        """Whether to stop the trial after the seeds in ``done``; the reason, or None."""


class NoPruner(SeedPruner):
    """Never stops anything."""

    name = "none"

    def stop_trial(self, finished: Sequence[TrialCurves], done: Mapping[int, Curve]) -> str | None:
        return None


class WilcoxonPruner(SeedPruner):
    """Optuna's ``WilcoxonPruner`` on seeds, as pure logic (tests/test_pruning.py checks that they agree).

    The steps are the seeds; the values each seed's best-epoch dev F1. The trial is stopped when a
    one-sided Wilcoxon signed-rank test on its paired differences to the best trial says it is worse
    at ``p < p_threshold``, after at least ``max(2, n_startup_steps)`` seeds, unless its mean so far
    is not below the best trial's.
    """

    name = "wilcoxon"

    def __init__(self, *, p_threshold: float = 0.1, n_startup_steps: int = 2) -> None:
        if not 0 < p_threshold <= 1:
            raise ValueError(f"p_threshold must be in (0, 1], but got {p_threshold=}.")
        if n_startup_steps < 0:
            raise ValueError(f"n_startup_steps must be >= 0, but got {n_startup_steps=}.")
        self.p_threshold = p_threshold
        self.n_startup_steps = n_startup_steps

    def stop_trial(self, finished: Sequence[TrialCurves], done: Mapping[int, Curve]) -> str | None:
        from scipy import stats

        best = reference(finished)
        if best is None or not done:
            return None
        seeds = [s for s in done if s in best.runs]
        if len(seeds) < max(2, self.n_startup_steps):
            return None
        mine = [max(done[s]) for s in seeds]
        theirs = [max(best.runs[s]) for s in seeds]
        diffs = [a - b for a, b in zip(mine, theirs, strict=True)]
        if sum(max(c) for c in best.runs.values()) / len(best.runs) <= sum(mine) / len(mine):
            return None  # Optuna's safety: a mean at least as good as the best trial's is never pruned
        p = float(stats.wilcoxon(diffs, alternative="less", zero_method="zsplit").pvalue)
        if p < self.p_threshold:
            return (
                f"wilcoxon: seeds {', '.join(map(str, seeds))} trail {best.label} by "
                f"{-100 * sum(diffs) / len(diffs):.2f} F1 on average (p={p:.3f} < {self.p_threshold})"
            )
        return None


class PairedPruner(SeedPruner):
    """Stops a trial whose paired deficit to the best trial is larger than the noise seen so far.

    For each seed ``s`` the trial has trained, its *gap* is the best trial's best dev F1 on seed
    ``s`` minus its own. For the running seed at epoch ``e`` it is the difference of the two runs'
    best-so-far at epoch ``e``, less a *catch-up allowance*: the most that any finished run has
    made up on the best trial's same seed after epoch ``e`` among the finished runs that were at
    least as far behind it at epoch ``e``. Until ``min_pairs`` such runs are known, the *gain
    bound* stands in (``gain_bound``): the run is taken to end at its best so far plus the most
    that any finished run as low at epoch ``e`` added afterwards, counted once ``min_pairs`` of
    those did add something; without either, the run goes on. Finished runs include the finished
    seeds of pruned and running trials. With ``k`` seeds seen, the trial stops if the mean gap
    exceeds ``t * noise / sqrt(k)``, where ``noise`` is the spread (sample standard deviation) of
    complete trials' per-seed gaps to the best trial, pooled, or ``sqrt(2)`` times the best trial's
    seed spread while only it has finished (at least ``min_noise``), and ``t`` is the Student-t
    quantile of the normal one for ``z`` (``z_run`` inside a run) at the noise's degrees of
    freedom: few finished seeds measure the noise loosely, so the limit is wider.

    Args:
        z: How many noise units of deficit stop a trial between seeds (as a normal quantile); larger
            is safer and saves less.
        z_run: The same inside a run, where the catch-up allowance already covers what later epochs may change.
        min_noise: A floor for the noise (F1 on a 0-1 scale), so that lucky agreement does not prune.
        min_pairs: Finished runs seen behind the best trial's same seed at an epoch before a run is
            stopped at that epoch.
        min_epoch: No run is stopped before this epoch.
        gain_bound: Use the gain bound where no finished run was as far behind.
    """

    name = "paired"

    def __init__(
        self,
        *,
        z: float = 2.0,
        z_run: float = 1.0,
        min_noise: float = 0.005,
        min_pairs: int = 3,
        min_epoch: int = 1,
        gain_bound: bool = True,
    ) -> None:
        if z <= 0 or z_run <= 0:
            raise ValueError(f"z and z_run must be > 0, but got {z=}, {z_run=}.")
        if min_noise <= 0:
            raise ValueError(f"min_noise must be > 0, but got {min_noise=}.")
        if min_pairs < 1 or min_epoch < 1:
            raise ValueError(f"min_pairs and min_epoch must be >= 1, but got {min_pairs=}, {min_epoch=}.")
        self.z = z
        self.z_run = z_run
        self.min_noise = min_noise
        self.min_pairs = min_pairs
        self.min_epoch = min_epoch
        self.gain_bound = gain_bound

    def noise(self, finished: Sequence[TrialCurves]) -> tuple[float, int]:
        """The spread of finished trials' per-seed gaps to the best one (0-1 scale), and its degrees of freedom."""
        best = reference(finished)
        if best is None:
            return math.inf, 0
        variances: list[tuple[float, int]] = []
        for other in finished:
            if other is best or not other.complete:  # a pruned trial's seeds are its worst-looking ones
                continue
            gaps = [max(best.runs[s]) - max(c) for s, c in other.runs.items() if s in best.runs]
            if len(gaps) >= 2:
                variances.append((_sample_variance(gaps), len(gaps) - 1))
        if not variances and len(best.runs) >= 2:
            scores = [max(c) for c in best.runs.values()]
            variances.append((2 * _sample_variance(scores), len(scores) - 1))
        if not variances:
            return math.inf, 0
        df = sum(d for _, d in variances)
        spread = math.sqrt(sum(v * d for v, d in variances) / df)
        return max(spread, self.min_noise), df

    def limit(self, noise: float, df: int, k: int, z: float) -> float:
        """How far behind a trial with ``k`` seeds may be: ``z`` noise units (a t-quantile for ``df``) / sqrt(k)."""
        from scipy import stats

        quantile = float(stats.t.ppf(stats.norm.cdf(z), df))
        return quantile * noise / math.sqrt(k)

    def catch_up(self, finished: Sequence[TrialCurves], epoch: int, gap: float = 0.0) -> float:
        """The most a run ``gap`` or more behind the best trial's same seed at ``epoch`` has been seen to make up.

        Infinite (no run is stopped) until ``min_pairs`` finished runs were seen that far behind at
        ``epoch``: without them nothing is known about how far behind a run may be and still catch up.
        """
        best = reference(finished)
        if best is None:
            return math.inf
        recoveries = []  # of the finished runs at least ``gap`` behind at ``epoch``: how much they made up
        for other in finished:
            if other is best:
                continue
            for s, c in other.runs.items():
                if s not in best.runs:
                    continue
                behind_then = best_so_far(best.runs[s], epoch) - best_so_far(c, epoch)
                if behind_then > 0 and behind_then >= gap:
                    recoveries.append(behind_then - (max(best.runs[s]) - max(c)))
        if len(recoveries) < self.min_pairs:
            return math.inf
        return max(0.0, *recoveries)

    def largest_gain(self, finished: Sequence[TrialCurves], epoch: int, level: float) -> float:
        """The most that a finished run at or below ``level`` at ``epoch`` has added to its best dev F1 afterwards.

        Infinite until ``min_pairs`` such runs were seen that did gain afterwards: runs that never learned
        tell nothing about how far a run that low can still climb.
        """
        gains = [
            max(c) - best_so_far(c, epoch)
            for t in finished
            for c in t.runs.values()
            if len(c) > epoch and best_so_far(c, epoch) <= level
        ]
        return max(gains) if sum(g > 0 for g in gains) >= self.min_pairs else math.inf

    def stop_run(
        self, finished: Sequence[TrialCurves], done: Mapping[int, Curve], seed: int, curve: Curve
    ) -> str | None:
        epoch = len(curve)
        best = reference(finished)
        if best is None or epoch < self.min_epoch or seed not in best.runs:
            return None
        gap_now = best_so_far(best.runs[seed], epoch) - best_so_far(curve, epoch)
        allowance = self.catch_up(finished, epoch, gap_now)
        if self.gain_bound and not math.isfinite(allowance):
            # No finished run was this far behind: the run is taken to reach at most its best so far plus
            # the most that any finished run as low at this epoch (the best trial's included) added afterwards.
            level = best_so_far(curve, epoch)
            final_gap = max(best.runs[seed]) - level - self.largest_gain(finished, epoch, level)
            allowance = max(0.0, gap_now - final_gap)
        if not math.isfinite(allowance):
            return None
        return self._decide(finished, best, done, gap_now - allowance, f"seed {seed} epoch {epoch}", allowance)

    def stop_trial(self, finished: Sequence[TrialCurves], done: Mapping[int, Curve]) -> str | None:
        best = reference(finished)
        if best is None:
            return None
        return self._decide(finished, best, done, None, f"after seeds {', '.join(map(str, done))}", 0.0)

    def _decide(
        self,
        finished: Sequence[TrialCurves],
        best: TrialCurves,
        done: Mapping[int, Curve],
        running_gap: float | None,
        where: str,
        allowance: float,
    ) -> str | None:
        gaps = [max(best.runs[s]) - max(c) for s, c in done.items() if s in best.runs]
        if running_gap is not None:
            gaps.append(running_gap)
        if not gaps:
            return None
        noise, df = self.noise(finished)
        if not math.isfinite(noise):
            return None
        mean_gap = sum(gaps) / len(gaps)
        z = self.z if running_gap is None else self.z_run
        limit = self.limit(noise, df, len(gaps), z)
        if mean_gap > limit:
            extra = f", after a catch-up allowance of {100 * allowance:.2f}" if running_gap is not None else ""
            return (
                f"paired: {where}: trails {best.label} by {100 * mean_gap:.2f} F1 over {len(gaps)} seed(s){extra} "
                f"(limit {100 * limit:.2f}: noise {100 * noise:.2f} with {df} degrees of freedom, z={z:g})"
            )
        return None


class RungsPruner(PairedPruner):
    """The ``paired`` rule, with the queue ordered in seed-major rungs (``hpsearch.search._rungs``).

    A trial pauses at a rung unless it ranks in the top ``1/eta`` there; the paired rule still stops
    runs and trials as it does alone. With ``tie_check``, once nothing new is left, a paused trial
    with finished seeds is stopped only if the paired rule tells it is worse than the best trial on
    them; otherwise it goes on, so near-ties train every seed.
    """

    name = "rungs"

    def __init__(
        self, *, first_epochs: int = 2, eta: int = 4, tie_check: bool = True, **paired: float | int | bool
    ) -> None:
        super().__init__(**paired)  # type: ignore[arg-type]
        self.first_epochs = first_epochs
        self.eta = eta
        self.tie_check = tie_check


class PrunerEntry(NamedTuple):
    """A rule ``--pruner`` can name: how to make it, and one line of help."""

    factory: Callable[[], SeedPruner]
    help: str


PRUNERS: Mapping[str, PrunerEntry] = {
    NoPruner.name: PrunerEntry(NoPruner, "never stops a trial early"),
    WilcoxonPruner.name: PrunerEntry(WilcoxonPruner, "a Wilcoxon test on seeds against the best trial, between seeds"),
    PairedPruner.name: PrunerEntry(PairedPruner, "each seed against the best trial's same seed, epoch by epoch"),
    RungsPruner.name: PrunerEntry(
        RungsPruner,
        "paired, with the work in seed-major rungs: every configuration's first seed to epoch 2 first, "
        "then the top quarter goes on to more epochs and seeds (ASHA-like)",
    ),
}
"""Every rule ``--pruner`` takes, by name; the spec's check and the CLI's choices and help derive from it."""


def make_pruner(name: str) -> SeedPruner:
    """The rule ``--pruner NAME`` names.

    Raises:
        SpecError: an unknown name.
    """
    if name not in PRUNERS:
        raise SpecError(f"unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}.")
    return PRUNERS[name].factory()


def _sample_variance(values: Sequence[float]) -> float:
    m = sum(values) / len(values)
    return sum((v - m) ** 2 for v in values) / (len(values) - 1)
