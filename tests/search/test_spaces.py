"""Search spaces: the paper grid, the wide sampled space, users' TOML spaces, and the study budget."""

from __future__ import annotations

import threading
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.errors import SpecError
from hpsearch.search import (
    DIMENSIONS,
    GridSpace,
    Range,
    SampledSpace,
    StudySpec,
    build_spec,
    is_t5,
    load_config,
    load_space,
    wide_space,
)
from hpsearch.store import create_study, load_study, open_storage, study_results
from hpsearch.testing import FakeTrainer, read_record
from hpsearch.worker import WorkerOptions, run_worker

optuna.logging.set_verbosity(optuna.logging.WARNING)

USER_SPACE = """\
[space]
kind = "sampled"
learning_rate = {low = 2e-5, high = 8e-5, log = true}
batch_size = [4, 8]
epochs = 3
use_crf = [false, true]
"""


def draws(space: SampledSpace, n: int) -> list:
    """``n`` configurations as workers draw them: each trial with its own seeded TPE sampler."""
    study = optuna.create_study(direction="maximize")
    configs = []
    for number in range(n):
        study.sampler = space.sampler(number)
        trial = study.ask()
        config = space.suggest(trial)
        study.tell(trial, config.learning_rate * 1000)
        configs.append(config)
    return configs


def test_wide_space_samples_inside_its_bounds() -> None:
    configs = draws(wide_space(t5=False), 30)
    for c in configs:
        assert 1e-5 <= c.learning_rate <= 1e-4
        assert c.batch_size in (4, 8, 16)
        assert c.context_size in (0, 64, 128)
        assert c.layers in ("-1", "-1,-2,-3,-4")
        assert c.subtoken_pooling in ("first", "mean", "first_last")
        assert c.use_crf in (False, True)
        assert 0 <= c.warmup_fraction <= 0.2
        assert c.epochs == 10 and c.amp is False
    assert len({c.name for c in configs}) == 30
    assert len({c.batch_size for c in configs}) == 3


def test_t5_models_get_t5_learning_rates(tmp_path: Path) -> None:
    assert is_t5("t5-small") and is_t5("bigscience-historical-texts/t5-efficient-blbooks-base-nl36")
    assert not is_t5("bert") and not is_t5("bigscience-historical-texts/bert-base-blbooks-cased")
    folder = tmp_path / "my-encoder"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "t5"}')
    assert is_t5(str(folder))
    assert wide_space(t5=True).dimensions["learning_rate"] == Range(5e-5, 5e-4, log=True)
    spec = build_spec(model="t5-small", config=None, space="wide", n_trials=4)
    assert all(5e-5 <= c.learning_rate <= 5e-4 for c in draws(spec.space, 10))


def test_paper_space_is_todays_grid() -> None:
    spec = build_spec(model="bert", config=None, space="paper")
    assert isinstance(spec.space, GridSpace) and spec.n_configs == 4 and spec.pruner == "none"
    assert spec == build_spec(model="bert", config=None)


