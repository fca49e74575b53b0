"""Studies: creating one from a spec with its grid queued, and reading them back."""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpsearch.errors import SpecError, StudyNotFoundError
from hpsearch.search import Config, ConfigResult, SampledSpace, StudySpec
from hpsearch.store._record import (
    CONFIG_ATTR,
    FAIL_REASON_ATTR,
    METRIC_NAME,
    PRUNE_REASON_ATTR,
    SPEC_ATTR,
    seed_results_from_attrs,
)

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

_STATE_NAMES = {
    "COMPLETE": "complete",
    "RUNNING": "running",
    "WAITING": "waiting",
    "PRUNED": "pruned",
    "FAIL": "failed",
}


def create_study(
    spec: StudySpec, storage: optuna.storages.BaseStorage, name: str, *, if_exists: str = "fail", queue: bool = True
) -> bool:
    """Create the study with every grid point queued as one WAITING trial (unless ``queue`` is False).

    A sampled space queues ``spec.n_trials`` WAITING trials without params instead: workers only
    claim queued trials, so the budget holds across all of them, and each draws its trial's
    configuration when it claims it (``SampledSpace.suggest``).

    Returns True if the study was created, False if an identical one was resumed.

    Raises:
        SpecError: the name exists (and ``if_exists`` is "fail"), or it holds a different spec.
    """
    import optuna

    if if_exists not in ("fail", "resume"):
        raise SpecError(f"--if-exists must be 'fail' or 'resume', but got {if_exists!r}.")
    try:
        existing = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        existing = None
    if existing is not None:
        if if_exists == "fail":
            raise SpecError(f"study {name!r} exists already; pass --if-exists resume to keep it, or choose --study.")
        if existing.user_attrs.get(SPEC_ATTR) != spec.to_dict():
            raise SpecError(f"study {name!r} exists with a different spec; choose another --study name.")
        return False

    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([METRIC_NAME])
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
        if isinstance(spec.space, SampledSpace):
            waiting = optuna.trial.TrialState.WAITING
            n = spec.n_configs if queue else 0
            study.add_trials([optuna.trial.create_trial(state=waiting) for _ in range(n)])
        else:
            _queue_grid(study, spec, queue)
    except BaseException:
        optuna.delete_study(study_name=name, storage=storage)
        raise
    from hpsearch.dashboard import try_update_study_note

    try_update_study_note(study)  # the dashboard's note: spec and (empty) leaderboard; never raises
    return True


def _queue_grid(study: optuna.Study, spec: StudySpec, queue: bool) -> None:
    import optuna

    distributions = grid_distributions(spec)
    study.add_trials(
        [
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.WAITING,
                params=config.to_params(),
                distributions=distributions,
                user_attrs={CONFIG_ATTR: config.name},
            )
            for config in (spec.space.configs() if queue else ())
        ]
    )


def grid_distributions(spec: StudySpec) -> dict[str, optuna.distributions.BaseDistribution]:
    from optuna.distributions import CategoricalDistribution

    space = spec.space
    values: dict[str, Sequence[Any]] = {
        "learning_rate": space.learning_rates,
        "batch_size": space.batch_sizes,
        "epochs": space.epochs,
        "context_size": space.context_sizes,
        "layers": space.layers,
        "subtoken_pooling": space.subtoken_poolings,
        "use_crf": space.use_crf,
        "warmup_fraction": (0.1,),
        "amp": space.amp,
    }
    return {name: CategoricalDistribution(tuple(choices)) for name, choices in values.items()}


def load_study(storage: optuna.storages.BaseStorage, name: str) -> tuple[optuna.Study, StudySpec]:
    """The study and its spec.

    Raises:
        StudyNotFoundError: no such study, or one not created by hpsearch.
    """
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
        hint = f" Studies here: {', '.join(names)}." if names else " Create it first with hpsearch create."
        raise StudyNotFoundError(f"no study named {name!r} in this storage.{hint}") from None
    data = study.user_attrs.get(SPEC_ATTR)
    if data is None:
        raise StudyNotFoundError(f"study {name!r} was not created by hpsearch (it holds no spec).")
    return study, StudySpec.from_dict(data)


def study_names(storage: optuna.storages.BaseStorage, patterns: Sequence[str] = ("*",)) -> list[str]:
    """Names of the studies matching any of the glob patterns, sorted."""
    import optuna

    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    return sorted(n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns))


def config_of(trial: FrozenTrial) -> Config:
    return Config(**{k: v for k, v in trial.params.items() if k in Config.__dataclass_fields__})


def _name_of(trial: FrozenTrial) -> str:
    """The configuration's name; a sampled study's queued trial has none drawn yet."""
    if "learning_rate" not in trial.params:
        return f"trial-{trial.number} (configuration not drawn yet)"
    return config_of(trial).name


def trial_result(trial: FrozenTrial, spec: StudySpec) -> ConfigResult:
    state = _STATE_NAMES.get(trial.state.name, trial.state.name.lower())
    return ConfigResult(
        name=trial.user_attrs.get(CONFIG_ATTR) or _name_of(trial),
        seeds_planned=spec.seeds,
        runs=tuple(seed_results_from_attrs(trial.user_attrs).values()),
        state=state,
        trial_number=trial.number,
        params=dict(trial.params),
        note=str(trial.user_attrs.get(FAIL_REASON_ATTR, trial.user_attrs.get(PRUNE_REASON_ATTR, ""))),
    )


@dataclass(frozen=True)
class StudyResults:
    """A study's configurations: the latest trial of each (retries replace the trials they retry)."""

    name: str
    spec: StudySpec
    configs: tuple[ConfigResult, ...]
    all_trials: tuple[ConfigResult, ...]

    def count(self, state: str) -> int:
        return sum(1 for c in self.configs if c.state == state)

    @property
    def best(self) -> ConfigResult | None:
        done = [c for c in self.configs if c.is_complete]
        return max(done, key=lambda c: c.dev_mean) if done else None


def study_results(study: optuna.Study, spec: StudySpec) -> StudyResults:
    """One entry per configuration: its latest complete trial, else its latest trial of any state."""
    results = tuple(trial_result(t, spec) for t in study.get_trials(deepcopy=False))
    chosen: dict[str, ConfigResult] = {}
    for result in results:  # in trial-number order, so later trials win
        previous = chosen.get(result.name)
        if previous is None or result.state == "complete" or previous.state != "complete":
            chosen[result.name] = result
    ordered = sorted(chosen.values(), key=lambda c: c.trial_number or 0)
    return StudyResults(name=study.study_name, spec=spec, configs=tuple(ordered), all_trials=results)
