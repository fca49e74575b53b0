"""The lifecycle commands: ``list``, ``extend``, ``delete``, ``export`` and ``logs``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hpsearch.cli._common import ArtifactsDir, Storage, choices, handle_errors, out, storage_flag
from hpsearch.errors import UsageError
from hpsearch.formatting import pm, short_duration
from hpsearch.results import EXPORT_FORMATS
from hpsearch.store import DEFAULT_STORAGE

StudyName = Annotated[str, typer.Option("--study", "-s", help="The study.")]
OutputDir = Annotated[
    Path,
    typer.Option(
        "--output-dir", envvar="HPSEARCH_OUTPUT_DIR", help="The workers' run folder root (worker --output-dir)."
    ),
]


@handle_errors
def list_studies(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output: a list of studies.")] = False,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """One line a study: name, model, done/running/queued/failed, best configuration, ETA.

    Example: hpsearch list --json
    """
    import json

    from hpsearch.results import all_study_results, study_summary

    summaries = [study_summary(r) for r in all_study_results(storage)]
    if as_json:
        out.print_json(json.dumps(summaries))
        return
    if not summaries:
        out.print("no studies here; create one with hpsearch create.", highlight=False)
        return
    width = max(len(s["study"]) for s in summaries)
    for s in summaries:
        counts = f"{s['done']}/{s['configurations']} done, {s['running']} running, {s['queued']} queued, "
        counts += f"{s['failed']} failed"
        best = s["best_configuration"]
        best_text = f"best {best} {pm(s['best_dev_mean'], s['best_dev_std'], '')}" if best else "best -"
        eta = f"ETA {short_duration(s['eta_s'])}" if s["eta_s"] else "ETA -"
        line = f"{s['study']:<{width}}  {s['model']}  {counts}  {best_text}  {eta}"
        out.print(line, highlight=False, markup=False, soft_wrap=True)


@handle_errors
def extend(
    study: StudyName,
    lr: Annotated[list[float] | None, typer.Option("--lr", help="Learning rate to add, repeatable.")] = None,
    batch_size: Annotated[list[int] | None, typer.Option("--batch-size", help="Batch size to add, repeatable.")] = None,
    epochs: Annotated[list[int] | None, typer.Option("--epochs", help="Epochs to add, repeatable.")] = None,
    context_size: Annotated[
        list[int] | None, typer.Option("--context-size", help="FLERT context size to add, repeatable.")
    ] = None,
    n_trials: Annotated[
        int | None,
        typer.Option("--n-trials", help="Trials to add to a sampled space's budget.", rich_help_panel="Search"),
    ] = None,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Add grid values (or sampled trials) to a study and queue only the configurations that are new.

    A grid is rebuilt with its trials and results kept; stop its workers first.

    Example: hpsearch extend --study ajmc-en-bert --lr 1e-4
    """
    from hpsearch.create import extend_from_options

    done = extend_from_options(
        storage,
        study,
        learning_rates=lr or [],
        batch_sizes=batch_size or [],
        epochs=epochs or [],
        context_sizes=context_size or [],
        n_trials=n_trials,
    )
    for change in done.changes:
        out.print(f"changed {change}", highlight=False, markup=False, soft_wrap=True)
    if done.added:
        out.print(f"queued {done.n_added} new configurations: {', '.join(done.added)}", highlight=False, markup=False)
    elif done.n_added:
        out.print(f"queued {done.n_added} more trials (configurations drawn by the workers)", highlight=False)
    else:
        out.print("nothing new to queue", highlight=False)
    if done.n_added:
        out.print(f"next: hpsearch worker --study {done.name}" + storage_flag(storage), highlight=False, markup=False)


def _on_terminal() -> bool:
    """Whether someone can answer a question: stdin is a terminal."""
    return sys.stdin.isatty()


@handle_errors
def delete(
    study: StudyName,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete without asking (needed when not on a terminal).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Delete even while trials are running.")] = False,
    output_dir: OutputDir = Path("runs"),
    artifacts: ArtifactsDir = None,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Delete a study, the run folders of its trials (inside --output-dir) and its artifacts.

    Example: hpsearch delete --study ajmc-en-bert --output-dir runs --yes
    """
    from hpsearch.store import delete_study_and_runs, load_study, open_storage, resolve_artifacts_dir

    load_study(open_storage(storage, must_exist=True), study)  # no such study: say so before asking
    if not yes:
        if not _on_terminal():
            raise UsageError(f"not on a terminal: pass --yes to delete study {study!r} with its runs and artifacts.")
        if not typer.confirm(f"Delete study {study!r}, its run folders under {output_dir} and its artifacts?"):
            raise typer.Exit(code=1)
    done = delete_study_and_runs(
        storage, study, output_dir=output_dir, artifacts_dir=resolve_artifacts_dir(storage, artifacts), force=force
    )
    out.print(
        f"deleted study {done.name}: {done.n_trials} trials, {len(done.run_dirs)} run folders, "
        f"{done.n_artifacts} artifacts",
        highlight=False,
        markup=False,
    )
    for path in done.skipped:
        out.print(f"left alone (outside {output_dir}): {path}", highlight=False, markup=False, soft_wrap=True)


ExportFormat = choices("ExportFormat", EXPORT_FORMATS)


@handle_errors
def export(
    study: StudyName,
    fmt: Annotated[
        ExportFormat,  # type: ignore[valid-type]
        typer.Option("--format", "-f", help="csv (one line per trial and seed) or json (a list of rows)."),
    ] = ExportFormat["csv"],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file [default: stdout].")] = None,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Every trial and seed: configuration, parameters, state, dev F1 per epoch, best-epoch dev and test F1, time, host.

    Example: hpsearch export --study ajmc-en-bert -f csv -o ajmc-en-bert.csv
    """
    from hpsearch.results import export_study

    text = export_study(storage, study, fmt.value)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {output}: {e.strerror or e}.") from None
    out.print(f"wrote {output}", highlight=False, markup=False)


@handle_errors
def logs(
    study: StudyName,
    trial: Annotated[int, typer.Option("--trial", "-t", help="The trial number (hpsearch status --study).")],
    seed: Annotated[int | None, typer.Option("--seed", help="The seed [default: the latest with a log].")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-F", help="Keep printing new lines until the trial ends (Ctrl-C stops).")
    ] = False,
    artifacts: ArtifactsDir = None,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Print a run's Flair training.log, from its run folder or else from the artifact store.

    Example: hpsearch logs --study ajmc-en-bert --trial 3 --seed 2 --follow
    """
    from hpsearch.store import find_training_log, follow_log, resolve_artifacts_dir, trial_is_running

    found = find_training_log(storage, study, trial, seed, resolve_artifacts_dir(storage, artifacts))

    def emit(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    if found.path is None:
        emit(found.text or "")
        return
    if not (follow and found.running):
        emit(found.path.read_text(encoding="utf-8", errors="replace"))
        return
    try:
        follow_log(found.path, emit, trial_is_running(storage, study, trial))
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None
