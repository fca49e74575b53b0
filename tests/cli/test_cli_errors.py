"""Bad input: one clear line on stderr, exit code 2, no traceback, storage unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
import typer
from typer.testing import CliRunner

import hpsearch
from hpsearch.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_usage_error(args: list[str], message: str) -> str:
    code, stdout, stderr = run(*args)
    assert code == 2, (code, stdout, stderr)
    assert "Traceback" not in stdout + stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1, stderr
    assert message in lines[0], lines[0]
    return lines[0]


def study_count(url: str) -> int:
    return len(optuna.get_all_study_summaries(url))


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "hpsearch.db"
    return f"sqlite:///{path}", path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "roberta"], "unknown model preset 'roberta'; choose one of bert"),
        (["--model", "/no/such/model"], "model folder /no/such/model does not exist"),
        (["--model", "bert", "--lr", "0"], "learning rate must be > 0"),
        (["--model", "bert", "--lr", "-3e-5"], "learning rate must be > 0"),
        (["--model", "bert", "--batch-size", "0"], "batch size must be >= 1"),
        (["--model", "bert", "--dataset", "nosuch/en"], "unknown HIPE-2022 dataset 'nosuch'"),
        (["--model", "bert", "--dataset", "ajmc/xx"], "dataset 'ajmc' has no language 'xx'"),
        (["--model", "bert", "--seeds", "one"], "seeds are written like"),
        ([], "give either --model"),
        (["--model", "bert", "--config", "studies/bert.toml"], "give either --model"),
    ],
)
def test_create_refuses_bad_options(db: tuple[str, Path], args: list[str], message: str) -> None:
    url, path = db
    assert_usage_error(["create", *args, "--storage", url], message)
    assert not path.exists()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", 'model = "bert"\n[space\n', "not valid TOML"),
        ("incomplete.toml", 'model = "bert"\n', "missing key(s) space"),
        (
            "unknown.toml",
            'model = "bert"\nfoo = 1\n[space]\nlearning_rates=[1e-5]\nbatch_sizes=[4]\n',
            "unknown key(s) foo",
        ),
        ("types.toml", 'model = "bert"\n[space]\nlearning_rates=[1e-5]\nbatch_sizes=["4"]\n', "must list int"),
        ("recipe.json", json.dumps({"seeds": [1], "hf_model": "a/b"}), "missing key(s) batch_sizes"),
        ("config.yaml", "a: 1\n", "unknown config format"),
    ],
)
def test_create_refuses_bad_config_files(
    db: tuple[str, Path], tmp_path: Path, name: str, text: str, message: str
) -> None:
    url, path = db
    config = tmp_path / name
    config.write_text(text)
    assert_usage_error(["create", "--config", str(config), "--storage", url], message)
    assert not path.exists()


def test_create_refuses_missing_config_file(db: tuple[str, Path]) -> None:
    url, path = db
    assert_usage_error(["create", "--config", "nope.toml", "--storage", url], "config file nope.toml does not exist")
    assert not path.exists()


def test_create_refuses_data_dir_without_files(db: tuple[str, Path], tmp_path: Path) -> None:
    url, path = db
    line = assert_usage_error(["create", "--model", "bert", "--data-dir", str(tmp_path), "--storage", url], "lacks")
    assert "HIPE-2022-v2.1-ajmc-train-en.tsv" in line
    assert not path.exists()


def test_malformed_hipe_line_names_file_and_line(db: tuple[str, Path], tmp_path: Path, sample_data: Path) -> None:
    import shutil

    data = tmp_path / "data-copy"
    shutil.copytree(sample_data, data)
    dev = data / "data/v2.1/ajmc/en/HIPE-2022-v2.1-ajmc-dev-en.tsv"
    lines = dev.read_text().splitlines()
    lines[6] = "Ajax B-pers"  # spaces instead of tabs
    dev.write_text("\n".join(lines) + "\n")
    url, path = db
    line = assert_usage_error(["create", "--model", "bert", "--data-dir", str(data), "--storage", url], ":7: malformed")
    assert str(dev) in line
    assert not path.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "malformed storage URL"),
        ("mysql://root@127.0.0.1/test", "unsupported storage"),
        ("sqlite:////no/such/folder/x.db", "does not exist"),
        ("postgresql+psycopg://hps:s3cret@127.0.0.1:1/test", "cannot open storage"),
    ],
)
def test_create_refuses_bad_storage(url: str, message: str) -> None:
    line = assert_usage_error(["create", "--model", "bert", "--storage", url], message)
    assert "s3cret" not in line


def test_worker_and_status_for_missing_study(db: tuple[str, Path]) -> None:
    url, path = db
    assert_usage_error(["worker", "--study", "nope", "--storage", url], "no storage at")
    assert not path.exists()
    assert run("create", "--model", "bert", "--storage", url)[0] == 0
    assert_usage_error(["worker", "--study", "nope", "--storage", url], "no study named 'nope'")
    assert_usage_error(["status", "--study", "nope", "--storage", url], "no study named 'nope'")
    assert_usage_error(["report", "--study", "nope", "--storage", url], "no study named 'nope'")
    assert_usage_error(["worker", "--study", "zz-*", "--storage", url], "no study matches 'zz-*'")
    assert study_count(url) == 1


def test_create_twice_and_resume(db: tuple[str, Path]) -> None:
    url, _ = db
    code, stdout, _ = run("create", "--model", "t5-base", "--storage", url)
    assert code == 0
    assert "created study ajmc-en-t5-base" in stdout
    assert "4 configurations queued" in stdout
    assert_usage_error(["create", "--model", "t5-base", "--storage", url], "exists already")
    code, stdout, _ = run("create", "--model", "t5-base", "--storage", url, "--if-exists", "resume")
    assert code == 0
    assert "resumed" in stdout
    assert_usage_error(
        ["create", "--model", "t5-base", "--lr", "1e-4", "--storage", url, "--if-exists", "resume"], "different spec"
    )
    study = optuna.load_study(study_name="ajmc-en-t5-base", storage=url)
    assert len(study.trials) == 4


def test_usage_errors_exit_2() -> None:
    code, _, _ = run("create", "--if-exists", "maybe")
    assert code == 2
    code, _, _ = run("worker")
    assert code == 2


@pytest.mark.parametrize(
    "kind",
    [
        hpsearch.UsageError,
        hpsearch.SpecError,
        hpsearch.DataError,
        hpsearch.StorageError,
        hpsearch.NotFoundError,
        hpsearch.StudyNotFoundError,
        hpsearch.TrainingError,
    ],
)
def test_every_kind_of_error_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, kind: type[Exception]) -> None:
    import hpsearch.results

    def fail(*_args: object, **_kwargs: object) -> None:
        raise kind(f"{kind.__name__} happened")

    monkeypatch.setattr(hpsearch.results, "status_tables", fail)
    assert_usage_error(["status"], f"{kind.__name__} happened")


def test_error_kinds_share_one_root() -> None:
    assert issubclass(hpsearch.SpecError, hpsearch.UsageError)
    assert issubclass(hpsearch.StudyNotFoundError, hpsearch.NotFoundError)
    kinds = [hpsearch.UsageError, hpsearch.DataError, hpsearch.StorageError, hpsearch.NotFoundError]
    assert all(issubclass(k, hpsearch.HpsearchError) for k in [*kinds, hpsearch.TrainingError])
    assert str(hpsearch.StudyNotFoundError("no study named 'x'.")) == "no study named 'x'."  # not quoted as KeyError's


def test_bad_port_is_a_usage_error(db: tuple[str, Path]) -> None:
    from hpsearch.dashboard import start_dashboard
    from hpsearch.store import create_study, open_storage

    url, _ = db
    create_study(hpsearch.spec_for_preset("bert"), open_storage(url), "s")
    with pytest.raises(hpsearch.UsageError, match="cannot listen on"):
        start_dashboard(url, host="256.0.0.1", port=1)


def _options(command: str) -> dict[str, Any]:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params}  # type: ignore[attr-defined]


def test_cli_choices_and_help_come_from_the_registries() -> None:
    from hpsearch.results import FORMATS
    from hpsearch.search import PRUNERS
    from hpsearch.worker import KEEP_MODELS

    keep = _options("worker")["keep_models"]
    assert [e.value for e in keep.type_descriptor.annotation] == list(KEEP_MODELS)
    assert all(f"{name} ({text})" in keep.help for name, text in KEEP_MODELS.items())
    fmt = _options("report")["fmt"]
    assert [e.value for e in fmt.type_descriptor.annotation] == list(FORMATS)
    assert all(f"{name} ({entry.help})" in fmt.help for name, entry in FORMATS.items())
    pruner = _options("create")["pruner"]
    assert all(name in pruner.help for name in PRUNERS)
