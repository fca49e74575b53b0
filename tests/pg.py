"""PostgreSQL for tests: a fresh database per test on the shared server, or a private server to restart.

The shared server is ``HPSEARCH_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``,
trust authentication). Tests that restart PostgreSQL start a private one (``initdb`` into a temporary
folder, its own port), so that other tests using the shared server are not disturbed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

ADMIN_URL = os.environ.get("HPSEARCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_BIN = Path(os.environ.get("HPSEARCH_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def server_available(url: str = ADMIN_URL) -> bool:
    try:
        import psycopg

        with psycopg.connect(_conninfo(url), connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means: skip
        return False


def create_database(admin_url: str = ADMIN_URL) -> tuple[str, str]:
    """A new empty database; (its name, its SQLAlchemy URL)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"hps_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    return name, url.render_as_string(hide_password=False)


def drop_database(name: str, admin_url: str = ADMIN_URL) -> None:
    import psycopg

    with psycopg.connect(_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateServer:
    """A PostgreSQL server of its own in a new folder under /tmp, on a free port, trust authentication.

    The folder is not under pytest's ``tmp_path``, which the ``postgres`` user cannot enter.
    """

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="hpsearch-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.log = self.directory / "server.log"

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").is_file() and (os.geteuid() != 0 or shutil.which("runuser") is not None)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")

    def init(self) -> PrivateServer:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        return self

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"), action, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", *extra
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self, down_for: float = 0.0) -> None:
        """Stop (terminating every connection, as a real restart does), wait ``down_for`` seconds, start."""
        self._run(str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w")
        time.sleep(down_for)
        self.start()

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self._run(str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
