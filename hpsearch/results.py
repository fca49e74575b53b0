"""What a run and a trial measured, and how it is kept on an Optuna trial.

Per-seed results live in the trial's user attributes under ``seed:<n>`` (one JSON-able dict
each), written as soon as the seed finishes, so that a retried trial inherits them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

SEED_ATTR_PREFIX = "seed:"


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

    def to_attr(self) -> dict[str, Any]:
        data = asdict(self)
        data["dev_curve"] = list(self.dev_curve)
        data["dev_f1"] = self.dev_f1
        return data

    @classmethod
    def from_attr(cls, data: Mapping[str, Any]) -> SeedResult:
        return cls(
            seed=int(data["seed"]),
            dev_curve=tuple(float(v) for v in data["dev_curve"]),
            test_f1=None if data.get("test_f1") is None else float(data["test_f1"]),
            wall_time_s=float(data.get("wall_time_s", 0.0)),
            device=str(data.get("device", "")),
            mini_batch_chunk_size=data.get("mini_batch_chunk_size"),
            complete=bool(data.get("complete", True)),
        )


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


def seed_results_from_attrs(user_attrs: Mapping[str, Any]) -> dict[int, SeedResult]:
    """The finished (or pruned) seed runs stored on a trial, by seed."""
    out: dict[int, SeedResult] = {}
    for key, value in user_attrs.items():
        if key.startswith(SEED_ATTR_PREFIX):
            result = SeedResult.from_attr(value)
            out[result.seed] = result
    return dict(sorted(out.items()))


def seed_attr_key(seed: int) -> str:
    return f"{SEED_ATTR_PREFIX}{seed}"
