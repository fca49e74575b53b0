"""The results commands end to end through the CLI: parse-logs, import-logs, report, best, plot."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from tests.results.test_logs import RECIPE_OUTPUT, write_bert_runs, write_training_log

runner = CliRunner()
GLOB = "hipe2022-flert-fine-tune-ajmc/en-bigscience-historical-texts/bert-base-blbooks-cased-*"


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_bert_runs(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_parse_logs_prints_the_recipe_sections(runs: Path) -> None:
    result = runner.invoke(app, ["parse-logs", GLOB])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == RECIPE_OUTPUT + "\n"


def test_parse_logs_nothing_matched(runs: Path) -> None:
    result = runner.invoke(app, ["parse-logs", "no-such-runs-*"])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: no Flair run folders match 'no-such-runs-*'")
    assert "Traceback" not in result.stderr


def test_parse_logs_warns_and_skips(runs: Path) -> None:
    missing = runs / "hipe2022-flert-fine-tune-ajmc/en-bigscience-historical-texts"
    (missing / "bert-base-blbooks-cased-bs8-wsFalse-e10-lr5e-05-layers-1-crfFalse-6").mkdir()
    write_training_log(
        missing / "bert-base-blbooks-cased-bs16-wsFalse-e10-lr5e-05-layers-1,-2-crfTrue-1" / "training.log", [], None
    )
    result = runner.invoke(app, ["parse-logs", GLOB])
    assert result.exit_code == 0
    assert "crfFalse-6: no training.log; skipped" in result.stderr
    assert "no dev score yet" in result.stderr
    assert "wsFalse-bs16-e10-lr5e-05-layers-1,-2-crfTrue : incomplete (0/1 seeds)" in result.stdout
    assert "Best Development Score: 85.92" in result.stdout


def test_import_logs_twice_adds_nothing_and_reports_like_the_recipe(runs: Path) -> None:
    url = f"sqlite:///{runs / 'hpsearch.db'}"
    first = runner.invoke(app, ["import-logs", GLOB, "--study", "bert-2022", "--storage", url])
    assert first.exit_code == 0, first.stderr
    assert "created study bert-2022: 4 configurations imported" in first.stdout
    second = runner.invoke(app, ["import-logs", GLOB, "--study", "bert-2022", "--storage", url])
    assert second.exit_code == 0, second.stderr
    assert "0 configurations imported" in second.stdout

    study = optuna.load_study(study_name="bert-2022", storage=url)
    assert len(study.trials) == 4
    assert {t.state for t in study.trials} == {optuna.trial.TrialState.COMPLETE}
    best = study.best_trial
    assert best.user_attrs["config"] == "wsFalse-bs8-e10-lr5e-05"
    assert best.intermediate_values == {0: 0.866, 1: 0.8599, 2: 0.8612, 3: 0.8496, 4: 0.8592}
    assert best.user_attrs["dev_f1_std"] == pytest.approx(0.005346, abs=1e-6)

    report = runner.invoke(app, ["report", "--study", "bert-2022", "--storage", url])
    assert report.stdout.startswith(RECIPE_OUTPUT)

    found = runner.invoke(app, ["best", "--study", "bert-2022", "--storage", url, "--json"])
    data = json.loads(found.stdout)
    assert data["configuration"] == "wsFalse-bs8-e10-lr5e-05"
    assert data["test_mean"] == pytest.approx(0.841)

    table = runner.invoke(app, ["report", "--studies", "bert-*", "--storage", url, "-f", "csv"])
    assert table.exit_code == 0
    assert "wsFalse-bs8-e10-lr5e-05" in table.stdout

    png = runs / "bert.png"
    plotted = runner.invoke(app, ["plot", "--study", "bert-2022", "--storage", url, "-o", str(png)])
    assert plotted.exit_code == 0, plotted.stderr
    assert png.stat().st_size > 10_000


def test_report_needs_one_target(runs: Path) -> None:
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 2
    assert "give either --study NAME or --studies PATTERN" in result.stderr
