"""Look-alike search in celery mode: a worker's analysis stores embeddings and scenes, and a
still sent to POST /frames/similar is embedded by a gpu worker while the API waits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.media import Segment, make_video
from tests.service_harness import Worker, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_a_celery_worker_embeds_frames_and_an_uploaded_still(
    client: TestClient, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    start_worker()
    path = make_video(
        tmp_path / "two.mkv",
        segments=[Segment(source="testsrc2", frames=50), Segment(source="mandelbrot", frames=50)],
    ).path
    with path.open("rb") as handle:
        film = client.post("/films", files={"file": (path.name, handle)}).json()
    job = wait_for(
        lambda: (
            (j := client.get(f"/jobs/{film['job_id']}").json())["status"] in ("done", "failed")
            and j
        ),
        what="the job",
    )
    assert job["status"] == "done", job
    frames = client.get(f"/films/{film['id']}/frames").json()["items"]
    query = frames[-1]["frame_index"]
    assert client.get(f"/films/{film['id']}/scenes").json()

    by_frame = client.get("/frames/similar", params={"film_id": film["id"], "frame_index": query})
    still = client.get(f"/films/{film['id']}/frames/{query}/image").content
    by_still = client.post(
        "/frames/similar", params={"k": 1}, files={"file": ("still.jpg", still, "image/jpeg")}
    )

    assert by_frame.status_code == 200 and len(by_frame.json()) == len(frames) - 1
    assert by_still.status_code == 200, by_still.text
    assert [(hit["film_id"], hit["frame_index"]) for hit in by_still.json()] == [
        (film["id"], query)
    ]
