"""The lifecycle and machine-readable commands through the CLI: help, list, status --json, report -f,
best --json, export, logs (and --follow), extend, delete, create --if-exists resume with a changed spec."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from pathlib import Path

import optuna
import pytest
import typer
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.store import follow_log
from tests.store.test_lifecycle import grid_study

runner = CliRunner()
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.fixture
def study_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    grid_study(url, tmp_path / "runs")
    return url


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=["root", *COMMANDS])
def test_help_shows_flags_as_flags_with_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "160"}, terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "Example" in result.output
    assert "--help" in result.output


def test_completion_can_be_installed() -> None:
    result = runner.invoke(app, ["--help"], terminal_width=160)
    assert "--install-completion" in result.output


def test_list_and_status_json(study_url: str) -> None:
    text = runner.invoke(app, ["list", "--storage", study_url])
    assert text.exit_code == 0, text.output
    (line,) = text.stdout.strip().splitlines()
    assert line.startswith("s  bert  1/4 done, 0 running, 3 queued, 0 failed  best wsFalse-bs4-e10-lr3e-05 81.00")
    listed = json.loads(runner.invoke(app, ["list", "--json", "--storage", study_url]).stdout)
    assert listed == json.loads(runner.invoke(app, ["status", "--json", "--storage", study_url]).stdout)
    assert listed[0]["study"] == "s" and listed[0]["done"] == 1 and listed[0]["queued"] == 3
    one = json.loads(runner.invoke(app, ["status", "--json", "--study", "s", "--storage", study_url]).stdout)
    assert one["best_dev_mean"] == pytest.approx(0.81) and len(one["trials"]) == 4
    assert one["trials"][0]["dev_per_seed"] == {"1": 0.8, "2": 0.82}


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown"])
def test_report_of_one_study_honours_the_format(study_url: str, fmt: str) -> None:
    result = runner.invoke(app, ["report", "--study", "s", "-f", fmt, "--storage", study_url])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        rows = json.loads(result.stdout)
        assert rows[0]["configuration"] == "wsFalse-bs4-e10-lr3e-05" and len(rows) == 4
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert rows[0]["dev_mean"] == repr(0.81) or float(rows[0]["dev_mean"]) == pytest.approx(0.81)
    else:
        assert result.stdout.startswith("| trial | state | configuration")
        assert "81.00" in result.stdout


def test_best_json_has_the_parameters(study_url: str) -> None:
    found = json.loads(runner.invoke(app, ["best", "--study", "s", "--json", "--storage", study_url]).stdout)
    assert found["params"]["learning_rate"] == 3e-05 and found["params"]["batch_size"] == 4


def test_export_one_row_per_trial_and_seed(study_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--study", "s", "-f", "json", "--storage", study_url])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 2 + 3  # trial 0 has two seeds; the others one row without a seed
    first = rows[0]
    assert first["trial"] == 0 and first["seed"] == 1 and first["state"] == "complete"
    assert first["dev_f1_per_epoch"] == [pytest.approx(0.75), 0.8] and first["dev_f1"] == 0.8
    assert first["test_f1"] == pytest.approx(0.78) and first["host"] == "node1" and first["device"] == "cpu"
    assert first["learning_rate"] == 3e-05 and first["use_crf"] is False
    out = tmp_path / "s.csv"
    result = runner.invoke(app, ["export", "--study", "s", "-f", "csv", "-o", str(out), "--storage", study_url])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 and json.loads(rows[1]["dev_f1_per_epoch"]) == [pytest.approx(0.77), 0.82]


def test_logs_prints_the_seed_log(study_url: str) -> None:
    result = runner.invoke(app, ["logs", "--study", "s", "--trial", "0", "--seed", "1", "--storage", study_url])
    assert result.exit_code == 0, result.output
    assert result.stdout == "log of seed 1\n"
    latest = runner.invoke(app, ["logs", "--study", "s", "--trial", "0", "--storage", study_url])
    assert latest.stdout == "log of seed 2\n"
    missing = runner.invoke(app, ["logs", "--study", "s", "--trial", "9", "--storage", study_url])
    assert missing.exit_code == 2 and "no trial 9" in missing.stderr


def test_follow_prints_lines_as_they_are_appended(tmp_path: Path) -> None:
    log = tmp_path / "training.log"
    finished = threading.Event()

    def write() -> None:
        for i in range(5):
            with log.open("a") as f:
                f.write(f"epoch {i}\n")
            time.sleep(0.05)
        finished.set()

    seen: list[str] = []
    writer = threading.Thread(target=write)
    writer.start()
    follow_log(log, seen.append, lambda: not finished.is_set(), interval=0.02)
    writer.join()
    assert "".join(seen) == "".join(f"epoch {i}\n" for i in range(5))


def test_extend_prints_what_it_added(study_url: str) -> None:
    result = runner.invoke(app, ["extend", "--study", "s", "--lr", "1e-4", "--storage", study_url])
    assert result.exit_code == 0, result.output
    assert "changed space.learning_rates: [3e-05, 5e-05] -> [3e-05, 5e-05, 0.0001]" in result.stdout
    assert "queued 2 new configurations: wsFalse-bs4-e10-lr0.0001, wsFalse-bs8-e10-lr0.0001" in result.stdout
    bad = runner.invoke(app, ["extend", "--study", "s", "--n-trials", "3", "--storage", study_url])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_create_resume_with_another_spec_names_the_differences(study_url: str) -> None:
    args = ["create", "--model", "bert", "--study", "s", "--seeds", "1,2,3", "--if-exists", "resume"]
    result = runner.invoke(app, [*args, "--storage", study_url])
    assert result.exit_code == 2
    assert "seeds: [1, 2] -> [1, 2, 3]" in result.stderr and "hpsearch extend" in result.stderr


def test_delete_asks_on_a_terminal_and_refuses_without_yes_elsewhere(
    study_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = runner.invoke(app, ["delete", "--study", "s", "--storage", study_url])
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    monkeypatch.setattr("hpsearch.cli._lifecycle._on_terminal", lambda: True)
    kept = runner.invoke(app, ["delete", "--study", "s", "--storage", study_url], input="n\n")
    assert kept.exit_code == 1 and (tmp_path / "runs" / "s").is_dir()
    deleted = runner.invoke(app, ["delete", "--study", "s", "--storage", study_url], input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert "deleted study s: 4 trials, 2 run folders" in deleted.stdout
    assert not (tmp_path / "runs" / "s").exists()
    assert optuna.get_all_study_summaries(study_url) == []


def test_delete_refuses_a_running_study_without_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    grid_study(url, tmp_path / "runs", running=True)
    refused = runner.invoke(app, ["delete", "--study", "s", "--yes", "--storage", url])
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert runner.invoke(app, ["delete", "--study", "s", "--yes", "--force", "--storage", url]).exit_code == 0
