"""The operations behind the CLI commands, callable from Python with plain arguments."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from hpsearch.results import ImportSummary

from hpsearch.errors import SpecError, StudyNotFoundError
from hpsearch.search import (
    GridSpace,
    SampledSpace,
    StudySpec,
    check_hub_model,
    load_config,
    named_space,
    parse_seeds,
    spec_from_options,
)
from hpsearch.store import (
    StudyResults,
    create_study,
    load_study,
    mask_url,
    open_storage,
    parse_url,
    study_names,
    study_results,
)
from hpsearch.training import check_data_dir
from hpsearch.worker import WorkerOptions, WorkerSummary, run_worker

DEFAULT_N_TRIALS = 20
"""A sampled space's budget when ``--n-trials`` is not given."""


@dataclass(frozen=True)
class Created:
    name: str
    created: bool
    n_trials: int
    storage: str
    kind: str = "grid"
    pruner: str = "none"


def build_spec(
    *,
    model: str | None,
    config: Path | None,
    datasets: Sequence[str] = (),
    learning_rates: Sequence[float] = (),
    batch_sizes: Sequence[int] = (),
    epochs: Sequence[int] = (),
    context_sizes: Sequence[int] = (),
    seeds: str | None = None,
    data_dir: Path | None = None,
    amp: bool = False,
    space: str | None = None,
    n_trials: int | None = None,
    pruner: str | None = None,
) -> StudySpec:
    """The spec from a config file or from ``--model`` and grid options; ``amp`` switches on mixed precision.

    ``space`` (``--space``) is ``paper`` (the grid from the options), ``wide`` or a TOML file with a
    ``[space]`` table; ``n_trials`` is a sampled space's budget and ``pruner`` the early-stopping
    rule (both override a config file's).
    """
    if (model is None) == (config is None):
        raise SpecError("give either --model (a preset, hub id or folder) or --config FILE.")
    if config is not None:
        overrides = [datasets, learning_rates, batch_sizes, epochs, context_sizes, seeds]
        if any(overrides):
            raise SpecError("grid options (--lr, --batch-size, ...) go with --model; with --config, edit the file.")
        if space is not None:
            raise SpecError("--space goes with --model; with --config, the file's [space] table is the space.")
        spec = load_config(config)
        if data_dir is not None:
            spec = StudySpec(**{**spec.__dict__, "data_dir": str(data_dir.resolve())})
        if amp:
            spec = StudySpec(**{**spec.__dict__, "space": _with_amp(spec.space)})
        return _with_search(spec, spec.space, n_trials, pruner)
    assert model is not None
    paper = _paper_spec(model, datasets, learning_rates, batch_sizes, epochs, context_sizes, seeds, data_dir, amp)
    chosen = named_space(space or "paper", paper.model, paper=paper.space)
    if chosen is not paper.space:
        if any([learning_rates, batch_sizes, epochs, context_sizes]):
            raise SpecError(
                "grid options (--lr, --batch-size, --epochs, --context-size) go with --space paper; "
                "the values of another space are in its TOML file."
            )
        if amp:
            chosen = _with_amp(chosen)
    if isinstance(chosen, SampledSpace) and n_trials is None:
        n_trials = DEFAULT_N_TRIALS
    return _with_search(paper, chosen, n_trials, pruner)


def _with_amp(space: GridSpace | SampledSpace) -> GridSpace | SampledSpace:
    if isinstance(space, SampledSpace):
        return SampledSpace({**space.dimensions, "amp": (True,)})
    return replace(space, amp=(True,))


def _with_search(
    spec: StudySpec, space: GridSpace | SampledSpace, n_trials: int | None, pruner: str | None
) -> StudySpec:
    """The spec with its space, and the budget and pruner from the command line where given."""
    if n_trials is None and isinstance(space, SampledSpace) and isinstance(spec.space, SampledSpace):
        n_trials = spec.n_trials
    return StudySpec(
        **{
            **spec.__dict__,
            "space": space,
            "n_trials": n_trials,
            "pruner": pruner if pruner is not None else (spec.pruner if space is spec.space else None),
        }
    )


