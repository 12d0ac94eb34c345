"""The collection's recurring-elements view in headless Chromium: collage tiles, a cluster's
members with their boxes, naming a cluster."""

from __future__ import annotations

from typing import Any

from app.collections import service as collections_service
from app.collections.schemas import CollectionCreate
from app.core.db import session_scope
from tests.elements_factories import make_clusters
from tests.ui.conftest import UiServer, screenshot


def test_elements_view_shows_collages_members_and_names_a_cluster(
    page: Any, ui_server: UiServer
) -> None:
    url = f"sqlite:///{(ui_server.data_dir / 'hybridlens.sqlite3').resolve()}"
    with session_scope(url) as session:
        collection_id = collections_service.create_collection(
            session, CollectionCreate(name="elements page")
        ).id
        make_clusters(session, collection_id, clusters=2)

    page.goto(ui_server.page_url(f"/collections/{collection_id}/elements"))

    tiles = page.locator(".cluster-tile")
    tiles.first.wait_for()
    assert tiles.count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('.cluster-tile img.collage')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    tiles.first.locator(".collage-button").click()
    cards = page.locator(".member-card")
    cards.first.wait_for()
    assert cards.count() == 3
    assert page.locator(".member-card .element-box").count() == 3

    tiles.first.get_by_label("Name of cluster", exact=False).fill("Felix")
    tiles.first.get_by_role("button", name="Save").click()

    page.locator(".cluster-name", has_text="Felix").wait_for()
    screenshot(page, "elements")

    page.locator(".cluster-tile", has_text="Felix").get_by_role("button", name="Split").click()
    page.wait_for_function("() => document.querySelectorAll('.cluster-tile').length === 3")
