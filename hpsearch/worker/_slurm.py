"""Workers on a SLURM cluster: an sbatch script for a job array of ``hpsearch worker``, and its submission.

Each array task runs the workers of one node share (``--gpus all --workers-per-gpu K`` over the
GPUs SLURM gave it) until the studies' queues are empty. The storage URL never appears in the
script: the workers read it at run time from ``HPSEARCH_STORAGE_FILE`` (a file of mode 600) or from
``HPSEARCH_STORAGE`` in the environment the job inherits.

Time limits: ``#SBATCH --signal=B:TERM@<margin>`` has SLURM send SIGTERM to the batch shell
``margin`` seconds before the limit (SLURM may send it up to a minute later). The shell runs the
worker in the background, waits for it, and passes the signal on: the worker re-queues its trial
with the finished seeds and exits 0, and so does the task. Only the batch shell may be signalled
(``--signal=B:``, ``scancel --batch``): a worker that gets a second SIGTERM exits at once.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

from hpsearch.errors import UsageError
from hpsearch.store import STORAGE_ENV, STORAGE_FILE_ENV, open_storage, read_storage_file, resolve_studies

SLURM_JOB_ENV = "SLURM_JOB_ID"
MAX_SIGNAL_MARGIN = 65535  # SLURM's limit for --signal=...@<seconds>


@dataclass(frozen=True)
class SlurmJob:
    """A job array of hpsearch workers, as ``hpsearch slurm`` takes it; validated on construction.

    Args:
        studies: Study names or glob patterns the workers serve, in order.
        tasks: Array tasks (``--array=0-<tasks-1>``); each runs its own workers.
        gpus_per_task: GPUs each task asks for (``--gres=gpu:N``); 0 for CPU workers.
        workers_per_gpu: Workers sharing each GPU of a task.
        partition, account, time, mem, cpus_per_task: Passed to sbatch as given (None: the cluster's default).
        sbatch_args: Further sbatch options, one ``#SBATCH`` line each (``--qos=long``).
        setup: Shell lines run first in each task (``module load cuda; . venv/bin/activate``).
        signal_margin: Seconds before the time limit at which the workers are told to stop.
        requeue: Let SLURM requeue preempted or failed-node tasks (``--requeue``).
        device: The workers' ``--device`` (``cpu`` for CPU clusters); None: auto.
        storage_file: A file holding the storage URL (mode 600), exported to the workers by its path.
        worker_args: Further ``hpsearch worker`` options (``--output-dir``, ``--data-dir``, ``--heartbeat`` ...).
        job_name: ``--job-name``; ``hpsearch-<first study>`` unless given.
        output: The tasks' log files (``%A`` the array's job id, ``%a`` the task).
        command: What starts a worker, before its options.
    """

    studies: tuple[str, ...]
    tasks: int = 1
    gpus_per_task: int = 1
    workers_per_gpu: int = 1
    partition: str | None = None
    account: str | None = None
    time: str | None = None
    mem: str | None = None
    cpus_per_task: int | None = None
    sbatch_args: tuple[str, ...] = ()
    setup: str | None = None
    signal_margin: int = 300
    requeue: bool = False
    device: str | None = None
    storage_file: Path | None = None
    worker_args: tuple[str, ...] = ()
    job_name: str | None = None
    output: str = "hpsearch-%A_%a.out"
    command: tuple[str, ...] = ("hpsearch", "worker")

    def __post_init__(self) -> None:
        if not self.studies:
            raise UsageError("name at least one study (--study NAME).")
        if self.tasks < 1:
            raise UsageError(f"--tasks must be >= 1, but got {self.tasks}.")
        if self.gpus_per_task < 0:
            raise UsageError(f"--gpus-per-task must be >= 0, but got {self.gpus_per_task}.")
        if self.workers_per_gpu < 1:
            raise UsageError(f"--workers-per-gpu must be >= 1, but got {self.workers_per_gpu}.")
        if self.workers_per_gpu > 1 and self.gpus_per_task == 0:
            raise UsageError("--workers-per-gpu needs --gpus-per-task >= 1.")
        if self.device == "cpu" and self.gpus_per_task > 0:
            raise UsageError("--device cpu asks for no GPU: give --gpus-per-task 0 or leave --device out.")
        if self.cpus_per_task is not None and self.cpus_per_task < 1:
            raise UsageError(f"--cpus-per-task must be >= 1, but got {self.cpus_per_task}.")
        if not 0 <= self.signal_margin <= MAX_SIGNAL_MARGIN:
            raise UsageError(f"--signal-margin must be 0 to {MAX_SIGNAL_MARGIN} seconds, but got {self.signal_margin}.")
        for arg in self.sbatch_args:
            if not arg.startswith("-") or "\n" in arg:
                raise UsageError(f"--sbatch-arg takes one sbatch option like '--qos=long', but got {arg!r}.")
        for name in ("partition", "account", "time", "mem", "job_name", "output"):
            value = getattr(self, name)
            if value is not None and (not value.strip() or re.search(r"\s", value)):
                raise UsageError(f"--{name.replace('_', '-')} must be one word, but got {value!r}.")

    @property
    def name(self) -> str:
        return self.job_name or "hpsearch-" + re.sub(r"[^A-Za-z0-9._-]+", "_", self.studies[0])


def render_script(job: SlurmJob) -> str:
    """The sbatch script of ``job``: ``#SBATCH`` lines, the setup, then the workers under a TERM trap."""
    directives = [f"--job-name={job.name}", f"--array=0-{job.tasks - 1}", f"--output={job.output}"]
    if job.gpus_per_task:
        directives.append(f"--gres=gpu:{job.gpus_per_task}")
    for option, value in (
        ("cpus-per-task", job.cpus_per_task),
        ("mem", job.mem),
        ("time", job.time),
        ("partition", job.partition),
        ("account", job.account),
    ):
        if value is not None:
            directives.append(f"--{option}={value}")
    directives.append(f"--signal=B:TERM@{job.signal_margin}")
    if job.requeue:
        directives.append("--requeue")
    directives += job.sbatch_args

    worker = [*job.command]
    for study in job.studies:
        worker += ["--study", study]
    if job.gpus_per_task:
        worker += ["--gpus", "all", "--workers-per-gpu", str(job.workers_per_gpu)]
    if job.device is not None:
        worker += ["--device", job.device]
    worker += job.worker_args

    lines = ["#!/bin/bash", *(f"#SBATCH {d}" for d in directives), ""]
    lines += [
        f"# Written by `hpsearch slurm` for {', '.join(job.studies)}: each array task runs hpsearch workers",
        "# until the queue is empty. The storage URL is not in this script: the workers read it from",
        f"# ${STORAGE_FILE_ENV} (a file of mode 600) or ${STORAGE_ENV}. SLURM sends SIGTERM to this shell",
        f"# {job.signal_margin} s before the time limit; the workers get it, re-queue their trials with the",
        "# finished seeds and exit 0. Stop a task the same way: scancel --batch --signal=TERM JOB_TASK.",
        "",
    ]
    if job.setup:
        lines += ["# setup", job.setup.strip(), ""]
    if job.storage_file is not None:
        lines += [f"export {STORAGE_FILE_ENV}={shlex.quote(str(job.storage_file))}", f"unset {STORAGE_ENV}"]
    lines += [
        f'if [[ -z "${{{STORAGE_FILE_ENV}:-}}${{{STORAGE_ENV}:-}}" ]]; then',
        f'    echo "hpsearch: no storage for the workers: set {STORAGE_FILE_ENV} or {STORAGE_ENV} before sbatch" >&2',
        "    exit 2",
        "fi",
        "export HPSEARCH_PROGRESS=lines",
        "",
        f"{shlex.join(worker)} &",
        "worker=$!",
        'trap \'echo "hpsearch: SIGTERM: stopping the workers"; kill -TERM "$worker" 2>/dev/null\' TERM',
        "while true; do  # a trap ends a wait early: wait until the worker has exited",
        '    wait "$worker"; code=$?',
        '    kill -0 "$worker" 2>/dev/null || break',
        "done",
        'echo "hpsearch: workers exited with code $code"',
        'exit "$code"',
        "",
    ]
    return "\n".join(lines)


