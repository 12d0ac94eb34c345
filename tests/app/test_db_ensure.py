"""``ensure_database``: migrates a database behind head, only reads one already at head."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory

from app.core import db
from app.core.db import current_revision, dispose_engine, ensure_database, upgrade_database


def _no_upgrade(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("ensure_database migrated a database already at head")


def test_shipped_head_is_alembics_head() -> None:
    heads = ScriptDirectory.from_config(db._alembic_config("sqlite://")).get_heads()

    assert [db._shipped_head()] == heads


def test_ensure_database_upgrades_when_database_is_empty(empty_db_url: str) -> None:
    ensure_database(empty_db_url)

    assert current_revision(empty_db_url) == db._shipped_head()


def test_ensure_database_skips_alembic_when_schema_is_at_head(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_database(empty_db_url)
    dispose_engine(empty_db_url)  # as a new process: nothing remembered
    monkeypatch.setattr(db, "upgrade_database", _no_upgrade)

    ensure_database(empty_db_url)


def test_ensure_database_upgrades_when_schema_is_behind_head(empty_db_url: str) -> None:
    upgrade_database(empty_db_url, "0001")
    dispose_engine(empty_db_url)

    ensure_database(empty_db_url)

    assert current_revision(empty_db_url) == db._shipped_head()
