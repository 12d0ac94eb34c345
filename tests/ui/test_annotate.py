"""Correcting masks and labels on the page: paint a stroke, save, spread it through the shot
and see the neighbouring frames' masks change; fill, undo and redo; the single-channel PNG the
page encodes; the shot label, the review list and the human-checked share on the film view;
no editor for a read-only token."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.ui.conftest import (
    AnalysedFilm,
    UiServer,
    make_hybrid_film,
    screenshot,
    wait_for_job,
)
from tests.ui.test_access_and_states import _read_only_token


@pytest.fixture(scope="module")
def own_film(ui_server: UiServer, tmp_path_factory: pytest.TempPathFactory) -> AnalysedFilm:
    """A film of these tests' own: the other page tests expect the shared film as the model
    left it."""
    path = make_hybrid_film(tmp_path_factory.mktemp("annotate") / "annotate.mp4", seed=5)
    with ui_server.client() as client, path.open("rb") as handle:
        film = (
            client.post(
                "/films",
                files={"file": (path.name, handle, "video/mp4")},
                data={"title": "Annotated"},
            )
            .raise_for_status()
            .json()
        )
        assert wait_for_job(client, film["job_id"])["status"] == "done"
        shots = client.get(f"/films/{film['id']}/shots").raise_for_status().json()
        frames = client.get(f"/films/{film['id']}/frames").raise_for_status().json()["items"]
    return AnalysedFilm(film_id=film["id"], shot_count=len(shots), frames=frames)


def _shot_with_neighbours(film: AnalysedFilm) -> tuple[int, list[int]]:
    """A shot with at least two sampled frames: (its number, its frame indices)."""
    by_shot: dict[int, list[int]] = defaultdict(list)
    for frame in film.frames:
        by_shot[frame["shot_number"]].append(frame["frame_index"])
    number, frames = max(by_shot.items(), key=lambda item: len(item[1]))
    assert len(frames) >= 2, by_shot
    return number, sorted(frames)


def _mask(ui_server: UiServer, film_id: int, frame: int) -> tuple[str, np.ndarray]:
    with ui_server.client() as client:
        served = client.get(f"/films/{film_id}/frames/{frame}/mask").raise_for_status()
    with Image.open(io.BytesIO(served.content)) as image:
        return served.headers["x-mask-source"], np.asarray(image.convert("L")) >= 128


def _revert_all(ui_server: UiServer, film_id: int, frames: list[int]) -> None:
    with ui_server.client() as client:
        for frame in frames:
            client.delete(f"/films/{film_id}/frames/{frame}/mask")


def _open_editor(page: Any, ui_server: UiServer, film_id: int, frame: int) -> Any:
    page.goto(ui_server.page_url(f"/films/{film_id}/frames/{frame}"))
    page.locator(".mask-editor[data-ready='true']").wait_for()
    return page.locator(".edit-layer").bounding_box()


def test_a_painted_stroke_is_saved_and_spread_through_the_shot(
    page: Any, ui_server: UiServer, own_film: AnalysedFilm
) -> None:
    film_id = own_film.film_id
    shot, frames = _shot_with_neighbours(own_film)
    first, neighbours = frames[0], frames[1:]
    box = _open_editor(page, ui_server, film_id, first)
    assert page.locator("#mask-source").get_attribute("data-source") == "model"

    # Paint NP across the top of the photographic left half.
    page.locator("label[for='paint-NP']").click()
    page.locator("#brush-size").fill("40")
    y = box["y"] + box["height"] * 0.15
    page.mouse.move(box["x"] + box["width"] * 0.05, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=8)
    page.mouse.up()
    page.locator("#mask-save").click()
    page.locator("#mask-source[data-source='human']").wait_for()

    source, mask = _mask(ui_server, film_id, first)
    assert source == "human"
    rows = round(mask.shape[0] * 0.15)
    assert not mask[rows, round(mask.shape[1] * 0.1) : round(mask.shape[1] * 0.4)].any()
    assert mask[round(mask.shape[0] * 0.8), : round(mask.shape[1] * 0.4)].mean() > 0.5

    page.locator("#mask-propagate").click()
    page.locator("#editor-status", has_text=f"Spread through shot {shot}:").wait_for(
        timeout=150_000
    )
    strip = page.locator("#shot-strip li[data-mask-source='propagated']")
    assert strip.count() == len(neighbours)
    screenshot(page, "frame-propagated")
    for neighbour in neighbours:
        assert _mask(ui_server, film_id, neighbour)[0] == "propagated"

    page.goto(ui_server.page_url(f"/films/{film_id}/frames/{neighbours[0]}"))
    page.locator("#mask-source[data-source='propagated']").wait_for()

    # The spread is undone in one click: the neighbours fall back to the model's layer.
    page.locator(".mask-editor[data-ready='true']").wait_for()
    page.locator("#mask-unspread").click()
    page.locator("#editor-status", has_text="Undone:").wait_for()
    with ui_server.client() as client:
        items = client.get(f"/films/{film_id}/frames", params={"shot_number": shot}).json()
    sources = {item["frame_index"]: item["mask_source"] for item in items["items"]}
    assert sources[first] == "human"
    assert all(sources[neighbour] != "propagated" for neighbour in neighbours), sources
    _revert_all(ui_server, film_id, frames)


def test_fill_undo_and_redo_change_the_mask_before_it_is_saved(
    page: Any, ui_server: UiServer, own_film: AnalysedFilm
) -> None:
    film_id = own_film.film_id
    frame = own_film.frames[-1]["frame_index"]
    box = _open_editor(page, ui_server, film_id, frame)
    before = page.locator("#mask-source").get_attribute("data-source")
    undo, redo, save = (page.locator(f"#mask-{name}") for name in ("undo", "redo", "save"))
    assert undo.is_disabled() and save.is_disabled()

    # Fill the drawn right half with P: the whole frame is P.
    page.locator("label[for='tool-fill']").click()
    page.locator("label[for='paint-P']").click()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.5)
    assert not undo.is_disabled() and not save.is_disabled()
    undo.click()
    assert not redo.is_disabled()
    redo.click()
    save.click()
    page.locator("#mask-source[data-source='human']").wait_for()

    _, mask = _mask(ui_server, film_id, frame)
    assert mask.mean() > 0.97
    page.locator("#mask-revert").click()
    page.locator(f"#mask-source[data-source='{before}']").wait_for()
    assert _mask(ui_server, film_id, frame)[0] == before


@pytest.mark.parametrize("compress", [True, False])
def test_the_page_encodes_a_single_channel_png(
    page: Any, ui_server: UiServer, compress: bool
) -> None:
    page.goto(ui_server.page_url("/"))
    data = page.evaluate(
        """async (compress) => {
            const { encodeGreyPng } = await import("./js/png.js");
            const width = 301, height = 257;
            const pixels = new Uint8Array(width * height);
            for (let i = 0; i < pixels.length; i += 1) pixels[i] = (i % width) < 100 ? 255 : 0;
            const blob = await encodeGreyPng(width, height, pixels, { compress });
            return Array.from(new Uint8Array(await blob.arrayBuffer()));
        }""",
        compress,
    )

    with Image.open(io.BytesIO(bytes(data))) as image:
        assert (image.mode, image.size) == ("L", (301, 257))
        pixels = np.asarray(image)
    assert (pixels[:, :100] == 255).all() and (pixels[:, 100:] == 0).all()


def test_film_view_sets_a_shot_label_and_lists_frames_to_review(
    page: Any, ui_server: UiServer, own_film: AnalysedFilm
) -> None:
    film_id = own_film.film_id
    page.goto(ui_server.page_url(f"/films/{film_id}"))
    page.locator("#review-list .review-card").first.wait_for()
    assert page.locator("#review-list .review-card").count() == min(8, len(own_film.frames))
    assert page.locator("#human-checked .stat-value").inner_text() == "0.0 %"

    page.locator("select[data-shot='1']").select_option("NP")
    checked = page.locator("#human-checked .stat-value", has_text=re.compile(r"^(?!0\.0 %)\d"))
    checked.wait_for()
    with ui_server.client() as client:
        shots = client.get(f"/films/{film_id}/shots").json()
        stats = client.get(f"/films/{film_id}/stats").json()
    assert (shots[0]["frame_class"], shots[0]["label_source"]) == ("NP", "human")
    assert stats["human_checked_share"] > 0
    assert page.locator("select[data-shot='1']").input_value() == "NP"

    page.locator("select[data-shot='1']").select_option("")
    page.locator("#human-checked .stat-value", has_text=re.compile(r"^0\.0 %$")).wait_for()


def test_read_only_token_gets_no_mask_editor(
    page: Any, ui_server: UiServer, analysed_film: AnalysedFilm
) -> None:
    page.goto(ui_server.page_url("/"))
    page.evaluate(f"localStorage.setItem('hybridlens.token', {_read_only_token(ui_server)!r})")
    frame = analysed_film.frames[0]["frame_index"]

    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}/frames/{frame}"))
    page.locator("#mask-source").wait_for()
    page.locator(".frame-picture.loaded").wait_for()

    assert page.locator(".mask-editor").count() == 0
    assert page.locator(".edit-layer").count() == 0
    page.goto(ui_server.page_url(f"/films/{analysed_film.film_id}"))
    page.locator("#review-list .review-card").first.wait_for()
    assert not page.locator("select[data-shot='1']").is_visible()
