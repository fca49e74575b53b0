"""Studies: creating one from a spec with its grid queued, and reading them back."""

from __future__ import annotations

import fnmatch
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpsearch.errors import SpecError, StudyNotFoundError
from hpsearch.search import Config, ConfigResult, SampledSpace, StudySpec, parse_config_name
from hpsearch.store._record import (
    CONFIG_ATTR,
    CREATION_ATTR,
    FAIL_REASON_ATTR,
    METRIC_NAME,
    PAUSED_ATTR,
    PROGRESS_ATTR,
    PRUNE_REASON_ATTR,
    SPEC_ATTR,
    decode_progress,
    seed_results_from_attrs,
    worker_location,
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

    Safe across processes: of concurrent creates of one name, one creates the study and the others
    find it exists. The study records how many trials it queues, marked unfinished until the last is
    queued (``CREATION_ATTR``); a create killed midway leaves that mark, and resuming it queues
    what is missing. An error before that (not a kill) deletes the study again.

    Returns True if the study was created, False if an identical one was resumed. The caller writes
    the dashboard's note (``hpsearch.dashboard.try_update_study_note``): the store does not know it.

    Raises:
        SpecError: the name exists (and ``if_exists`` is "fail"), or it holds a different spec.
    """
    import optuna

    if if_exists not in ("fail", "resume"):
        raise SpecError(f"--if-exists must be 'fail' or 'resume', but got {if_exists!r}.")
    try:
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    except optuna.exceptions.DuplicatedStudyError:
        _resume(spec, storage, name, if_exists)
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([METRIC_NAME])
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
        n = spec.n_configs if queue else 0
        study.set_user_attr(CREATION_ATTR, {"n_queued": n, "finished": False})
        _queue_missing(study, spec, n)
        study.set_user_attr(CREATION_ATTR, {"n_queued": n, "finished": True})
    except BaseException:
        optuna.delete_study(study_name=name, storage=storage)
        raise
    return True


def _resume(spec: StudySpec, storage: optuna.storages.BaseStorage, name: str, if_exists: str) -> None:
    """The study exists: refuse it, or resume it, finishing the queueing of a create that stopped midway."""
    import optuna

    if if_exists == "fail":
        raise SpecError(f"study {name!r} exists already; pass --if-exists resume to keep it, or choose --study.")
    study = optuna.load_study(study_name=name, storage=storage)
    stored = _wait_for_spec(storage, name)
    if stored != spec.to_dict():
        raise SpecError(f"study {name!r} exists with a different spec; choose another --study name.")
    creation = _creation(study)
    if creation is not None and not creation.get("finished", True):
        study = _wait_while_queueing(storage, name)
        creation = _creation(study)
        if creation is not None and not creation.get("finished", True):
            _queue_missing(study, spec, int(creation["n_queued"]))
            study.set_user_attr(CREATION_ATTR, {**creation, "finished": True})


QUEUE_BATCH = 500
"""Trials queued per call while creating: a create killed midway leaves whole batches."""

QUEUEING_QUIET_S = 5.0
"""A create whose trial count has not grown for this long is taken for dead, and resuming it finishes it."""


def _queue_missing(study: optuna.Study, spec: StudySpec, n_queued: int) -> None:
    """Queue what a create of ``n_queued`` trials has not queued yet: grid points by name, sampled trials by count."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    if isinstance(spec.space, SampledSpace):
        waiting = optuna.trial.TrialState.WAITING
        new = [optuna.trial.create_trial(state=waiting) for _ in range(n_queued - len(trials))]
    else:
        have = {t.user_attrs.get(CONFIG_ATTR) for t in trials}
        distributions = grid_distributions(spec)
        configs = list(spec.space.configs())[:n_queued]
        new = [
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.WAITING,
                params=spec.space.params(config),
                distributions=distributions,
                user_attrs={CONFIG_ATTR: config.name},
            )
            for config in configs
            if config.name not in have
        ]
    for start in range(0, len(new), QUEUE_BATCH):
        study.add_trials(new[start : start + QUEUE_BATCH])


def _creation(study: optuna.Study) -> dict[str, Any] | None:
    value = study.user_attrs.get(CREATION_ATTR)
    return value if isinstance(value, dict) else None


def _wait_for_spec(storage: optuna.storages.BaseStorage, name: str) -> object:
    """The stored spec; a study created a moment ago by another process gets a few seconds to store it."""
    import optuna

    deadline = time.monotonic() + QUEUEING_QUIET_S
    while True:
        stored = optuna.load_study(study_name=name, storage=storage).user_attrs.get(SPEC_ATTR)
        if stored is not None or time.monotonic() > deadline:
            return stored
        time.sleep(0.2)


