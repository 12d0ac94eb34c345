"""The frame view of a frame that was not segmented asks for no mask (none is stored, and
asking answers 404 in the console) and says so plainly, also after a mask is saved and
reverted; a collection's natural address, #/collections/N, shows the collection."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.ui.conftest import AnalysedFilm, UiServer, make_hybrid_film, wait_for_job


@pytest.fixture(scope="module")
def unsegmented_film(ui_server: UiServer, tmp_path_factory: pytest.TempPathFactory) -> AnalysedFilm:
    """A film of these tests' own whose frames have no stored mask, as a film analysed without
    segment_all has for every frame the classifier called P or NP as a whole."""
    path = make_hybrid_film(tmp_path_factory.mktemp("unsegmented") / "plain.mp4", seed=13)
    with ui_server.client() as client, path.open("rb") as handle:
        film = (
            client.post("/films", files={"file": (path.name, handle, "video/mp4")})
            .raise_for_status()
            .json()
        )
        assert wait_for_job(client, film["job_id"])["status"] == "done"
    with sqlite3.connect(ui_server.data_dir / "hybridlens.sqlite3") as database:
        database.execute(
            "UPDATE frames SET mask_png = NULL"
            " WHERE analysis_id IN (SELECT id FROM analyses WHERE film_id = ?)",
            (film["id"],),
        )
    with ui_server.client() as client:
        frames = client.get(f"/films/{film['id']}/frames").raise_for_status().json()["items"]
    assert frames and not any(frame["has_mask"] for frame in frames)
    return AnalysedFilm(film_id=film["id"], shot_count=0, frames=frames)


def _watch(page: Any) -> tuple[list[str], list[str]]:
    """(the methods of the requests for the mask, console errors and failed responses), from
    now on."""
    masks: list[str] = []
    errors: list[str] = []

    def on_request(request: Any) -> None:
        if request.url.split("?")[0].endswith("/mask"):
            masks.append(request.method)

    def on_console(message: Any) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_response(response: Any) -> None:
        if response.status >= 400:
            errors.append(f"{response.status} {response.url}")

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("response", on_response)
    return masks, errors


def test_frame_without_a_mask_asks_for_none_and_says_why(
    page: Any, ui_server: UiServer, unsegmented_film: AnalysedFilm
) -> None:
    film_id, frame = unsegmented_film.film_id, unsegmented_film.frames[1]["frame_index"]
    masks, errors = _watch(page)

    page.goto(ui_server.page_url(f"/films/{film_id}/frames/{frame}"))
    page.locator(".frame-stage .frame-picture.loaded").wait_for()
    page.locator(".mask-editor[data-ready='true']").wait_for()

    note = page.locator("#mask-note")
    assert note.inner_text().startswith("No mask: the frame was called")
    assert note.get_attribute("data-has-mask") == "false"
    assert page.locator(".frame-stage .frame-picture").get_attribute("data-painted") == "grid"
    assert page.locator("#mask-source").get_attribute("data-source") == "none"
    assert masks == [] and errors == []


def test_a_saved_then_reverted_mask_leaves_no_failed_request(
    page: Any, ui_server: UiServer, unsegmented_film: AnalysedFilm
) -> None:
    film_id, frame = unsegmented_film.film_id, unsegmented_film.frames[2]["frame_index"]
    masks, errors = _watch(page)
    page.goto(ui_server.page_url(f"/films/{film_id}/frames/{frame}"))
    page.locator(".mask-editor[data-ready='true']").wait_for()
    box = page.locator(".edit-layer").bounding_box()

    page.locator("label[for='paint-NP']").click()
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.locator("#mask-save").click()
    page.locator("#mask-source[data-source='human']").wait_for()
    page.locator("#mask-note[data-has-mask='true']").wait_for()

    page.locator("#mask-revert").click()
    page.locator("#editor-status", has_text="Reverted").wait_for()
    page.locator("#mask-note[data-has-mask='false']").wait_for()

    assert page.locator("#mask-source").get_attribute("data-source") == "none"
    # The saved mask is asked for once, to show it; after the revert there is none to ask for.
    assert masks == ["PUT", "GET", "DELETE"]
    assert errors == []


def test_collection_address_shows_the_collection(page: Any, ui_server: UiServer) -> None:
    with ui_server.client() as client:
        collection = client.post("/collections", json={"name": "Cartoons 1940s"}).json()

    page.goto(ui_server.page_url(f"/collections/{collection['id']}"))

    page.get_by_role("heading", name="Cartoons 1940s", level=1).wait_for()
    assert page.get_by_text("Page not found").count() == 0
    # The archive's own address for a collection, so its links and filters go on from there.
    assert page.evaluate("location.hash") == f"#/?collection={collection['id']}"
    link = page.locator(".collection-list a", has_text="Cartoons 1940s")
    assert link.get_attribute("aria-current") == "page"


def test_address_of_a_missing_collection_says_so(page: Any, ui_server: UiServer) -> None:
    page.goto(ui_server.page_url("/collections/987654"))

    page.get_by_role("heading", name="Collection not found", level=1).wait_for()
    assert page.get_by_text("Page not found").count() == 0
