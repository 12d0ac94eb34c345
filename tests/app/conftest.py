"""Database fixtures: every test that takes ``db_url`` runs on SQLite and on PostgreSQL.

The schema is built once per backend per session through Alembic (``upgrade_database``),
then each test gets a clean copy: a copied SQLite file, or truncated PostgreSQL tables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session

from app.core.db import dispose_engine, get_engine, get_sessionmaker, upgrade_database
from app.models import Base
from tests.services import unavailable

PG_SERVER = os.environ.get("HYBRIDLENS_TEST_PG", "postgres@127.0.0.1:5432")


def pg_url(database: str) -> str:
    return f"postgresql+psycopg://{PG_SERVER}/{database}"


def _pg_admin() -> psycopg.Connection:
    user, _, hostport = PG_SERVER.partition("@")
    host, _, port = hostport.partition(":")
    return psycopg.connect(
        host=host,
        port=int(port or 5432),
        user=user,
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
    )


def create_pg_database() -> str:
    """A new, empty PostgreSQL database; skips the test when the server is not there."""
    name = f"hybridlens_test_{uuid.uuid4().hex[:12]}"
    try:
        with _pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {PG_SERVER}: {exc}")
    return name


def drop_pg_database(name: str) -> None:
    dispose_engine(pg_url(name))
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    url = f"sqlite:///{path}"
    upgrade_database(url)
    # Fold the WAL into the main file so a plain copy carries the whole schema.
    with get_engine(url).connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    dispose_engine(url)
    return path


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    name = create_pg_database()
    url = pg_url(name)
    try:
        upgrade_database(url)
        yield url
    finally:
        drop_pg_database(name)


def _empty_all_tables(url: str) -> None:
    # DELETE beats TRUNCATE on tables this small (TRUNCATE rewrites files on disk).
    with get_engine(url).begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a migrated, empty database, on each backend in turn."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
        yield url
        dispose_engine(url)
    else:
        url = request.getfixturevalue("_pg_database")
        _empty_all_tables(url)
        yield url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with get_sessionmaker(db_url)() as session:
        yield session
        session.rollback()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, for migration tests."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        yield url
        dispose_engine(url)
    else:
        name = create_pg_database()
        try:
            yield pg_url(name)
        finally:
            drop_pg_database(name)
