"""A study's lifecycle: extending a grid or a sampled budget, and deleting a study with its runs and artifacts."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from hpsearch.errors import SpecError, UsageError
from hpsearch.search import Config, SeedResult, StudySpec, build_spec, extended_spec, spec_diff, spec_from_options
from hpsearch.store import (
    CONFIG_ATTR,
    HOST_ATTR,
    RUN_DIR_ATTR,
    create_study,
    delete_study_and_runs,
    encode_seed,
    extend_study,
    grid_distributions,
    load_study,
    open_storage,
    seed_attr_key,
    seed_dir,
    study_results,
    trial_dir,
)


def seed_result(seed: int, dev: float) -> SeedResult:
    return SeedResult(seed=seed, dev_curve=(dev - 0.05, dev), test_f1=dev - 0.02, wall_time_s=60.0, device="cpu")


def add_trial(
    study: optuna.Study,
    spec: StudySpec,
    config: Config,
    state: optuna.trial.TrialState,
    *,
    runs_root: Path | None = None,
    devs: tuple[float, ...] = (),
) -> int:
    """Add a trial of ``config`` in ``state`` with a seed result per entry of ``devs`` (and its run folder)."""
    number = len(study.get_trials(deepcopy=False))
    attrs: dict[str, object] = {CONFIG_ATTR: config.name, HOST_ATTR: "node1"}
    if runs_root is not None:
        root = trial_dir(runs_root, study.study_name, number, config.name)
        for seed in spec.seeds:
            seed_dir(root, seed).mkdir(parents=True)
            (seed_dir(root, seed) / "training.log").write_text(f"log of seed {seed}\n")
        attrs[RUN_DIR_ATTR] = str(root)
    for seed, dev in zip(spec.seeds, devs, strict=False):
        attrs[seed_attr_key(seed)] = encode_seed(seed_result(seed, dev))
    complete = state == optuna.trial.TrialState.COMPLETE
    study.add_trial(
        optuna.trial.create_trial(
            state=state,
            value=sum(devs) / len(devs) if complete else None,
            params=spec.space.params(config),
            distributions=grid_distributions(spec),
            user_attrs=attrs,
        )
    )
    return number


def grid_study(url: str, runs_root: Path | None = None, *, running: bool = False) -> tuple[optuna.Study, StudySpec]:
    """Study ``s``: a 2 × 2 grid over two seeds, trial 0 complete, trial 1 running or waiting, the rest queued."""
    spec = spec_from_options("bert", seeds=(1, 2))
    storage = open_storage(url)
    create_study(spec, storage, "s", queue=False)
    study, spec = load_study(storage, "s")
    configs = list(spec.space.configs())
    complete, waiting = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.WAITING
    add_trial(study, spec, configs[0], complete, runs_root=runs_root, devs=(0.8, 0.82))
    add_trial(study, spec, configs[1], optuna.trial.TrialState.RUNNING if running else waiting, runs_root=runs_root)
    for config in configs[2:]:
        add_trial(study, spec, config, waiting)
    return study, spec


def test_spec_diff_names_each_field() -> None:
    a = spec_from_options("bert", seeds=(1, 2))
    b = spec_from_options("bert", seeds=(1, 2, 3), learning_rates=(1e-4,), context_sizes=(0, 64))
    assert spec_diff(a, a) == []
    assert spec_diff(a, b) == [
        "seeds: [1, 2] -> [1, 2, 3]",
        "space.learning_rates: [3e-05, 5e-05] -> [0.0001]",
        "space.context_sizes: [0] -> [0, 64]",
    ]


def test_extended_spec_adds_values_only_where_new() -> None:
    spec = spec_from_options("bert")
    grown = extended_spec(spec, learning_rates=(5e-5, 1e-4), batch_sizes=(8,))
    assert grown.space.learning_rates == (3e-05, 5e-05, 1e-4) and grown.space.batch_sizes == (4, 8)
    with pytest.raises(SpecError, match="nothing to add"):
        extended_spec(spec)
    with pytest.raises(SpecError, match="sampled"):
        extended_spec(spec, n_trials=3)
    wide = build_spec(model="bert", config=None, space="wide", n_trials=4)
    assert extended_spec(wide, n_trials=3).n_trials == 7
    with pytest.raises(SpecError, match="--n-trials"):
        extended_spec(wide, learning_rates=(1e-4,))


def test_extending_a_grid_queues_only_new_points_and_keeps_results(storage_url: str) -> None:
    study, spec = grid_study(storage_url)
    storage = open_storage(storage_url)
    done = extend_study(storage, "s", extended_spec(spec, learning_rates=(1e-4,)))

    assert done.n_added == 2 and done.added == ("wsFalse-bs4-e10-lr0.0001", "wsFalse-bs8-e10-lr0.0001")
    assert done.changes == ("space.learning_rates: [3e-05, 5e-05] -> [3e-05, 5e-05, 0.0001]",)
    study, stored = load_study(storage, "s")
    assert stored == done.spec
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials] == list(range(6))
    assert trials[0].state == optuna.trial.TrialState.COMPLETE and trials[0].value == pytest.approx(0.81)
    assert study.metric_names == ["dev F1 (mean over seeds)"]
    complete = [c for c in study_results(study, stored).configs if c.state == "complete"]
    assert [c.name for c in complete] == [trials[0].user_attrs[CONFIG_ATTR]] and complete[0].dev_scores == [0.8, 0.82]
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == ["s"]  # the backup copy is gone
    again = extend_study(storage, "s", stored)
    assert again.n_added == 0 and again.changes == ()


def test_extending_a_grid_refuses_while_a_trial_runs(sqlite_url: str) -> None:
    _, spec = grid_study(sqlite_url, running=True)
    with pytest.raises(UsageError, match=r"trial\(s\) 1 .* running"):
        extend_study(open_storage(sqlite_url), "s", extended_spec(spec, epochs=(20,)))


def test_extend_refuses_other_changes(sqlite_url: str) -> None:
    grid_study(sqlite_url)
    other = spec_from_options("bert", seeds=(1, 2, 3))
    with pytest.raises(SpecError, match="seeds: \\[1, 2\\] -> \\[1, 2, 3\\]"):
        extend_study(open_storage(sqlite_url), "s", other)


def test_extending_a_sampled_budget_adds_waiting_trials(storage_url: str) -> None:
    spec = build_spec(model="bert", config=None, space="wide", n_trials=3)
    storage = open_storage(storage_url)
    create_study(spec, storage, "wide")
    done = extend_study(storage, "wide", extended_spec(spec, n_trials=2))
    study, stored = load_study(storage, "wide")
    assert done.n_added == 2 and stored.n_trials == 5 and len(study.trials) == 5


def test_delete_removes_study_run_folders_and_artifacts(storage_url: str, tmp_path: Path) -> None:
    from optuna.artifacts import FileSystemArtifactStore, upload_artifact

    runs = tmp_path / "runs"
    study, _ = grid_study(storage_url, runs)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    log = tmp_path / "seed-1-training.log"
    log.write_text("x")
    storage = open_storage(storage_url)
    upload_artifact(
        artifact_store=FileSystemArtifactStore(artifacts), file_path=str(log), study_or_trial=study, storage=storage
    )
    outside = tmp_path / "elsewhere" / "trial-0009"
    outside.mkdir(parents=True)
    study.add_trial(
        optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={RUN_DIR_ATTR: str(outside)})
    )

    done = delete_study_and_runs(storage_url, "s", output_dir=runs, artifacts_dir=artifacts)

    assert done.n_trials == 5 and len(done.run_dirs) == 2 and done.skipped == (outside,) and done.n_artifacts == 1
    assert not (runs / "s").exists() and runs.exists() and outside.exists()
    assert list(artifacts.iterdir()) == []
    assert optuna.get_all_study_summaries(open_storage(storage_url)) == []


def test_delete_refuses_while_a_trial_runs_unless_forced(sqlite_url: str, tmp_path: Path) -> None:
    grid_study(sqlite_url, tmp_path / "runs", running=True)
    with pytest.raises(UsageError, match="--force"):
        delete_study_and_runs(sqlite_url, "s", output_dir=tmp_path / "runs", artifacts_dir=tmp_path / "a")
    done = delete_study_and_runs(
        sqlite_url, "s", output_dir=tmp_path / "runs", artifacts_dir=tmp_path / "a", force=True
    )
    assert done.n_trials == 4
