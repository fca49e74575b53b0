"""Opening Optuna storages: SQLite (embedded default) and PostgreSQL (many machines)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from hpsearch.errors import StorageError, first_line

if TYPE_CHECKING:
    import optuna

DEFAULT_STORAGE = "sqlite:///hpsearch.db"


def parse_url(url: str) -> URL:
    """Parse and normalise a storage URL; ``postgresql://`` uses psycopg 3.

    Raises:
        StorageError: the URL is malformed or names an unsupported database. The message shows the
            URL only through :func:`mask_url`, never the parser's own text (which echoes the URL).
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StorageError(f"malformed storage URL{_shown(url)}; {_URL_HINT}") from None
    if parsed.host and "@" in parsed.host:  # "user:p@ss@host": the parser cut the password at its first @
        raise StorageError(f"malformed storage URL{_shown(url)}: the host holds an '@'; {_URL_HINT}")
    if parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() in ("", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() != "sqlite":
        raise StorageError(
            f"unsupported storage{_shown(url)}; use sqlite:///path.db or postgresql+psycopg://user@host/db."
        )
    elif not parsed.database:
        raise StorageError("an in-memory SQLite storage is not shared with workers; use sqlite:///path.db.")
    return parsed


_URL_HINT = (
    "use sqlite:///path.db or postgresql+psycopg://user:password@host/db, "
    "with special characters in the user name and password URL-encoded (@ as %40, : as %3A, / as %2F)."
)
NOT_SHOWN = "(storage URL not shown: it could not be parsed)"
"""What :func:`mask_url` gives for a text in which it cannot find the scheme: no part of it is printed."""


def mask_url(url: str | URL) -> str:
    """The URL as it may be printed: everything between ``://`` and the last ``@`` is hidden.

    The user name stays when it is plain (``user:***@host``); a text without ``://`` is not shown at all
    (:data:`NOT_SHOWN`). The one masking function for storage URLs in messages and logs: it never
    parses, so malformed URLs (a bad port, a broken IPv6 host, an unencoded ``@`` in the password)
    are masked as safely as good ones.
    """
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        return NOT_SHOWN
    userinfo, at, location = rest.rpartition("@")
    if not at:
        return text
    user, colon, _password = userinfo.partition(":")
    shown_user = f"{user}:" if colon and user and not any(ch in user for ch in "@/") else ""
    return f"{scheme}://{shown_user}***@{location}"


def _shown(url: str | URL) -> str:
    """`` 'masked URL'`` for a message, or nothing where the URL cannot be shown."""
    masked = mask_url(url)
    return "" if masked == NOT_SHOWN else f" {masked!r}"


def sqlite_path(url: URL) -> Path | None:
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None


def open_storage(
    url: str,
    *,
    must_exist: bool = False,
    read_only: bool = False,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
) -> optuna.storages.RDBStorage:
    """An ``RDBStorage`` tuned for many concurrent workers.

    SQLite gets WAL, a long busy timeout and ``BEGIN IMMEDIATE`` transactions, so that concurrent
    workers queue for the write lock instead of failing with "database is locked" or racing for a
    trial. PostgreSQL gets a small pool whose connections are checked before use, and no server-side
    prepared statements, so that it also runs behind PgBouncer in transaction mode (docs/fleet.md).

    Args:
        url: A SQLAlchemy URL.
        must_exist: Refuse to create a new SQLite file.
        read_only: For commands that only read (``status``, ``report``, ...): the storage must exist
            and hold Optuna's tables, checked before Optuna sees it (Optuna creates missing tables);
            no table is created and a SQLite file keeps its journal mode. Implies ``must_exist``.
        heartbeat_interval: Seconds between a running trial's heartbeats; None disables them.
        grace_period: Seconds without heartbeat after which a running trial counts as dead.

    Raises:
        StorageError: malformed URL, missing SQLite file, unreachable database, or (``read_only``)
            a file or database that is not an Optuna storage.
    """
    import optuna

    parsed = parse_url(url)
    engine_kwargs: dict[str, Any]
    path = sqlite_path(parsed)
    if path is not None:
        if (must_exist or read_only) and not path.is_file():
            raise StorageError(f"no storage at {path}; create a study first (hpsearch create) or pass --storage.")
        if not path.parent.is_dir():
            raise StorageError(f"folder {path.parent} for the SQLite storage does not exist.")
        engine_kwargs = {"connect_args": {"timeout": 120}}
    else:
        engine_kwargs = {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 2, "pool_recycle": 600}
        # psycopg prepares a statement on the server after 5 runs; behind a transaction pooler the next
        # transaction may run on another server connection, where it is missing ("_pg3_0 does not exist").
        engine_kwargs["connect_args"] = {"connect_timeout": 10, "prepare_threshold": None}
    if read_only:
        _check_optuna_tables(parsed, path, engine_kwargs)

    for attempt in range(1, _CREATION_RACE_TRIES + 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat_interval
                storage = optuna.storages.RDBStorage(
                    parsed.render_as_string(hide_password=False),
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    skip_table_creation=read_only,
                    skip_compatibility_check=True,  # Optuna's check nests two connections: see below
                )
                _check_schema_version(storage)
            break
        except Exception as e:  # noqa: BLE001 - any connection failure is reported the same way
            if attempt < _CREATION_RACE_TRIES and _lost_creation_race(e):
                continue  # another process created the tables at the same moment: they are there now
            raise StorageError(f"cannot open storage {mask_url(url)}: {_without_secrets(e, url, parsed)}") from None
    if path is not None and not read_only:
        _serialise_sqlite(storage.engine)
    return storage


def _check_schema_version(storage: optuna.storages.RDBStorage) -> None:
    """Optuna's schema check, one connection at a time.

    Optuna's own check reads the schema's alembic version on a second connection while its first one
    stays in a transaction. Behind PgBouncer in transaction mode, each of those holds a server
    connection: workers that open the storage at once take every server connection and wait for one more.
    """
    current, head = storage.get_current_version(), storage.get_head_version()
    if current != head:
        advice = (
            "upgrade it with `optuna storage upgrade --storage URL`"
            if current in storage.get_all_versions()
            else "it was made by a newer Optuna: update Optuna"
        )
        raise StorageError(f"the storage's schema is {current}, this Optuna's is {head}; {advice}.")


_CREATION_RACE_TRIES = 3
"""Opens of a new database that race other processes' table creation (each try creates a few tables more)."""


def _lost_creation_race(e: BaseException | None) -> bool:
    """Two processes made Optuna's tables in one new database at once: "UNIQUE constraint failed:
    alembic_version", "table ... already exists" (SQLite), a duplicate key or relation (PostgreSQL)."""
    while e is not None:
        if isinstance(e, sqlalchemy.exc.DatabaseError) and any(
            marker in str(e) for marker in ("alembic_version", "already exists", "duplicate key")
        ):
            return True
        e = e.__cause__  # Optuna wraps some as StorageInternalError
    return False


OPTUNA_TABLES = ("studies", "trials", "alembic_version")
"""Tables an Optuna storage has: a read-only command refuses a database that lacks one."""


def _check_optuna_tables(parsed: URL, path: Path | None, engine_kwargs: dict[str, Any]) -> None:
    """Refuse a database that is not an Optuna storage, inspecting it with plain SQLAlchemy (which writes nothing)."""
    where = str(path) if path is not None else mask_url(parsed)
    engine = sqlalchemy.create_engine(parsed, **engine_kwargs)
    try:
        with engine.connect() as conn:
            tables = set(sqlalchemy.inspect(conn).get_table_names())
    except sqlalchemy.exc.DatabaseError as e:
        if path is not None:  # "file is not a database"
            raise StorageError(f"not an hpsearch storage: {path} is not an SQLite database.") from None
        raise StorageError(f"cannot open storage {where}: {_without_secrets(e, str(parsed), parsed)}") from None
    except Exception as e:  # noqa: BLE001 - any connection failure is reported the same way
        raise StorageError(f"cannot open storage {where}: {_without_secrets(e, str(parsed), parsed)}") from None
    finally:
        engine.dispose()
    missing = [t for t in OPTUNA_TABLES if t not in tables]
    if missing:
        held = f"tables {', '.join(sorted(tables))}" if tables else "no tables"
        raise StorageError(
            f"not an hpsearch storage: {where} holds {held}, not Optuna's (no {', '.join(missing)}); "
            "check --storage, or create a study there first (hpsearch create)."
        )


def _without_secrets(e: BaseException, url: str, parsed: URL) -> str:
    """The exception's first line with the URL and the password masked (drivers may echo connection parameters)."""
    message = first_line(e)
    for secret in (url, parsed.render_as_string(hide_password=False)):
        message = message.replace(secret, mask_url(secret))
    if parsed.password:
        message = message.replace(str(parsed.password), "***")
    return message


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
