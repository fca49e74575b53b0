"""Only the dimensions that vary are a new study's Optuna params; the constants live in its spec (issue 14, item 8)."""

from __future__ import annotations

import optuna
import pytest

from hpsearch.search import Config, GridSpace, Range, SampledSpace, StudySpec
from hpsearch.store import (
    config_of,
    create_study,
    extend_study,
    load_study,
    open_storage,
    study_results,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

GRID = GridSpace(learning_rates=(3e-5, 5e-5), batch_sizes=(8,), epochs=(3,))  # epochs=3 differs from the recipe


def _grid_spec(space: GridSpace = GRID) -> StudySpec:
    return StudySpec(model="org/m", label="m", space=space, seeds=(1, 2))


def test_a_new_grid_study_stores_only_the_varying_dimensions_as_params(storage_url: str) -> None:
    storage = open_storage(storage_url)
    create_study(_grid_spec(), storage, "g")
    study, spec = load_study(storage, "g")
    trials = study.get_trials(deepcopy=False)
    assert [set(t.params) for t in trials] == [{"learning_rate"}] * 2
    assert [set(t.distributions) for t in trials] == [{"learning_rate"}] * 2
    assert [config_of(t, spec) for t in trials] == list(GRID.configs())
    assert all(config_of(t, spec).epochs == 3 for t in trials)  # the spec's constant, not the recipe's 10
    configs = study_results(study, spec).configs
    assert [c.name for c in configs] == [c.name for c in GRID.configs()]
    assert all(c.params == config_of(t, spec).to_params() for c, t in zip(configs, trials, strict=True))


def test_a_one_point_grid_has_no_params_and_keeps_its_configuration(sqlite_url: str) -> None:
    space = GridSpace(learning_rates=(3e-5,), batch_sizes=(16,), epochs=(2,))
    storage = open_storage(sqlite_url)
    create_study(_grid_spec(space), storage, "one")
    study, spec = load_study(storage, "one")
    (trial,) = study.get_trials(deepcopy=False)
    assert trial.params == {}
    assert config_of(trial, spec) == Config(learning_rate=3e-5, batch_size=16, epochs=2)
    assert study_results(study, spec).configs[0].params["batch_size"] == 16


def test_a_sampled_trial_suggests_only_the_searched_dimensions() -> None:
    space = SampledSpace({"learning_rate": Range(1e-5, 1e-4, log=True), "batch_size": (8,), "epochs": (3,)})
    assert space.searched == ("learning_rate",)
    assert space.constants["epochs"] == 3 and "learning_rate" not in space.constants
    study = optuna.create_study(sampler=space.sampler(0))
    trial = study.ask()
    config = space.suggest(trial)
    assert set(trial.params) == {"learning_rate"} and set(space.distributions()) == {"learning_rate"}
    assert (config.batch_size, config.epochs) == (8, 3)
    assert space.params(config) == {"learning_rate": float(f"{trial.params['learning_rate']:.3g}")}


def test_extending_a_constant_into_a_grid_makes_it_a_param_of_every_trial(sqlite_url: str) -> None:
    storage = open_storage(sqlite_url)
    before = GridSpace(learning_rates=(3e-5,), batch_sizes=(8,))
    create_study(_grid_spec(before), storage, "x")
    extend_study(storage, "x", _grid_spec(GridSpace(learning_rates=(3e-5, 5e-5), batch_sizes=(8,))))
    study, spec = load_study(storage, "x")
    trials = study.get_trials(deepcopy=False)
    assert [t.params for t in trials] == [{"learning_rate": 3e-5}, {"learning_rate": 5e-5}]
    assert [config_of(t, spec).name for t in trials] == [c.name for c in spec.space.configs()]


@pytest.mark.parametrize("kind", ["grid", "sampled"])
def test_constants_are_kept_in_the_spec(kind: str) -> None:
    space = (
        GRID if kind == "grid" else SampledSpace({"learning_rate": (3e-5, 5e-5), "batch_size": (8,), "epochs": (3,)})
    )
    spec = StudySpec(model="org/m", label="m", space=space, seeds=(1,), n_trials=2 if kind == "sampled" else None)
    again = StudySpec.from_dict(spec.to_dict())
    assert again.space.constants == space.constants and again.space.constants["epochs"] == 3
