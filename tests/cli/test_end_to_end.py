"""End to end with real Flair training on tiny models: create, two workers at once, status, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from hpsearch.search import Config, DatasetRef, GridSpace, StudySpec
from hpsearch.store import seed_results_from_attrs
from hpsearch.training import FlairTrainer, RunHooks
from tests.fleet_helpers import growth, wait_for

pytestmark = pytest.mark.slow
HPSEARCH = [sys.executable, "-m", "hpsearch"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    return subprocess.run([*HPSEARCH, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_create_then_two_workers(tmp_path: Path, tiny_bert: Path, sample_data: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    created = cli(
        "create", "--model", str(tiny_bert), "--lr", "5e-3", "--lr", "1e-2", "--batch-size", "4", "--batch-size", "8",
        "--epochs", "2", "--seeds", "1,2", "--data-dir", str(sample_data), "--storage", url, "--study", "e2e",
        cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "4 configurations queued" in created.stdout

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    args = [*HPSEARCH, "worker", "--study", "e2e", "--storage", url, "--device", "cpu", "--keep-models", "best"]
    logs = [(tmp_path / f"worker{i}.out", tmp_path / f"worker{i}.err") for i in range(2)]
    workers = []
    for out, err in logs:
        with out.open("w") as stdout, err.open("w") as stderr:
            workers.append(subprocess.Popen(args, cwd=tmp_path, env=env, stdout=stdout, stderr=stderr))
    # Bounded by progress (log lines, training logs, model files), not by wall time: a busy machine is slow.
    progress = growth(tmp_path / "runs", *(path for pair in logs for path in pair))
    try:
        wait_for(lambda: all(w.poll() is not None for w in workers), "both workers to exit", progress=progress, poll=1)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
    outputs = [(out.read_text(), err.read_text()) for out, err in logs]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
        assert "no queued trial left" in stderr

    study = optuna.load_study(study_name="e2e", storage=url)
    trials = study.get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 4
    names = [t.user_attrs["config"] for t in trials]
    assert sorted(names) == sorted(
        ["wsFalse-bs4-e2-lr0.005", "wsFalse-bs4-e2-lr0.01", "wsFalse-bs8-e2-lr0.005", "wsFalse-bs8-e2-lr0.01"]
    )
    for trial in trials:
        seeds = seed_results_from_attrs(trial.user_attrs)
        assert list(seeds) == [1, 2]
        assert trial.value == pytest.approx(sum(r.dev_f1 for r in seeds.values()) / 2)
        assert trial.intermediate_values == {0: seeds[1].dev_f1, 1: seeds[2].dev_f1}
        assert all(len(r.dev_curve) == 2 and r.test_f1 is not None for r in seeds.values())
        assert trial.user_attrs["device"] == "cpu"
        assert trial.user_attrs["versions"]["flair"].startswith("0.15")
        for seed in (1, 2):
            assert (Path(trial.user_attrs["run_dir"]) / f"seed-{seed}" / "training.log").is_file()
    # Both workers trained: the work was shared, not duplicated.
    assert all("complete value=" in stderr for _, stderr in outputs)

    # --keep-models best: only the best trial keeps its model files.
    kept = [t for t in trials if (Path(t.user_attrs["run_dir"]) / "seed-1" / "best-model.pt").exists()]
    assert len(kept) == 1
    assert kept[0].value == study.best_value

    status = cli("status", "--study", "e2e", "--storage", url, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("complete") == 4
    assert "2/2" in status.stdout

    report = cli("report", "--study", "e2e", "--storage", url, cwd=tmp_path)
    assert report.returncode == 0
    assert "Averaged Development Results:" in report.stdout
    assert "Best configuration: wsFalse-bs" in report.stdout
    assert f"Best Development Score: {round(study.best_value * 100, 2)}" in report.stdout

    best = cli("best", "--study", "e2e", "--storage", url, "--json", cwd=tmp_path)
    found = json.loads(best.stdout)
    assert found["dev_mean"] == study.best_value
    assert set(found["model_files"]) == {"1", "2"}


def test_tiny_t5_trains_with_spiece(tiny_t5: Path, sample_data: Path, tmp_path: Path) -> None:
    import flair
    import torch

    flair.device = torch.device("cpu")
    assert (tiny_t5 / "spiece.model").is_file()
    spec = StudySpec(
        model=str(tiny_t5),
        label="tiny-t5",
        space=GridSpace(learning_rates=(1e-2,), batch_sizes=(8,), epochs=(2,)),
        datasets=(DatasetRef("ajmc", "en"),),
        seeds=(1,),
    )
    trainer = FlairTrainer(sample_data)
    config = Config(learning_rate=1e-2, batch_size=8, epochs=2)
    first = trainer.train(spec, config, 1, tmp_path / "a", RunHooks())
    again = trainer.train(spec, config, 1, tmp_path / "b", RunHooks())
    assert len(first.dev_curve) == 2
    assert first.dev_curve == again.dev_curve  # same seed, same numbers
    assert "T5EncoderModel" in (tmp_path / "a" / "training.log").read_text() or first.test_f1 is not None