def slurm_script(job: SlurmJob, storage_url: str) -> str:
    """``job``'s script, once its studies are found in the storage and its storage file is private.

    Raises:
        StudyNotFoundError, StorageError: a study is not in the storage, or the storage cannot be opened.
        UsageError: the storage file is missing, empty, or readable by others.
    """
    if job.storage_file is not None:
        read_storage_file(job.storage_file)
    resolve_studies(open_storage(storage_url, must_exist=True), job.studies)
    return render_script(job)


def submit_script(script: str, *, env: MutableMapping[str, str] | None = None, sbatch: str = "sbatch") -> str:
    """Submit ``script`` with ``sbatch --parsable``; its job id.

    Args:
        script: The sbatch script (``render_script``).
        env: sbatch's environment, which the job inherits; this process's unless given.
        sbatch: The sbatch command.

    Raises:
        UsageError: sbatch is not installed, or refused the script (its first error line).
    """
    path = shutil.which(sbatch)
    if path is None:
        raise UsageError(f"{sbatch} not found: submit from a SLURM login node, or write the script with -o FILE.")
    done = subprocess.run([path, "--parsable"], input=script, text=True, capture_output=True, env=env, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit code {done.returncode}"]
        raise UsageError(f"sbatch refused the job: {lines[-1].strip()}")
    return done.stdout.strip().split(";")[0]


def under_slurm(environ: MutableMapping[str, str] | None = None) -> bool:
    """Whether this process runs in a SLURM job."""
    return bool((os.environ if environ is None else environ).get(SLURM_JOB_ENV))


def pin_gpu(gpu: int, environ: MutableMapping[str, str] | None = None) -> None:
    """Pin this process to GPU ``gpu`` (``CUDA_VISIBLE_DEVICES``), before CUDA starts.

    Under SLURM, the GPUs SLURM assigned (``CUDA_VISIBLE_DEVICES`` as set) are kept: ``gpu`` may
    not be one of them, and the ``--gpus`` fleet already narrowed them to one per worker.
    """
    environ = os.environ if environ is None else environ
    if under_slurm(environ) and environ.get("CUDA_VISIBLE_DEVICES"):
        return
    environ["CUDA_VISIBLE_DEVICES"] = str(gpu)


def job_environment(job: SlurmJob, storage_url: str, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """sbatch's environment, which the job inherits: this process's, with ``HPSEARCH_STORAGE`` set to
    ``storage_url`` unless the job reads a storage file. The URL reaches the workers without being
    written in the script."""
    env = dict(os.environ if environ is None else environ)
    if job.storage_file is None:
        env[STORAGE_ENV] = storage_url
    return env
