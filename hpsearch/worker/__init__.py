"""The worker: claim a queued trial, train its seeds, tell the result; progress and the ``--gpus`` fleet."""

from __future__ import annotations

from hpsearch.worker._fleet import (
    parse_gpus,
    run_fleet,
    worker_argv,
)
from hpsearch.worker._loop import (
    WorkerOptions,
    WorkerSummary,
    run_worker,
)
from hpsearch.worker._progress import (
    PROGRESS_ENV,
    LineProgress,
    Progress,
    RichProgress,
    choose_progress,
)
from hpsearch.worker._trial import (
    FlairTrainer,
    Trainer,
    run_trial,
)

__all__ = [
    "PROGRESS_ENV",
    "FlairTrainer",
    "LineProgress",
    "Progress",
    "RichProgress",
    "Trainer",
    "WorkerOptions",
    "WorkerSummary",
    "choose_progress",
    "parse_gpus",
    "run_fleet",
    "run_trial",
    "run_worker",
    "worker_argv",
]
