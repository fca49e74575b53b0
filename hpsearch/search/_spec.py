"""The study spec: everything a worker needs to train a study's trials.

One ``StudySpec`` flows from a config file (or CLI options) into the study's user attributes,
and from there to every worker and trainer. It is validated on construction; ``to_dict`` is its
stored form, and ``from_dict`` reads every stored ``spec_version``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpsearch.errors import SpecError
from hpsearch.search._datasets import DEFAULT_DATASET, DatasetRef
from hpsearch.search._pruning import DEFAULT_PRUNER, PRUNERS
from hpsearch.search._space import MAX_GRID_POINTS, SAMPLER_SEED, GridSpace, SampledSpace

if TYPE_CHECKING:
    import optuna

SPEC_VERSION = 1
"""The ``spec_version`` that ``to_dict`` writes; ``from_dict`` reads it and every earlier one."""
RECIPE_SEEDS = (1, 2, 3, 4, 5)
MAX_SEEDS = 100
"""The most seeds a study trains per configuration."""
MAX_SEED = 2**32 - 1
"""The largest seed (NumPy's ``seed`` takes 32 bits)."""
MAX_TRIALS = MAX_GRID_POINTS
"""The most trials a study queues: a sampled space's ``--n-trials`` (a grid: ``MAX_GRID_POINTS``)."""


def check_seeds(seeds: tuple[int, ...]) -> tuple[int, ...]:
    """Return ``seeds`` if they are 1 to ``MAX_SEEDS`` distinct integers in 0..``MAX_SEED``, else raise.

    Raises:
        SpecError: naming what is wrong (and the bound).
    """
    if not seeds:
        raise SpecError(f"no seeds given; the recipe uses seeds {list(RECIPE_SEEDS)}.")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise SpecError(f"seeds must be whole numbers, but got {list(seeds)}.")
    if len(seeds) > MAX_SEEDS:
        raise SpecError(f"a study trains at most {MAX_SEEDS} seeds, but got {len(seeds)}.")
    if len(set(seeds)) != len(seeds):
        raise SpecError(f"seeds must be distinct, but got {list(seeds)}.")
    out_of_range = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if out_of_range:
        raise SpecError(f"seeds must be >= 0 and <= {MAX_SEED}, but got {out_of_range[0]}.")
    return seeds


@dataclass(frozen=True)
class StudySpec:
    """What to train and how to search: model, data, seeds, search space, budget and pruner.

    A grid queues its points; a sampled space queues ``n_trials`` trials whose configurations
    the workers draw (``n_trials`` is its budget), seeded with ``sampler_seed``. ``pruner`` names the
    early-stopping rule (``hpsearch.search._pruning.PRUNERS``); None picks the space kind's default.
    """

    model: str
    label: str
    space: GridSpace | SampledSpace
    datasets: tuple[DatasetRef, ...] = (DEFAULT_DATASET,)
    seeds: tuple[int, ...] = RECIPE_SEEDS
    data_dir: str | None = None
    n_trials: int | None = None
    pruner: str | None = None
    sampler_seed: int = SAMPLER_SEED

    def __post_init__(self) -> None:
        if self.pruner is None:
            object.__setattr__(self, "pruner", DEFAULT_PRUNER[self.space.kind])
        if self.pruner not in PRUNERS:
            raise SpecError(f"unknown pruner {self.pruner!r}; choose one of {', '.join(PRUNERS)}.")
        if isinstance(self.space, SampledSpace):
            if self.n_trials is None or self.n_trials < 1:
                raise SpecError(f"a sampled space needs a trial budget --n-trials >= 1, but got {self.n_trials}.")
            if self.n_trials > MAX_TRIALS:
                raise SpecError(f"--n-trials must be <= {MAX_TRIALS:,}, but got {self.n_trials:,}.")
        elif self.n_trials is not None:
            raise SpecError("--n-trials sets the budget of a sampled space; a grid queues each of its points once.")
        if isinstance(self.sampler_seed, bool) or not isinstance(self.sampler_seed, int):
            raise SpecError(f"--sampler-seed must be a whole number, but got {self.sampler_seed!r}.")
        if not 0 <= self.sampler_seed <= MAX_SEED:
            raise SpecError(f"--sampler-seed must be >= 0 and <= {MAX_SEED}, but got {self.sampler_seed}.")
        if self.sampler_seed != SAMPLER_SEED and not isinstance(self.space, SampledSpace):
            raise SpecError("--sampler-seed seeds a sampled space's draws; a grid queues its points in order.")
        if not self.model:
            raise SpecError("the model is empty; give a preset name, a hub id or a local model folder.")
        if not self.datasets:
            raise SpecError("no dataset given; name at least one, e.g. 'ajmc/en'.")
        if len(set(self.datasets)) != len(self.datasets):
            raise SpecError(f"datasets must be distinct, but got {', '.join(d.key for d in self.datasets)}.")
        check_seeds(self.seeds)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", self.label):
            raise SpecError(f"model label {self.label!r} may hold only letters, digits and . _ + -.")

    @property
    def default_study_name(self) -> str:
        data = "+".join(f"{d.name}-{d.language}" for d in self.datasets)
        return f"{data}-{self.label}"

    @property
    def n_configs(self) -> int:
        """Trials the study queues: the grid's points, or a sampled space's budget."""
        return self.n_trials if isinstance(self.space, SampledSpace) else len(self.space)  # type: ignore[return-value]

    def sampler(self, trial_number: int) -> optuna.samplers.BaseSampler:
        """The sampler that draws trial ``trial_number``'s configuration (a sampled space's only)."""
        assert isinstance(self.space, SampledSpace)
        return self.space.sampler(trial_number, seed=self.sampler_seed)

    def to_dict(self) -> dict[str, Any]:
        """The stored form (JSON-able); keys that older specs lacked are left out at their defaults."""
        extra: dict[str, Any] = {}
        if isinstance(self.space, SampledSpace):
            extra["n_trials"] = self.n_trials
        if self.pruner != "none":
            extra["pruner"] = self.pruner  # specs stored before pruners existed stay equal
        if self.sampler_seed != SAMPLER_SEED:
            extra["sampler_seed"] = self.sampler_seed
        return {
            "spec_version": SPEC_VERSION,
            "model": self.model,
            "label": self.label,
            "datasets": [d.key for d in self.datasets],
            "seeds": list(self.seeds),
            "data_dir": self.data_dir,
            "space": {"kind": self.space.kind, **self.space.to_dict()},
            **extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySpec:
        """The spec of a stored ``to_dict``, of any ``spec_version`` up to ``SPEC_VERSION``.

        Raises:
            SpecError: a newer or unknown ``spec_version``, an unknown space kind, invalid values.
        """
        version = data.get("spec_version", 1)
        reader = _READERS.get(version)
        if reader is None:
            raise SpecError(
                f"stored spec_version {version!r} is not one this hpsearch reads ({', '.join(map(str, _READERS))}); "
                "upgrade hpsearch."
            )
        return reader(data)


def _from_v1(data: Mapping[str, Any]) -> StudySpec:
    space_data = dict(data["space"])
    kind = space_data.pop("kind", "grid")
    space: GridSpace | SampledSpace
    if kind == "grid":
        space = GridSpace.from_dict(space_data)
    elif kind == "sampled":
        space = SampledSpace.from_dict(space_data, where="stored spec")
    else:
        raise SpecError(f"unknown space kind {kind!r} in stored spec.")
    return StudySpec(
        model=data["model"],
        label=data["label"],
        space=space,
        datasets=tuple(DatasetRef.parse(d) for d in data["datasets"]),
        seeds=tuple(data["seeds"]),
        data_dir=data.get("data_dir"),
        n_trials=data.get("n_trials"),
        pruner=data.get("pruner", "none"),
        sampler_seed=data.get("sampler_seed", SAMPLER_SEED),
    )


_READERS: dict[int, Callable[[Mapping[str, Any]], StudySpec]] = {1: _from_v1}
"""One reader per stored ``spec_version``; a new version adds its reader and keeps the old ones."""
