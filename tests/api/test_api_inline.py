"""The embedded mode: no Redis, SQLite, analyses run in a thread of the API process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import get_settings
from app.core.db import dispose_engine, upgrade_database
from app.jobs.dispatch import InlineDispatcher
from app.main import create_app
from tests.media import Segment, make_video
from tests.service_harness import make_tokens


@pytest.fixture
def inline_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.delenv("HYBRIDLENS_REDIS_URL", raising=False)
    monkeypatch.delenv("HYBRIDLENS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.task_mode == "inline"
    upgrade_database(settings.sqlalchemy_url)
    tokens = make_tokens(settings.sqlalchemy_url)
    with TestClient(create_app(settings), headers=tokens.header()) as client:
        yield client  # type: ignore[misc]
    dispose_engine(settings.sqlalchemy_url)


def test_upload_is_analysed_in_process_without_servers(
    inline_client: TestClient, tmp_path: Path
) -> None:
    assert inline_client.get("/health").json()["task_mode"] == "inline"
    path = make_video(
        tmp_path / "film.mkv",
        segments=[Segment(source="testsrc2", frames=40), Segment(source="mandelbrot", frames=40)],
    ).path
    with path.open("rb") as handle:
        film = inline_client.post("/films", files={"file": ("film.mkv", handle)}).json()
    dispatcher = inline_client.app.state.dispatcher  # type: ignore[attr-defined]
    assert isinstance(dispatcher, InlineDispatcher)
    assert dispatcher.wait_idle(timeout=180)
    job = inline_client.get(f"/jobs/{film['job_id']}").json()
    assert job["status"] == "done", job
    shown = inline_client.get(f"/films/{film['id']}").json()
    assert shown["hybrid_ratio"] is not None
    masked = [
        frame
        for frame in inline_client.get(f"/films/{film['id']}/frames").json()["items"]
        if frame["has_mask"]
    ]
    if masked:  # the overlay re-extracts the frame from the film with ffmpeg
        started = time.monotonic()
        overlay = inline_client.get(
            f"/films/{film['id']}/frames/{masked[0]['frame_index']}/overlay"
        )
        assert overlay.status_code == 200 and overlay.content.startswith(b"\x89PNG")
        assert time.monotonic() - started < 30


def test_a_text_file_uploaded_as_a_film_fails_in_words_everywhere(
    inline_client: TestClient,
) -> None:
    text = b"this is a text file, not a film\n" * 20
    film = inline_client.post("/films", files={"file": ("text2.mp4", text)}).json()
    dispatcher = inline_client.app.state.dispatcher  # type: ignore[attr-defined]
    assert dispatcher.wait_idle(timeout=120)

    job = inline_client.get(f"/jobs/{film['job_id']}").json()
    shown = inline_client.get(f"/films/{film['id']}")
    listed = inline_client.get("/films").json()["items"][0]
    stats = inline_client.get(f"/films/{film['id']}/stats").json()
    again = inline_client.post("/films", files={"file": ("copy.mp4", text)}).json()

    assert job["status"] == "failed" and "text2.mp4" in job["error"]
    for record in (shown.json(), listed, again):
        assert record["analysis_status"] == "failed"
        assert record["last_analysis_id"] == job["analysis_id"]
        assert record["analysis_note"] == job["error"] == stats["error"]
    assert again["created"] is False and job["error"] in again["message"]
    assert f"POST /films/{film['id']}/analyze" in again["message"]
    # The storage name (the sha256) and path appear nowhere but in the sha256 field.
    everything = shown.text + str(listed) + str(job) + str(stats) + again["message"]
    assert everything.count(film["sha256"]) == 2  # the sha256 fields of shown and listed
    assert "data/media" not in everything
