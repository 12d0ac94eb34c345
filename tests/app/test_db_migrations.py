"""Alembic migrations build and remove the schema on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from app.analysis import service as analysis_service
from app.core.config import get_settings
from app.core.db import (
    current_revision,
    downgrade_database,
    ensure_database,
    get_engine,
    get_sessionmaker,
    upgrade_database,
)
from app.models import Analysis, Base
from tests.app.factories import make_film

TABLES = {
    "analyses",
    "api_tokens",
    "batches",
    "collection_films",
    "collections",
    "element_cluster_members",
    "element_clusters",
    "element_runs",
    "elements",
    "films",
    "frame_embeddings",
    "frames",
    "jobs",
    "label_annotations",
    "mask_annotations",
    "scenes",
    "shots",
}


HEAD = "0011"


def _tables(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names()) - {"alembic_version"}


def test_upgrade_creates_schema_matching_models_when_database_is_empty(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)

    assert _tables(empty_db_url) == TABLES
    assert current_revision(empty_db_url) == HEAD
    with get_engine(empty_db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_removes_every_table_and_upgrade_restores_them(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)

    downgrade_database(empty_db_url)
    assert _tables(empty_db_url) == set()
    assert current_revision(empty_db_url) is None

    upgrade_database(empty_db_url)
    assert _tables(empty_db_url) == TABLES


def test_upgrade_uses_sqlite_file_under_data_dir_when_no_url_given() -> None:
    ensure_database()
    ensure_database()  # the second call is a no-op

    database = Path(get_settings().data_dir) / "hybridlens.sqlite3"
    assert database.is_file()
    assert current_revision() == HEAD


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pragma.sqlite3'}"
    upgrade_database(url)
    with get_engine(url).connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


@pytest.mark.parametrize("revision", ["0001", "0002"])
def test_upgrade_to_named_revision_records_it(empty_db_url: str, revision: str) -> None:
    upgrade_database(empty_db_url, revision)
    assert current_revision(empty_db_url) == revision


def test_analyses_from_before_the_overrule_setting_read_back_the_rule_they_ran_with(
    empty_db_url: str,
) -> None:
    upgrade_database(empty_db_url, "0008")
    old = {"pipeline": {"working_size": 320}, "thresholds": {"min_area": 0.08}}
    new = {"pipeline": {"working_size": 320, "segmenter_overrules": False}, "thresholds": {}}
    with get_sessionmaker(empty_db_url)() as session:
        film = make_film(session)
        before = analysis_service.start_analysis(session, film, "c1", "s1", old)
        # The same old settings run since with the rule written in: that row wins the key.
        clash_film = make_film(session)
        analysis_service.start_analysis(session, clash_film, "c1", "s1", old)
        analysis_service.start_analysis(
            session, clash_film, "c1", "s1",
            {**old, "pipeline": {"working_size": 320, "segmenter_overrules": True}},
        )  # fmt: skip
        kept = analysis_service.start_analysis(session, film, "c1", "s1", new)
        # Settings without a pipeline, or with an empty one, read back as configured: kept.
        bare = analysis_service.start_analysis(session, film, "c2", "s1", {"thresholds": {}})
        empty = analysis_service.start_analysis(session, film, "c3", "s1", {"pipeline": {}})
        session.commit()
        hashes = {a.id: a.settings_hash for a in session.query(Analysis).all()}

    upgrade_database(empty_db_url)

    with get_sessionmaker(empty_db_url)() as session:
        rows = {a.id: a for a in session.query(Analysis).all()}
    moved = rows[before]
    assert moved.settings["pipeline"] == {"working_size": 320, "segmenter_overrules": True}
    assert moved.settings_hash == analysis_service.settings_hash(moved.settings)
    assert rows[kept].settings == new  # had the key: untouched
    for untouched in (kept, bare, empty):
        assert rows[untouched].settings_hash == hashes[untouched]
    assert rows[empty].settings == {"pipeline": {}}
    clashing = [a for a in rows.values() if a.film_id == clash_film]
    assert sorted("segmenter_overrules" in a.settings["pipeline"] for a in clashing) == [
        False,
        True,
    ]
    assert all(a.settings_hash == hashes[a.id] for a in clashing)
