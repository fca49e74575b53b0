"""Text from data is printed literally (issue 13, item 2): study names with brackets are not Rich markup.

``create`` refuses such names now, but older studies may have them: they are made here through the
store directly, trained by the fake trainer, and every read command runs on their storage.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from tests.fleet_helpers import fake_spec

runner = CliRunner()
ODD_NAMES = ("a[/]b", "[red]x", "[bold]y[/bold]", "c[link=http://x]d")


@pytest.fixture(scope="module")
def odd_storage(tmp_path_factory: pytest.TempPathFactory) -> str:
    from hpsearch.store import create_study, open_storage
    from hpsearch.testing import FakeTrainer
    from hpsearch.worker._loop import WorkerOptions, run_worker

    folder = tmp_path_factory.mktemp("odd")
    url = f"sqlite:///{folder / 'hpsearch.db'}"
    storage = open_storage(url)
    for name in ODD_NAMES:
        create_study(fake_spec(2, seeds=(1, 2)), storage, name)
    options = WorkerOptions(output_dir=folder / "runs", handle_signals=False)
    summary = run_worker(url, list(ODD_NAMES), options, trainer=FakeTrainer(0.0))
    assert summary.completed == 2 * len(ODD_NAMES)
    return url


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, output
    assert "Traceback" not in output
    return output


def test_status_lists_odd_names_literally(odd_storage: str) -> None:
    output = invoke("status", "--storage", odd_storage)
    assert all(name in output for name in ODD_NAMES)


@pytest.mark.parametrize("name", ODD_NAMES)
def test_every_read_command_prints_an_odd_name_literally(odd_storage: str, name: str, tmp_path: Path) -> None:
    assert name in invoke("status", "--study", name, "--storage", odd_storage)
    invoke("report", "--study", name, "--storage", odd_storage)
    assert name in invoke("best", "--study", name, "--storage", odd_storage)
    assert name in invoke("best", "--study", name, "--json", "--storage", odd_storage)
    invoke("plot", "--study", name, "-o", str(tmp_path / "p.html"), "--storage", odd_storage)
    assert (tmp_path / "p.html").is_file()


def test_a_comparison_over_odd_names_prints(odd_storage: str) -> None:
    invoke("report", "--studies", "*", "--storage", odd_storage)


def test_a_missing_odd_name_is_named_literally(odd_storage: str) -> None:
    result = runner.invoke(app, ["status", "--study", "[red]nope[/red]", "--storage", odd_storage])
    assert result.exit_code == 2
    assert "no study named '[red]nope[/red]'" in result.stderr


def test_the_dashboard_starts_on_odd_names(odd_storage: str) -> None:
    from hpsearch.dashboard import start_dashboard

    board = start_dashboard(odd_storage, port=0, study="a[/]b")
    try:
        assert board.study_url is not None
    finally:
        board.close()


def test_help_texts_keep_their_brackets() -> None:
    create = invoke("create", "--help")
    assert "[space]" in create
    assert "[default: <dataset>-<lang>-<model>]" in create
    assert "[default: paper]" in create
    assert "Example: hpsearch create" in create
    for command in ("worker", "status", "report", "best", "plot", "import-logs", "dashboard"):
        assert "Example" in invoke(command, "--help"), command
