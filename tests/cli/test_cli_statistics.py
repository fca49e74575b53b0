"""``report --alpha/--budget`` and the statistics fields through the CLI, on the recipe's imported BERT runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from tests.results.test_logs import RECIPE_OUTPUT, write_bert_runs

runner = CliRunner()
GLOB = "hipe2022-flert-fine-tune-ajmc/en-bigscience-historical-texts/bert-base-blbooks-cased-*"


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    write_bert_runs(tmp_path)
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    imported = runner.invoke(app, ["import-logs", GLOB, "--study", "bert-2022", "--storage", db])
    assert imported.exit_code == 0, imported.stderr
    return db


def test_study_report_adds_the_section_after_the_recipes(url: str) -> None:
    result = runner.invoke(app, ["report", "--study", "bert-2022", "--storage", url, "--alpha", "0.2"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(RECIPE_OUTPUT)
    section = result.stdout[len(RECIPE_OUTPUT) :]
    assert "Against the best (dev F1 paired by seed, one-sided sign-flip test, alpha=0.2):" in section
    # At 0.2, p = 6/32 and 5/32 are worse; p = 13/32 stays tied.
    assert section.count("worse") == 2 and section.count("tied with the best") == 1
    assert "Expected best dev F1 at n trials: n=1:" in section


def test_comparison_json_has_the_statistics_fields(url: str) -> None:
    result = runner.invoke(
        app, ["report", "--studies", "bert-*", "--storage", url, "-f", "json", "--alpha", "0.01", "--budget", "6"]
    )
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["verdict"] == "best" and row["delta_vs_best"] == 0.0 and row["delta_ci95"] == [0.0, 0.0]
    assert row["alpha"] == 0.01 and row["budget"] == 6 and len(row["expected_best"]) == 6
    assert [c["seeds_paired"] for c in row["configurations"]] == [5, 5, 5]
    assert {c["verdict"] for c in row["configurations"]} == {"tied with the best"}
    assert {"p_value", "delta_ci95", "delta_vs_best"} <= set(row["configurations"][0])


def test_default_budget_is_the_smallest_studys_trials(url: str) -> None:
    result = runner.invoke(app, ["report", "--studies", "bert-*", "--storage", url, "-f", "markdown"])
    assert result.exit_code == 0, result.stderr
    assert "Expected best at 4 trials" in result.stdout and "| best " in result.stdout


@pytest.mark.parametrize(
    ("option", "message"), [(["--alpha", "1.5"], "--alpha must be between 0 and 1"), (["--budget", "0"], "--budget")]
)
def test_bad_alpha_or_budget_is_a_usage_error(url: str, option: list[str], message: str) -> None:
    result = runner.invoke(app, ["report", "--studies", "bert-*", "--storage", url, *option])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_plot_expected_best(url: str, tmp_path: Path) -> None:
    out = tmp_path / "budget.png"
    result = runner.invoke(app, ["plot", "--studies", "bert-*", "--storage", url, "--expected-best", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_size > 5_000
