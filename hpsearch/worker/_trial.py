"""A trial: one configuration trained with every seed of the spec, scored by mean dev F1.

Step numbering: ``trial.report(dev_f1, step=i)`` where ``i`` is the seed's index in
``spec.seeds`` (0-based), so the dashboard plots one point per seed. A run the pruner stopped
inside its epochs is stored (``complete=False``) but not reported.

Early stopping (``spec.pruner``, rules in ``hpsearch.search._pruning``): ``TrialSchedule``
(``hpsearch.worker._schedule``) says when the rule is asked; a ``RunPruned`` from the epoch hook
stops a run. When it says stop, the trial gets a ``prune_reason`` user attribute and
``optuna.TrialPruned`` is raised, which the worker turns into a PRUNED trial.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import socket
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from hpsearch.errors import UsageError
from hpsearch.results import LiveEta
from hpsearch.search import (
    Config,
    Rungs,
    RungTrial,
    SampledSpace,
    SeedProgress,
    SeedResult,
    StudySpec,
    TrialCurves,
    make_pruner,
    mean,
)
from hpsearch.store import (
    CONFIG_ATTR,
    PROGRESS_ATTR,
    PRUNE_REASON_ATTR,
    RUN_DIR_ATTR,
    VERSIONS_ATTR,
    contained_trial_dir,
    encode_progress,
    encode_seed,
    live_trial_results,
    reason_text,
    refresh_params,
    seed_attr_key,
    seed_dir,
    seed_results_from_attrs,
    set_user_attrs,
    study_view,
    summary_attrs,
    with_retries,
    worker_attrs,
)
from hpsearch.training import RunHooks, RunPruned, Trainer
from hpsearch.worker._faults import WorkerFaultError
from hpsearch.worker._progress import Progress
from hpsearch.worker._rungs import rung_view, study_rungs
from hpsearch.worker._schedule import TrialSchedule

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("hpsearch.worker")

PROGRESS_INTERVAL_S = 60.0
"""Seconds between two writes of a seed's ``progress``, at epochs' ends; a trial's first epoch writes at once."""

STUDY_ETA_INTERVAL_S = 60.0
"""Seconds between two reads of a study's ETA by one process (at a seed's first epoch's end); the live
view counts the last one down meanwhile."""


class TrialPaused(Exception):  # noqa: N818 (an outcome, like optuna.TrialPruned)
    """The trial paused at a rung (``--pruner rungs``): the worker puts it back in the queue with what it trained."""


