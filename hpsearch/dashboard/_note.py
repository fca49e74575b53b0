"""The study note hpsearch keeps in optuna-dashboard: the spec, the recipe settings and a leaderboard.

Each study carries a markdown note (optuna-dashboard's ``save_note``) with its spec and a
leaderboard of the best configurations. It is written when the study is created and rewritten
by the worker after every completed trial, so edits made to it in the dashboard do not last.

A rewrite reads only what changed since the last (``hpsearch.store.StudyView``, one per study in a
process) and derives each trial's leaderboard row once, so that its cost does not grow with the
finished trials; its text is the one ``study_note(study_results(...))`` gives.
"""

from __future__ import annotations

import heapq
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hpsearch.formatting import pct, pm
from hpsearch.results import SHORT_VERDICT, ranked, verdicts
from hpsearch.search import DIMENSIONS, ConfigResult, Domain, Range, SampledSpace
from hpsearch.store import (
    METRIC_NAME,
    SPEC_ATTR,
    Artifacts,
    StudyResults,
    best_model_filename,
    frozen_trial,
    study_view,
    trial_result,
)
from hpsearch.training import RECIPE

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from hpsearch.search import StudySpec

log = logging.getLogger("hpsearch.dashboard")

LEADERBOARD_SIZE = 10

# The settings every run shares, as train_seed reads them, and how a trial is scored.
RECIPE_SETTINGS = (
    *RECIPE.describe(),
    "a trial's value is the mean dev F1 over its seeds; ± is the population standard deviation",
)


_MISSING = "–"

_COUNTED = (
    ("complete", "complete"),
    ("running", "running"),
    ("waiting", "queued"),
    ("failed", "failed"),
    ("pruned", "pruned"),
)
"""The configurations' states the note counts, and how it names them."""


