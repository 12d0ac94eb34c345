"""Database engines, sessions and schema upgrades, for SQLite (embedded) and PostgreSQL.

One engine per URL per process, built from the settings unless a URL is given. The schema
comes only from the Alembic migrations shipped inside the package (``upgrade_database``).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from app.core.config import get_settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_sessionmakers: dict[str, sessionmaker[Session]] = {}
_upgraded: set[str] = set()

# Seconds a SQLite writer waits for another writer's lock before giving up; the CLI's
# progress updates and a concurrent reader (`hybridlens show`) must not fail on contention.
SQLITE_BUSY_TIMEOUT_S = 30.0


def resolve_url(url: str | URL | None = None) -> str:
    """The URL to use: the one given, else the settings' (a SQLite file by default)."""
    if url is None:
        return get_settings().sqlalchemy_url
    return url.render_as_string(hide_password=False) if isinstance(url, URL) else url


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets readers (the API, `show`) run while an analysis writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def build_engine(url: str, *, pooled: bool = True) -> Engine:
    """A new engine for ``url`` with the hybridlens connection setup.

    ``pooled=False`` gives connections that are closed after use: migrations change
    per-connection state (SQLite's foreign_keys pragma) that must not leak into a pool.
    """
    parsed = make_url(url)
    no_pool: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **no_pool,
        )
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    if not pooled:
        return create_engine(url, **no_pool)
    return create_engine(
        url,
        # A worker holds at most a couple of connections; the API a few per process.
        pool_size=5,
        max_overflow=10,
        # Connections survive a PostgreSQL restart or an idle timeout in between tasks.
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def get_engine(url: str | URL | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the settings' database)."""
    key = resolve_url(url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = build_engine(key)
        return engine


def get_sessionmaker(url: str | URL | None = None) -> sessionmaker[Session]:
    key = resolve_url(url)
    engine = get_engine(key)
    with _lock:
        factory = _sessionmakers.get(key)
        if factory is None:
            # expire_on_commit=False: values read in a session stay readable after it ends,
            # which is what services returning plain values rely on.
            factory = _sessionmakers[key] = sessionmaker(engine, expire_on_commit=False)
        return factory


@contextmanager
def session_scope(url: str | URL | None = None) -> Iterator[Session]:
    """A session that commits when the block ends cleanly and rolls back when it raises."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engine(url: str | URL | None = None) -> None:
    """Close the pool for ``url`` and forget it (tests, and workers after a fork)."""
    key = resolve_url(url)
    with _lock:
        engine = _engines.pop(key, None)
        _sessionmakers.pop(key, None)
        _upgraded.discard(key)
    if engine is not None:
        engine.dispose()


def dispose_engines() -> None:
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
        _sessionmakers.clear()
        _upgraded.clear()
    for engine in engines:
        engine.dispose()


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    import migrations

    # The migrations ship inside the installed package; never rely on the working directory.
    # __path__ rather than __file__: an editable install may present it as a namespace package.
    config = Config()
    config.set_main_option("script_location", str(Path(next(iter(migrations.__path__)))))
    # Passed as an attribute, not a main option: ConfigParser would choke on a '%' in a
    # password, and env.py must not fall back to the settings' URL.
    config.attributes["url"] = url
    return config


def _run_alembic(url: str, run: Callable[[Any], None]) -> None:
    # A connection of its own, closed afterwards: see build_engine(pooled=False).
    engine = build_engine(url, pooled=False)
    try:
        with engine.begin() as connection:
            config = _alembic_config(url)
            config.attributes["connection"] = connection
            run(config)
    finally:
        engine.dispose()


def upgrade_database(url: str | URL | None = None, revision: str = "head") -> None:
    """Bring the schema of ``url`` (default: the settings' database) up to ``revision``."""
    from alembic import command

    key = resolve_url(url)
    _run_alembic(key, lambda config: command.upgrade(config, revision))
    if revision == "head":
        with _lock:
            _upgraded.add(key)


def downgrade_database(url: str | URL | None = None, revision: str = "base") -> None:
    """Take the schema of ``url`` down to ``revision`` (``base``: no tables at all)."""
    from alembic import command

    key = resolve_url(url)
    _run_alembic(key, lambda config: command.downgrade(config, revision))
    with _lock:
        _upgraded.discard(key)


def ensure_database(url: str | URL | None = None) -> None:
    """Upgrade ``url`` to head once per process; what the CLI calls before its first query.
    A database already at head is only read, not migrated: every ``hybridlens analyze``
    starts here, and Alembic's upgrade machinery costs a noticeable share of a short run."""
    key = resolve_url(url)
    with _lock:
        if key in _upgraded:
            return
    if _at_head(key):
        with _lock:
            _upgraded.add(key)
        return
    upgrade_database(key)


def _at_head(url: str) -> bool:
    """Whether ``url`` is at the head of the shipped migrations, read without importing
    Alembic (tenths of a second at every start); any doubt answers False."""
    head = _shipped_head()
    if head is None:
        return False
    try:
        with get_engine(url).connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            current = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            return [row[0] for row in current] == [head]
    except SQLAlchemyError:
        return False


@functools.cache
def _shipped_head() -> str | None:
    """The one head revision of ``migrations/versions``, from each script's ``revision`` and
    ``down_revision`` assignments; None when that is not a plain chain (Alembic decides)."""
    import ast

    import migrations

    revisions: dict[str, str | None] = {}
    versions = Path(next(iter(migrations.__path__))) / "versions"
    for script in versions.glob("*.py"):
        values: dict[str, object] = {}
        for node in ast.parse(script.read_text()).body:
            target: ast.expr
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                try:
                    values[target.id] = ast.literal_eval(value)
                except ValueError:
                    return None
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str) or not (down is None or isinstance(down, str)):
            return None  # a merge or something else unusual
        revisions[revision] = down
    heads = set(revisions) - set(revisions.values())
    return heads.pop() if len(heads) == 1 else None


def current_revision(url: str | URL | None = None) -> str | None:
    """The Alembic revision the database is at, or None when it has no schema yet."""
    from alembic.runtime.migration import MigrationContext

    engine = get_engine(url)
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return MigrationContext.configure(connection).get_current_revision()