def test_user_space_keeps_the_recipe_values_it_does_not_search(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(USER_SPACE)
    space = load_space(path)
    assert isinstance(space, SampledSpace)
    assert space.searched == ("learning_rate", "batch_size", "use_crf")
    assert space.dimensions["epochs"] == (3,)
    assert space.dimensions["context_size"] == (0,) and space.dimensions["warmup_fraction"] == (0.1,)
    for c in draws(space, 10):
        assert 2e-5 <= c.learning_rate <= 8e-5 and c.batch_size in (4, 8) and c.epochs == 3
        assert (c.layers, c.subtoken_pooling, c.context_size) == ("-1", "first", 0)


def test_sampled_spec_round_trips_through_the_study(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text(USER_SPACE)
    spec = build_spec(model="bert", config=None, space=str(path), n_trials=7, pruner="wilcoxon")
    assert StudySpec.from_dict(spec.to_dict()) == spec
    assert create_study(spec, open_storage(sqlite_url), "s")
    study, loaded = load_study(open_storage(sqlite_url), "s")
    assert loaded == spec and loaded.pruner == "wilcoxon" and loaded.n_trials == 7
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.WAITING] * 7
    assert all(not t.params for t in study.trials)
    assert len(study_results(study, loaded).configs) == 7  # queued trials stay apart before they are drawn


def test_config_file_with_a_sampled_space(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text('model = "bert"\nn_trials = 12\npruner = "paired"\n' + USER_SPACE)
    spec = load_config(path)
    assert isinstance(spec.space, SampledSpace) and spec.n_trials == 12 and spec.pruner == "paired"
    assert build_spec(model=None, config=path, n_trials=5).n_trials == 5


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("learning_rate = {low=1e-5, high=1e-4}\nbatch_size=[4]\nfoo = [1, 2]\n", "unknown search dimension(s) foo"),
        ("learning_rate = {low=1e-4, high=1e-5}\nbatch_size=[4]\n", "range 'learning_rate' is empty"),
        ("learning_rate = {low=1e-4, high=1e-4}\nbatch_size=[4]\n", "range 'learning_rate' is empty"),
        ("learning_rate = {low=1e-5, high=1e-4}\nbatch_size=[]\n", "dimension 'batch_size' lists no values"),
        ("learning_rate = {low=0, high=1e-4, log=true}\nbatch_size=[4]\n", "log-scaled, so low must be > 0"),
        ("learning_rate = {low=1e-5, high=1e-4}\nbatch_size=[4]\nlayers={low=1, high=2}\n", "not a range"),
        ("learning_rate = {low=1e-5, high=1e-4}\nbatch_size=[4, 0]\n", "batch size must be >= 1"),
        ("learning_rate = {low=1e-5, high=1e-4}\nbatch_size=[4]\nwarmup_fraction={low=0, high=1.5}\n", "[0, 1)"),
        ("learning_rate = {low=1e-5, hi=1e-4}\nbatch_size=[4]\n", "is written {low=..., high=..., log=true|false}"),
        ("batch_size=[4]\n", "must give learning_rate"),
    ],
)
def test_bad_user_spaces_are_refused_in_one_line(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text('[space]\nkind = "sampled"\n' + table)
    with pytest.raises(SpecError) as raised:
        load_space(path)
    text = str(raised.value)
    assert message in text and "\n" not in text and text.startswith(str(path))


def test_cli_refuses_a_bad_space_with_exit_2(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text('[space]\nkind = "sampled"\nlearning_rate = {low=1e-5, high=1e-4}\nbatch_size=[4]\ndropout=[0.1]\n')
    result = CliRunner().invoke(app, ["create", "--model", "bert", "--space", str(path), "--storage", sqlite_url])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown search dimension(s) dropout" in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for args, message in [
        (["--space", "nosuch"], "--space takes paper, wide or a .toml file"),
        (["--space", "wide", "--lr", "1e-5"], "grid options"),
        (["--space", "wide", "--n-trials", "0"], "--n-trials >= 1"),
        (["--n-trials", "5"], "a grid queues each of its points once"),
        (["--space", "wide", "--pruner", "median"], "unknown pruner 'median'"),
    ]:
        result = CliRunner().invoke(app, ["create", "--model", "bert", *args, "--storage", sqlite_url])
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)


def test_cli_creates_a_wide_study(sqlite_url: str) -> None:
    result = CliRunner().invoke(app, ["create", "--model", "bert", "--space", "wide", "--storage", sqlite_url])
    assert result.exit_code == 0, result.stderr
    assert "20 trials (configurations drawn by the workers) queued" in result.stdout
    assert "early stopping: rungs" in result.stdout


def test_dimensions_are_the_config_fields() -> None:
    from dataclasses import fields

    from hpsearch.search import Config

    assert set(DIMENSIONS) == {f.name for f in fields(Config)}


def test_concurrent_workers_respect_the_budget(tmp_path: Path, sqlite_url: str) -> None:
    spec = build_spec(model="bert", config=None, space="wide", n_trials=6, pruner="none")
    create_study(spec, open_storage(sqlite_url), "wide")
    record = tmp_path / "record.jsonl"
    trainer = FakeTrainer(0.05, record=record)
    options = [
        WorkerOptions(
            output_dir=tmp_path / "runs",
            keep_models="none",
            handle_signals=False,
            heartbeat_interval=1,
            grace_period=30,
        )
        for _ in range(2)
    ]
    summaries = []

    def work(o: WorkerOptions) -> None:
        summaries.append(run_worker(sqlite_url, ["wide"], o, trainer=trainer))

    threads = [threading.Thread(target=work, args=(o,)) for o in options]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    study, _ = load_study(open_storage(sqlite_url), "wide")
    assert len(study.trials) == 6  # no worker created a trial
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert sum(s.completed for s in summaries) == 6 and all(s.completed for s in summaries)
    names = {t.user_attrs["config"] for t in study.trials}
    assert len(names) == 6  # each trial drew its own configuration
    started = [e for e in read_record(record) if e["event"] == "start"]
    assert len(started) == 6 * 5


def test_the_example_space_file_loads() -> None:
    path = Path(__file__).resolve().parents[2] / "studies" / "spaces" / "encoder-narrow.toml"
    space = load_space(path)
    assert isinstance(space, SampledSpace)
    assert space.searched == ("learning_rate", "batch_size", "use_crf", "warmup_fraction")
