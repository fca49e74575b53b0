"""What only PostgreSQL has: a server restart while workers train, the connection pool, passwords.

The fleet scenarios common to both backends (many workers at once, crashes, signals) are in
tests/worker/test_fleet.py over the ``storage_url`` fixture. Each test here gets a database of its
own on the shared server (``pg_url``) or a private server it may restart (``private_pg``); see tests/pg.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hpsearch.errors import StorageError
from hpsearch.store import mask_url, open_storage
from hpsearch.testing import FakeTrainer
from hpsearch.worker import WorkerOptions, run_worker
from tests.fleet_helpers import (
    Worker,
    assert_drained_once,
    done_counts,
    growth,
    make_study,
    trials,
    wait_all,
    wait_for,
)
from tests.pg import free_port

PASSWORD = "s3cret-Pw"


def with_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def test_an_unreachable_server_is_reported_without_the_password() -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://hp:{PASSWORD}@127.0.0.1:{free_port()}/hpsearch"
    with pytest.raises(StorageError) as caught:
        open_storage(url)
    message = str(caught.value)
    assert PASSWORD not in message
    assert f"postgresql+psycopg://hp:***@127.0.0.1:{url.split(':')[3].split('/')[0]}/hpsearch" in message
    assert "\n" not in message


@pytest.mark.postgres
def test_the_pool_is_small_bounded_and_pinged(pg_url: str) -> None:
    engine = open_storage(pg_url).engine
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._pre_ping) == (2, 2, True)


@pytest.mark.postgres
def test_a_worker_logs_the_storage_without_the_password(
    tmp_path: Path, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = with_password(pg_url)  # trust authentication: the server ignores it
    make_study(url, "s", 2, seeds=(1,))
    options = WorkerOptions(
        output_dir=tmp_path / "runs", artifacts_dir=tmp_path / "artifacts", keep_models="none", handle_signals=False
    )
    with caplog.at_level(logging.INFO, logger="hpsearch"):
        assert run_worker(url, ["s"], options, trainer=FakeTrainer()).completed == 2
    assert mask_url(url) in caplog.text and "***" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.postgres
def test_workers_wait_through_a_postgres_restart_and_lose_nothing(tmp_path: Path, private_pg) -> None:
    url = private_pg.url
    make_study(url, "s", 80)
    record = tmp_path / "record.jsonl"
    # The grace period outlasts the outage (and a restart slowed by a busy machine: 15 s was once
    # outlasted in a full CI run): no trial is declared dead, none is trained twice.
    args = ("--seconds", 0.3, "--heartbeat", 1, "--grace", 30, "--record", record)
    workers = [Worker(url, ["s"], tmp_path, f"w{i}", *args) for i in range(4)]
    wait_for(lambda: sum(done_counts(record).values()) >= 16, "8 trials to be trained", progress=growth(record))
    private_pg.restart(down_for=3)
    assert sum(done_counts(record).values()) < 160  # the database went down mid-study (80 trials × 2 seeds)
    wait_all(workers)
    # No finished seed lost (none trained again) and every trial holds both seeds.
    assert_drained_once(url, "s", 80, workers, record, seeds=2)
    assert all({"seed:1", "seed:2"} <= set(t.user_attrs) for t in trials(url, "s"))
