"""``hpsearch slurm``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from hpsearch.cli._common import Storage, handle_errors, out, warn
from hpsearch.errors import UsageError
from hpsearch.store import DEFAULT_STORAGE, STORAGE_ENV, STORAGE_FILE_ENV, read_storage_file
from hpsearch.worker import SlurmJob, job_environment, slurm_script, submit_script

PANEL = "SLURM resources"


@handle_errors
def slurm(
    ctx: typer.Context,
    study: Annotated[list[str], typer.Option("--study", "-s", help="Study name or glob pattern; repeatable.")],
    storage: Storage = DEFAULT_STORAGE,
    storage_file: Annotated[
        Path | None,
        typer.Option(
            "--storage-file",
            help="A file of mode 600 holding the storage URL; the job reads it at run time "
            "(default: HPSEARCH_STORAGE_FILE, else HPSEARCH_STORAGE as the job inherits it).",
            rich_help_panel="Storage",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the script to this file (default: stdout).")
    ] = None,
    submit: Annotated[bool, typer.Option("--submit", help="Submit it with sbatch and print the job id.")] = False,
    tasks: Annotated[int, typer.Option("--tasks", help="Array tasks, each running its own workers.")] = 1,
    gpus_per_task: Annotated[
        int | None,
        typer.Option("--gpus-per-task", help="GPUs per task (default 1; 0 with --device cpu).", rich_help_panel=PANEL),
    ] = None,
    workers_per_gpu: Annotated[
        int, typer.Option("--workers-per-gpu", help="Workers sharing each GPU.", rich_help_panel=PANEL)
    ] = 1,
    partition: Annotated[str | None, typer.Option("--partition", rich_help_panel=PANEL)] = None,
    account: Annotated[str | None, typer.Option("--account", rich_help_panel=PANEL)] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Time limit per task, as sbatch takes it.", rich_help_panel=PANEL)
    ] = None,
    mem: Annotated[str | None, typer.Option("--mem", help="Memory per task (16G).", rich_help_panel=PANEL)] = None,
    cpus_per_task: Annotated[int | None, typer.Option("--cpus-per-task", rich_help_panel=PANEL)] = None,
    sbatch_arg: Annotated[
        list[str] | None,
        typer.Option("--sbatch-arg", help="A further sbatch option ('--qos=long'); repeatable.", rich_help_panel=PANEL),
    ] = None,
    setup: Annotated[
        str | None,
        typer.Option("--setup", help="Shell lines run first in each task: 'module load cuda; . venv/bin/activate'."),
    ] = None,
    signal_margin: Annotated[
        int,
        typer.Option("--signal-margin", help="Seconds before the time limit at which workers hand their trials back."),
    ] = 300,
    requeue: Annotated[bool, typer.Option("--requeue", help="Let SLURM requeue preempted tasks.")] = False,
    device: Annotated[
        str | None, typer.Option("--device", help="The workers' --device: cpu for CPU-only clusters.")
    ] = None,
    worker_arg: Annotated[
        list[str] | None,
        typer.Option("--worker-arg", help="A further hpsearch worker option ('--data-dir=/data'); repeatable."),
    ] = None,
) -> None:
    """Write or submit an sbatch script: a job array of hpsearch workers for the study.

    Example: hpsearch slurm --study ajmc-en-t5-base --tasks 4 --time 8:00:00 --storage-file ~/.hpsearch-db --submit
    """
    if output is not None and submit:
        raise UsageError("give either -o FILE (write the script) or --submit, not both.")
    from_file = ctx.get_parameter_source("storage").name == "DEFAULT" and not os.environ.get(STORAGE_ENV)
    if storage_file is None and from_file and os.environ.get(STORAGE_FILE_ENV):
        storage_file = Path(os.environ[STORAGE_FILE_ENV])  # the job reads the same file
    if storage_file is not None:
        storage_file = storage_file.expanduser().resolve()
        storage = read_storage_file(storage_file)
    if gpus_per_task is None:
        gpus_per_task = 0 if device == "cpu" else 1
    job = SlurmJob(
        studies=tuple(study),
        tasks=tasks,
        gpus_per_task=gpus_per_task,
        workers_per_gpu=workers_per_gpu,
        partition=partition,
        account=account,
        time=time,
        mem=mem,
        cpus_per_task=cpus_per_task,
        sbatch_args=tuple(sbatch_arg or ()),
        setup=setup,
        signal_margin=signal_margin,
        requeue=requeue,
        device=device,
        storage_file=storage_file,
        worker_args=tuple(worker_arg or ()),
    )
    script = slurm_script(job, storage)
    if submit:
        job_id = submit_script(script, env=job_environment(job, storage))
        out.print(job_id, markup=False)
        return
    if storage_file is None:
        warn(f"the job reads the storage URL from {STORAGE_FILE_ENV} or {STORAGE_ENV}: export one before sbatch.")
    if output is None:
        sys.stdout.write(script)
    else:
        output.write_text(script)
        out.print(f"wrote {output}; submit it with: sbatch {output}", markup=False)
