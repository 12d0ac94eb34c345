"""The elements job through the service: the API queues it on the gpu queue, a Celery
worker (CPU here) runs it, the API shows its progress and clusters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.collections import service as collections_service
from app.core.config import Settings
from app.core.db import session_scope
from tests.elements_factories import make_figure_film
from tests.service_harness import Worker, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_elements_job_runs_on_a_worker_and_gives_one_cluster_per_figure(
    client: TestClient, service_env: Settings, start_worker: Any, tmp_path: Path
) -> None:
    collection_id = client.post("/collections", json={"name": "figures"}).json()["id"]
    # The worker reads the thumbnails from its data dir (start_worker's "worker-data").
    data_dir = tmp_path / "worker-data"
    with session_scope(service_env.sqlalchemy_url) as session:
        films = [
            make_figure_film(session, data_dir, shots=[["star", "face"], ["house"]], seed=1),
            make_figure_film(session, data_dir, shots=[["face", "house"], ["star"]], seed=2),
        ]
        collections_service.add_films(session, collection_id, [film.film_id for film in films])
    worker: Worker = start_worker()
    base = f"/collections/{collection_id}/elements"

    started = client.post(base, json={"steps": 20, "seed": 1})
    assert started.status_code == 202, started.text

    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = client.get(f"{base}/run").json()
        return run if run["status"] not in ("queued", "running") else None

    run = wait_for(finished, timeout_s=180, what="the element run")
    assert run["status"] == "done", (run, worker.log_text()[-2000:])
    assert run["summary"]["refined"] is True and run["summary"]["elements"] == 18
    clusters = client.get(base).json()
    assert sorted(cluster["size"] for cluster in clusters) == [6, 6, 6]
