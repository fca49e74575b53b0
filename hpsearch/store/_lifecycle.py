"""A study's lifecycle after ``create``: extending it with more configurations, and deleting it with its files.

Extending a grid adds values to categorical dimensions, and Optuna stores one distribution per
parameter name for a whole study: a trial whose ``learning_rate`` has more choices than the
earlier trials' is refused. So a grid is extended by rebuilding the study under its name with
the wider distributions (trial numbers, states, attributes and seed results kept), after a copy
of it is saved as ``<name>.before-extend``; the copy is deleted once the rebuild succeeded.
Workers must not hold the study meanwhile: ``extend`` refuses while a trial is running.
A sampled space only gets more WAITING trials.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hpsearch.errors import SpecError, StorageError, UsageError
from hpsearch.search import Config, SampledSpace, StudySpec, spec_diff
from hpsearch.store._queue import set_study_system_attrs, study_system_attrs
from hpsearch.store._record import CONFIG_ATTR, RUN_DIR_ATTR, SPEC_ATTR
from hpsearch.store._storage import open_storage
from hpsearch.store._studies import config_of, grid_distributions, load_study

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

BACKUP_SUFFIX = ".before-extend"


def running_trials(study: optuna.Study) -> list[int]:
    """Numbers of the study's RUNNING trials."""
    from optuna.trial import TrialState

    return [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]


# --- extend -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    """What ``extend`` did: the stored spec now, and the configurations (or sampled trials) it queued."""

    name: str
    spec: StudySpec
    changes: tuple[str, ...]
    added: tuple[str, ...]
    n_added: int


def extend_study(storage: optuna.storages.BaseStorage, name: str, spec: StudySpec) -> Extension:
    """Store ``spec`` as the study's spec and queue what it has that the study has not.

    ``spec`` must differ from the stored one only in its space (more grid values) or, for a
    sampled space, in a larger ``n_trials``. A grid's new points are queued as WAITING trials in
    the grid's order; a sampled space gets ``n_trials`` minus the old budget more trials.

    Raises:
        StudyNotFoundError: no such study.
        SpecError: ``spec`` changes anything else, or drops grid points or trials.
        UsageError: a grid is extended while a trial runs.
        StorageError: the rebuild failed; the study before it is kept as ``<name>.before-extend``.
    """
    import optuna

    study, old = load_study(storage, name)
    changes = tuple(spec_diff(old, spec))
    fixed = [line for line in changes if not line.startswith(("space.", "n_trials:"))]
    if fixed or old.space.kind != spec.space.kind:
        raise SpecError(f"extend adds grid values or trials only; it would change: {'; '.join(fixed or changes)}.")
    if isinstance(spec.space, SampledSpace):
        n_added = (spec.n_trials or 0) - (old.n_trials or 0)
        if n_added < 0 or spec.space != old.space:
            raise SpecError(f"extend only grows a sampled study's budget; it would change: {'; '.join(changes)}.")
        waiting = optuna.trial.TrialState.WAITING
        study.add_trials([optuna.trial.create_trial(state=waiting) for _ in range(n_added)])
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
        return Extension(name, spec, changes, (), n_added)

    trials = study.get_trials(deepcopy=True)
    have = {t.user_attrs.get(CONFIG_ATTR) or config_of(t, old).name for t in trials if _has_config(t)}
    old_points = {c.name for c in old.space.configs()}
    new_points = list(spec.space.configs())
    dropped = old_points - {c.name for c in new_points}
    if dropped:
        raise SpecError(f"extend keeps every grid point; {len(dropped)} would go, e.g. {sorted(dropped)[0]}.")
    added = [c for c in new_points if c.name not in have]
    if not changes:
        return Extension(name, spec, changes, (), 0)
    running = running_trials(study)
    if running:
        raise UsageError(
            f"trial(s) {', '.join(map(str, running))} of study {name!r} are running; extending a grid rebuilds "
            "the study, so stop its workers first (their trials are re-queued) and start them again after."
        )
    distributions = grid_distributions(spec)
    templates = [_widened(t, distributions, config_of(t, old) if _has_config(t) else None) for t in trials]
    templates += [
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=spec.space.params(config),
            distributions=distributions,
            user_attrs={CONFIG_ATTR: config.name},
        )
        for config in added
    ]
    _rebuild(storage, study, spec, templates)
    return Extension(name, spec, changes, tuple(c.name for c in added), len(added))


def _has_config(trial: FrozenTrial) -> bool:
    return bool(trial.params or trial.user_attrs.get(CONFIG_ATTR))


