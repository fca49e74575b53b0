"""The dashboard: the study note, artifacts written by the worker, and optuna-dashboard in a real browser."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpsearch.dashboard import leaderboard_markdown, publish_trial, start_dashboard, study_note
from hpsearch.search import Config, ConfigResult, GridSpace, SeedResult, StudySpec
from hpsearch.store import (
    Artifacts,
    StudyResults,
    best_model_filename,
    create_study,
    default_artifacts_dir,
    load_study,
    open_storage,
    resolve_artifacts_dir,
    study_results,
)
from hpsearch.training import RunHooks
from hpsearch.worker import LineProgress, Progress

STUDY = "ajmc-en-fake"
CHROMIUM = Path("/usr/bin/chromium")


def _spec() -> StudySpec:
    return StudySpec(
        model="org/fake-model",
        label="fake",
        space=GridSpace(learning_rates=(1e-3, 2e-3), batch_sizes=(4, 8), epochs=(2,)),
        seeds=(1, 2),
    )


class FileWritingTrainer:
    """Trains nothing; writes a ``training.log`` and a ``best-model.pt`` as Flair would, instantly."""

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
        out_dir.mkdir(parents=True, exist_ok=True)
        best = 0.5 + config.learning_rate * 100 + config.batch_size / 100 + seed / 1000
        curve = (best - 0.1, best)
        for epoch, dev in enumerate(curve, start=1):
            for batch in (1, 2):
                if hooks.on_batch is not None:
                    hooks.on_batch(epoch, batch, 2)
            if hooks.on_epoch is not None:
                hooks.on_epoch(epoch, dev)
        (out_dir / "training.log").write_text(f"{config.name} seed {seed}\nDEV : {best:.4f}\n")
        (out_dir / "best-model.pt").write_bytes(f"model {config.name} {seed}".encode())
        return SeedResult(seed=seed, dev_curve=curve, test_f1=best - 0.05, wall_time_s=30.0, device="fake")


def make_study(tmp_path: Path, url: str, *, progress: Progress | None = None, keep_models: str = "best") -> Path:
    """A study of four configurations × two seeds, trained by the real worker with a fake trainer."""
    from hpsearch.worker import WorkerOptions, run_worker

    create_study(_spec(), open_storage(url), STUDY)
    options = WorkerOptions(output_dir=tmp_path / "runs", keep_models=keep_models, handle_signals=False)
    run_worker(url, [STUDY], options, trainer=FileWritingTrainer(), progress=progress or LineProgress(quiet=True))
    return tmp_path / "artifacts"


# --- the note ------------------------------------------------------------------------------------


def _result(name: str, devs: list[float], *, state: str = "complete", number: int = 0) -> ConfigResult:
    runs = tuple(SeedResult(seed=i + 1, dev_curve=(d,), test_f1=d - 0.1, wall_time_s=60.0) for i, d in enumerate(devs))
    return ConfigResult(name=name, seeds_planned=(1, 2), runs=runs, state=state, trial_number=number)


def test_note_has_spec_leaderboard_and_progress() -> None:
    configs = (
        _result("wsFalse-bs4-e2-lr0.001", [0.80, 0.82], number=0),
        _result("wsFalse-bs8-e2-lr0.001", [0.90, 0.86], number=1),
        _result("wsFalse-bs4-e2-lr0.002", [0.99], state="running", number=2),
        _result("wsFalse-bs8-e2-lr0.002", [], state="failed", number=3),
    )
    results = StudyResults(name=STUDY, spec=_spec(), configs=configs, all_trials=configs)
    note = study_note(
        results, best_model="best-model-trial-0001-seed-1.pt", updated=datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    )
    assert note.startswith(f"## {STUDY}\n")
    assert "**Objective:** dev F1 (mean over seeds), maximised." in note
    assert "| Model | `org/fake-model` (fake) |" in note
    assert "| Datasets | ajmc/en |" in note and "| Seeds | 1, 2 |" in note
    assert "| Search space | grid, 4 configurations × 2 seeds |" in note
    assert "| · learning_rates | 0.001, 0.002 |" in note
    assert "hidden size 256" in note  # recipe settings
    board = note[note.index("### Leaderboard") :]
    # Best mean first; the running configuration (one seed) and the failed one are not ranked.
    assert board.index("wsFalse-bs8-e2-lr0.001") < board.index("wsFalse-bs4-e2-lr0.001")
    assert "| 1 | `wsFalse-bs8-e2-lr0.001` | 1 | 88.00 ± 2.00 | 1: 90.00, 2: 86.00 | 78.00 ± 2.00 |" in board
    assert "lr0.002" not in board.split("**Configurations:**")[0]
    assert "**Configurations:** 4: 2 complete, 1 running, 0 queued, 1 failed, 0 pruned." in note
    assert "**Training time:** 0.08 h." in note  # five runs of a minute
    assert "**Best model:** study artifact `best-model-trial-0001-seed-1.pt`." in note
    assert "2025-01-02 03:04 UTC" in note


def test_leaderboard_placeholder_limit_and_escaping() -> None:
    assert "No configuration has finished" in leaderboard_markdown([])
    many = [_result(f"c{i}", [i / 100, i / 100], number=i) for i in range(15)]
    board = leaderboard_markdown(many, top=10)
    assert board.count("\n") == 11 and "`c14`" in board and "`c4`" not in board
    assert "`a\\|b`" in leaderboard_markdown([_result("a|b", [0.5, 0.5])])
    nan = _result("x", [math.nan, math.nan])
    assert "–" in leaderboard_markdown([nan])


# --- artifacts and the worker's note ---------------------------------------------------------------


def test_default_artifacts_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_artifacts_dir(f"sqlite:///{tmp_path}/db/hp.db") == tmp_path / "db" / "artifacts"
    monkeypatch.chdir(tmp_path)
    assert default_artifacts_dir("sqlite:///hp.db") == tmp_path / "artifacts"
    assert default_artifacts_dir("postgresql://u:p@host/db") == tmp_path / "artifacts"
    assert resolve_artifacts_dir("sqlite:///hp.db", Path("elsewhere")) == tmp_path / "elsewhere"


def test_worker_writes_note_logs_and_best_model(tmp_path: Path, sqlite_url: str) -> None:
    import optuna
    from optuna.artifacts import download_artifact, get_all_artifact_meta
    from optuna_dashboard import get_note

    artifacts = make_study(tmp_path, sqlite_url)
    assert artifacts == tmp_path / "artifacts" and artifacts.is_dir()
    storage = open_storage(sqlite_url, must_exist=True)
    study, spec = load_study(storage, STUDY)
    best = study.best_trial
    assert (best.params["learning_rate"], best.params["batch_size"]) == (2e-3, 8)

    # Every trial carries its seeds' logs; the study one model: the best trial's best seed's.
    for trial in study.get_trials():
        names = sorted(m.filename for m in get_all_artifact_meta(trial, storage=storage))
        assert names == ["seed-1-training.log", "seed-2-training.log"]
    (model,) = get_all_artifact_meta(study)
    assert model.filename == f"best-model-trial-{best.number:04d}-seed-2.pt"
    assert best_model_filename(study) == model.filename
    download_artifact(
        artifact_store=optuna.artifacts.FileSystemArtifactStore(artifacts),
        artifact_id=model.artifact_id,
        file_path=str(tmp_path / "model.pt"),
    )
    assert (tmp_path / "model.pt").read_bytes() == f"model {best.user_attrs['config']} 2".encode()
    # One model file in the store however many trials were best in turn, plus eight logs.
    assert len(list(artifacts.iterdir())) == 9

    note = get_note(study)
    assert "_No configuration" not in note
    assert "**Configurations:** 4: 4 complete, 0 running, 0 queued" in note
    first_row = note[note.index("| 1 |") :].splitlines()[0]
    assert best.user_attrs["config"] in first_row
    assert f"`{model.filename}`" in note
    # The trial attributes the dashboard lists.
    for key in ("config", "dev_f1_mean", "dev_f1_std", "test_f1_mean", "wall_time_s", "device", "versions"):
        assert key in best.user_attrs
    assert list(best.intermediate_values.values()) == pytest.approx(best.user_attrs["dev_f1_per_seed"])
    assert study.metric_names == ["dev F1 (mean over seeds)"]
    assert study_results(study, spec).best is not None


def test_note_is_written_at_create(sqlite_url: str) -> None:
    from optuna_dashboard import get_note

    from hpsearch.create import create_from_spec

    create_from_spec(sqlite_url, _spec(), study=STUDY)  # the create command writes it; the store does not
    note = get_note(load_study(open_storage(sqlite_url), STUDY)[0])
    assert "| Seeds | 1, 2 |" in note and "No configuration has finished all its seeds yet" in note
    assert "0 complete, 0 running, 4 queued" in note


def test_no_model_upload_with_keep_models_none(tmp_path: Path, sqlite_url: str) -> None:
    from optuna.artifacts import get_all_artifact_meta

    make_study(tmp_path, sqlite_url, keep_models="none")
    study, _ = load_study(open_storage(sqlite_url), STUDY)
    assert get_all_artifact_meta(study) == []


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings_logged() -> list[str]:
    handler = _Warnings()
    logger = logging.getLogger("hpsearch")
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_publish_trial_never_raises(tmp_path: Path, sqlite_url: str, warnings_logged: list[str]) -> None:
    import optuna
    from optuna_dashboard import get_note

    make_study(tmp_path, sqlite_url)
    study, _ = load_study(open_storage(sqlite_url), STUDY)
    best = study.best_trial
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unwritable = Artifacts(blocker / "artifacts")
    publish_trial(study, best, unwritable)  # type: ignore[arg-type]
    run_dir = Path(best.user_attrs["run_dir"]) / "seed-1"
    assert unwritable.upload_seed_log(best, 1, run_dir) is None  # type: ignore[arg-type]
    assert sum("could not upload" in m for m in warnings_logged) == 2
    assert "Leaderboard" in get_note(study)  # the note is written all the same

    plain = optuna.create_study(storage=open_storage(sqlite_url), study_name="not-hpsearch")
    plain.enqueue_trial({})
    publish_trial(plain, plain.ask(), None)
    assert any("could not write the note of study not-hpsearch" in m for m in warnings_logged)


# --- the command -------------------------------------------------------------------------------


def test_dashboard_command_errors(tmp_path: Path, sqlite_url: str) -> None:
    from hpsearch.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["dashboard", "--storage", f"sqlite:///{tmp_path}/missing.db"])
    assert result.exit_code == 2 and "no storage at" in result.output
    create_study(_spec(), open_storage(sqlite_url), STUDY)
    result = runner.invoke(app, ["dashboard", "--study", "nope"], env={"HPSEARCH_STORAGE": sqlite_url})
    assert result.exit_code == 2 and "no study named 'nope'" in result.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["dashboard", "--port", str(port)], env={"HPSEARCH_STORAGE": sqlite_url})
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output


def test_start_dashboard_serves_the_api(tmp_path: Path, sqlite_url: str) -> None:
    import urllib.request

    make_study(tmp_path, sqlite_url)
    board = start_dashboard(sqlite_url, port=0, study=STUDY)
    board.serve_in_thread()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/dashboard", board.url)
        assert board.study_url == board.url + "/studies/1"
        assert board.artifacts_dir == tmp_path / "artifacts"
        api = board.url.removesuffix("/dashboard") + "/api/studies/1"
        with urllib.request.urlopen(api, timeout=30) as response:
            data = json.load(response)
    finally:
        board.close()
    assert data["objective_names"] == ["dev F1 (mean over seeds)"]
    assert data["note"]["body"].startswith(f"## {STUDY}")
    assert [a["filename"] for a in data["artifacts"]] == [
        f"best-model-trial-{data['best_trials'][0]['number']:04d}-seed-2.pt"
    ]
    trial = data["trials"][0]
    assert [v["step"] for v in trial["intermediate_values"]] == [0, 1]
    assert {a["key"] for a in trial["user_attrs"]} >= {"config", "dev_f1_mean", "dev_f1_std", "seed:1", "seed:2"}


# --- in a real browser -----------------------------------------------------------------------------


def _wait_for_url(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        match = re.search(r"study \S+: (http://\S+)", line)
        if match:
            base = re.search(r"dashboard: (http://\S+)", "".join(lines))
            assert base is not None
            return base.group(1), match.group(1)
    raise AssertionError(f"hpsearch dashboard printed no URL: {''.join(lines)!r}")


def test_dashboard_in_a_browser(tmp_path: Path, sqlite_url: str) -> None:
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])"
    )
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    script = shutil.which("hpsearch", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the hpsearch console script is not installed (pip install -e .)")

    make_study(tmp_path, sqlite_url)
    study, _ = load_study(open_storage(sqlite_url), STUDY)
    best = study.best_trial
    env = {**os.environ, "HPSEARCH_STORAGE": sqlite_url, "PYTHONUNBUFFERED": "1"}
    env.pop("HPSEARCH_ARTIFACTS", None)
    proc = subprocess.Popen(
        [script, "dashboard", "--port", "0", "--study", STUDY],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base, study_url = _wait_for_url(proc)
        root = base.removesuffix("/dashboard")
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(60_000)

            # The study page: the objective's name, the best trial's value, per-seed intermediate values.
            page.goto(study_url)
            page.get_by_text(f"{STUDY} (id=1)").wait_for()
            page.get_by_text(f"Best Trial (number={best.number})").wait_for()
            page.get_by_text("Intermediate values").wait_for()
            body = page.inner_text("body")
            assert "dev F1 (mean over seeds)" in body
            assert str(best.value) in body
            assert "best-model-trial-" in body  # the study artifact
            page.screenshot(path=str(tmp_path / "study.png"), full_page=True)

            # The trial list: every trial with its value and its seeds' logs.
            page.goto(study_url + "/trials")
            page.get_by_text("4 Trials").wait_for()
            page.get_by_text("seed-1-training.log").first.wait_for()
            body = page.inner_text("body")
            first = study.trials[0]
            assert str(first.value) in body
            assert all(f"Trial {t.number}" in body for t in study.trials)

            # The note: spec and leaderboard.
            page.goto(study_url + "/note")
            page.get_by_text("Leaderboard (top 10)").wait_for()
            page.get_by_role("cell", name=best.user_attrs["config"]).first.wait_for()
            note = page.inner_text("body")
            assert "Recipe settings" in note and "org/fake-model" in note
            page.screenshot(path=str(tmp_path / "note.png"), full_page=True)

            # An artifact, as the dashboard's download link fetches it.
            log_meta = json.loads(
                next(v for k, v in first.system_attrs.items() if k.startswith("artifacts:") and "seed-1" in v)
            )
            response = page.request.get(f"{root}/artifacts/1/{first._trial_id}/{log_meta['artifact_id']}")
            assert response.ok
            assert response.text().startswith(f"{first.user_attrs['config']} seed 1")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"screenshots: {tmp_path / 'study.png'} {tmp_path / 'note.png'}")
