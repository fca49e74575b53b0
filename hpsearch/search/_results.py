"""What a run and a trial measured: one seed's run, and one configuration with the runs of its seeds.

How they are stored on an Optuna trial is ``hpsearch.store``'s business (its record module).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def population_std(values: Sequence[float]) -> float:
    """Standard deviation with ddof=0, as the recipe's "±" uses."""
    if not values:
        return math.nan
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


@dataclass(frozen=True)
class SeedResult:
    """One training run: one configuration, one seed."""

    seed: int
    dev_curve: tuple[float, ...]
    test_f1: float | None = None
    wall_time_s: float = 0.0
    device: str = ""
    mini_batch_chunk_size: int | None = None
    complete: bool = True

    @property
    def dev_f1(self) -> float:
        """Best-epoch dev micro-F1: the maximum over epochs."""
        return max(self.dev_curve) if self.dev_curve else math.nan

    @property
    def epochs_done(self) -> int:
        return len(self.dev_curve)


@dataclass(frozen=True)
class SeedProgress:
    """How far a running seed has trained: its epochs done and the seconds they took (since the run began)."""

    seed: int
    epochs_done: int
    seconds: float


@dataclass(frozen=True)
class ConfigResult:
    """One configuration with the runs of its seeds, from a trial or from old run folders.

    ``state`` is ``complete``, ``running``, ``waiting``, ``pruned`` or ``failed``.
    """

    name: str
    seeds_planned: tuple[int, ...]
    runs: tuple[SeedResult, ...]
    state: str = "complete"
    trial_number: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""
    progress: SeedProgress | None = None
    """A running trial's seed in training, as its worker last stored it (at most once a minute)."""

    @property
    def finished_runs(self) -> tuple[SeedResult, ...]:
        return tuple(sorted((r for r in self.runs if r.complete), key=lambda r: r.seed))

    @property
    def is_complete(self) -> bool:
        done = {r.seed for r in self.finished_runs}
        return self.state == "complete" and set(self.seeds_planned) <= done

    @property
    def dev_scores(self) -> list[float]:
        return [r.dev_f1 for r in self.finished_runs]

    @property
    def test_scores(self) -> list[float]:
        return [r.test_f1 for r in self.finished_runs if r.test_f1 is not None]

    @property
    def dev_mean(self) -> float:
        return mean(self.dev_scores)

    @property
    def dev_std(self) -> float:
        return population_std(self.dev_scores)

    @property
    def test_mean(self) -> float:
        return mean(self.test_scores)

    @property
    def test_std(self) -> float:
        return population_std(self.test_scores)

    @property
    def epochs_trained(self) -> int:
        return sum(r.epochs_done for r in self.runs)

    @property
    def wall_time_s(self) -> float:
        return sum(r.wall_time_s for r in self.runs)