def _widened(
    trial: FrozenTrial, distributions: dict[str, optuna.distributions.BaseDistribution], config: Config | None
) -> FrozenTrial:
    """The trial with each param's distribution replaced by the extended grid's (a superset of choices).

    A dimension that was a constant (not a param, since 0.2) and is searched now becomes a param.
    """
    widened = copy.deepcopy(trial)
    added = {k: getattr(config, k) for k in distributions if k not in trial.params} if config else {}
    widened.params = {**trial.params, **added}
    widened.distributions = {
        **{k: distributions.get(k, d) for k, d in trial.distributions.items()},
        **{k: distributions[k] for k in added},
    }
    return widened


def _rebuild(
    storage: optuna.storages.BaseStorage, study: optuna.Study, spec: StudySpec, trials: list[FrozenTrial]
) -> None:
    import optuna

    name = study.study_name
    backup = name + BACKUP_SUFFIX
    try:
        optuna.load_study(study_name=backup, storage=storage)
    except KeyError:
        pass
    else:
        raise UsageError(
            f"study {backup!r} exists, left by an interrupted extend of {name!r}; check both and delete one "
            f"(hpsearch delete --study NAME) before extending again."
        )
    optuna.copy_study(from_study_name=name, from_storage=storage, to_storage=storage, to_study_name=backup)
    user_attrs = {**study.user_attrs, SPEC_ATTR: spec.to_dict()}
    system_attrs = study_system_attrs(study)
    try:
        optuna.delete_study(study_name=name, storage=storage)
        fresh = optuna.create_study(study_name=name, storage=storage, direction="maximize")
        set_study_system_attrs(fresh, system_attrs)
        for key, value in user_attrs.items():
            fresh.set_user_attr(key, value)
        fresh.add_trials(trials)
    except Exception as e:  # noqa: BLE001 - whatever broke, say where the study is now
        raise StorageError(
            f"extending study {name!r} failed ({type(e).__name__}: {e}); the study as it was is kept as "
            f"{backup!r} (optuna.copy_study can copy it back)."
        ) from None
    optuna.delete_study(study_name=backup, storage=storage)


# --- delete -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deletion:
    """What ``delete`` removed: the study's trials, run folders and artifacts, and the folders it left alone."""

    name: str
    n_trials: int
    run_dirs: tuple[Path, ...]
    skipped: tuple[Path, ...]
    n_artifacts: int


def study_run_dirs(study: optuna.Study) -> list[Path]:
    """The run folders the study's trials name (``run_dir``), in trial order, each once."""
    dirs = [
        Path(t.user_attrs[RUN_DIR_ATTR]) for t in study.get_trials(deepcopy=False) if t.user_attrs.get(RUN_DIR_ATTR)
    ]
    return list(dict.fromkeys(dirs))


def delete_study_and_runs(
    storage_url: str, name: str, *, output_dir: Path, artifacts_dir: Path, force: bool = False
) -> Deletion:
    """Delete the study, the run folders of its trials inside ``output_dir``, and its artifacts.

    Run folders are read from the trials' ``run_dir``; one that resolves outside ``output_dir`` is
    left alone and reported. The study record goes first: a folder that cannot be removed then
    stays behind, but no study points at missing files.

    Raises:
        StudyNotFoundError: no such study.
        UsageError: a trial is running and ``force`` is False.
    """
    import optuna
    from optuna.artifacts import FileSystemArtifactStore, get_all_artifact_meta

    storage = open_storage(storage_url, must_exist=True)
    study, _ = load_study(storage, name)
    running = running_trials(study)
    if running and not force:
        raise UsageError(
            f"trial(s) {', '.join(map(str, running))} of study {name!r} are running; stop the workers first, "
            "or pass --force."
        )
    trials = study.get_trials(deepcopy=False)
    artifact_ids = [m.artifact_id for m in get_all_artifact_meta(study)]
    artifact_ids += [m.artifact_id for t in trials for m in get_all_artifact_meta(t, storage=storage)]
    root = output_dir.expanduser().resolve()
    inside, outside = [], []
    for path in study_run_dirs(study):
        (inside if path.resolve().is_relative_to(root) and path.resolve() != root else outside).append(path)

    optuna.delete_study(study_name=name, storage=storage)
    removed = []
    for path in inside:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    study_dir = root / name
    if study_dir.is_dir() and study_dir.resolve().parent == root and not any(study_dir.iterdir()):
        study_dir.rmdir()
    n_artifacts = 0
    if artifacts_dir.is_dir():
        store = FileSystemArtifactStore(artifacts_dir)
        for artifact_id in artifact_ids:
            try:
                store.remove(artifact_id)
                n_artifacts += 1
            except Exception:  # noqa: BLE001 - gone already, or never written
                continue
    return Deletion(name, len(trials), tuple(removed), tuple(outside), n_artifacts)
