"""The worker loop: claim a queued trial, train it, store the result, until nothing is left.

Ownership of RUNNING trials: a worker owns the trials it claimed and keeps their heartbeat
alive. A trial whose heartbeat stops (the worker was killed) is failed by whichever worker
looks next and re-queued, keeping its finished seeds. A stopped worker (SIGTERM, Ctrl-C)
re-queues its own trial at once.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.dashboard import NoteSchedule, publish_trial, try_update_study_note
from hpsearch.errors import SpecError, TrainingError, UsageError, first_line
from hpsearch.search import SampledSpace, SeedResult, StudySpec
from hpsearch.store import (
    RUN_DIR_ATTR,
    Artifacts,
    claim_next,
    count_running,
    fail_stale_trials,
    fail_trial,
    frozen_trial,
    hand_back,
    hand_over,
    load_study,
    mask_url,
    open_storage,
    pause,
    record_heartbeat,
    remove_run_models,
    requeue,
    study_view,
    with_retries,
)
from hpsearch.training import FlairTrainer, RunHooks, RunInterrupted, Trainer, TrainingOptions
from hpsearch.worker._faults import WorkerFaultError, worker_fault
from hpsearch.worker._progress import LineProgress, Progress
from hpsearch.worker._rungs import claim_with_rungs, study_rungs
from hpsearch.worker._trial import TrialPaused, run_trial

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("hpsearch.worker")
KEEP_MODELS = {
    "all": "every trial's",
    "best": "only the study's best trial's",
    "none": "delete them all",
}
"""Which model files a worker keeps after a trial (``--keep-models``), with the help line of each."""


@dataclass
class WorkerOptions:
    """How one worker runs. Defaults suit one GPU on one machine."""

    output_dir: Path = Path("runs")
    data_dir: Path | None = None
    artifacts_dir: Path | None = None  # None: next to the SQLite file (hpsearch.store._artifacts)
    device: str = "auto"
    keep_models: str = "best"
    n_trials: int | None = None
    timeout_s: float | None = None
    heartbeat_interval: int = 20
    grace_period: int = 60
    max_retries: int = 3
    recipe_exact: bool = False  # train as the recipe's script does, without the work-saving defaults
    handle_signals: bool = True
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.keep_models not in KEEP_MODELS:
            raise SpecError(f"--keep-models must be one of {', '.join(KEEP_MODELS)}, but got {self.keep_models!r}.")
        if self.n_trials is not None and self.n_trials < 1:
            raise SpecError(f"--n-trials must be >= 1, but got {self.n_trials}.")
        if self.heartbeat_interval < 1 or self.grace_period <= self.heartbeat_interval:
            raise SpecError("the grace period must be longer than the heartbeat interval.")
        if self.max_retries < 0:
            raise UsageError(f"--max-retries must be >= 0, but got {self.max_retries}.")
        if self.timeout_s is not None and not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise UsageError(f"--timeout must be > 0 seconds, but got {self.timeout_s}.")


@dataclass(frozen=True)
class WorkerSummary:
    """What a worker did; ``fault`` says why it stopped on a worker fault (exit code ``WORKER_FAULT_EXIT``)."""

    completed: int
    failed: int
    interrupted: bool
    pruned: int = 0
    fault: str = ""


def select_device(device: str) -> str:
    import flair
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError("--device cuda was asked for, but no CUDA GPU is visible; use --device cpu.")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise SpecError(f"--device must be auto, cpu or cuda[:N], but got {device!r}.")
    flair.device = torch.device(device)
    return device


def run_worker(
    storage_url: str,
    study_names: Sequence[str],
    options: WorkerOptions | None = None,
    *,
    trainer: Trainer | None = None,
    progress: Progress | None = None,
) -> WorkerSummary:
    """Pull queued trials from the studies (in the order given) and train them until none is left.

    Args:
        storage_url: The Optuna storage.
        study_names: Studies to serve; a worker takes the next queued trial across them.
        options: Worker settings.
        trainer: What trains a seed; ``FlairTrainer`` unless given (tests pass a fake one).
        progress: Where events go; one log line each unless given.

    Raises:
        StorageError, StudyNotFoundError: before any trial is claimed.
    """
    options = options or WorkerOptions()
    progress = progress or LineProgress()
    storage = open_storage(
        storage_url,
        must_exist=True,
        heartbeat_interval=options.heartbeat_interval,
        grace_period=options.grace_period,
    )
    studies = [load_study(storage, name) for name in study_names]
    artifacts = Artifacts.open(storage_url, options.artifacts_dir)
    if trainer is None:
        select_device(options.device)
        trainer = FlairTrainer(options.data_dir, TrainingOptions.recipe() if options.recipe_exact else None)
    restore = _install_signal_handlers(options.stop) if options.handle_signals else None
    started = time.monotonic()
    completed = failed = pruned = 0
    fault = ""
    notes = NoteSchedule()
    waiting = False
    progress.message(f"worker pid={os.getpid()} serving {', '.join(study_names)} on {mask_url(storage_url)}")
    try:
        while not options.stop.is_set():
            if options.n_trials is not None and completed + failed + pruned >= options.n_trials:
                break
            if options.timeout_s is not None and time.monotonic() - started > options.timeout_s:
                break
            claimed = with_retries(lambda: _claim_next(studies, options))
            if claimed is None:
                # Trials still running may yet be re-queued (their worker dies): wait for them.
                running = with_retries(lambda: _count_running(studies))
                if not running:
                    progress.message("no queued trial left; worker exits")
                    break
                if not waiting:
                    progress.message(f"no queued trial left; waiting while {running} running trial(s) finish")
                waiting = True
                options.stop.wait(min(options.heartbeat_interval, 5))
                continue
            waiting = False
            study, spec, trial = claimed
            try:
                state = _train_claimed(study, spec, trial, trainer, options, progress, artifacts, notes)
            except WorkerFaultError as e:
                fault = str(e)
                log.error("worker stops: %s; trial %d is queued again, untouched", fault, trial.number)
                break
            if state == "complete":
                completed += 1
            elif state == "failed":
                failed += 1
            elif state == "pruned":
                pruned += 1
    finally:
        if restore is not None:
            restore()
        if completed + pruned:
            for study, _ in studies:  # the notes' leaderboards as this worker leaves them
                try_update_study_note(study)
    return WorkerSummary(
        completed=completed, failed=failed, interrupted=options.stop.is_set(), pruned=pruned, fault=fault
    )


def _claim_next(
    studies: Sequence[tuple[optuna.Study, StudySpec]], options: WorkerOptions
) -> tuple[optuna.Study, StudySpec, Any] | None:
    """The first study's next queued trial, now RUNNING and owned by this worker; None if none is queued.

    Dead workers' trials are failed and re-queued first. Never creates a trial: the queue is the
    study's budget.
    """
    for study, spec in studies:
        fail_stale_trials(study, grace_period=options.grace_period, max_retries=options.max_retries)
        rungs = study_rungs(spec, _epochs(spec))
        read = study_view(study).trials
        trial = claim_next(study) if rungs is None else claim_with_rungs(study, spec, rungs, read)
        if trial is not None:
            return study, spec, trial
    return None


def _epochs(spec: StudySpec) -> int:
    """Epochs a seed trains in the study: rungs need one value (a space with several gets no rungs)."""
    epochs = spec.space.dimensions["epochs"] if isinstance(spec.space, SampledSpace) else spec.space.values("epochs")
    return epochs[0] if isinstance(epochs, tuple) and len(epochs) == 1 else 0


def _count_running(studies: Sequence[tuple[optuna.Study, StudySpec]]) -> int:
    return sum(count_running(study) for study, _ in studies)


def _train_claimed(
    study: optuna.Study,
    spec: StudySpec,
    trial: optuna.Trial,
    trainer: Trainer,
    options: WorkerOptions,
    progress: Progress,
    artifacts: Artifacts,
    notes: NoteSchedule,
) -> str:
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    heartbeat = _Heartbeat(trial, options.heartbeat_interval)
    heartbeat.start()
    remembering = _Remembering(trainer)
    try:
        outcome = run_trial(
            trial,
            spec,
            remembering,
            output_dir=options.output_dir,
            progress=progress,
            hooks=RunHooks(stop=options.stop),
            after_seed=lambda seed, run_dir: artifacts.upload_seed_log(trial, seed, run_dir),
        )
    except TrialPaused as e:
        # Not in the top of its rung yet (hpsearch.search._rungs): back in the queue with what it trained.
        heartbeat.stop()
        why = str(e)
        with_retries(lambda: pause(trial, why))
        progress.trial_done("paused", None, why)
        own = trial.user_attrs.get(RUN_DIR_ATTR)
        if own:
            remove_run_models(Path(own))
        return "paused"
    except optuna.TrialPruned as e:
        # The pruner stopped it (hpsearch.search._pruning); its seeds, partial curves and prune_reason stay on it.
        heartbeat.stop()
        with_retries(lambda: study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True))
        progress.trial_done("pruned", None, str(e))
        own = trial.user_attrs.get(RUN_DIR_ATTR)
        if own:
            remove_run_models(Path(own))
        return "pruned"
    except RunInterrupted:
        heartbeat.stop()
        with_retries(lambda: fail_trial(study, trial, "interrupted: the worker was stopped; re-queued"))
        with_retries(lambda: requeue(study, frozen_trial(trial), count_as_retry=False))
        progress.trial_done("interrupted", None, "re-queued with its finished seeds")
        return "interrupted"
    except UpdateFinishedTrialError:
        # Another worker declared this trial dead: its heartbeat could not be stored for longer
        # than the grace period (a database outage). Its re-queued copy gets the seeds trained here.
        heartbeat.stop()
        detail = with_retries(lambda: hand_over(study, trial, remembering.results, options.max_retries))
        progress.trial_done("lost", None, f"declared dead by another worker; {detail}")
        return "lost"
    except Exception as e:
        heartbeat.stop()
        fault = worker_fault(e)
        if fault is not None:
            # Every trial would fail here the same way: the trial goes back untouched and the worker stops.
            log.debug("trial %s handed back", trial.number, exc_info=True)
            with_retries(lambda: hand_back(trial))
            progress.trial_done("handed back", None, f"this worker cannot run trials: {fault}")
            raise WorkerFaultError(fault) from None
        reason = _fail_reason(e)
        log.debug("trial %s failed", trial.number, exc_info=True)
        with_retries(lambda: fail_trial(study, trial, reason))
        progress.trial_done("failed", None, reason)
        return "failed"
    heartbeat.stop()
    with_retries(lambda: study.tell(trial, outcome.value, skip_if_finished=True))
    progress.trial_done("complete", outcome.value)
    publish_trial(study, trial, artifacts, upload_model=options.keep_models != "none", schedule=notes)  # never raises
    with_retries(lambda: _clean_models(study, trial, options))
    final = with_retries(lambda: frozen_trial(trial))
    return "complete" if final.state == TrialState.COMPLETE else "failed"


def _fail_reason(e: Exception) -> str:
    """What the trial's ``fail_reason`` says: hpsearch's own message, else the error's type and first line."""
    if isinstance(e, TrainingError):
        return str(e)
    text = first_line(e)
    return f"{type(e).__name__}: {text}" if text else f"{type(e).__name__} (no message; see the worker's log)"


