"""Alembic environment: where the migrations find their database and target metadata.

The URL comes from ``config.attributes["url"]`` or an open ``config.attributes["connection"]``
when called from ``app.core.db``, else from the hybridlens settings. SQLite runs in batch
mode, since it can alter a table only by rebuilding it.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from app.core.config import get_settings
from app.models import Base

config = context.config

# Only the alembic CLI has an ini file; called from the app, logging is the app's business.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return str(url)
    return get_settings().sqlalchemy_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        # A batch rebuild drops and recreates a table; with foreign keys on, dropping
        # `films` would cascade into every analysis. The pragma only takes effect outside
        # a transaction, which is where a fresh pysqlite connection is.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if is_sqlite:
            # Only effective once the transaction is over; the connection is not pooled anyway.
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from app.core.db import build_engine

    # The app's connection setup (SQLite pragmas, the data directory gets created).
    engine = build_engine(_url(), pooled=False)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
