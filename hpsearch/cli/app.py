"""Typer commands. Each parses its options, calls one library function and prints the result."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from hpsearch.errors import HpsearchError
from hpsearch.storage import DEFAULT_STORAGE

app = typer.Typer(
    name="hpsearch",
    help="Hyperparameter search for fine-tuning Flair NER taggers, on Optuna.\n\n"
    "Example: hpsearch create --model t5-base && hpsearch worker --study ajmc-en-t5-base --gpu 0",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode="rich",
)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

STORAGE_HELP = "Optuna storage URL: sqlite:///file.db or postgresql+psycopg://user:pass@host/db."
Storage = Annotated[
    str, typer.Option("--storage", envvar="HPSEARCH_STORAGE", help=STORAGE_HELP, rich_help_panel="Storage")
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="HPSEARCH_DATA_DIR",
        help="Local copy of the HIPE-2022-data repository (offline); default: download with Flair.",
        rich_help_panel="Data",
    ),
]


class IfExists(StrEnum):
    fail = "fail"
    resume = "resume"


class KeepModels(StrEnum):
    all = "all"
    best = "best"
    none = "none"


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def handle_errors(fn: F) -> F:
    """Turn hpsearch's errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HpsearchError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        from hpsearch import __version__

        out.print(f"hpsearch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Hyperparameter search for fine-tuning Flair NER taggers, on Optuna."""


@app.command()
@handle_errors
def create(
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Zoo preset (bert, electra, convbert, t5-small, t5-base, t5-large), hub id or folder."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Study config: a studies/*.toml file or the recipe's JSON.")
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", "-s", help="Study name [default: <dataset>-<lang>-<model>].")
    ] = None,
    storage: Storage = DEFAULT_STORAGE,
    dataset: Annotated[
        list[str] | None, typer.Option("--dataset", help="DATASET/LANG, repeatable (union); default ajmc/en.")
    ] = None,
    lr: Annotated[list[float] | None, typer.Option("--lr", help="Learning rate, repeatable.")] = None,
    batch_size: Annotated[list[int] | None, typer.Option("--batch-size", help="Batch size, repeatable.")] = None,
    epochs: Annotated[list[int] | None, typer.Option("--epochs", help="Epochs, repeatable.")] = None,
    context_size: Annotated[
        list[int] | None, typer.Option("--context-size", help="FLERT context size (0 = none), repeatable.")
    ] = None,
    seeds: Annotated[str | None, typer.Option("--seeds", help="Seeds, e.g. '1,2,3,4,5' or '1-5'.")] = None,
    data_dir: DataDir = None,
    if_exists: Annotated[
        IfExists, typer.Option("--if-exists", help="An existing study: fail, or resume it if its spec is the same.")
    ] = IfExists.fail,
) -> None:
    """Create a study with its grid queued; needs no GPU and no download.

    Example: hpsearch create --model t5-base --data-dir ../HIPE-2022-data
    """
    from hpsearch.service import create_from_options

    outcome = create_from_options(
        storage,
        model=model,
        config=config,
        study=study,
        datasets=dataset or [],
        learning_rates=lr or [],
        batch_sizes=batch_size or [],
        epochs=epochs or [],
        context_sizes=context_size or [],
        seeds=seeds,
        data_dir=data_dir,
        if_exists=if_exists.value,
        warn=lambda text: err.print(f"[yellow]warning:[/] {text}", highlight=False),
    )
    verb = "created" if outcome.created else "resumed"
    out.print(f"{verb} study [bold]{outcome.name}[/] in {outcome.storage}: {outcome.n_trials} configurations queued")
    out.print(f"next: hpsearch worker --study {outcome.name}" + _storage_flag(storage))


@app.command()
@handle_errors
def worker(
    study: Annotated[list[str], typer.Option("--study", "-s", help="Study name or glob pattern; repeatable.")],
    storage: Storage = DEFAULT_STORAGE,
    gpu: Annotated[
        int | None, typer.Option("--gpu", help="Pin this worker to one GPU (sets CUDA_VISIBLE_DEVICES).")
    ] = None,
    gpus: Annotated[str | None, typer.Option("--gpus", help="Start one worker per GPU: '0,1,2,3' or 'all'.")] = None,
    device: Annotated[Device, typer.Option("--device", help="auto (GPU if any), cpu or cuda.")] = Device.auto,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", envvar="HPSEARCH_OUTPUT_DIR", help="Where runs are written.")
    ] = Path("runs"),
    data_dir: DataDir = None,
    keep_models: Annotated[
        KeepModels, typer.Option("--keep-models", help="Model files to keep: all, best (study's best trial), none.")
    ] = KeepModels.best,
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only trial results and errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also Flair's own log lines.")] = False,
) -> None:
    """Train queued trials until none is left, then exit 0.

    Example: CUDA-pinned, one per GPU: hpsearch worker --study ajmc-en-t5-base --gpu 0
    """
    if gpus is not None:
        from hpsearch.fleet import run_fleet

        raise typer.Exit(run_fleet(gpus))
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)  # before torch initialises CUDA
    from hpsearch.service import start_worker

    summary = start_worker(
        storage,
        study,
        output_dir=output_dir,
        data_dir=data_dir,
        device=device.value,
        keep_models=keep_models.value,
        n_trials=n_trials,
        timeout_s=timeout,
        heartbeat_interval=heartbeat,
        grace_period=grace,
        max_retries=max_retries,
        quiet=quiet,
        verbose=verbose,
    )
    out.print(f"worker done: {summary.completed} trials complete, {summary.failed} failed")


@app.command()
@handle_errors
def status(
    study: Annotated[str | None, typer.Option("--study", "-s", help="Show this study's trials.")] = None,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """List studies, or one study's trials: state, configuration, per-seed dev F1, mean, std.

    Example: hpsearch status --study ajmc-en-t5-base
    """
    from hpsearch.service import status_tables

    for table in status_tables(storage, study):
        out.print(table)


@app.command()
@handle_errors
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Working folder for the demo's data, model, database and runs.")
    ] = Path("hpsearch-demo"),
) -> None:
    """Run a complete small search offline: sample data, a tiny model, two seeds, SQLite.

    Example: hpsearch demo --dir /tmp/demo
    """
    from hpsearch.demo import run_demo

    run_demo(directory, out)


def _storage_flag(storage: str) -> str:
    if storage == DEFAULT_STORAGE or os.environ.get("HPSEARCH_STORAGE") == storage:
        return ""
    from hpsearch.storage import mask_url

    return f" --storage '{mask_url(storage)}'"


def main() -> None:
    app()