def _paper_spec(
    model: str,
    datasets: Sequence[str],
    learning_rates: Sequence[float],
    batch_sizes: Sequence[int],
    epochs: Sequence[int],
    context_sizes: Sequence[int],
    seeds: str | None,
    data_dir: Path | None,
    amp: bool,
) -> StudySpec:
    return spec_from_options(
        model,
        datasets=datasets,
        learning_rates=learning_rates,
        batch_sizes=batch_sizes,
        epochs=epochs,
        context_sizes=context_sizes,
        seeds=parse_seeds(seeds) if seeds else (),
        data_dir=str(data_dir.resolve()) if data_dir else None,
        amp=amp,
    )


def create_from_spec(
    storage_url: str,
    spec: StudySpec,
    *,
    study: str | None = None,
    if_exists: str = "fail",
    warn: Callable[[str], None] = lambda _text: None,
) -> Created:
    """Check the storage URL, the data and the model, then create the study; on any error nothing is written.

    ``spec`` comes from ``build_spec`` (the command line) or ``load_config``; ``study`` defaults to
    the spec's ``<dataset>-<lang>-<model>``.
    """
    parse_url(storage_url)
    if spec.data_dir is not None:
        check_data_dir(Path(spec.data_dir), spec.datasets)
    if not Path(spec.model).is_absolute():
        warning = check_hub_model(spec.model)
        if warning:
            warn(warning)
    name = study or spec.default_study_name
    storage = open_storage(storage_url)
    created = create_study(spec, storage, name, if_exists=if_exists)
    return Created(
        name=name,
        created=created,
        n_trials=spec.n_configs,
        storage=mask_url(storage_url),
        kind=spec.space.kind,
        pruner=spec.pruner or "none",
    )


def start_worker(
    storage_url: str,
    patterns: Sequence[str],
    *,
    quiet: bool = False,
    verbose: bool = False,
    **options: object,
) -> WorkerSummary:
    """Run one worker in this process on the studies matching ``patterns``.

    In a terminal it shows a live view (``RichProgress``), else one line per event.
    """
    from hpsearch.worker import RichProgress, choose_progress

    progress = choose_progress(quiet=quiet, verbose=verbose)
    live = progress if isinstance(progress, RichProgress) else None
    configure_logging(quiet=quiet, verbose=verbose, handler=live.log_handler() if live else None)
    storage = open_storage(storage_url, must_exist=True)
    names = resolve_studies(storage, patterns)
    try:
        return run_worker(storage_url, names, WorkerOptions(**options), progress=progress)
    finally:
        if live is not None:
            live.close()


def resolve_studies(storage: object, patterns: Sequence[str]) -> list[str]:
    """Study names for names or glob patterns, in the order given.

    Raises:
        StudyNotFoundError: a pattern matches no study.
    """
    names: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matched = study_names(storage, [pattern])  # type: ignore[arg-type]
            if not matched:
                raise StudyNotFoundError(f"no study matches {pattern!r}; see hpsearch status.")
        else:
            load_study(storage, pattern)  # type: ignore[arg-type]
            matched = [pattern]
        names += [n for n in matched if n not in names]
    return names


def status_tables(storage_url: str, study: str | None) -> list[Table]:
    from hpsearch.results import studies_table, trials_table

    storage = open_storage(storage_url, must_exist=True)
    if study is not None:
        results = study_results(*load_study(storage, study))
        return [studies_table([results]), trials_table(results)]
    results = [study_results(*load_study(storage, name)) for name in study_names(storage)]
    return [studies_table(results)]


def configure_logging(*, quiet: bool = False, verbose: bool = False, handler: logging.Handler | None = None) -> None:
    """hpsearch's events on stderr (or ``handler``); Flair's console lines and progress bars only with ``verbose``."""
    import os
    import warnings

    from optuna.exceptions import ExperimentalWarning

    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"flair\..*")
    if not verbose:
        os.environ.setdefault("TQDM_DISABLE", "1")
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    hp = logging.getLogger("hpsearch")
    hp.handlers[:] = [handler]
    hp.setLevel(logging.INFO)
    hp.propagate = False
    import flair  # noqa: F401 - installs Flair's console handler, which is tuned here

    for h in logging.getLogger("flair").handlers:
        if not isinstance(h, logging.FileHandler):
            h.setLevel(logging.INFO if verbose else logging.WARNING)


