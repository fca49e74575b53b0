"""Opening Optuna storages: SQLite (embedded default) and PostgreSQL (many machines)."""

from __future__ import annotations

import logging
import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from hpsearch.errors import StorageError, first_line

if TYPE_CHECKING:
    import optuna

DEFAULT_STORAGE = "sqlite:///hpsearch.db"
log = logging.getLogger(__name__)
T = TypeVar("T")


def parse_url(url: str) -> URL:
    """Parse and normalise a storage URL; ``postgresql://`` uses psycopg 3.

    Raises:
        StorageError: the URL is malformed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StorageError(
            f"malformed storage URL {url!r}; use sqlite:///path.db or postgresql+psycopg://user@host/db."
        ) from None
    if parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() in ("", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() != "sqlite":
        raise StorageError(
            f"unsupported storage {mask_url(url)!r}; use sqlite:///path.db or postgresql+psycopg://user@host/db."
        )
    elif not parsed.database:
        raise StorageError("an in-memory SQLite storage is not shared with workers; use sqlite:///path.db.")
    return parsed


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ***, for logs and messages."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        return "<malformed URL>"
    return parsed.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None


def open_storage(
    url: str,
    *,
    must_exist: bool = False,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retries: int = 3,
) -> optuna.storages.RDBStorage:
    """An ``RDBStorage`` tuned for many concurrent workers.

    SQLite gets WAL, a long busy timeout and ``BEGIN IMMEDIATE`` transactions, so that concurrent
    workers queue for the write lock instead of failing with "database is locked" or racing for a
    trial. PostgreSQL gets a small pool whose connections are checked before use.

    Args:
        url: A SQLAlchemy URL.
        must_exist: Refuse to create a new SQLite file (for commands that only read).
        heartbeat_interval: Seconds between a running trial's heartbeats; None disables them.
        grace_period: Seconds without heartbeat after which a running trial counts as dead.
        max_retries: How often a dead trial is re-queued before it stays failed.

    Raises:
        StorageError: malformed URL, missing SQLite file, unreachable database.
    """
    import optuna

    from hpsearch.store._retry import requeue_failed_trial

    parsed = parse_url(url)
    engine_kwargs: dict[str, Any]
    path = sqlite_path(parsed)
    if path is not None:
        if must_exist and not path.is_file():
            raise StorageError(f"no storage at {path}; create a study first (hpsearch create) or pass --storage.")
        if not path.parent.is_dir():
            raise StorageError(f"folder {path.parent} for the SQLite storage does not exist.")
        engine_kwargs = {"connect_args": {"timeout": 120}}
    else:
        engine_kwargs = {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 2, "pool_recycle": 600}
        engine_kwargs["connect_args"] = {"connect_timeout": 10}

    callback = None
    if heartbeat_interval is not None:
        callback = requeue_failed_trial(max_retries)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat_interval
            storage = optuna.storages.RDBStorage(
                parsed.render_as_string(hide_password=False),
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=callback,
            )
    except Exception as e:  # noqa: BLE001 - any connection failure is reported the same way
        message = first_line(e)
        if parsed.password:  # drivers may echo connection parameters; a password never leaves
            message = message.replace(str(parsed.password), "***")
        raise StorageError(f"cannot open storage {mask_url(parsed)}: {message}") from None
    if path is not None:
        _serialise_sqlite(storage.engine)
    return storage


def _serialise_sqlite(engine: sqlalchemy.Engine) -> None:
    @sqlalchemy.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA busy_timeout=120000")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across process crashes; fsync at checkpoints

    @sqlalchemy.event.listens_for(engine, "begin")
    def _on_begin(conn: sqlalchemy.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    msg = text[0] if text else type(e).__name__
    return msg.replace("(Background on this error at", "").strip()


def is_transient(e: BaseException) -> bool:
    """Whether a storage error is a lost, refused or busy connection (worth retrying), not bad data or a bug."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(e, StorageInternalError):
        if e.__cause__ is None:
            return True
        e = e.__cause__
    if isinstance(e, DBAPIError) and e.connection_invalidated:
        return True
    return isinstance(e, OperationalError | InterfaceError)


def with_retries(fn: Callable[..., T], *args: Any, attempts: int = 40) -> T:
    """Run a storage operation, waiting with backoff (up to ~8 minutes) while the database is unreachable.

    Only connection errors (:func:`is_transient`) are retried; an operation that may have been
    committed before its connection broke runs again, so it must be idempotent.
    """
    delay = 0.5
    for attempt in range(attempts):
        try:
            return fn(*args)
        except Exception as e:
            if attempt == attempts - 1 or not is_transient(e):
                raise
            log.warning("storage unavailable (%s); retrying in %.1fs", type(e.__cause__ or e).__name__, delay)
            time.sleep(delay * (1 + random.random() / 2))
            delay = min(delay * 2, 15.0)
    raise AssertionError("unreachable")
