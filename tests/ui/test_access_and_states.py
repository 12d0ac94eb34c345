"""What the page shows of the token and of each film's state: a read-only token is offered no
write actions, a partial analysis reads "Partial" with its reason, and the film list fits a
1280 px window without clipping its right-hand columns."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.media import make_truncated
from tests.ui.conftest import (
    HYBRIDLENS,
    AnalysedFilm,
    UiServer,
    _server_env,
    make_hybrid_film,
    screenshot,
    wait_for_job,
)


def _read_only_token(ui_server: UiServer) -> str:
    created = subprocess.run(
        [str(HYBRIDLENS), "token", "create", "--name", "reader"],
        env=_server_env(ui_server.data_dir), capture_output=True, text=True, check=True,
        timeout=120,
    )  # fmt: skip
    return created.stdout.strip().splitlines()[-1]


def test_read_only_token_is_offered_no_write_actions(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    page.goto(ui_server.page_url("/"))
    page.locator(".films-table").wait_for()
    assert page.locator("#upload-file").is_visible()  # a write token has them
    page.evaluate(f"localStorage.setItem('hybridlens.token', {_read_only_token(ui_server)!r})")

    page.reload()
    page.locator(".films-table").wait_for()

    assert page.locator("body[data-access='read']").count() == 1
    assert page.locator("#token-state").inner_text() == "Read-only token"
    for hidden in ("#upload-file", "#new-collection-name", ".row-actions button", ".select-cell"):
        assert not page.locator(hidden).first.is_visible(), hidden
    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}"))
    page.locator(".timeline .shot-block").first.wait_for()
    reanalyse = page.locator("button", has_text="Re-analyse")
    assert reanalyse.count() == 1 and not reanalyse.is_visible()
    screenshot(page, "film-read-only")


def test_film_list_shows_a_partial_analysis_as_partial_with_its_reason(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm, tmp_path: Path
) -> None:
    whole = make_hybrid_film(tmp_path / "whole.mkv", seconds=3.0, seed=11)
    damaged = make_truncated(whole, tmp_path / "damaged.mkv", keep_share=0.6)
    with ui_server.client() as client, damaged.open("rb") as handle:
        film = client.post(
            "/films", files={"file": (damaged.name, handle)}, data={"title": "Damaged reel"}
        ).json()
        job = wait_for_job(client, film["job_id"])
        listed = client.get(f"/films/{film['id']}").json()
    assert job["status"] == "partial", job
    assert listed["analysis_status"] == "partial" and listed["analysis_note"]

    page.goto(ui_server.page_url("/"))
    state = page.locator("tr", has_text="Damaged reel").locator(".state")
    state.wait_for()

    assert "partial" in (state.get_attribute("class") or "")
    assert state.inner_text().splitlines()[0] == "Partial"
    assert listed["analysis_note"] in state.inner_text()


def test_film_list_fits_a_1280_px_window(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    # Archive names run long and without spaces; they must wrap, not widen the table.
    name = "reel_01_of_12_" + "restored_2k_scan_" * 4 + "final.mkv"
    with ui_server.client() as client:
        client.post(
            "/films",
            content=b"\x1aE\xdf\xa3" + bytes(2000),
            params={"filename": name, "analyze": False},
        ).raise_for_status()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(ui_server.page_url("/"))
    page.locator(".films-table").wait_for()

    header = page.get_by_role("columnheader", name="Analysis")
    scroller = page.locator(".films-panel .table-scroll")
    overflow = scroller.evaluate("box => box.scrollWidth - box.clientWidth")
    header_right = header.bounding_box()["x"] + header.bounding_box()["width"]
    panel = page.locator(".films-panel").bounding_box()

    assert overflow <= 0, f"the film table overflows its panel by {overflow} px"
    assert header_right <= panel["x"] + panel["width"]
    screenshot(page, "films-1280")
