"""The result commands: ``status``, ``report``, ``best``, ``parse-logs``, ``import-logs``, ``plot``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hpsearch.cli._common import Storage, choices, describe, handle_errors, out, warn
from hpsearch.errors import UsageError
from hpsearch.formatting import pct, pm
from hpsearch.results import FORMATS
from hpsearch.search import ALPHA
from hpsearch.store import DEFAULT_STORAGE

Format = choices("Format", FORMATS)
ONE_TARGET = "give either --study NAME or --studies PATTERN."


@handle_errors
def status(
    study: Annotated[str | None, typer.Option("--study", "-s", help="Show this study's trials.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable: the studies, or the study with its trials.")
    ] = False,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """List studies, or one study's trials: state, configuration, per-seed dev F1, mean, std.

    Example: hpsearch status --study ajmc-en-t5-base
    """
    from hpsearch.results import status_data, status_tables

    if as_json:
        import json

        out.print_json(json.dumps(status_data(storage, study)))
        return
    for table in status_tables(storage, study):
        out.print(table)


@handle_errors
def report(
    study: Annotated[str | None, typer.Option("--study", "-s", help="One study: the recipe's sections.")] = None,
    studies: Annotated[
        list[str] | None, typer.Option("--studies", help="Glob of studies (repeatable): the comparison table.")
    ] = None,
    fmt: Annotated[
        Format,  # type: ignore[valid-type]
        typer.Option(
            "--format",
            "-f",
            help=f"Comparison table format: {describe(FORMATS)}. With --study: table (the recipe's sections), "
            "or the study's configurations as markdown, csv or json.",
        ),
    ] = Format["table"],
    debug: Annotated[bool, typer.Option("--debug", help="Also list each configuration's seed scores.")] = False,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Significance level of the tied/worse verdicts (docs/statistics.md).")
    ] = ALPHA,
    budget: Annotated[
        int | None,
        typer.Option(
            "--budget", help="Trials for the 'expected best at n trials' column [default: the smallest study's]."
        ),
    ] = None,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Results as the paper reports them.

    Examples: hpsearch report --study ajmc-en-bert --debug;  hpsearch report --studies 'ajmc-en-*' -f markdown
    """
    from hpsearch.results import comparison_report, study_report, study_rows_report

    if (study is None) == (not studies):
        raise UsageError(ONE_TARGET)
    if study is not None and fmt.value != "table":
        text = study_rows_report(storage, study, fmt.value)
    elif study is not None:
        text = study_report(storage, study, debug=debug, alpha=alpha)
    else:
        text = comparison_report(storage, studies or [], fmt.value, alpha=alpha, budget=budget)
    out.print(text, highlight=False, soft_wrap=True, markup=False)


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

    from hpsearch.results import best_of

    found = best_of(storage, study)
    if as_json:
        out.print_json(json.dumps(found.to_dict()))
        return
    seeds = "  ".join(f"{seed}: {pct(v)}" for seed, v in found.dev_per_seed.items())
    out.print(f"study:          {found.study}", highlight=False, markup=False)
    out.print(f"configuration:  {found.configuration} (trial {found.trial})", highlight=False, markup=False)
    out.print(f"dev F1:         {pm(found.dev_mean, found.dev_std)}   [{seeds}]", highlight=False, markup=False)
    out.print(f"test F1:        {pm(found.test_mean, found.test_std)}", highlight=False, markup=False)
    if found.model_files:
        for seed, path in found.model_files.items():
            out.print(f"model (seed {seed}): {path}", highlight=False, soft_wrap=True, markup=False)
    else:
        out.print("model files:    none kept here (see --keep-models)")


@handle_errors
def parse_logs(
    pattern: Annotated[str, typer.Argument(help="Glob of Flair run folders, searched below the current folder.")],
    debug: Annotated[bool, typer.Option("--debug", help="Also list each configuration's seed scores.")] = False,
) -> None:
    """Read the recipe's run folders and print the recipe parser's sections.

    Example: hpsearch parse-logs "hipe2022-flert-fine-tune-ajmc/en-*bert*"
    """
    from hpsearch.results import parse_logs as parse

    text, warnings = parse(pattern, debug=debug)
    for warning in warnings:
        warn(warning)
    out.print(text, highlight=False, soft_wrap=True, markup=False)


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
    from hpsearch.create import import_runs

    summary = import_runs(storage, pattern, study)
    verb = "created" if summary.created else "updated"
    out.print(
        f"{verb} study {summary.study}: {len(summary.imported)} configurations imported", highlight=False, markup=False
    )
    if summary.skipped_present:
        out.print(f"already there, skipped: {', '.join(summary.skipped_present)}", highlight=False, markup=False)
    if summary.skipped_incomplete:
        out.print(f"incomplete, skipped: {', '.join(summary.skipped_incomplete)}", highlight=False, markup=False)


@handle_errors
def plot(
    output: Annotated[Path, typer.Option("--output", "-o", help="FILE.png or FILE.html.")],
    study: Annotated[str | None, typer.Option("--study", "-s", help="One study.")] = None,
    studies: Annotated[
        list[str] | None, typer.Option("--studies", help="Glob of studies (repeatable), side by side.")
    ] = None,
    expected_best: Annotated[
        bool,
        typer.Option(
            "--expected-best", help="Instead, each study's expected best dev F1 against trials, in one figure."
        ),
    ] = False,
    top: Annotated[int, typer.Option("--top", help="Plot each study's best N configurations (by mean dev F1).")] = 10,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Plot seed scores per configuration (mean ± std) and dev-F1 curves per epoch; .html is interactive.

    Examples: hpsearch plot --studies 'ajmc-en-*' -o zoo.png;  hpsearch plot -s ajmc-en-bert --expected-best -o b.png
    """
    from hpsearch.results import plot_studies

    if (study is None) == (not studies):
        raise UsageError(ONE_TARGET)
    path = plot_studies(storage, [study] if study else (studies or []), output, expected_best=expected_best, top=top)
    out.print(f"wrote {path}", highlight=False, markup=False)