@dataclass(frozen=True)
class TrialOutcome:
    value: float
    runs: tuple[SeedResult, ...]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("hpsearch", "flair", "torch", "transformers", "optuna"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def run_trial(
    trial: optuna.Trial,
    spec: StudySpec,
    trainer: Trainer,
    *,
    output_dir: Path,
    progress: Progress,
    hooks: RunHooks,
    after_seed: Callable[[int, Path], None] | None = None,
) -> TrialOutcome:
    """Train every seed not yet done, storing each seed's result on the trial as soon as it is known.

    ``after_seed(seed, run_dir)`` is called once a seed trained here is stored (the worker uploads
    its ``training.log`` to the artifact store).

    Raises:
        RunInterrupted, TrainingError: from the trainer; seeds stored so far stay on the trial.
        optuna.TrialPruned: the pruner stopped the trial; what it measured stays on the trial.
        TrialPaused: the trial paused at a rung; what it measured stays on the trial.
    """
    if isinstance(spec.space, SampledSpace):
        trial.study.sampler = spec.sampler(trial.number)  # a stream of its own for each trial
    config = with_retries(_suggest_config, spec, trial)
    try:
        run_root = contained_trial_dir(output_dir, trial.study.study_name, trial.number, config.name)
    except UsageError as e:  # an older study's odd name: no trial of it can run here
        raise WorkerFaultError(str(e)) from None
    where = worker_attrs(os.environ, socket.gethostname(), os.getpid())
    with_retries(set_user_attrs, trial, {CONFIG_ATTR: config.name, RUN_DIR_ATTR: str(run_root.resolve()), **where})
    progress.trial_started(trial.study.study_name, trial.number, config, len(spec.seeds))

    stored = seed_results_from_attrs(trial.user_attrs)
    done = {s: r for s, r in stored.items() if r.complete}
    rungs = study_rungs(spec, config.epochs)
    schedule = TrialSchedule(
        make_pruner(spec.pruner or "none"),
        spec.seeds,
        config.epochs,
        rungs=rungs,
        peers=lambda: rung_view(with_retries(lambda: study_view(trial.study).trials()), spec.seeds),
        number=trial.number,
        promoted_from=_rung_reached(rungs, trial.number, stored),
        finished=lambda: with_retries(finished_curves, trial.study, trial.number),
    )
    reporter = _SeedReporter(trial, spec, progress)
    runs: list[SeedResult] = []
    for index, seed in enumerate(spec.seeds):
        result = done.get(seed)
        progress.seed_started(index, seed, skipped=result is not None)
        if result is None:
            schedule.start_run(seed)
            on_epoch = reporter.start(seed, hooks.on_epoch)
            on_epoch = _asking(schedule, on_epoch) if schedule.active else on_epoch
            run_hooks = RunHooks(stop=hooks.stop, on_epoch=on_epoch, on_batch=hooks.on_batch)
            result = trainer.train(spec, config, seed, seed_dir(run_root, seed), _with_progress(run_hooks, progress))
            with_retries(trial.set_user_attr, seed_attr_key(seed), encode_seed(result))
            progress.seed_done(result)
            if after_seed is not None:
                after_seed(seed, seed_dir(run_root, seed))
            if not result.complete:
                if schedule.paused is not None:
                    raise TrialPaused(schedule.paused)
                _prune(trial, schedule.run_stopped(result.epochs_done))
        with warnings.catch_warnings():  # a paused trial reported its stored seeds before
            warnings.filterwarnings("ignore", "The reported value is ignored", UserWarning)
            with_retries(trial.report, result.dev_f1, index)
        runs.append(result)
        reason = schedule.seed_done(seed, result.dev_curve, stored=seed in done)
        if schedule.paused is not None:
            raise TrialPaused(schedule.paused)
        if reason is not None:
            _prune(trial, reason)

    with_retries(set_user_attrs, trial, {**summary_attrs(runs, spec.seeds), VERSIONS_ATTR: versions()})
    dev = [r.dev_f1 for r in runs]
    return TrialOutcome(value=mean(dev), runs=tuple(runs))


def _rung_reached(rungs: Rungs | None, number: int, stored: Mapping[int, SeedResult]) -> int:
    """The highest rung the trial reached before this run (-1: none, or no rungs)."""
    if rungs is None:
        return -1
    runs = {s: r.dev_curve for s, r in stored.items() if r.complete}
    following = next((s for s in rungs.seeds if s not in runs), None)
    partial = stored[following].dev_curve if following in stored else ()
    return rungs.reached(RungTrial(number, runs, tuple(partial)))


def _suggest_config(spec: StudySpec, trial: optuna.Trial) -> Config:
    """The trial's configuration; safe to run again after a lost connection.

    The trial's parameters are read back from the storage first: an earlier attempt may have
    stored some before its reply was lost, and Optuna would try to insert them a second time.
    """
    refresh_params(trial)
    return spec.space.suggest(trial)


def finished_curves(study: optuna.Study, exclude: int | None = None) -> list[TrialCurves]:
    """The study's trials as the pruner sees them: each finished seed's dev curve.

    Complete trials are candidates for the reference; the finished seeds of pruned and running
    trials (``complete=False``) only show how runs climb. ``exclude`` is the asking trial's number.
    """
    import bisect

    from optuna.trial import TrialState

    from hpsearch.store import study_view

    def curves(t: optuna.trial.FrozenTrial) -> TrialCurves | None:
        runs = {s: r.dev_curve for s, r in seed_results_from_attrs(t.user_attrs).items() if r.complete and r.dev_curve}
        return TrialCurves(runs=runs, number=t.number, complete=t.state == TrialState.COMPLETE) if runs else None

    # The process's view of the study (one per study, shared with the note) reads and decodes each
    # finished trial once. Its list is in trial-number order: the asking trial is found by bisection,
    # not by a pass over every trial.
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    found = study_view(study).derived("hpsearch.worker.finished_curves", curves, states)
    i = bisect.bisect_left(found, exclude, key=lambda c: c.number) if exclude is not None else len(found)
    if i < len(found) and found[i].number == exclude:
        del found[i]
    return found


class _SeedReporter:
    """Tells others how far the seed in training is: stores its ``progress`` on the trial (``status``
    estimates the ETA from it) at most every ``PROGRESS_INTERVAL_S``, and at a seed's first epoch's end
    reads the study's ETA for the live view, at most every ``STUDY_ETA_INTERVAL_S`` per study and
    process (through the process's view of the study: what changed since the last read).

    Both are advice: a failed write or read is logged and never fails the trial.
    """

    def __init__(self, trial: optuna.Trial, spec: StudySpec, progress: Progress) -> None:
        self._trial, self._spec, self._progress = trial, spec, progress
        self._last_write = -math.inf
        self._seed = 0
        self._started = 0.0

    def start(self, seed: int, inner: Callable[[int, float], None] | None) -> Callable[[int, float], None]:
        """The epoch hook of seed ``seed``'s run, which starts now: this reporter, then ``inner``."""
        self._seed, self._started = seed, time.monotonic()

        def hook(epoch: int, dev_f1: float) -> None:
            self.epoch_done(epoch)
            if inner is not None:
                inner(epoch, dev_f1)

        return hook

    def epoch_done(self, epoch: int) -> None:
        now = time.monotonic()
        if now - self._last_write >= PROGRESS_INTERVAL_S:
            self._last_write = now
            self._store(SeedProgress(self._seed, epoch, round(now - self._started, 3)))
        if epoch == 1:
            self._read_study_eta()

    def _store(self, progress: SeedProgress) -> None:
        try:  # a few attempts only: training waits meanwhile, and the next write replaces this one
            with_retries(self._trial.set_user_attr, PROGRESS_ATTR, encode_progress(progress), attempts=3)
        except Exception as e:  # noqa: BLE001
            log.warning("trial %d: could not store its progress: %s: %s", self._trial.number, type(e).__name__, e)

    def _read_study_eta(self) -> None:
        study, spec = self._trial.study, self._spec
        live = _live_eta(study, spec)
        now = time.monotonic()
        if now - live.read_at < STUDY_ETA_INTERVAL_S:
            return
        live.read_at = now
        try:
            eta = with_retries(lambda: live.eta.seconds(live_trial_results(study, spec)), attempts=3)
        except Exception as e:  # noqa: BLE001
            log.warning("trial %d: could not read the study's ETA: %s: %s", self._trial.number, type(e).__name__, e)
            return
        self._progress.study_eta(eta)


@dataclass
class _LiveStudyEta:
    eta: LiveEta
    read_at: float = -math.inf


_LIVE_ETAS: weakref.WeakKeyDictionary[optuna.Study, _LiveStudyEta] = weakref.WeakKeyDictionary()


def _live_eta(study: optuna.Study, spec: StudySpec) -> _LiveStudyEta:
    """The process's study ETA of ``study`` and when it was last read, kept as long as the ``Study``
    object (a worker loads each study once)."""
    live = _LIVE_ETAS.get(study)
    if live is None:
        live = _LIVE_ETAS[study] = _LiveStudyEta(LiveEta(spec))
    return live


def _asking(schedule: TrialSchedule, inner: Callable[[int, float], None] | None) -> Callable[[int, float], None]:
    """The epoch hook of one run: ``inner``, then the schedule's question; raises ``RunPruned`` to stop the run."""

    def hook(epoch: int, dev_f1: float) -> None:
        if inner is not None:
            inner(epoch, dev_f1)
        reason = schedule.epoch_done(dev_f1)
        if reason is not None:
            raise RunPruned(reason)

    return hook


def _prune(trial: optuna.Trial, reason: str) -> None:
    import optuna

    with_retries(trial.set_user_attr, PRUNE_REASON_ATTR, reason_text(reason))
    raise optuna.TrialPruned(reason)


def _with_progress(hooks: RunHooks, progress: Progress) -> RunHooks:
    def on_epoch(epoch: int, dev_f1: float) -> None:
        progress.epoch_done(epoch, dev_f1)
        if hooks.on_epoch is not None:
            hooks.on_epoch(epoch, dev_f1)

    return RunHooks(stop=hooks.stop, on_epoch=on_epoch, on_batch=progress.batch_done)
