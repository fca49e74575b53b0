"""Workers through PgBouncer in transaction mode: the claim, heartbeats and re-queueing on shared server connections.

The module starts a throwaway ``pgbouncer`` in pool mode ``transaction`` in front of the shared PostgreSQL
server, with a single server connection: the transactions of every worker take turns on it, so that a
prepared statement left by one client meets the others, and a transaction that waits for a second
connection of its own never gets one. Skips where no ``pgbouncer`` binary is installed (``.ci/run``
installs it) or no server answers. docs/fleet.md says how to run PgBouncer for a fleet.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hpsearch.errors import StorageError
from hpsearch.store import FAIL_REASON_ATTR, open_storage
from tests.fleet_helpers import (
    Worker,
    assert_clean_logs,
    assert_drained_once,
    config_name,
    growth,
    has_started,
    learning_rates,
    make_study,
    trials,
    wait_all,
    wait_for,
)
from tests.pg import ADMIN_URL, create_database, drop_database, free_port, server_available

POOL_SIZE = 1
"""Server connections per database (PgBouncer's ``default_pool_size``)."""


def _pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
    )


@pytest.fixture(scope="module")
def pgbouncer_admin_url() -> Iterator[str]:
    """The shared server's admin URL, through a PgBouncer of the module's own in transaction mode."""
    binary = _pgbouncer_binary()
    if binary is None:
        pytest.skip("no pgbouncer binary (apt-get install pgbouncer)")
    if not server_available():
        pytest.skip("no PostgreSQL server at HPSEARCH_TEST_PG")
    server = make_url(ADMIN_URL)
    user = server.username or "postgres"
    folder = Path(tempfile.mkdtemp(prefix="hpsearch-pgbouncer-"))
    port = free_port()
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n* = host={server.host or '127.0.0.1'} port={server.port or 5432}\n\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {POOL_SIZE}\nmax_client_conn = 200\n"
        "query_wait_timeout = 20\n"  # a client waiting this long for the server connection gets an error
    )
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []  # PgBouncer refuses to run as root
    if as_user:
        try:
            shutil.chown(folder, "postgres")
        except LookupError:
            shutil.rmtree(folder)
            pytest.skip("running as root, and no user postgres for pgbouncer to run as")
    log = (folder / "stderr").open("wb")
    proc = subprocess.Popen([binary, *as_user, str(folder / "pgbouncer.ini")], stdout=log, stderr=subprocess.STDOUT)
    url = server.set(drivername="postgresql+psycopg", port=port).render_as_string(hide_password=False)
    try:
        deadline = time.monotonic() + 30
        while not server_available(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"pgbouncer did not start: {(folder / 'stderr').read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def bouncer_url(pgbouncer_admin_url: str) -> Iterator[str]:
    """A new database on the shared server, reached through PgBouncer; dropped directly on the server after."""
    name, url = create_database(pgbouncer_admin_url)
    yield url
    drop_database(name)


def _past_pgbouncer(url: str) -> str:
    """The same database, on the server itself.

    The studies are created there: Optuna's table creation in a new database (not hpsearch's path
    afterwards) reads on a second connection inside a transaction, which one server connection cannot serve.
    """
    return make_url(url).set(port=make_url(ADMIN_URL).port or 5432).render_as_string(hide_password=False)


@pytest.mark.postgres
def test_many_workers_through_pgbouncer_train_every_trial_once(tmp_path: Path, bouncer_url: str) -> None:
    make_study(_past_pgbouncer(bouncer_url), "s", 40)
    record = tmp_path / "record.jsonl"
    args = ("--seconds", 0.05, "--heartbeat", 1, "--grace", 30, "--record", record)
    workers = [Worker(bouncer_url, ["s"], tmp_path, f"w{i}", *args) for i in range(6)]
    wait_all(workers)
    # Fails with psycopg's server-side prepared statements ("prepared statement _pg3_0 does not exist"),
    # and with a transaction that waits for a second connection (query_wait_timeout).
    assert_drained_once(bouncer_url, "s", 40, workers, record, seeds=2)


@pytest.mark.postgres
def test_a_killed_worker_s_trial_is_requeued_through_pgbouncer(tmp_path: Path, bouncer_url: str) -> None:
    make_study(_past_pgbouncer(bouncer_url), "s", 3, seeds=(1, 2, 3))
    record = tmp_path / "record.jsonl"
    fast = ("--heartbeat", 1, "--grace", 3, "--record", record)
    first = Worker(bouncer_url, ["s"], tmp_path, "first", "--seconds", 1, *fast)
    killed = config_name(learning_rates(3)[0])
    wait_for(lambda: has_started(record, killed, 2), "seed 2 to start", progress=growth(*first.files))
    first.kill()  # SIGKILL while seed 2 of trial 0 trains; its client connections drop mid-session

    second = Worker(bouncer_url, ["s"], tmp_path, "second", "--seconds", 0.1, *fast)
    assert second.wait() == 0, second.log()
    assert_clean_logs([second])
    by_number = {t.number: t for t in trials(bouncer_url, "s")}
    assert by_number[0].user_attrs[FAIL_REASON_ATTR] == "worker lost: no heartbeat for 3 s; re-queued (retry 1 of 3)"
    assert sorted(t.state.name for t in by_number.values()) == ["COMPLETE"] * 3 + ["FAIL"]


@pytest.mark.parametrize(
    ("revision", "advice"), [("v3.0.0.d", "optuna storage upgrade"), ("v9.9.9.z", "made by a newer Optuna")]
)
def test_a_storage_of_another_schema_is_refused(tmp_path: Path, revision: str, advice: str) -> None:
    # open_storage checks the schema itself (Optuna's check holds two server connections at once).
    path = tmp_path / "old.db"
    open_storage(f"sqlite:///{path}").engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    with pytest.raises(StorageError, match=f"schema is {revision}, .*{advice}"):
        open_storage(f"sqlite:///{path}")
