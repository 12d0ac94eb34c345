"""``hybridlens elements`` lists the same clusters as the API."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.collections import service as collections_service
from app.collections.schemas import CollectionCreate
from app.core.db import session_scope
from hybridlens.cli import build_app
from tests.app.conftest import _pg_database, _sqlite_template, db_url  # noqa: F401
from tests.elements_factories import make_clusters

runner = CliRunner()


def test_elements_lists_clusters_largest_first(db_url: str) -> None:  # noqa: F811
    with session_scope(db_url) as session:
        collection_id = collections_service.create_collection(
            session, CollectionCreate(name="c")
        ).id
        clusters = make_clusters(session, collection_id, clusters=2)

    result = runner.invoke(build_app(), ["elements", str(collection_id), "--db", db_url, "--json"])

    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [item["cluster_id"] for item in listed] == clusters
    assert [item["size"] for item in listed] == [3, 3]


def test_elements_of_unknown_collection_fails_with_reason(db_url: str) -> None:  # noqa: F811
    result = runner.invoke(build_app(), ["elements", "424242", "--db", db_url])

    assert result.exit_code == 2
    assert "collection 424242 not found" in result.output
