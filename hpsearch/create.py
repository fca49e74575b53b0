"""``hpsearch create`` as one call: check the storage URL, the data and the model, then create the study.

A facade over ``search`` (the model check), ``training`` (the data check), ``store`` (the study)
and ``dashboard`` (the study's first note), which must not import each other for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hpsearch.dashboard import try_update_study_note
from hpsearch.errors import SpecError, StudyNotFoundError
from hpsearch.results import ImportSummary, import_logs
from hpsearch.search import StudySpec, check_hub_model, check_study_name, extended_spec, spec_diff
from hpsearch.store import (
    Extension,
    create_study,
    extend_study,
    load_study,
    mask_url,
    open_storage,
    parse_url,
    queued_count,
)
from hpsearch.training import check_data_dir

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Created:
    """What ``create`` did: the study's name, whether it is new, and how many trials are queued now."""

    name: str
    created: bool
    n_trials: int
    storage: str
    kind: str = "grid"
    pruner: str = "none"


def create_from_spec(
    storage_url: str,
    spec: StudySpec,
    *,
    study: str | None = None,
    if_exists: str = "fail",
    warn: Callable[[str], None] = lambda _text: None,
) -> Created:
    """Check the storage URL, the data and the model, then create the study; on any error nothing is written.

    Args:
        storage_url: The study storage; created if it does not exist.
        spec: The study, from ``build_spec`` (the command line) or ``load_config``.
        study: The study's name; default the spec's ``<dataset>-<lang>-<model>``.
        if_exists: ``fail``, or ``resume`` a study of that name with the same spec.
        warn: Receives warnings that do not stop the creation (a hub model that cannot be checked).

    Raises:
        StorageError, DataError, SpecError, UsageError: before anything is written (a bad study name too).
    """
    name = check_study_name(study if study is not None else spec.default_study_name)
    parse_url(storage_url)
    if spec.data_dir is not None:
        check_data_dir(Path(spec.data_dir), spec.datasets)
    if not Path(spec.model).is_absolute():
        warning = check_hub_model(spec.model)
        if warning:
            warn(warning)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the caller prints its own summary
    storage = open_storage(storage_url)
    if if_exists == "resume":
        _check_same_spec(storage, name, spec)
    created = create_study(spec, storage, name, if_exists=if_exists)
    loaded, _ = load_study(storage, name)
    if created:
        try_update_study_note(loaded)  # the dashboard's note: spec, empty leaderboard
    return Created(
        name=name,
        created=created,
        n_trials=queued_count(loaded),  # what is queued now: a resumed study may have run some, or failed some
        storage=mask_url(storage_url),
        kind=spec.space.kind,
        pruner=spec.pruner or "none",
    )


def _check_same_spec(storage: optuna.storages.BaseStorage, name: str, spec: StudySpec) -> None:
    """Refuse to resume a study whose stored spec differs, naming each field that differs."""
    try:
        _, stored = load_study(storage, name)
    except StudyNotFoundError:
        return
    changes = spec_diff(stored, spec)
    if changes:
        raise SpecError(
            f"study {name!r} exists with a different spec ({'; '.join(changes)}); "
            f"hpsearch extend --study {name} adds grid values or trials, or choose another --study name."
        )


def extend_from_options(
    storage_url: str,
    name: str,
    *,
    learning_rates: Sequence[float] = (),
    batch_sizes: Sequence[int] = (),
    epochs: Sequence[int] = (),
    context_sizes: Sequence[int] = (),
    n_trials: int | None = None,
) -> Extension:
    """Add grid values (or ``n_trials`` more sampled trials) to a study and queue only what is new.

    Raises:
        StudyNotFoundError, SpecError, UsageError, StorageError: see ``hpsearch.store.extend_study``.
    """
    storage = open_storage(storage_url, must_exist=True)
    _, stored = load_study(storage, name)
    spec = extended_spec(
        stored,
        learning_rates=learning_rates,
        batch_sizes=batch_sizes,
        epochs=epochs,
        context_sizes=context_sizes,
        n_trials=n_trials,
    )
    extension = extend_study(storage, name, spec)
    if extension.n_added:
        try_update_study_note(load_study(storage, name)[0])
    return extension


def import_runs(storage_url: str, pattern: str, study: str | None, root: Path | None = None) -> ImportSummary:
    """``hpsearch import-logs``: the recipe's old run folders as completed trials, then the study's note.

    All or nothing (``results.import_logs``); the dashboard note is written once the trials are stored.
    """
    summary = import_logs(storage_url, pattern, study, root)
    if summary.created or summary.imported:
        loaded, _spec = load_study(open_storage(storage_url, must_exist=True), summary.study)
        try_update_study_note(loaded)
    return summary
