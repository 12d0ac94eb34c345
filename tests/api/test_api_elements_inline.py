"""The embedded mode runs the elements job in a thread of the API process."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from app.collections import service as collections_service
from app.core.config import get_settings
from app.core.db import session_scope
from tests.api.test_api_inline import inline_client  # noqa: F401 - a fixture
from tests.elements_factories import make_figure_film


def test_elements_job_runs_in_process_when_mode_is_inline(
    inline_client: TestClient,  # noqa: F811
) -> None:
    settings = get_settings()
    collection_id = inline_client.post("/collections", json={"name": "figures"}).json()["id"]
    with session_scope(settings.sqlalchemy_url) as session:
        film = make_figure_film(
            session, settings.data_dir, shots=[["star", "face"], ["house", "star"]], seed=3
        )
        collections_service.add_films(session, collection_id, [film.film_id])
    base = f"/collections/{collection_id}/elements"

    assert inline_client.post(base, json={"steps": 10}).status_code == 202

    run: dict[str, Any] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = inline_client.get(f"{base}/run").json()
        if run["status"] not in ("queued", "running"):
            break
        time.sleep(0.3)
    assert run["status"] == "done", run
    assert sorted(cluster["size"] for cluster in inline_client.get(base).json()) == [3, 3, 6]
