"""``hpsearch status``: counts per state, best configuration, device hours and ETA per study."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from hpsearch.results import device_hours, eta_seconds, studies_table
from hpsearch.search import ConfigResult, GridSpace, SeedResult, StudySpec
from hpsearch.store import StudyResults

SPEC = StudySpec(model="org/m", label="m", space=GridSpace(learning_rates=(1e-3,), batch_sizes=(4,)), seeds=(1, 2))


def _run(seed: int, dev: float, seconds: float) -> SeedResult:
    return SeedResult(seed=seed, dev_curve=(dev,), test_f1=dev - 0.1, wall_time_s=seconds)


def _config(name: str, state: str, runs: tuple[SeedResult, ...], number: int) -> ConfigResult:
    return ConfigResult(name=name, seeds_planned=(1, 2), runs=runs, state=state, trial_number=number)


def _results() -> StudyResults:
    kept = _run(1, 0.7, 600)
    failed_attempt = _config("c", "failed", (kept,), 2)
    configs = (
        _config("a", "complete", (_run(1, 0.80, 1800), _run(2, 0.84, 1800)), 0),
        _config("b", "complete", (_run(1, 0.90, 1800), _run(2, 0.86, 1800)), 1),
        _config("c", "waiting", (kept,), 4),  # the retry of trial 2, which keeps seed 1
        _config("d", "running", (), 3),
        _config("e", "waiting", (), 5),
        _config("f", "pruned", (_run(1, 0.1, 300),), 6),
    )
    return StudyResults(name="s", spec=SPEC, configs=configs, all_trials=(*configs[:2], failed_attempt, *configs[2:]))


def test_device_hours_count_an_inherited_seed_once() -> None:
    # 4 × 30 min + 10 min (seed 1 of c, on the failed trial and its retry) + 5 min
    assert device_hours(_results()) == pytest.approx(2 + 15 / 60)


def test_eta_from_the_measured_time_per_trial() -> None:
    results = _results()
    # One hour per complete trial; left: half of c, all of d and e, over one running worker.
    assert eta_seconds(results) == pytest.approx(3600 * 2.5)
    assert eta_seconds(results, workers=5) == pytest.approx(3600 * 0.5)
    nothing_done = StudyResults("s", SPEC, results.configs[2:], results.configs[2:])
    assert eta_seconds(nothing_done) is None


def test_studies_table_row() -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=250, color_system=None).print(studies_table([_results()]))
    text = buffer.getvalue()
    row = next(line for line in text.splitlines() if line.startswith("│ s "))
    cells = [c.strip() for c in row.strip("│").split("│")]
    # study, model, done, running, queued, failed, pruned, best, dev F1, device hours, ETA
    assert cells == ["s", "m", "2/6", "1", "2", "0", "1", "b", "88.00 ± 2.00", "2.25", "2h30m"]
