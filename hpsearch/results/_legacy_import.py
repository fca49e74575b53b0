"""Importing the recipe's old run folders into a study as completed trials."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpsearch.errors import SpecError, StudyNotFoundError
from hpsearch.results._legacy_logs import LogScan
from hpsearch.search import Config, ConfigResult, DatasetRef, GridSpace, StudySpec
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
        raise SpecError(
            f"the pattern matches runs of {len(scan.prefixes)} models; import one model per study (narrow the glob)."
        )
    model, datasets = model_from_prefix(scan.prefixes[0])
    configs = [Config(**r.params) for r in scan.results]  # type: ignore[arg-type]

    def values(attr: str) -> tuple:
        return tuple(dict.fromkeys(getattr(c, attr) for c in configs))

    space = GridSpace(
        learning_rates=values("learning_rate"),
        batch_sizes=values("batch_size"),
        epochs=values("epochs"),
        context_sizes=values("context_size"),
        layers=values("layers"),
        subtoken_poolings=values("subtoken_pooling"),
        use_crf=values("use_crf"),
    )
    seeds = tuple(sorted({s for r in scan.results for s in r.seeds_planned}))
    label = re.sub(r"[^A-Za-z0-9._+-]+", "-", model.split("/")[-1]).strip("-") or "imported"
    return StudySpec(model=model, label=label, space=space, datasets=datasets, seeds=seeds)


def import_scan(storage: optuna.storages.BaseStorage, scan: LogScan, study_name: str | None) -> ImportSummary:
    """Add each complete configuration found as a COMPLETE trial; configurations already there are skipped.

    The study is created (with nothing queued) when it does not exist.
    """
    created = False
    spec = spec_from_scan(scan) if study_name is None else None
    name = study_name or (spec.default_study_name if spec else "")
    try:
        study, spec = load_study(storage, name)
    except StudyNotFoundError:
        spec = spec or spec_from_scan(scan)
        create_study(spec, storage, name, queue=False)
        study, spec = load_study(storage, name)
        created = True
    present = {c.name for c in study_results(study, spec).configs if c.state == "complete"}
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
    study.add_trials(trials)
    if trials:
        from hpsearch.dashboard import try_update_study_note

        try_update_study_note(study)
    return ImportSummary(name, created, tuple(imported), tuple(skipped_present), tuple(skipped_incomplete))


def _completed_trial(
    result: ConfigResult, spec: StudySpec, distributions: dict, source: str
) -> optuna.trial.FrozenTrial:
    import optuna

    params = Config(**result.params).to_params()  # type: ignore[arg-type]
    for key, value in params.items():
        if value not in distributions[key].choices:
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
        params=params,
        distributions=distributions,
        user_attrs=attrs,
        intermediate_values={seeds.index(r.seed): r.dev_f1 for r in runs},
    )
