"""``hpsearch worker``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hpsearch.cli._common import ArtifactsDir, DataDir, Storage, choices, describe, error, handle_errors, out
from hpsearch.errors import UsageError
from hpsearch.store import DEFAULT_STORAGE
from hpsearch.worker import KEEP_MODELS, WorkerOptions

KeepModels = choices("KeepModels", KEEP_MODELS)
DEFAULT_KEEP_MODELS = KeepModels(WorkerOptions.keep_models)


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@handle_errors
def worker(
    study: Annotated[list[str], typer.Option("--study", "-s", help="Study name or glob pattern; repeatable.")],
    storage: Storage = DEFAULT_STORAGE,
    gpu: Annotated[
        int | None, typer.Option("--gpu", help="Pin this worker to one GPU (sets CUDA_VISIBLE_DEVICES).")
    ] = None,
    gpus: Annotated[str | None, typer.Option("--gpus", help="Start one worker per GPU: '0,1,2,3' or 'all'.")] = None,
    workers_per_gpu: Annotated[
        int, typer.Option("--workers-per-gpu", help="With --gpus: this many workers share each GPU.")
    ] = 1,
    device: Annotated[Device, typer.Option("--device", help="auto (GPU if any), cpu or cuda.")] = Device.auto,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", envvar="HPSEARCH_OUTPUT_DIR", help="Where runs are written.")
    ] = Path("runs"),
    data_dir: DataDir = None,
    artifacts: ArtifactsDir = None,
    keep_models: Annotated[
        KeepModels,  # type: ignore[valid-type]
        typer.Option("--keep-models", help=f"Model files to keep: {describe(KEEP_MODELS)}."),
    ] = DEFAULT_KEEP_MODELS,
    n_trials: Annotated[int | None, typer.Option("--n-trials", help="Stop after this many trials.")] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Start no new trial after this many seconds.")
    ] = None,
    heartbeat: Annotated[
        int, typer.Option("--heartbeat", help="Seconds between heartbeats of the running trial.")
    ] = 20,
    grace: Annotated[
        int, typer.Option("--grace", help="Seconds without heartbeat after which a trial counts as dead.")
    ] = 60,
    max_retries: Annotated[int, typer.Option("--max-retries", help="Re-queues of a dead worker's trial.")] = 3,
    recipe_exact: Annotated[
        bool,
        typer.Option("--recipe-exact", help="Train exactly as the recipe's script, without the work-saving defaults."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only trial results and errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also Flair's own log lines.")] = False,
) -> None:
    """Train queued trials until none is left, then exit 0.

    Example: CUDA-pinned, one per GPU: hpsearch worker --study ajmc-en-t5-base --gpu 0
    """
    if gpus is not None:
        from hpsearch.worker import run_fleet

        raise typer.Exit(run_fleet(gpus, workers_per_gpu=workers_per_gpu))
    if workers_per_gpu != 1:
        raise UsageError("--workers-per-gpu needs --gpus (the workers share the GPUs listed there).")
    if gpu is not None:
        from hpsearch.worker import pin_gpu

        pin_gpu(gpu)  # before torch initialises CUDA; under SLURM its CUDA_VISIBLE_DEVICES stays
    from hpsearch.worker import start_worker

    summary = start_worker(
        storage,
        study,
        output_dir=output_dir,
        data_dir=data_dir,
        artifacts_dir=artifacts,
        device=device.value,
        keep_models=keep_models.value,
        n_trials=n_trials,
        timeout_s=timeout,
        heartbeat_interval=heartbeat,
        grace_period=grace,
        max_retries=max_retries,
        recipe_exact=recipe_exact,
        quiet=quiet,
        verbose=verbose,
    )
    pruned = f", {summary.pruned} pruned" if summary.pruned else ""
    out.print(f"worker done: {summary.completed} trials complete{pruned}, {summary.failed} failed", markup=False)
    if summary.fault:
        from hpsearch.worker import WORKER_FAULT_EXIT

        error(f"this worker cannot run trials: {summary.fault}; its trial is queued again, untouched.")
        raise typer.Exit(WORKER_FAULT_EXIT)
