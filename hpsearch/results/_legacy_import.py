"""Importing the recipe's old run folders into a study as completed trials."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpsearch.errors import SpecError, StudyNotFoundError, UsageError
from hpsearch.results._legacy_logs import LogScan
from hpsearch.search import (
    DIMENSIONS,
    Config,
    ConfigResult,
    DatasetRef,
    GridSpace,
    StudySpec,
    check_study_name,
    model_label,
)
from hpsearch.store import (
    CONFIG_ATTR,
    IMPORTED_ATTR,
    create_study,
    encode_seed,
    grid_distributions,
    load_study,
    seed_attr_key,
    study_results,
    summary_attrs,
)

if TYPE_CHECKING:
    import optuna

_RECIPE_PREFIX = re.compile(r"^hipe2022-flert-fine-tune-(?P<rest>.+)$")
_DATASET = re.compile(r"^(?P<name>[a-z0-9]+)/(?P<lang>[a-z]{2})-")


@dataclass(frozen=True)
class ImportSummary:
    study: str
    created: bool
    imported: tuple[str, ...]
    skipped_present: tuple[str, ...]
    skipped_incomplete: tuple[str, ...]


def model_from_prefix(prefix: str) -> tuple[str, tuple[DatasetRef, ...]]:
    """``hipe2022-flert-fine-tune-ajmc/en-org/model`` → (``org/model``, (ajmc/en,))."""
    match = _RECIPE_PREFIX.match(prefix)
    rest = match.group("rest") if match else prefix
    datasets: list[DatasetRef] = []
    while m := _DATASET.match(rest):
        try:
            datasets.append(DatasetRef(m.group("name"), m.group("lang")))
        except SpecError:
            break
        rest = rest[m.end() :]
    return rest, tuple(datasets) or (DatasetRef("ajmc", "en"),)


def spec_from_scan(scan: LogScan) -> StudySpec:
    """A grid spec covering every configuration and seed found in the run folders."""
    if len(scan.prefixes) != 1:
        raise UsageError(
            f"the pattern matches runs of {len(scan.prefixes)} models; import one model per study (narrow the glob)."
        )
    model, datasets = model_from_prefix(scan.prefixes[0])
    configs = [Config.from_params(r.params) for r in scan.results]
    space = GridSpace(
        **{d.grid_key: tuple(dict.fromkeys(getattr(c, name) for c in configs)) for name, d in DIMENSIONS.items()}
    )
    seeds = tuple(sorted({s for r in scan.results for s in r.seeds_planned}))
    label = model_label(model.split("/")[-1], default="imported")
    return StudySpec(model=model, label=label, space=space, datasets=datasets, seeds=seeds)


def import_scan(storage: optuna.storages.BaseStorage, scan: LogScan, study_name: str | None) -> ImportSummary:
    """Add each complete configuration found as a COMPLETE trial; configurations already there are skipped.

    The study is created (with nothing queued) when it does not exist. All or nothing: every trial
    is built (and checked) before anything is written, and a study this call created is deleted
    again if adding its trials fails.

    Raises:
        UsageError: a new study's name is not a valid study name, or the runs are of several models.
        SpecError: a run's configuration or seed does not fit the existing study.
    """
    import optuna

    spec = spec_from_scan(scan) if study_name is None else None
    name = study_name or (spec.default_study_name if spec else "")
    study: optuna.Study | None
    try:
        study, spec = load_study(storage, name)
    except StudyNotFoundError:
        check_study_name(name)
        study, spec = None, spec or spec_from_scan(scan)
    present = set() if study is None else {c.name for c in study_results(study, spec).configs if c.state == "complete"}
    distributions = grid_distributions(spec)
    imported, skipped_present, skipped_incomplete = [], [], []
    trials = []
    for result in scan.results:
        if result.name in present:
            skipped_present.append(result.name)
            continue
        if not result.is_complete:
            skipped_incomplete.append(result.name)
            continue
        trials.append(_completed_trial(result, spec, distributions, scan.prefixes[0] if scan.prefixes else ""))
        imported.append(result.name)
    created = study is None
    if study is None:
        create_study(spec, storage, name, queue=False)
        study, spec = load_study(storage, name)
    try:
        study.add_trials(trials)
    except BaseException:
        if created:
            optuna.delete_study(study_name=name, storage=storage)
        raise
    return ImportSummary(name, created, tuple(imported), tuple(skipped_present), tuple(skipped_incomplete))


def _completed_trial(
    result: ConfigResult, spec: StudySpec, distributions: dict, source: str
) -> optuna.trial.FrozenTrial:
    import optuna

    config = Config(**result.params)  # type: ignore[arg-type]
    constants = spec.space.constants
    for key, value in config.to_params().items():
        if value not in (distributions[key].choices if key in distributions else (constants.get(key),)):
            raise SpecError(
                f"run configuration {result.name} has {key}={value!r}, outside study's grid; import into a new study."
            )
    runs = result.finished_runs
    seeds = spec.seeds
    missing = [r.seed for r in runs if r.seed not in seeds]
    if missing:
        raise SpecError(f"{result.name}: seeds {missing} are not among the study's seeds {list(seeds)}.")
    attrs = {
        CONFIG_ATTR: result.name,
        IMPORTED_ATTR: source,
        **summary_attrs(runs, seeds),
        **{seed_attr_key(r.seed): encode_seed(r) for r in runs},
    }
    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE,
        value=result.dev_mean,
        params=spec.space.params(config),  # the searched dimensions; the constants are in the spec
        distributions=distributions,
        user_attrs=attrs,
        intermediate_values={seeds.index(r.seed): r.dev_f1 for r in runs},
    )