# --- results ------------------------------------------------------------------------------------


def load_results(storage_url: str, name: str) -> StudyResults:
    storage = open_storage(storage_url, must_exist=True)
    return study_results(*load_study(storage, name))


def load_many(storage_url: str, patterns: Sequence[str]) -> list[StudyResults]:
    storage = open_storage(storage_url, must_exist=True)
    return [study_results(*load_study(storage, n)) for n in resolve_studies(storage, patterns)]


def study_report(storage_url: str, name: str, *, debug: bool = False) -> str:
    """The recipe parser's sections for one study, then the cost of the search."""
    from hpsearch.results import cost_summary, recipe_sections, render_cost

    results = load_results(storage_url, name)
    return recipe_sections(results.configs, debug=debug) + "\n" + render_cost(cost_summary(results.configs))


def comparison(storage_url: str, patterns: Sequence[str], fmt: str) -> str:
    """The comparison table across studies, one row per study."""
    from hpsearch.results import FORMATS, render_comparison

    if fmt not in FORMATS:
        raise SpecError(f"--format must be one of {', '.join(FORMATS)}, but got {fmt!r}.")
    rows = []
    for r in load_many(storage_url, patterns):
        finished = r.count("waiting") == 0 and r.count("running") == 0
        rows.append((r.spec.label, r.configs, None if not finished else "finished"))
    return render_comparison(rows, fmt)


@dataclass(frozen=True)
class Best:
    study: str
    configuration: str
    trial: int
    dev_mean: float
    dev_std: float
    dev_per_seed: dict[int, float]
    test_mean: float
    test_std: float
    model_files: dict[int, str]

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def best_of(storage_url: str, name: str) -> Best:
    """The best complete configuration and where its kept model files are."""
    from hpsearch.store import BEST_MODEL, RUN_DIR_ATTR, seed_dir

    storage = open_storage(storage_url, must_exist=True)
    study, spec = load_study(storage, name)
    results = study_results(study, spec)
    best = results.best
    if best is None:
        raise SpecError(f"study {name!r} has no complete trial yet; see hpsearch status --study {name}.")
    trial = study.trials[best.trial_number or 0]
    run_dir = trial.user_attrs.get(RUN_DIR_ATTR)
    files = {}
    if run_dir:
        for run in best.finished_runs:
            path = seed_dir(Path(run_dir), run.seed) / BEST_MODEL
            if path.is_file():
                files[run.seed] = str(path)
    return Best(
        study=name,
        configuration=best.name,
        trial=best.trial_number or 0,
        dev_mean=best.dev_mean,
        dev_std=best.dev_std,
        dev_per_seed={r.seed: r.dev_f1 for r in best.finished_runs},
        test_mean=best.test_mean,
        test_std=best.test_std,
        model_files=files,
    )


def parse_logs(pattern: str, root: Path | None = None, *, debug: bool = False) -> tuple[str, tuple[str, ...]]:
    """The recipe parser's sections for old Flair run folders, and the warnings met."""
    from hpsearch.results import collect_runs, recipe_sections

    scan = collect_runs(pattern, root)
    return recipe_sections(scan.results, debug=debug), scan.warnings


def import_logs(storage_url: str, pattern: str, study: str | None, root: Path | None = None) -> ImportSummary:
    from hpsearch.results import collect_runs, import_scan

    scan = collect_runs(pattern, root)
    return import_scan(open_storage(storage_url), scan, study)


def plot(storage_url: str, patterns: Sequence[str], out_file: Path) -> Path:
    from hpsearch.results import plot_study

    return plot_study({r.name: r.configs for r in load_many(storage_url, patterns)}, out_file)