def _wait_while_queueing(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """Wait while another create may still be queueing: until its mark is cleared or the count stops growing."""
    import optuna

    count, quiet_since = -1, time.monotonic()
    while True:
        study = optuna.load_study(study_name=name, storage=storage)
        creation = _creation(study)
        if creation is None or creation.get("finished", True) or time.monotonic() - quiet_since > QUEUEING_QUIET_S:
            return study
        now = len(study.get_trials(deepcopy=False))
        if now != count:
            count, quiet_since = now, time.monotonic()
        time.sleep(0.5)


def unfinished_creation(study: optuna.Study) -> int | None:
    """How many trials a create that stopped midway meant to queue; None for a study whose create finished."""
    creation = _creation(study)
    if creation is None or creation.get("finished", True):
        return None
    return int(creation.get("n_queued", 0))


def queued_count(study: optuna.Study) -> int:
    """How many of the study's trials are queued (WAITING) now: what ``create`` and ``status`` report."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def grid_distributions(spec: StudySpec) -> dict[str, optuna.distributions.BaseDistribution]:
    """The distributions stored with a grid's queued (and imported) trials: each dimension's grid values."""
    return spec.space.distributions()


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


def resolve_studies(storage: optuna.storages.BaseStorage, patterns: Sequence[str]) -> list[str]:
    """Study names for names or glob patterns, in the order given.

    Raises:
        StudyNotFoundError: a pattern matches no study, or a plain name names none.
    """
    names: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matched = study_names(storage, [pattern])
            if not matched:
                raise StudyNotFoundError(f"no study matches {pattern!r}; see hpsearch status.")
        else:
            load_study(storage, pattern)
            matched = [pattern]
        names += [n for n in matched if n not in names]
    return names


def config_of(trial: FrozenTrial, spec: StudySpec) -> Config:
    """The trial's configuration: its params and the spec's constants (studies since 0.2 store only
    the searched dimensions as params; older ones all of them). A dimension given by neither (added
    since) keeps the recipe's value; one searched only since the study was extended is read from the
    configuration's name.
    """
    name = trial.user_attrs.get(CONFIG_ATTR)
    if name and any(n not in trial.params for n in spec.space.searched):
        return parse_config_name(name)
    return Config.from_params({**spec.space.constants, **trial.params})


def _drawn(trial: FrozenTrial, spec: StudySpec) -> bool:
    """Whether the trial has its configuration; a sampled study's queued trial has none drawn yet."""
    return bool(trial.user_attrs.get(CONFIG_ATTR)) or all(n in trial.params for n in spec.space.searched)


def _name_of(trial: FrozenTrial, spec: StudySpec) -> str:
    if not _drawn(trial, spec):
        return f"trial-{trial.number} (configuration not drawn yet)"
    return config_of(trial, spec).name


def trial_result(trial: FrozenTrial, spec: StudySpec) -> ConfigResult:
    state = _STATE_NAMES.get(trial.state.name, trial.state.name.lower())
    return ConfigResult(
        name=trial.user_attrs.get(CONFIG_ATTR) or _name_of(trial, spec),
        seeds_planned=spec.seeds,
        runs=tuple(seed_results_from_attrs(trial.user_attrs).values()),
        state=state,
        trial_number=trial.number,
        params=config_of(trial, spec).to_params() if _drawn(trial, spec) else dict(trial.params),
        note=str(trial.user_attrs.get(FAIL_REASON_ATTR, trial.user_attrs.get(PRUNE_REASON_ATTR, "")))
        or (worker_location(trial.user_attrs) if state == "running" else "")  # where it runs
        or (str(trial.user_attrs.get(PAUSED_ATTR) or "") if state == "waiting" else ""),  # why it waits at a rung
        progress=decode_progress(trial.user_attrs.get(PROGRESS_ATTR)) if state == "running" else None,
    )


@dataclass(frozen=True)
class StudyResults:
    """A study's configurations: the latest trial of each (retries replace the trials they retry)."""

    name: str
    spec: StudySpec
    configs: tuple[ConfigResult, ...]
    all_trials: tuple[ConfigResult, ...]
    unfinished_create: int | None = None
    """How many trials a create that stopped midway meant to queue (``create --if-exists resume`` finishes it)."""

    def count(self, state: str) -> int:
        return sum(1 for c in self.configs if c.state == state)

    @property
    def best(self) -> ConfigResult | None:
        done = [c for c in self.configs if c.is_complete]
        return max(done, key=lambda c: c.dev_mean) if done else None


def study_results(study: optuna.Study, spec: StudySpec) -> StudyResults:
    """One entry per configuration: its latest complete trial, else its latest trial of any state."""
    results = tuple(trial_result(t, spec) for t in study.get_trials(deepcopy=False))
    return _by_config(study.study_name, spec, results, unfinished_creation(study))


def live_trial_results(study: optuna.Study, spec: StudySpec) -> list[ConfigResult]:
    """Every trial of the study as :func:`trial_result` gives it, in number order, as this process's view
    of the study holds it (``hpsearch.store.study_view``).

    For a worker that asks again and again (its live view's study ETA): each finished trial is read
    and decoded once per process, and a call reads only what changed since the last.
    """
    from hpsearch.store._view import study_view

    return study_view(study).derived(_LIVE_RESULTS, lambda t: trial_result(t, spec))


_LIVE_RESULTS = "hpsearch.store.live_trial_results"  # a study's spec never changes: the key needs no spec


def _by_config(name: str, spec: StudySpec, results: tuple[ConfigResult, ...], unfinished: int | None) -> StudyResults:
    """``results`` (every trial, in number order) with the latest trial of each configuration chosen."""
    chosen: dict[str, ConfigResult] = {}
    for result in results:  # in trial-number order, so later trials win
        previous = chosen.get(result.name)
        if previous is None or result.state == "complete" or previous.state != "complete":
            chosen[result.name] = result
    ordered = sorted(chosen.values(), key=lambda c: c.trial_number or 0)
    return StudyResults(name=name, spec=spec, configs=tuple(ordered), all_trials=results, unfinished_create=unfinished)
