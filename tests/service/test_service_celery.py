"""End to end through HTTP with a real Celery worker: upload -> job -> results, batches with a
corrupt film, cancel (a worker killed mid-film: test_worker_leases.py). PostgreSQL and Redis
are real."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.media import Segment, make_text_file, make_video
from tests.service_harness import Worker, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FINAL = ("done", "partial", "failed", "cancelled")


def _film(path: Path, *, frames: int = 40, source: str = "testsrc2") -> Path:
    return make_video(path, segments=[Segment(source=source, frames=frames)]).path


def _upload(client: TestClient, path: Path, **data: str) -> dict[str, Any]:
    with path.open("rb") as handle:
        response = client.post("/films", files={"file": (path.name, handle)}, data=data)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _job_finished(client: TestClient, job_id: int) -> dict[str, Any] | None:
    job = client.get(f"/jobs/{job_id}").json()
    return job if job["status"] in FINAL else None


def _batch_settled(client: TestClient, batch_id: int) -> dict[str, Any] | None:
    batch = client.get(f"/batches/{batch_id}").json()
    counts = batch["counts"]
    return batch if counts["queued"] == 0 and counts["running"] == 0 else None


def test_upload_is_analysed_by_a_celery_worker(
    client: TestClient, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    start_worker()
    film = _upload(client, _film(tmp_path / "a.mkv"), title="Tiny", year="1962")
    assert film["created"] is True and film["job_id"] is not None
    assert "stored_path" not in film

    job = wait_for(lambda: _job_finished(client, film["job_id"]), what="the job")
    assert job["status"] == "done", job
    assert job["overall_percent"] == 100.0

    shown = client.get(f"/films/{film['id']}").json()
    assert shown["hybrid_ratio"] is not None and shown["title"] == "Tiny"
    assert shown["duration_s"] == pytest.approx(1.6, abs=0.1)
    assert client.get(f"/films/{film['id']}/shots").json()
    frames = client.get(f"/films/{film['id']}/frames", params={"limit": 5}).json()
    assert frames["total"] >= 1 and len(frames["items"]) <= 5
    stats = client.get(f"/films/{film['id']}/stats").json()
    assert stats["summary"]["hybrid_ratio"] == shown["hybrid_ratio"]
    found = client.get("/films", params={"min_hybrid_ratio": 0.0, "sort": "-hybrid_ratio"}).json()
    assert [item["id"] for item in found["items"]] == [film["id"]]


def test_collection_batch_fails_only_the_corrupt_film(
    client: TestClient, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    good = [
        _upload(client, _film(tmp_path / f"good{number}.mkv", source=source), analyze="false")
        for number, source in enumerate(("testsrc2", "smptebars"))
    ]
    corrupt = _upload(client, make_text_file(tmp_path / "corrupt.mp4"), analyze="false")
    collection = client.post("/collections", json={"name": "mixed"}).json()
    ids = [film["id"] for film in [*good, corrupt]]
    assert (
        client.post(f"/collections/{collection['id']}/films", json={"film_ids": ids}).json()[
            "changed"
        ]
        == 3
    )
    start_worker()

    batch = client.post(f"/collections/{collection['id']}/analyze")
    assert batch.status_code == 202, batch.text
    settled = wait_for(lambda: _batch_settled(client, batch.json()["id"]), what="the batch")
    assert settled["counts"]["done"] == 2 and settled["counts"]["failed"] == 1
    failed = next(job for job in settled["jobs"] if job["status"] == "failed")
    assert failed["film_id"] == corrupt["id"]
    assert failed["error"]

    rerun = client.post(f"/batches/{settled['id']}/rerun-failed").json()
    assert rerun["requeued_job_ids"] == [failed["id"]]
    again = wait_for(lambda: _batch_settled(client, settled["id"]), what="the re-run")
    assert again["counts"]["done"] == 2 and again["counts"]["failed"] == 1

    stats = client.get(f"/collections/{collection['id']}/stats").json()
    assert stats["film_count"] == 3 and stats["analyzed_count"] == 2


def test_cancelled_batch_stops_its_jobs(
    client: TestClient, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    films = [
        _upload(client, _film(tmp_path / f"c{number}.mkv", frames=30 + number), analyze="false")
        for number in range(3)
    ]
    collection = client.post("/collections", json={"name": "to cancel"}).json()
    client.post(
        f"/collections/{collection['id']}/films", json={"film_ids": [f["id"] for f in films]}
    )
    batch = client.post(f"/collections/{collection['id']}/analyze").json()
    cancelled = client.post(f"/batches/{batch['id']}/cancel").json()
    assert sorted(cancelled["cancelled_job_ids"]) == sorted(job["id"] for job in batch["jobs"])
    # A worker started afterwards finds the cancelled jobs and skips them.
    start_worker()
    shown = client.get(f"/batches/{batch['id']}").json()
    assert shown["cancelled"] is True and shown["counts"]["cancelled"] == 3
    assert client.post(f"/batches/{batch['id']}/rerun-failed").status_code == 409
