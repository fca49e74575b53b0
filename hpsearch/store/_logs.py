"""A run's Flair ``training.log``: from its run folder, else from the artifact store; and following it as it grows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hpsearch.errors import NotFoundError
from hpsearch.store._record import RUN_DIR_ATTR, TRAINING_LOG, seed_dir, seed_log_artifact_name
from hpsearch.store._storage import open_storage
from hpsearch.store._studies import load_study


@dataclass(frozen=True)
class TrainingLog:
    """Where one seed's log is: ``path`` in the run folder, else its ``text`` from the artifact store.

    ``running`` tells whether the trial was running when the log was looked up.
    """

    trial: int
    seed: int
    path: Path | None
    text: str | None
    running: bool


def find_training_log(
    storage_url: str, study_name: str, trial_number: int, seed: int | None, artifacts_dir: Path
) -> TrainingLog:
    """The training log of one seed of a trial; without ``seed``, the latest seed that has a log.

    Raises:
        StudyNotFoundError, NotFoundError: no such study, trial or seed, or no log of it anywhere.
    """
    from optuna.artifacts import FileSystemArtifactStore, get_all_artifact_meta
    from optuna.trial import TrialState

    storage = open_storage(storage_url, read_only=True)
    study, spec = load_study(storage, study_name)
    trials = study.get_trials(deepcopy=False)
    if not 0 <= trial_number < len(trials):
        raise NotFoundError(f"study {study_name!r} has no trial {trial_number} (trials 0-{len(trials) - 1}).")
    trial = trials[trial_number]
    if seed is not None and seed not in spec.seeds:
        raise NotFoundError(f"study {study_name!r} has no seed {seed}; its seeds are {list(spec.seeds)}.")
    running = trial.state == TrialState.RUNNING
    run_dir = trial.user_attrs.get(RUN_DIR_ATTR)
    candidates = [seed] if seed is not None else list(reversed(spec.seeds))
    if run_dir:
        for s in candidates:
            path = seed_dir(Path(run_dir), s) / TRAINING_LOG
            if path.is_file() or (running and seed is not None):
                return TrainingLog(trial_number, s, path, None, running)
    metas = {m.filename: m for m in get_all_artifact_meta(trial, storage=storage)}
    for s in candidates:
        meta = metas.get(seed_log_artifact_name(s))
        if meta is not None and artifacts_dir.is_dir():
            with FileSystemArtifactStore(artifacts_dir).open_reader(meta.artifact_id) as f:
                return TrainingLog(trial_number, s, None, f.read().decode("utf-8", errors="replace"), running)
    which = f"seed {seed}" if seed is not None else "any seed"
    raise NotFoundError(
        f"no training log of {which} of trial {trial_number} of study {study_name!r}: "
        f"its run folder {run_dir or '(none yet)'} has none, nor has the artifact store {artifacts_dir}."
    )


def trial_is_running(storage_url: str, study_name: str, trial_number: int) -> Callable[[], bool]:
    """A check that the trial is still RUNNING, for :func:`follow_log`."""
    from optuna.trial import TrialState

    storage = open_storage(storage_url, read_only=True)
    study, _ = load_study(storage, study_name)

    def check() -> bool:
        return study.get_trials(deepcopy=False)[trial_number].state == TrialState.RUNNING

    return check


def follow_log(
    path: Path,
    emit: Callable[[str], None],
    still_running: Callable[[], bool],
    *,
    interval: float = 0.5,
) -> None:
    """Emit ``path``'s text, then each line appended to it, as ``tail -f`` does, until ``still_running()`` is False.

    The file may not exist yet (a seed about to start). Whatever was written before the end is emitted.
    Ctrl-C (KeyboardInterrupt) is the caller's to catch.
    """
    offset = 0
    pending = ""
    while True:
        running = still_running()
        if path.is_file():
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read()
            offset += len(chunk)
            pending += chunk.decode("utf-8", errors="replace")
            lines, _, pending = pending.rpartition("\n")
            if lines:
                emit(lines + "\n")
        if not running:
            if pending:
                emit(pending)
            return
        time.sleep(interval)
