"""Shared fixtures: offline settings, synthetic HIPE data and tiny models built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hipe-2022"


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HIPE-2022-data layout with a small synthetic ajmc/en corpus."""
    from hpsearch.demo import write_sample_hipe

    return write_sample_hipe(tmp_path_factory.mktemp("hipe"), sentences={"train": 150, "dev": 20, "test": 20})


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Path:
    from hpsearch.demo import build_tiny_bert, sample_texts

    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert", sample_texts(sample_data))


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Path:
    from hpsearch.demo import build_tiny_t5, sample_texts

    return build_tiny_t5(tmp_path_factory.mktemp("models") / "tiny-t5", sample_texts(sample_data))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hpsearch.db'}"


# --- PostgreSQL (tests/pg.py): tests marked postgres skip when no server answers ---


@pytest.fixture
def pg_url():
    """A new, empty database on the shared PostgreSQL server, dropped after the test."""
    from tests.pg import create_database, drop_database, server_available

    if not server_available():
        pytest.skip("no PostgreSQL server at HPSEARCH_TEST_PG")
    name, url = create_database()
    yield url
    drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path):
    """One storage URL per backend: every store and worker test runs on SQLite and on PostgreSQL.

    As Optuna's ``optuna/testing/storages.py`` does; the PostgreSQL case skips where no server answers.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hpsearch.db'}"
        return
    from tests.pg import create_database, drop_database, server_available

    if not server_available():
        pytest.skip("no PostgreSQL server at HPSEARCH_TEST_PG")
    name, url = create_database()
    yield url
    drop_database(name)


@pytest.fixture
def private_pg():
    """A PostgreSQL server of the test's own, which it may restart; stopped and deleted after."""
    from tests.pg import PrivateServer

    if not PrivateServer.available():
        pytest.skip("no PostgreSQL binaries to start a private server")
    server = PrivateServer().init()
    yield server
    server.stop()
