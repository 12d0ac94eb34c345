"""The archivists' page in headless Chromium against a running server with analysed films:
the film page's timeline and mask overlays, the frame view, an upload followed to the end
of its analysis, and errors shown instead of a blank page."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from app.pipeline.timecode import smpte
from tests.ui.conftest import AnalysedFilm, UiServer, make_hybrid_film, screenshot, wait_for_job


def test_film_page_draws_timeline_and_toggles_mask_overlays(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}"))

    blocks = page.locator(".timeline .shot-block")
    blocks.first.wait_for()
    assert blocks.count() == analysed_film.shot_count
    assert page.locator(".timeline .p-curve").count() >= 1
    first_card = page.locator(".frame-card").first
    first_card.locator(".frame-picture.loaded").wait_for()
    overlay = first_card.locator(".frame-overlay")
    assert overlay.evaluate("canvas => getComputedStyle(canvas).opacity") == "0"

    page.get_by_label("Show masks").check()

    page.wait_for_function(
        "canvas => Number(getComputedStyle(canvas).opacity) > 0.5", arg=overlay.element_handle()
    )
    # segment_all: every frame has a mask, drawn over the picture rather than the coarse grid
    # (asked for when the masks were switched on).
    first_card.locator('.frame-picture[data-painted="mask"]').wait_for()
    assert page.locator(".shots-table tbody tr").count() == analysed_film.shot_count
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d:\d\d", page.locator(".shots-table td.timecode").first.inner_text()
    )
    screenshot(page, "film")


def test_timeline_click_jumps_to_the_nearest_frame(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}"))
    chart = page.locator(".timeline-chart")
    chart.wait_for()

    chart.click(position={"x": chart.bounding_box()["width"] * 0.95, "y": 100})

    jumped = page.locator(".jump-frame")
    jumped.locator(".frame-picture.loaded").wait_for()
    last = analysed_film.frames[-1]["frame_index"]
    assert jumped.get_by_role("link", name="Open frame").get_attribute("href") == (
        f"#/films/{analysed_film.film_id}/frames/{last}"
    )
    assert page.locator(".shots-table tr.selected").count() == 1


def test_frame_view_shows_mask_with_adjustable_opacity(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    frame = analysed_film.frames[1]
    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}/frames/{frame['frame_index']}"))
    page.locator(".frame-stage .frame-picture.loaded").wait_for()

    page.locator("#mask-opacity").fill("20")

    overlay = page.locator(".frame-stage .frame-overlay").element_handle()
    page.wait_for_function("canvas => getComputedStyle(canvas).opacity === '0.2'", arg=overlay)
    assert page.locator(".frame-stage .frame-picture").get_attribute("data-painted") == "mask"
    # The EDL export's convention: non-drop-frame at the rounded rate (the film runs at 25).
    assert page.locator("#frame-timecode").inner_text() == smpte(frame["frame_index"], 25)
    assert (
        page.locator("#frame-p-fraction")
        .inner_text()
        .startswith(f"{100 * frame['p_fraction']:.1f} %")
    )
    labels = {"P": "Photographic", "NP": "Drawn", "hybrid": "Hybrid"}
    assert page.locator("#frame-class").inner_text() == labels[frame["frame_class"]]
    page.locator("#mask-opacity").fill("60")
    screenshot(page, "frame")


def test_upload_shows_progress_until_analysis_is_done(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm, tmp_path: Path
) -> None:
    # After analysed_film: the server has its models loaded, so this analysis is quick.
    film = make_hybrid_film(tmp_path / "uploaded.mp4", seconds=2.0, seed=7)
    page.goto(ui_server.page_url("/"))
    page.locator(".films-table").wait_for()

    page.locator("#upload-file").set_input_files(str(film))
    page.locator("#upload-title").fill("Uploaded in the browser")
    page.get_by_role("button", name="Upload").click()

    page.locator("#upload-job[data-status='done']").wait_for(timeout=120_000)
    assert page.locator("#upload-progress").evaluate("bar => bar.value") == 100
    assert page.locator("#upload-job-progress").evaluate("bar => bar.value") == 100
    row = page.locator("tr", has_text="Uploaded in the browser")
    row.locator(".state.done").wait_for()
    screenshot(page, "films")


def test_collection_view_analyses_the_collection_as_a_batch(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    with ui_server.client() as client:
        collection = client.post("/collections", json={"name": "Newsreels"}).json()
        client.post(
            f"/collections/{collection['id']}/films", json={"film_ids": [analysed_film.film_id]}
        )
    page.goto(ui_server.page_url(f"/?collection={collection['id']}"))
    page.get_by_role("heading", name="Newsreels", level=1).wait_for()

    page.get_by_role("button", name="Analyse collection").click()

    page.locator(".batch-counts", has_text="1 of 1 films finished").wait_for(timeout=120_000)
    assert page.locator(".histogram-bars span").count() == 10
    screenshot(page, "collection")
    with ui_server.client() as client:
        batches = client.get("/batches", params={"collection": collection["id"]}).json()
        wait_for_job(client, client.get(f"/batches/{batches[0]['id']}").json()["jobs"][0]["id"])


def test_wrong_token_shows_a_message_not_a_blank_page(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    page.goto(ui_server.page_url("/"))
    page.evaluate("localStorage.setItem('hybridlens.token', 'hl_not-a-token')")
    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}"))

    alert = page.locator("main [role=alert]")
    alert.wait_for()

    assert "refused the token" in alert.inner_text()
    assert page.locator("#token-dialog").is_visible() is False
    page.get_by_role("button", name="Enter API token").first.click()
    assert page.locator("#token-dialog").is_visible()


def test_frames_can_be_listed_least_sure_first(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}"))
    page.locator(".frame-card").first.wait_for()

    page.get_by_label("Order frames").select_option("confidence")

    least_sure = min(analysed_film.frames, key=lambda f: (f["confidence"], f["time_s"]))
    first = page.locator(".frame-card").first
    page.wait_for_function(
        "index => document.querySelector('.frame-card')?.dataset.frameIndex === String(index)",
        arg=least_sure["frame_index"],
    )
    assert re.fullmatch(r"sure \d+ ?%", first.locator(".confidence").inner_text())


def test_frame_view_shows_more_like_this_as_a_grid_of_links(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    frame = analysed_film.frames[0]
    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}/frames/{frame['frame_index']}"))

    page.locator("#more-like-this").click()

    cards = page.locator(".similar-grid .similar-card")
    cards.first.wait_for()
    with ui_server.client() as client:
        expected = client.get(
            "/frames/similar",
            params={"film_id": analysed_film.film_id, "frame_index": frame["frame_index"], "k": 20},
        ).json()
    assert cards.count() == len(expected) >= 1
    first_link = cards.first.locator("a").get_attribute("href")
    assert first_link == f"#/films/{expected[0]['film_id']}/frames/{expected[0]['frame_index']}"
    screenshot(page, "frame-similar")


def test_film_timeline_shows_the_scenes_above_the_shots(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    with ui_server.client() as client:
        scenes = client.get(f"/films/{analysed_film.film_id}/scenes").json()
    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}"))

    page.locator(".timeline .shot-block").first.wait_for()

    assert len(scenes) >= 1
    assert page.locator(".timeline .scene-block").count() == len(scenes)
    scene_top = float(page.locator(".timeline .scene-block").first.get_attribute("y"))
    shot_top = float(page.locator(".timeline .shot-block").first.get_attribute("y"))
    assert scene_top < shot_top


def test_film_page_shows_the_adjusted_hybrid_ratio_only_when_the_analysis_has_one(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm, tmp_path: Path
) -> None:
    # A film of its own (no other test annotates it). After analysed_film: models loaded.
    path = make_hybrid_film(tmp_path / "adjusted.mp4", seconds=2.0, seed=11)
    with ui_server.client() as client, path.open("rb") as handle:
        film = (
            client.post("/films", files={"file": (path.name, handle, "video/mp4")})
            .raise_for_status()
            .json()
        )
        assert wait_for_job(client, film["job_id"])["status"] == "done"
    # The server segments every frame (segment_all), for which no hybrid rates hold.
    page.goto(ui_server.page_url(f"/films/{film['id']}"))
    page.locator(".stat-card", has_text="Sampled frames").wait_for()
    assert page.locator(".stat-card", has_text="Hybrid ratio, adjusted").count() == 0

    # The same analysis as one made with rates would store it.
    with sqlite3.connect(ui_server.data_dir / "hybridlens.sqlite3") as database:
        database.execute(
            "UPDATE analyses SET summary = json_set(summary, '$.adjusted_hybrid_ratio', 0.4251,"
            " '$.hybrid_ratio_range', json('[0.3, 0.5312]')) WHERE film_id = ?",
            (film["id"],),
        )
    page.reload()
    card = page.locator(".stat-card", has_text="Hybrid ratio, adjusted")
    card.wait_for()
    assert "42.5 %" in card.inner_text()
    assert "90 % likely 30.0 % to 53.1 %" in card.inner_text()

    # The film list shows the figures the film caches.
    with sqlite3.connect(ui_server.data_dir / "hybridlens.sqlite3") as database:
        database.execute(
            "UPDATE films SET adjusted_hybrid_ratio = 0.4251, hybrid_ratio_low = 0.3,"
            " hybrid_ratio_high = 0.5312 WHERE id = ?",
            (film["id"],),
        )
    page.goto(ui_server.page_url("/"))
    cell = page.locator(".ratio-adjusted", has_text="42.5 %")
    cell.wait_for()
    assert "(30.0 %–53.1 %)" in cell.inner_text()


def test_a_film_whose_analysis_failed_shows_failed_with_the_reason(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    with ui_server.client() as client:
        text = b"a text file, not a film\n" * 20
        film = client.post(
            "/films", files={"file": ("notes.mp4", text)}, data={"title": "Not a film"}
        ).json()
        assert wait_for_job(client, film["job_id"])["status"] == "failed"
    page.goto(ui_server.page_url("/"))
    row = page.locator("tr", has_text="Not a film")
    row.locator(".state.failed").wait_for()
    assert "Failed" in row.locator(".state.failed").inner_text()
    assert "notes.mp4" in row.locator(".state.failed small").inner_text()


def _film_whose_only_analysis_failed(ui_server: UiServer, *, title: str) -> int:
    """A text file uploaded as a film: its analysis, the only one, fails."""
    with ui_server.client() as client:
        text = f"{title}: a text file, not a film\n".encode() * 20
        film = client.post(
            "/films", files={"file": ("text.mp4", text)}, data={"title": title}
        ).json()
        assert wait_for_job(client, film["job_id"])["status"] == "failed"
    return int(film["id"])


def test_film_page_offers_analyse_again_when_the_only_analysis_failed(
    page: Any, ui_server: UiServer
) -> None:
    film_id = _film_whose_only_analysis_failed(ui_server, title="Failed once, page")

    page.goto(ui_server.page_url(f"/films/{film_id}"))
    page.locator(".film-page .state.failed").wait_for()

    assert page.locator(".film-header .actions button").inner_text() == "Analyse again"


def test_film_list_offers_analyse_again_when_the_only_analysis_failed(
    page: Any, ui_server: UiServer
) -> None:
    _film_whose_only_analysis_failed(ui_server, title="Failed once, list")

    page.goto(ui_server.page_url("/"))
    row = page.locator("tr", has_text="Failed once, list")
    row.locator(".state.failed").wait_for()

    assert row.locator(".row-actions button").inner_text() == "Analyse again"