def _values(values: Sequence[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _domain(domain: Domain) -> str:
    if isinstance(domain, Range):
        return f"{domain.low:g} to {domain.high:g}" + (", log scale" if domain.log else "")
    return _values(domain)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def spec_markdown(spec: StudySpec) -> str:
    """The spec as a two-column markdown table: the searched dimensions one per row, then the fixed values."""
    space = spec.space
    rows = [
        ("Model", f"`{spec.model}` ({spec.label})"),
        ("Datasets", ", ".join(d.key for d in spec.datasets)),
        ("Seeds", _values(spec.seeds)),
        ("Search space", f"{space.kind}, {spec.n_configs} configurations × {len(spec.seeds)} seeds"),
    ]
    # The searched dimensions are the trials' Optuna params; the fixed ones are in the spec only.
    if isinstance(space, SampledSpace):
        rows += [(f"· {name}", _domain(space.dimensions[name])) for name in space.searched]
    else:
        rows += [(f"· {DIMENSIONS[name].grid_key}", _values(space.values(name))) for name in space.searched]
    if space.constants:
        rows.append(("Fixed", ", ".join(f"{name} {value}" for name, value in space.constants.items())))
    if isinstance(space, SampledSpace) or spec.pruner != "none":
        rows.append(("Early stopping", str(spec.pruner)))
    if spec.data_dir:
        rows.append(("Data folder", f"`{spec.data_dir}`"))
    lines = ["| | |", "| --- | --- |"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
    return "\n".join(lines)


def leaderboard_markdown(configs: Sequence[ConfigResult], top: int = LEADERBOARD_SIZE) -> str:
    """The ``top`` complete configurations, best mean dev F1 first (×100), each marked ``best``, ``tied``
    (with the best, by a paired test over seeds) or ``worse``."""
    return _leaderboard(ranked(configs)[:top])


def _leaderboard(best: Sequence[ConfigResult]) -> str:
    """The leaderboard of ``best``, the top of ``ranked``'s order."""
    if not best:
        return "_No configuration has finished all its seeds yet._"
    lines = [
        "| # | Configuration | Trial | Dev F1 (mean ± std) | Dev F1 per seed | Test F1 (mean ± std) | vs best |",
        "| ---: | --- | ---: | ---: | --- | ---: | --- |",
    ]
    marks = verdicts(best)  # each verdict compares one configuration with the best alone: those shown suffice
    for rank, c in enumerate(best, start=1):
        per_seed = ", ".join(f"{r.seed}: {pct(r.dev_f1, _MISSING)}" for r in c.finished_runs)
        dev = pm(c.dev_mean, c.dev_std, _MISSING)
        test = pm(c.test_mean, c.test_std, _MISSING) if c.test_scores else _MISSING
        mark = SHORT_VERDICT.get(marks.get(c.name, ""), _MISSING)
        lines.append(f"| {rank} | `{_cell(c.name)}` | {c.trial_number} | {dev} | {per_seed} | {test} | {mark} |")
    return "\n".join(lines)


def study_note(results: StudyResults, *, best_model: str | None = None, updated: datetime | None = None) -> str:
    """The study's note: objective, spec, recipe settings, progress and leaderboard, in markdown."""
    return _note(
        results.name,
        results.spec,
        configs=len(results.configs),
        counts={state: results.count(state) for state, _ in _COUNTED},
        hours=sum(c.wall_time_s for c in results.all_trials) / 3600,
        leaderboard=leaderboard_markdown(results.configs),
        best_model=best_model,
        updated=updated,
    )


def _note(
    name: str,
    spec: StudySpec,
    *,
    configs: int,
    counts: dict[str, int],
    hours: float,
    leaderboard: str,
    best_model: str | None,
    updated: datetime | None,
) -> str:
    """The note's text from its parts (``study_note``, ``current_note``)."""
    progress = ", ".join(f"{counts[state]} {label}" for state, label in _COUNTED)
    parts = [
        f"## {name}",
        f"**Objective:** {METRIC_NAME}, maximised. A trial trains one configuration with every seed; "
        "its intermediate values are the seeds' dev F1 (step = seed index).",
        "### Spec",
        spec_markdown(spec),
        "### Recipe settings",
        "\n".join(f"- {s}" for s in RECIPE_SETTINGS),
        f"### Leaderboard (top {LEADERBOARD_SIZE})",
        leaderboard,
        f"**Configurations:** {configs}: {progress}. **Training time:** {hours:.2f} h.",
    ]
    if best_model:
        parts.append(f"**Best model:** study artifact `{best_model}`.")
    stamp = (updated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"_Written by hpsearch at {stamp}; edits made here are replaced after the next trial._")
    return "\n\n".join(parts) + "\n"


def update_study_note(study: optuna.Study) -> None:
    """Rewrite the study's note from its current trials.

    Raises:
        StudyNotFoundError: the study holds no hpsearch spec.
    """
    from optuna_dashboard import save_note

    from hpsearch.search import StudySpec

    data = study.user_attrs.get(SPEC_ATTR)
    if data is None:
        from hpsearch.errors import StudyNotFoundError

        raise StudyNotFoundError(f"study {study.study_name!r} was not created by hpsearch (it holds no spec).")
    note = current_note(study, StudySpec.from_dict(data), best_model=best_model_filename(study))
    save_note(study, note)


@dataclass(frozen=True)
class _Row:
    """What the note needs of one trial, derived once each time the study's view reads the trial."""

    result: ConfigResult
    dev_mean: float | None  # None unless complete: not ranked
    wall_time_s: float


def _row(trial: FrozenTrial, spec: StudySpec) -> _Row:
    result = trial_result(trial, spec)
    return _Row(result, result.dev_mean if result.is_complete else None, result.wall_time_s)


def current_note(
    study: optuna.Study, spec: StudySpec, *, best_model: str | None = None, updated: datetime | None = None
) -> str:
    """``study_note(study_results(study, spec))``, from this process's view of the study
    (``hpsearch.store.study_view``): each trial is decoded once per read, finished ones once."""
    key = ("hpsearch.dashboard.note", json.dumps(spec.to_dict(), sort_keys=True))
    rows = study_view(study).derived(key, lambda t: _row(t, spec))
    chosen: dict[str, _Row] = {}
    for row in rows:  # as store.study_results: in trial-number order, later trials win, a complete one over others
        previous = chosen.get(row.result.name)
        if previous is None or row.result.state == "complete" or previous.result.state != "complete":
            chosen[row.result.name] = row
    configs = sorted(chosen.values(), key=lambda r: r.result.trial_number or 0)
    ranked_rows = [r for r in configs if r.dev_mean is not None]
    best = heapq.nlargest(LEADERBOARD_SIZE, ranked_rows, key=lambda r: r.dev_mean)  # as ranked(...)[:top]
    counts = Counter(r.result.state for r in configs)
    return _note(
        study.study_name,
        spec,
        configs=len(configs),
        counts={state: counts[state] for state, _ in _COUNTED},
        hours=sum(r.wall_time_s for r in rows) / 3600,
        leaderboard=_leaderboard([r.result for r in best]),
        best_model=best_model,
        updated=updated,
    )


def try_update_study_note(study: optuna.Study) -> None:
    """:func:`update_study_note`, logging instead of raising: a note never fails a trial or a create."""
    try:
        update_study_note(study)
    except Exception as e:  # noqa: BLE001
        log.warning("could not write the note of study %s: %s: %s", study.study_name, type(e).__name__, e)


@dataclass
class NoteSchedule:
    """When a worker rewrites the study note: at once for a new best trial, else at most every
    ``min_interval_s`` seconds (each rewrite stores the note anew in the study's attributes, which
    every worker of the study writes)."""

    min_interval_s: float = 60.0
    last: float = float("-inf")

    def due(self, new_best: bool) -> bool:
        now = time.monotonic()
        if new_best or now - self.last >= self.min_interval_s:
            self.last = now
            return True
        return False


def publish_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    artifacts: Artifacts | None,
    *,
    upload_model: bool = True,
    schedule: NoteSchedule | None = None,
) -> None:
    """After a trial completed: upload its model if it is the study's new best, then rewrite the note.

    Never raises; failures are logged as warnings.
    """
    from optuna.trial import TrialState

    new_best = False
    try:
        frozen = frozen_trial(trial)
        new_best = frozen.state == TrialState.COMPLETE and study.best_trial.number == frozen.number
        if new_best and artifacts is not None and upload_model:
            artifacts.upload_best_model(study, frozen)
    except Exception as e:  # noqa: BLE001
        log.warning("could not upload the best model of trial %s: %s: %s", trial.number, type(e).__name__, e)
    if schedule is None or schedule.due(new_best):
        try_update_study_note(study)
