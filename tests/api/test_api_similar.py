"""Look-alike search and scenes over HTTP, on results stored by the factories, plus a still
embedded in-process by the embedded mode."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.core.config import Settings, get_settings
from app.core.db import dispose_engine, session_scope, upgrade_database
from app.embeddings import service as embeddings_service
from app.main import create_app
from app.scenes import service as scenes_service
from tests.app.factories import make_analysis, make_film
from tests.service_harness import make_tokens

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DIMENSION = 8
# factories.frame_records: frame i is number 25 * i, classes cycle P, hybrid, NP.
STEP = 25


def _vectors(seed: int, count: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIMENSION))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _store(url: str, frames: int, vectors: np.ndarray, version: str = "v1") -> tuple[int, int]:
    with session_scope(url) as session:
        film_id = make_film(session)
        analysis_id = make_analysis(session, film_id=film_id, frames=frames, shots=2)
        embeddings_service.save_embeddings(
            session, analysis_id, [i * STEP for i in range(frames)], vectors, version
        )
    return film_id, analysis_id


@pytest.fixture
def films(service_env: Settings) -> dict[str, int]:
    """Film a: 6 frames; film b: 6 frames, its frame 3 * STEP a near-copy of a's frame 0."""
    base = _vectors(1, 6)
    other = _vectors(2, 6)
    other[3] = base[0] + 0.05 * _vectors(3, 1)[0]
    film_a, analysis_a = _store(service_env.sqlalchemy_url, 6, base)
    film_b, _ = _store(service_env.sqlalchemy_url, 6, other)
    return {"a": film_a, "b": film_b, "analysis_a": analysis_a}


def test_similar_frames_puts_the_near_copy_first_and_never_the_query(
    client: TestClient, films: dict[str, int]
) -> None:
    answer = client.get("/frames/similar", params={"film_id": films["a"], "frame_index": 0})

    assert answer.status_code == 200
    hits = answer.json()
    assert len(hits) == 11  # 12 frames less the query
    assert (hits[0]["film_id"], hits[0]["frame_index"]) == (films["b"], 3 * STEP)
    assert hits[0]["time_s"] == pytest.approx(3.0) and hits[0]["score"] > 0.95
    assert (films["a"], 0) not in {(hit["film_id"], hit["frame_index"]) for hit in hits}
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)


def test_similar_frames_keeps_to_the_collection_and_class_asked_for(
    client: TestClient, films: dict[str, int]
) -> None:
    collection = client.post("/collections", json={"name": "only a"}).json()["id"]
    client.post(f"/collections/{collection}/films", json={"film_ids": [films["a"]]})
    query = {"film_id": films["a"], "frame_index": 0, "k": 20}

    in_a = client.get("/frames/similar", params={**query, "collection": collection}).json()
    hybrids = client.get("/frames/similar", params={**query, "frame_class": "hybrid"}).json()

    assert len(in_a) == 5 and {hit["film_id"] for hit in in_a} == {films["a"]}
    assert len(hybrids) == 4 and all(hit["frame_index"] // STEP % 3 == 1 for hit in hybrids)


def test_the_class_filter_follows_an_archivists_correction_and_its_revert(
    client: TestClient, films: dict[str, int]
) -> None:
    """Frame 0 of film b is P by the model; labelled hybrid, the hybrid filter finds it (the
    frame lists and figures say hybrid too); reverted, it is P again."""
    query = {"film_id": films["a"], "frame_index": 0, "k": 20, "frame_class": "hybrid"}

    def hybrid_hits() -> set[tuple[int, int]]:
        hits = client.get("/frames/similar", params=query).json()
        return {(hit["film_id"], hit["frame_index"]) for hit in hits}

    before = hybrid_hits()
    labelled = client.put(f"/films/{films['b']}/frames/0/label", json={"label": "hybrid"})
    after = hybrid_hits()
    reverted = client.delete(f"/films/{films['b']}/frames/0/label")
    again = hybrid_hits()

    assert labelled.status_code == 200 and reverted.status_code == 200
    assert (films["b"], 0) not in before
    assert after == before | {(films["b"], 0)}
    assert again == before


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"k": 0}, 422),
        ({"k": 10**6}, 422),
        ({"frame_index": -1}, 422),
        ({"frame_class": "drawn"}, 422),
        ({"film_id": 999_999}, 404),
        ({"frame_index": 7}, 404),  # not a sampled frame
        ({"collection": 999_999}, 404),
    ],
)
def test_similar_frames_refuses_bad_parameters(
    client: TestClient, films: dict[str, int], params: dict[str, object], status: int
) -> None:
    query = {"film_id": films["a"], "frame_index": 0, **params}

    answer = client.get("/frames/similar", params=query)

    assert answer.status_code == status, answer.text
    if status == 404:
        assert "not found" in answer.json()["detail"]


