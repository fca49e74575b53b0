"""Opening storages: URL masking, and read-only opens that never write (issue 13), on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hpsearch.errors import StorageError
from hpsearch.store import create_study, mask_url, open_storage, parse_url
from tests.fleet_helpers import fake_spec

PASSWORD = "S3cretPw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:5432/db", "postgresql+psycopg://u:***@127.0.0.1:5432/db"),
        (
            f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:notaport/db",
            "postgresql+psycopg://u:***@127.0.0.1:notaport/db",
        ),
        (f"postgresql+psycopg://u:{PASSWORD}@[::1/db", "postgresql+psycopg://u:***@[::1/db"),
        (f"postgresql+psycopg://u:{PASSWORD}@x@127.0.0.1/db", "postgresql+psycopg://u:***@127.0.0.1/db"),
        (f"postgresql://{PASSWORD}@h/db", "postgresql://***@h/db"),
        ("sqlite:///runs/hpsearch.db", "sqlite:///runs/hpsearch.db"),
        (f"u:{PASSWORD}@host", "(storage URL not shown: it could not be parsed)"),
    ],
)
def test_mask_url_hides_everything_between_the_scheme_and_the_last_at(url: str, shown: str) -> None:
    assert mask_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:notaport/db",
        f"postgresql+psycopg://u:{PASSWORD}@[::1/db",
        f"postgresql+psycopg://u:{PASSWORD}@x@127.0.0.1:1/db",
        f"mysql://u:{PASSWORD}@h/db",
        f"not a url {PASSWORD}",
    ],
)
def test_a_malformed_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(StorageError) as caught:
        parse_url(url)
    assert PASSWORD not in str(caught.value)
    assert "URL-encoded" in str(caught.value) or "unsupported" in str(caught.value)


def _foreign(path: Path) -> bytes:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("INSERT INTO notes (text) VALUES ('mine')")
    db.close()
    return path.read_bytes()


def test_a_read_only_open_refuses_a_foreign_sqlite_file_and_leaves_it_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "foreign.db"
    before = _foreign(path)
    with pytest.raises(StorageError, match=r"not an hpsearch storage: .* holds tables notes"):
        open_storage(f"sqlite:///{path}", read_only=True)
    assert path.read_bytes() == before
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    db.close()


def test_a_read_only_open_refuses_a_file_that_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello\n" * 100)
    with pytest.raises(StorageError, match="not an SQLite database"):
        open_storage(f"sqlite:///{path}", read_only=True)
    assert path.read_text() == "hello\n" * 100


def test_a_read_only_open_keeps_the_journal_mode_of_an_optuna_storage(tmp_path: Path) -> None:
    path = tmp_path / "hpsearch.db"
    storage = open_storage(f"sqlite:///{path}")
    create_study(fake_spec(2, (1,)), storage, "s")
    storage.engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    open_storage(f"sqlite:///{path}", read_only=True).get_all_studies()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    db.close()


@pytest.mark.postgres
def test_a_read_only_open_creates_no_table_in_an_empty_postgresql_database(pg_url: str) -> None:
    import sqlalchemy

    with pytest.raises(StorageError, match=r"not an hpsearch storage: .* holds no tables"):
        open_storage(pg_url, read_only=True)
    engine = sqlalchemy.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert sqlalchemy.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()