class _Remembering:
    """A trainer that keeps the results it returned, for :func:`hpsearch.store.hand_over`."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.results: list[SeedResult] = []

    def train(self, spec: StudySpec, config: Any, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
        result = self.trainer.train(spec, config, seed, out_dir, hooks)
        self.results.append(result)
        return result


def _clean_models(study: optuna.Study, trial: optuna.Trial, options: WorkerOptions) -> None:
    """Apply --keep-models once a trial is scored; trials still running keep their files."""
    own = Path(trial.user_attrs[RUN_DIR_ATTR]) if RUN_DIR_ATTR in trial.user_attrs else None
    if options.keep_models == "all" or own is None:
        return
    if options.keep_models == "none" or study.best_trial.number != trial.number:
        remove_run_models(own)
        return
    for other in study.get_trials(deepcopy=False):
        path = other.user_attrs.get(RUN_DIR_ATTR)
        if other.number != trial.number and path and other.state.is_finished():
            remove_run_models(Path(path))


class _Heartbeat:
    """Records a running trial's heartbeat in a thread; survives storage outages."""

    def __init__(self, trial: optuna.Trial, interval: int) -> None:
        self._trial = trial
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hpsearch-heartbeat", daemon=True)

    def start(self) -> None:
        with_retries(record_heartbeat, self._trial)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self._interval):
            try:
                record_heartbeat(self._trial)
            except Exception as e:  # noqa: BLE001 - keep beating once the database is back
                if not failing:
                    cause = type(e.__cause__ or e).__name__
                    log.warning("heartbeat failed (%s); retrying every %d s", cause, self._interval)
                failing = True
            else:
                if failing:
                    log.info("heartbeat recorded again")
                failing = False


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None] | None:
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            log.warning("second signal: exiting at once")
            os._exit(130)
        log.warning("%s received: stopping; the running trial is re-queued", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore
