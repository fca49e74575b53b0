"""Results for other programs: studies at a glance, one study's configurations, every trial and seed.

Scores are unrounded 0..1 floats, missing values None (JSON null, an empty CSV cell).

- :func:`study_summary`: one study's line of ``hpsearch list`` / ``status --json``;
- :func:`config_rows`: one row per configuration (``report --study -f json|csv|markdown``);
- :func:`export_rows`: one row per trial and seed, with every parameter and the dev-F1 curve (``export``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpsearch.errors import UsageError
from hpsearch.results._status import device_hours, eta_seconds
from hpsearch.search import DIMENSIONS, ConfigResult
from hpsearch.store import (
    HOST_ATTR,
    StudyResults,
    load_study,
    open_storage,
    seed_results_from_attrs,
    study_names,
    study_results,
    trial_result,
)

if TYPE_CHECKING:
    import optuna

    from hpsearch.search import StudySpec


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def study_summary(results: StudyResults) -> dict[str, Any]:
    """A study at a glance: counts by state, the best configuration and the ETA in seconds."""
    best = results.best
    eta = eta_seconds(results)
    return {
        "study": results.name,
        "model": results.spec.label,
        "configurations": len(results.configs),
        "done": results.count("complete"),
        "running": results.count("running"),
        "queued": results.count("waiting"),
        "failed": results.count("failed"),
        "pruned": results.count("pruned"),
        "best_configuration": best.name if best else None,
        "best_dev_mean": _num(best.dev_mean) if best else None,
        "best_dev_std": _num(best.dev_std) if best else None,
        "device_hours": device_hours(results),
        "eta_s": eta,
    }


def _config_row(c: ConfigResult) -> dict[str, Any]:
    return {
        "trial": c.trial_number,
        "state": c.state,
        "configuration": c.name,
        "params": dict(c.params),
        "seeds_done": len(c.finished_runs),
        "seeds_planned": len(c.seeds_planned),
        "dev_per_seed": {str(r.seed): r.dev_f1 for r in c.finished_runs},
        "dev_mean": _num(c.dev_mean),
        "dev_std": _num(c.dev_std),
        "test_mean": _num(c.test_mean),
        "test_std": _num(c.test_std),
        "wall_time_s": c.wall_time_s,
        "note": c.note,
    }


def config_rows(results: StudyResults, *, all_trials: bool = False) -> list[dict[str, Any]]:
    """One row per configuration (its latest trial), or per trial with ``all_trials``."""
    return [_config_row(c) for c in (results.all_trials if all_trials else results.configs)]


def export_rows(study: optuna.Study, spec: StudySpec) -> list[dict[str, Any]]:
    """One row per trial and seed: every trial's configuration and parameters, and each seed's scores.

    A trial without a finished or pruned seed gets one row with an empty seed. Columns: ``study``,
    ``trial``, ``state``, ``configuration``, one per dimension (its value; None if not drawn yet),
    ``seed``, ``seed_complete``, ``dev_f1_per_epoch`` (a list), ``dev_f1`` (best epoch), ``test_f1``,
    ``wall_time_s``, ``device``, ``host`` (where the trial last ran).
    """
    rows = []
    for trial in study.get_trials(deepcopy=False):
        result = trial_result(trial, spec)
        params: Mapping[str, Any] = result.params  # the whole configuration; none for a trial not drawn yet
        base = {
            "study": study.study_name,
            "trial": trial.number,
            "state": result.state,
            "configuration": result.name,
            **{name: params.get(name) for name in DIMENSIONS},
        }
        host = trial.user_attrs.get(HOST_ATTR)
        runs = seed_results_from_attrs(trial.user_attrs).values()
        for run in runs or [None]:
            rows.append(
                {
                    **base,
                    "seed": run.seed if run else None,
                    "seed_complete": run.complete if run else None,
                    "dev_f1_per_epoch": list(run.dev_curve) if run else [],
                    "dev_f1": _num(run.dev_f1) if run else None,
                    "test_f1": run.test_f1 if run else None,
                    "wall_time_s": run.wall_time_s if run else None,
                    "device": run.device if run else None,
                    "host": host,
                }
            )
    return rows


# --- rendering ----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def rows_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2) + "\n"


def rows_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV with a header from the first row; lists and mappings as JSON in their cell."""
    buffer = io.StringIO()
    if rows:
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow([_cell(v) for v in row.values()])
    return buffer.getvalue()


def rows_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A GitHub markdown table; scores ×100 with two decimals."""
    if not rows:
        return ""

    def show(key: str, value: Any) -> str:
        if isinstance(value, float) and key.startswith(("dev", "test")):
            return f"{value * 100:.2f}"
        if isinstance(value, dict) and key == "dev_per_seed":
            return " ".join(f"{v * 100:.2f}" for v in value.values())
        return _cell(value).replace("|", "\\|")

    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(show(k, v) for k, v in row.items()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


ROW_FORMATS: Mapping[str, tuple[Callable[[Sequence[Mapping[str, Any]]], str], str]] = {
    "csv": (rows_csv, "one line per row, unrounded 0..1 floats"),
    "json": (rows_json, "a list of rows, unrounded 0..1 floats, null where missing"),
    "markdown": (rows_markdown, "a GitHub markdown table"),
}
"""Formats of row lists (``report --study``, ``export``): renderer and help line."""
EXPORT_FORMATS = ("csv", "json")


def render_rows(rows: Sequence[Mapping[str, Any]], fmt: str) -> str:
    """``rows`` in one of :data:`ROW_FORMATS`.

    Raises:
        UsageError: unknown format.
    """
    if fmt not in ROW_FORMATS:
        raise UsageError(f"format must be one of {', '.join(ROW_FORMATS)}, but got {fmt!r}.")
    return ROW_FORMATS[fmt][0](rows)


# --- the commands -------------------------------------------------------------------------------


def all_study_results(storage_url: str) -> list[StudyResults]:
    """Every study of the storage, by name."""
    storage = open_storage(storage_url, read_only=True)
    return [study_results(*load_study(storage, name)) for name in study_names(storage)]


def status_data(storage_url: str, study: str | None) -> list[dict[str, Any]] | dict[str, Any]:
    """``status --json``: every study's summary, or with ``study`` its summary and its trials."""
    if study is None:
        return [study_summary(r) for r in all_study_results(storage_url)]
    storage = open_storage(storage_url, read_only=True)
    results = study_results(*load_study(storage, study))
    return {**study_summary(results), "trials": config_rows(results, all_trials=True)}


def study_rows_report(storage_url: str, name: str, fmt: str) -> str:
    """``report --study NAME -f FORMAT``: the study's configurations in one of :data:`ROW_FORMATS`."""
    if fmt not in ROW_FORMATS:
        raise UsageError(f"format must be one of {', '.join(ROW_FORMATS)}, but got {fmt!r}.")
    storage = open_storage(storage_url, read_only=True)
    return render_rows(config_rows(study_results(*load_study(storage, name))), fmt)


def export_study(storage_url: str, name: str, fmt: str) -> str:
    """``export``: :func:`export_rows` of one study as CSV or JSON.

    Raises:
        UsageError: a format other than csv or json.
    """
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, but got {fmt!r}.")
    storage = open_storage(storage_url, read_only=True)
    return render_rows(export_rows(*load_study(storage, name)), fmt)
