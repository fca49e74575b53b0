"""The worker: claim a queued trial, train its seeds, tell the result; progress and the ``--gpus`` fleet."""

from __future__ import annotations

from hpsearch.worker._faults import (
    WORKER_FAULT_EXIT,
    WorkerFaultError,
)
from hpsearch.worker._fleet import (
    parse_gpus,
    run_fleet,
    worker_argv,
)
from hpsearch.worker._loop import (
    KEEP_MODELS,
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
from hpsearch.worker._schedule import TrialSchedule
from hpsearch.worker._slurm import (
    SlurmJob,
    job_environment,
    pin_gpu,
    render_script,
    slurm_script,
    submit_script,
    under_slurm,
)
from hpsearch.worker._start import (
    configure_logging,
    start_worker,
)
from hpsearch.worker._trial import (
    run_trial,
)

__all__ = [
    "KEEP_MODELS",
    "PROGRESS_ENV",
    "WORKER_FAULT_EXIT",
    "LineProgress",
    "Progress",
    "RichProgress",
    "SlurmJob",
    "TrialSchedule",
    "WorkerFaultError",
    "WorkerOptions",
    "WorkerSummary",
    "choose_progress",
    "configure_logging",
    "job_environment",
    "parse_gpus",
    "pin_gpu",
    "render_script",
    "run_fleet",
    "run_trial",
    "run_worker",
    "slurm_script",
    "start_worker",
    "submit_script",
    "under_slurm",
    "worker_argv",
]
