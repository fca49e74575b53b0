"""Typer commands. Each parses its options, calls one library function and prints the result."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from hpsearch.errors import HpsearchError
from hpsearch.store import DEFAULT_STORAGE

app = typer.Typer(
    name="hpsearch",
    help="Hyperparameter search for fine-tuning Flair NER taggers, on Optuna.\n\n"
    "Example: hpsearch create --model t5-base && hpsearch worker --study ajmc-en-t5-base --gpu 0",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode="rich",
)
# Piped output gets wide tables rather than columns squeezed to 80 characters.
out = Console() if sys.stdout.isatty() else Console(width=200)
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
ArtifactsDir = Annotated[
    Path | None,
    typer.Option(
        "--artifacts",
        envvar="HPSEARCH_ARTIFACTS",
        help="Artifact folder (training logs, best model) that workers write and the dashboard shows; "
        "default: artifacts/ next to the SQLite file, ./artifacts with PostgreSQL.",
        rich_help_panel="Storage",
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
    import logging

    logging.getLogger("optuna").setLevel(logging.WARNING)  # hpsearch prints its own summary lines


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
    amp: Annotated[
        bool,
        typer.Option(
            "--amp",
            help="Train with mixed precision (bf16 where the GPU has it, else fp16); can change results, so "
            "configuration names get '-amp'. Needs GPU workers.",
        ),
    ] = False,
    if_exists: Annotated[
        IfExists, typer.Option("--if-exists", help="An existing study: fail, or resume it if its spec is the same.")
    ] = IfExists.fail,
    space: Annotated[
        str | None,
        typer.Option(
            "--space",
            help="paper (the grid from the options above), wide (sampled with TPE: learning rate, batch size, "
            "context, layers, pooling, CRF, warmup) or a .toml file with a [space] table. [default: paper]",
            rich_help_panel="Search",
        ),
    ] = None,
    n_trials: Annotated[
        int | None,
        typer.Option(
            "--n-trials",
            help="A sampled space's budget: trials queued for all workers together. [default: 20]",
            rich_help_panel="Search",
        ),
    ] = None,
    pruner: Annotated[
        str | None,
        typer.Option(
            "--pruner",
            help="Seed-aware early stopping: none, wilcoxon or paired. [default: none for a grid, paired "
            "for a sampled space]",
            rich_help_panel="Search",
        ),
    ] = None,
) -> None:
    """Create a study with its grid (or a sampled space's budget) queued; needs no GPU and no download.

    Example: hpsearch create --model t5-base --data-dir ../HIPE-2022-data
    Example: hpsearch create --model bert --space wide --n-trials 30
    """
    from hpsearch.service import build_spec, create_from_spec

    spec = build_spec(
        model=model,
        config=config,
        datasets=dataset or [],
        learning_rates=lr or [],
        batch_sizes=batch_size or [],
        epochs=epochs or [],
        context_sizes=context_size or [],
        seeds=seeds,
        data_dir=data_dir,
        amp=amp,
        space=space,
        n_trials=n_trials,
        pruner=pruner,
    )
    outcome = create_from_spec(
        storage,
        spec,
        study=study,
        if_exists=if_exists.value,
        warn=lambda text: err.print(f"[yellow]warning:[/] {text}", highlight=False, soft_wrap=True),
    )
    verb = "created" if outcome.created else "resumed"
    queued = "configurations" if outcome.kind == "grid" else "trials (configurations drawn by the workers)"
    out.print(f"{verb} study [bold]{outcome.name}[/] in {outcome.storage}: {outcome.n_trials} {queued} queued")
    if outcome.pruner != "none":
        out.print(f"early stopping: {outcome.pruner}")
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
    artifacts: ArtifactsDir = None,
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

        raise typer.Exit(run_fleet(gpus))
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)  # before torch initialises CUDA
    from hpsearch.service import start_worker

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
    out.print(f"worker done: {summary.completed} trials complete{pruned}, {summary.failed} failed")


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
def dashboard(
    storage: Storage = DEFAULT_STORAGE,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on. There is no login: keep 127.0.0.1, use ssh -L.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on; 0 picks a free one.")] = 8080,
    artifacts: ArtifactsDir = None,
    study: Annotated[str | None, typer.Option("--study", "-s", help="Also print this study's page.")] = None,
) -> None:
    """Show the studies in optuna-dashboard: trials, per-seed values, notes, training logs, best models.

    Example: hpsearch dashboard --study ajmc-en-t5-base   (then open the printed URL)
    """
    from hpsearch.dashboard import is_loopback, start_dashboard

    board = start_dashboard(storage, host=host, port=port, artifacts_dir=artifacts, study=study)
    out.print(f"dashboard: {board.url}", highlight=False, soft_wrap=True)
    if board.study_url:
        out.print(f"study {study}: {board.study_url}", highlight=False, soft_wrap=True)
    found = "" if board.artifacts_dir.is_dir() else " (none yet)"
    out.print(f"storage: {board.storage}; artifacts: {board.artifacts_dir}{found}", highlight=False, soft_wrap=True)
    if not is_loopback(host):
        err.print(f"[yellow]warning:[/] on {host}, whoever reaches the port can read and delete studies.")
    out.print("Ctrl-C stops the dashboard.")
    try:
        board.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        board.close()


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


class Format(StrEnum):
    markdown = "markdown"
    csv = "csv"
    json = "json"
    table = "table"


@app.command()
@handle_errors
def report(
    study: Annotated[str | None, typer.Option("--study", "-s", help="One study: the recipe's sections.")] = None,
    studies: Annotated[
        list[str] | None, typer.Option("--studies", help="Glob of studies (repeatable): the comparison table.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Comparison table format.")] = Format.table,
    debug: Annotated[bool, typer.Option("--debug", help="Also list each configuration's seed scores.")] = False,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Results as the paper reports them.

    Examples: hpsearch report --study ajmc-en-bert --debug;  hpsearch report --studies 'ajmc-en-*' -f markdown
    """
    from hpsearch import service

    if (study is None) == (not studies):
        raise HpsearchError("give either --study NAME or --studies PATTERN.")
    if study is not None:
        out.print(service.study_report(storage, study, debug=debug), highlight=False, soft_wrap=True, markup=False)
    else:
        out.print(service.comparison(storage, studies or [], fmt.value), highlight=False, soft_wrap=True, markup=False)


@app.command()
@handle_errors
def best(
    study: Annotated[str, typer.Option("--study", "-s", help="The study.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """The best configuration, its scores, and its kept model files (load with SequenceTagger.load).

    Example: hpsearch best --study ajmc-en-bert --json
    """
    import json

    from hpsearch import service

    found = service.best_of(storage, study)
    if as_json:
        out.print_json(json.dumps(found.to_dict()))
        return
    seeds = "  ".join(f"{seed}: {100 * v:.2f}" for seed, v in found.dev_per_seed.items())
    out.print(f"study:          {found.study}", highlight=False)
    out.print(f"configuration:  {found.configuration} (trial {found.trial})", highlight=False)
    out.print(f"dev F1:         {100 * found.dev_mean:.2f} ± {100 * found.dev_std:.2f}   [{seeds}]", highlight=False)
    out.print(f"test F1:        {100 * found.test_mean:.2f} ± {100 * found.test_std:.2f}", highlight=False)
    if found.model_files:
        for seed, path in found.model_files.items():
            out.print(f"model (seed {seed}): {path}", highlight=False, soft_wrap=True)
    else:
        out.print("model files:    none kept here (see --keep-models)")


@app.command("parse-logs")
@handle_errors
def parse_logs(
    pattern: Annotated[str, typer.Argument(help="Glob of Flair run folders, searched below the current folder.")],
    debug: Annotated[bool, typer.Option("--debug", help="Also list each configuration's seed scores.")] = False,
) -> None:
    """Read the recipe's run folders and print the recipe parser's sections.

    Example: hpsearch parse-logs "hipe2022-flert-fine-tune-ajmc/en-*bert*"
    """
    from hpsearch import service

    text, warnings = service.parse_logs(pattern, debug=debug)
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    out.print(text, highlight=False, soft_wrap=True, markup=False)


@app.command("import-logs")
@handle_errors
def import_logs(
    pattern: Annotated[str, typer.Argument(help="Glob of Flair run folders, searched below the current folder.")],
    study: Annotated[
        str | None, typer.Option("--study", "-s", help="Target study [default: derived from the runs' model].")
    ] = None,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Import the recipe's old runs into a study as completed trials; importing twice adds nothing.

    Example: hpsearch import-logs "hipe2022-flert-fine-tune-ajmc/en-*bert*" --study ajmc-en-bert-2022
    """
    from hpsearch import service

    summary = service.import_logs(storage, pattern, study)
    verb = "created" if summary.created else "updated"
    out.print(f"{verb} study {summary.study}: {len(summary.imported)} configurations imported", highlight=False)
    if summary.skipped_present:
        out.print(f"already there, skipped: {', '.join(summary.skipped_present)}", highlight=False)
    if summary.skipped_incomplete:
        out.print(f"incomplete, skipped: {', '.join(summary.skipped_incomplete)}", highlight=False)


@app.command()
@handle_errors
def plot(
    output: Annotated[Path, typer.Option("--output", "-o", help="FILE.png or FILE.html.")],
    study: Annotated[str | None, typer.Option("--study", "-s", help="One study.")] = None,
    studies: Annotated[
        list[str] | None, typer.Option("--studies", help="Glob of studies (repeatable), side by side.")
    ] = None,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Plot seed scores per configuration (mean ± std) and dev-F1 curves per epoch.

    Example: hpsearch plot --studies 'ajmc-en-*' -o zoo.png
    """
    from hpsearch import service

    if (study is None) == (not studies):
        raise HpsearchError("give either --study NAME or --studies PATTERN.")
    path = service.plot(storage, [study] if study else (studies or []), output)
    out.print(f"wrote {path}", highlight=False)


def _storage_flag(storage: str) -> str:
    if storage == DEFAULT_STORAGE or os.environ.get("HPSEARCH_STORAGE") == storage:
        return ""
    from hpsearch.store import mask_url

    return f" --storage '{mask_url(storage)}'"


def main() -> None:
    app()
