"""The operations behind the CLI commands, callable from Python with plain arguments."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from hpsearch.data import check_data_dir
from hpsearch.errors import SpecError, StudyNotFoundError
from hpsearch.spec import StudySpec, load_config, parse_seeds, spec_from_options
from hpsearch.storage import mask_url, open_storage
from hpsearch.study import create_study, load_study, study_names, study_results
from hpsearch.worker import WorkerOptions, WorkerSummary, run_worker
from hpsearch.zoo import check_hub_model


@dataclass(frozen=True)
class Created:
    name: str
    created: bool
    n_trials: int
    storage: str


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
) -> StudySpec:
    """The spec from a config file or from ``--model`` and grid options."""
    if (model is None) == (config is None):
        raise SpecError("give either --model (a preset, hub id or folder) or --config FILE.")
    if config is not None:
        overrides = [datasets, learning_rates, batch_sizes, epochs, context_sizes, seeds]
        if any(overrides):
            raise SpecError("grid options (--lr, --batch-size, ...) go with --model; with --config, edit the file.")
        spec = load_config(config)
        if data_dir is not None:
            spec = StudySpec(**{**spec.__dict__, "data_dir": str(data_dir.resolve())})
        return spec
    assert model is not None
    return spec_from_options(
        model,
        datasets=datasets,
        learning_rates=learning_rates,
        batch_sizes=batch_sizes,
        epochs=epochs,
        context_sizes=context_sizes,
        seeds=parse_seeds(seeds) if seeds else (),
        data_dir=str(data_dir.resolve()) if data_dir else None,
    )


def create_from_options(
    storage_url: str,
    *,
    model: str | None,
    config: Path | None,
    study: str | None,
    datasets: Sequence[str] = (),
    learning_rates: Sequence[float] = (),
    batch_sizes: Sequence[int] = (),
    epochs: Sequence[int] = (),
    context_sizes: Sequence[int] = (),
    seeds: str | None = None,
    data_dir: Path | None = None,
    if_exists: str = "fail",
    warn: Callable[[str], None] = lambda _text: None,
) -> Created:
    """Validate everything first, then create the study; on any error nothing is written."""
    spec = build_spec(
        model=model,
        config=config,
        datasets=datasets,
        learning_rates=learning_rates,
        batch_sizes=batch_sizes,
        epochs=epochs,
        context_sizes=context_sizes,
        seeds=seeds,
        data_dir=data_dir,
    )
    if spec.data_dir is not None:
        check_data_dir(Path(spec.data_dir), spec.datasets)
    if not Path(spec.model).is_absolute():
        warning = check_hub_model(spec.model)
        if warning:
            warn(warning)
    name = study or spec.default_study_name
    storage = open_storage(storage_url)
    created = create_study(spec, storage, name, if_exists=if_exists)
    return Created(name=name, created=created, n_trials=spec.n_configs, storage=mask_url(storage_url))


def start_worker(
    storage_url: str,
    patterns: Sequence[str],
    *,
    quiet: bool = False,
    verbose: bool = False,
    **options: object,
) -> WorkerSummary:
    """Run one worker in this process on the studies matching ``patterns``."""
    configure_logging(quiet=quiet, verbose=verbose)
    storage = open_storage(storage_url, must_exist=True)
    names = resolve_studies(storage, patterns)
    from hpsearch.progress import LineProgress

    return run_worker(storage_url, names, WorkerOptions(**options), progress=LineProgress(quiet=quiet, verbose=verbose))


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
    from hpsearch.status import studies_table, trials_table

    storage = open_storage(storage_url, must_exist=True)
    if study is not None:
        return [trials_table(study_results(*load_study(storage, study)))]
    results = [study_results(*load_study(storage, name)) for name in study_names(storage)]
    return [studies_table(results)]


def configure_logging(*, quiet: bool = False, verbose: bool = False) -> None:
    """hpsearch's events on stderr; Flair's own console lines and progress bars only with ``verbose``."""
    import os
    import warnings

    from optuna.exceptions import ExperimentalWarning

    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"flair\..*")
    if not verbose:
        os.environ.setdefault("TQDM_DISABLE", "1")
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
