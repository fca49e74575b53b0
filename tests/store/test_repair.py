"""``hpsearch requeue``: failed or named finished trials back in the queue with their finished seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.errors import NotFoundError, UsageError
from hpsearch.search import SeedResult
from hpsearch.store import (
    RETRIES_ATTR,
    claim_next,
    encode_seed,
    fail_trial,
    load_study,
    open_storage,
    requeue_trials,
    seed_attr_key,
    seed_results_from_attrs,
)
from tests.fleet_helpers import make_study, states, trials


def _fail_first_two(url: str) -> None:
    study, _ = load_study(open_storage(url), "s")
    for _ in range(2):
        trial = claim_next(study)
        assert trial is not None
        trial.set_user_attr(seed_attr_key(1), encode_seed(SeedResult(seed=1, dev_curve=(0.5,), test_f1=0.4)))
        fail_trial(study, trial, "data folder missing")


def test_requeue_failed_keeps_finished_seeds_and_counts_no_retry(storage_url: str) -> None:
    make_study(storage_url, "s", 3)
    _fail_first_two(storage_url)
    done = requeue_trials(storage_url, "s", failed=True)
    assert done.pairs == ((0, 3), (1, 4))
    assert states(storage_url, "s") == {"FAIL": 2, "WAITING": 3}
    for copy in trials(storage_url, "s")[3:]:
        assert list(seed_results_from_attrs(copy.user_attrs)) == [1]
        assert copy.system_attrs[RETRIES_ATTR] == 0
    assert requeue_trials(storage_url, "s", failed=True).pairs == ()  # each failed trial has its copy now


def test_requeue_refuses_queued_running_and_missing_trials_before_writing(storage_url: str) -> None:
    make_study(storage_url, "s", 3)
    _fail_first_two(storage_url)
    with pytest.raises(UsageError, match="trial 2 is waiting"):
        requeue_trials(storage_url, "s", numbers=[0, 2])
    with pytest.raises(NotFoundError, match="no trial 9"):
        requeue_trials(storage_url, "s", numbers=[9])
    with pytest.raises(UsageError, match="give --failed"):
        requeue_trials(storage_url, "s")
    assert states(storage_url, "s") == {"FAIL": 2, "WAITING": 1}


def test_the_requeue_command_prints_what_it_queued(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    make_study(url, "s", 3)
    _fail_first_two(url)
    result = CliRunner().invoke(app, ["requeue", "--study", "s", "--trial", "1", "--storage", url])
    assert result.exit_code == 0, result.output
    assert "trial 1 re-queued as trial 3" in result.stdout
    result = CliRunner().invoke(app, ["requeue", "--study", "s", "--trial", "2", "--storage", url])
    assert result.exit_code == 2 and "only finished trials" in result.stderr
