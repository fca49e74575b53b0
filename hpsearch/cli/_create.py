"""``hpsearch create``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from hpsearch.cli._common import DataDir, Storage, describe, handle_errors, out, storage_flag, warn
from hpsearch.search import DEFAULT_PRUNER, PRUNERS
from hpsearch.store import DEFAULT_STORAGE


class IfExists(StrEnum):
    fail = "fail"
    resume = "resume"


PRUNER_HELP = (
    f"Seed-aware early stopping: {describe(PRUNERS)}. "
    f"[default: {DEFAULT_PRUNER['grid']} for a grid, {DEFAULT_PRUNER['sampled']} for a sampled space]"
)


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
    pruner: Annotated[str | None, typer.Option("--pruner", help=PRUNER_HELP, rich_help_panel="Search")] = None,
    sampler_seed: Annotated[
        int | None,
        typer.Option(
            "--sampler-seed",
            min=0,
            max=2**32 - 1,
            help="Seed of a sampled space's draws (trial n is drawn with seed + n); another seed draws other "
            "configurations. [default: 0]",
            rich_help_panel="Search",
        ),
    ] = None,
) -> None:
    """Create a study with its grid (or a sampled space's budget) queued; needs no GPU and no download.

    Example: hpsearch create --model t5-base --data-dir ../HIPE-2022-data
    Example: hpsearch create --model bert --space wide --n-trials 30
    """
    from hpsearch.create import create_from_spec
    from hpsearch.search import build_spec

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
        sampler_seed=sampler_seed,
    )
    outcome = create_from_spec(storage, spec, study=study, if_exists=if_exists.value, warn=warn)
    verb = "created" if outcome.created else "resumed"
    queued = "configurations" if outcome.kind == "grid" else "trials (configurations drawn by the workers)"
    out.print(
        f"{verb} study [bold]{escape(outcome.name)}[/] in {escape(outcome.storage)}: {outcome.n_trials} {queued} queued"
    )
    if outcome.pruner != "none":
        out.print(f"early stopping: {outcome.pruner}", markup=False)
    out.print(f"next: hpsearch worker --study {outcome.name}" + storage_flag(storage), markup=False)
