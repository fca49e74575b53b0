"""Studies written by hpsearch 0.1.0 (data/release-0.1.0.db, made by data/make_release_db.py) are read,
reported and resumed by the current code: the stored record did not change."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pytest

from hpsearch.search import GridSpace, SampledSpace, StudySpec
from hpsearch.store import (
    CONFIG_ATTR,
    FAIL_REASON_ATTR,
    SPEC_ATTR,
    config_of,
    load_study,
    open_storage,
    seed_attr_key,
    study_results,
)
from hpsearch.testing import FakeTrainer, fake_dev_f1, read_record

DATA = Path(__file__).parent / "data"
RELEASE_DB = DATA / "release-0.1.0.db"


@pytest.fixture
def release_url(tmp_path: Path) -> str:
    """A copy of the 0.1.0 file: opening it switches it to WAL, and a resumed worker writes to it."""
    db = tmp_path / "release-0.1.0.db"
    shutil.copyfile(RELEASE_DB, db)
    return f"sqlite:///{db}"


def test_the_release_file_is_one_small_self_contained_sqlite_file() -> None:
    assert RELEASE_DB.stat().st_size < 200_000
    assert not RELEASE_DB.with_name(RELEASE_DB.name + "-wal").exists()
    assert RELEASE_DB.read_bytes()[18:20] == b"\x01\x01"  # rollback journal, not WAL


def test_release_specs_load_and_are_stored_as_the_current_code_stores_them(release_url: str) -> None:
    storage = open_storage(release_url, must_exist=True)
    study, spec = load_study(storage, "grid")
    grid = GridSpace(learning_rates=(1e-5, 2e-5), batch_sizes=(8, 16), epochs=(1,))
    assert spec == StudySpec(model="fake", label="fake", space=grid, seeds=(1, 2))
    assert spec.to_dict() == study.user_attrs[SPEC_ATTR]  # so create --if-exists resume finds it identical
    sampled_study, sampled = load_study(storage, "sampled")
    assert isinstance(sampled.space, SampledSpace) and sampled.n_configs == 3 and sampled.seeds == (1,)
    assert sampled.to_dict() == sampled_study.user_attrs[SPEC_ATTR]


def test_release_params_give_the_stored_configuration_names(release_url: str) -> None:
    storage = open_storage(release_url, must_exist=True)
    study, spec = load_study(storage, "grid")
    grid = study.get_trials()
    assert [config_of(t, spec).name for t in grid] == [t.user_attrs[CONFIG_ATTR] for t in grid]
    # A sampled configuration is the rounded draw (SampledSpace.suggest); the params keep the raw one.
    study, spec = load_study(storage, "sampled")
    (drawn,) = [t for t in study.get_trials() if t.params]
    assert spec.space.suggest(optuna.trial.FixedTrial(drawn.params)).name == drawn.user_attrs[CONFIG_ATTR]


def test_release_results_are_read_as_the_release_read_them(release_url: str) -> None:
    storage = open_storage(release_url, must_exist=True)
    results = study_results(*load_study(storage, "grid"))
    assert [(c.name, c.state, c.trial_number) for c in results.configs] == [
        ("wsFalse-bs8-e1-lr1e-05", "complete", 0),
        ("wsFalse-bs8-e1-lr2e-05", "complete", 1),
        ("wsFalse-bs16-e1-lr2e-05", "waiting", 3),
        ("wsFalse-bs16-e1-lr1e-05", "waiting", 4),  # the re-queued copy of failed trial 2
    ]
    assert results.best is not None and results.best.name == "wsFalse-bs8-e1-lr1e-05"
    assert results.best.dev_mean == pytest.approx(0.68219, abs=1e-5)
    failed = results.all_trials[2]
    assert failed.state == "failed" and failed.note == "worker lost: no heartbeat for 2 s; re-queued (retry 1 of 3)"
    assert [r.seed for r in results.configs[3].runs] == [1]  # the seed it had finished
    sampled = study_results(*load_study(storage, "sampled"))
    assert [c.state for c in sampled.configs] == ["complete", "waiting", "waiting"]


def test_release_report_keeps_every_line_the_release_printed(release_url: str) -> None:
    from hpsearch.results import study_report

    reports = (DATA / "release-0.1.0-report.txt").read_text().split("=====\n")
    for name, old in zip(("grid", "sampled"), reports, strict=True):
        new = iter(study_report(release_url, name).splitlines())
        for line in old.rstrip("\n").splitlines():
            assert any(line == n for n in new), f"{name}: the report lost (or moved) the line {line!r}"


def test_a_worker_resumes_the_release_studies_to_the_end(tmp_path: Path, release_url: str) -> None:
    from hpsearch.worker import WorkerOptions, run_worker

    record = tmp_path / "record.jsonl"
    options = WorkerOptions(output_dir=tmp_path / "runs", keep_models="none", handle_signals=False)
    summary = run_worker(release_url, ["grid", "sampled"], options, trainer=FakeTrainer(record=record))
    assert (summary.completed, summary.failed) == (4, 0)

    storage = open_storage(release_url, must_exist=True)
    grid, _ = load_study(storage, "grid")
    trials = grid.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert FAIL_REASON_ATTR not in trials[4].user_attrs
    # The re-queued copy trained only the seed its dead worker had not finished.
    trained = [(e["config"], e["seed"]) for e in read_record(record) if e["event"] == "done"]
    copy = trials[4]
    assert [s for c, s in trained if c == copy.user_attrs[CONFIG_ATTR]] == [2]
    assert copy.user_attrs[seed_attr_key(1)] == trials[2].user_attrs[seed_attr_key(1)]
    assert copy.user_attrs["dev_f1_per_seed"] == [
        trials[2].user_attrs[seed_attr_key(1)]["dev_f1"],
        pytest.approx(fake_dev_f1(config_of(copy, load_study(storage, "grid")[1]), 2)),
    ]
    results = study_results(grid, load_study(storage, "grid")[1])
    assert results.count("complete") == 4

    sampled, spec = load_study(storage, "sampled")
    assert [t.state.name for t in sampled.get_trials()] == ["COMPLETE"] * 3
    assert all(
        spec.space.suggest(optuna.trial.FixedTrial(t.params)).name == t.user_attrs[CONFIG_ATTR]
        for t in sampled.get_trials()
    )