def test_scenes_of_a_film_in_order(
    client: TestClient, films: dict[str, int], service_env: Settings
) -> None:
    with session_scope(service_env.sqlalchemy_url) as session:
        scenes_service.save_scenes(
            session,
            films["analysis_a"],
            [
                {
                    "index": 0,
                    "start_frame": 0,
                    "end_frame": 74,
                    "start_time": 0.0,
                    "end_time": 3.0,
                    "shot_indices": [0],
                },
                {
                    "index": 1,
                    "start_frame": 75,
                    "end_frame": 149,
                    "start_time": 3.0,
                    "end_time": 6.0,
                    "shot_indices": [1],
                },
            ],
            "embedding",
        )

    scenes = client.get(f"/films/{films['a']}/scenes").json()

    assert scenes == [
        {
            "index": 0,
            "start_frame": 0,
            "end_frame": 74,
            "start_time_s": 0.0,
            "end_time_s": 3.0,
            "shot_indices": [0],
            "number": 1,
            "shot_numbers": [1],
        },
        {
            "index": 1,
            "start_frame": 75,
            "end_frame": 149,
            "start_time_s": 3.0,
            "end_time_s": 6.0,
            "shot_indices": [1],
            "number": 2,
            "shot_numbers": [2],
        },
    ]
    assert client.get(f"/films/{films['b']}/scenes").json() == []
    assert client.get("/films/999999/scenes").status_code == 404

    table = client.get(f"/films/{films['a']}/export", params={"format": "scenes.csv"})
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [(row["scene"], row["start_frame"], row["shots"]) for row in rows] == [
        ("1", "0", "1"),
        ("2", "75", "2"),
    ]
    # The API numbers shots as the export and the shots list do (from 1).
    assert [";".join(map(str, scene["shot_numbers"])) for scene in scenes] == [
        row["shots"] for row in rows
    ]
    shot_numbers = {shot["number"] for shot in client.get(f"/films/{films['a']}/shots").json()}
    assert {n for scene in scenes for n in scene["shot_numbers"]} <= shot_numbers
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ScenePublic"]
    assert schema["properties"]["shot_indices"]["deprecated"] is True
    assert "shot_numbers" in schema["required"]
    body = client.get(f"/films/{films['a']}/export", params={"format": "otio"}).text
    timeline = otio.adapters.read_from_string(body, "otio_json")
    markers = timeline.tracks[0].markers
    assert [marker.name for marker in markers] == ["scene 1", "scene 2"]
    assert markers[1].marked_range.start_time.to_seconds() == pytest.approx(3.0)


def test_similar_to_a_still_refuses_what_is_not_an_image_and_a_bad_k(
    client: TestClient, films: dict[str, int]
) -> None:
    not_image = client.post(
        "/frames/similar", files={"file": ("x.png", b"not an image", "image/png")}
    )
    empty = client.post("/frames/similar", files={"file": ("x.png", b"", "image/png")})
    bad_k = client.post(
        "/frames/similar", params={"k": 0}, files={"file": ("x.png", _png(), "image/png")}
    )

    assert not_image.status_code == 422 and "not a readable image" in not_image.json()["detail"]
    assert empty.status_code == 422
    assert bad_k.status_code == 422


def _png(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    picture = np.kron(coarse, np.ones((30, 30, 1), np.uint8))
    out = io.BytesIO()
    Image.fromarray(picture).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def inline_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("HYBRIDLENS_REDIS_URL", raising=False)
    monkeypatch.delenv("HYBRIDLENS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    upgrade_database(settings.sqlalchemy_url)
    tokens = make_tokens(settings.sqlalchemy_url)
    with TestClient(create_app(settings), headers=tokens.header()) as client:
        yield client
    dispose_engine(settings.sqlalchemy_url)


def test_similar_to_a_still_finds_the_stored_frame_of_that_picture_in_process(
    inline_client: TestClient,
) -> None:
    from workers.ml.embedding import FrameEmbedder

    embedder = FrameEmbedder.load()
    pictures = [np.asarray(Image.open(io.BytesIO(_png(seed)))) for seed in range(4)]
    vectors = embedder.embed(pictures)
    url = get_settings().sqlalchemy_url
    with session_scope(url) as session:
        film_id = make_film(session)
        analysis_id = make_analysis(session, film_id=film_id, frames=4, shots=2)
        embeddings_service.save_embeddings(
            session, analysis_id, [i * STEP for i in range(4)], vectors, embedder.version
        )

    answer = inline_client.post(
        "/frames/similar", params={"k": 2}, files={"file": ("still.png", _png(2), "image/png")}
    )

    assert answer.status_code == 200, answer.text
    hits = answer.json()
    assert (hits[0]["film_id"], hits[0]["frame_index"]) == (film_id, 2 * STEP)
    assert hits[0]["score"] > 0.99 and len(hits) == 2
