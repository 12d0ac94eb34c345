"""Films over HTTP: streaming uploads, duplicates, size limit, registration under the storage
root (and nothing outside it), delete, queries and malformed parameters."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.analysis import service as analysis_service
from app.core.config import Settings, get_settings
from app.core.db import session_scope
from app.core.domain import RunStatus
from app.films import service as films_service
from app.main import create_app
from tests.app.factories import make_analysis, make_film
from tests.service_harness import Tokens

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BYTES = b"not really a film, but bytes all the same" * 100


def test_multipart_upload_stores_hashes_and_queues(
    client: TestClient, service_env: Settings
) -> None:
    response = client.post(
        "/films",
        files={"file": ("reel 1.MKV", BYTES, "video/x-matroska")},
        data={"title": "Reel", "year": "1931", "extra": '{"archive": "A-12"}'},
    )
    assert response.status_code == 201, response.text
    film = response.json()
    assert film["sha256"] == hashlib.sha256(BYTES).hexdigest()
    assert film["size_bytes"] == len(BYTES) and film["original_filename"] == "reel 1.MKV"
    assert (film["title"], film["year"], film["extra"]) == ("Reel", 1931, {"archive": "A-12"})
    assert film["created"] is True and film["job_id"] is not None
    assert "stored_path" not in film and film["hybrid_ratio"] is None
    stored = list((service_env.media_dir).rglob(f"{film['sha256']}*"))
    assert len(stored) == 1 and stored[0].read_bytes() == BYTES
    assert not list((service_env.media_dir / "incoming").iterdir())
    assert client.get(f"/jobs/{film['job_id']}").json()["status"] == "queued"


def test_raw_body_upload_with_query_metadata(client: TestClient) -> None:
    response = client.post(
        "/films",
        params={"filename": "raw.mp4", "title": "Raw", "analyze": "false"},
        content=BYTES,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    film = response.json()
    assert (film["original_filename"], film["title"], film["job_id"]) == ("raw.mp4", "Raw", None)


def test_duplicate_upload_returns_the_existing_film(client: TestClient) -> None:
    first = client.post("/films", files={"file": ("a.mp4", BYTES)}).json()
    again = client.post("/films", files={"file": ("b.mp4", BYTES)}, data={"title": "Other"})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["created"] is False and again.json()["job_id"] is None
    assert client.get("/films").json()["total"] == 1


@pytest.fixture
def small_limit_client(
    service_env: Settings, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> TestClient:
    monkeypatch.setenv("HYBRIDLENS_API__MAX_UPLOAD_BYTES", "1000")
    get_settings.cache_clear()
    return TestClient(create_app(get_settings()), headers=tokens.header())


def test_oversized_upload_is_413_and_leaves_nothing(
    small_limit_client: TestClient, service_env: Settings
) -> None:
    declared = small_limit_client.post("/films", content=b"x" * 200_000)
    assert declared.status_code == 413

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(10):
            yield b"x" * 500

    streamed = small_limit_client.post(
        "/films", content=chunks(), headers={"Content-Type": "application/octet-stream"}
    )
    assert streamed.status_code == 413
    multipart = small_limit_client.post("/films", files={"file": ("big.mp4", b"x" * 5000)})
    assert multipart.status_code == 413
    assert not list((service_env.media_dir / "incoming").iterdir())
    assert small_limit_client.get("/films").json()["total"] == 0


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b""}, 422),
        ({"json": {"title": "a film?"}}, 415),
        ({"files": {"other": ("a.mp4", BYTES)}}, 422),
        ({"files": {"file": ("a.mp4", BYTES)}, "data": {"year": "last year"}}, 422),
        ({"files": {"file": ("a.mp4", BYTES)}, "data": {"extra": "[1, 2]"}}, 422),
    ],
)
def test_malformed_upload_is_refused(client: TestClient, kwargs: dict, status: int) -> None:  # type: ignore[type-arg]
    assert client.post("/films", **kwargs).status_code == status


def test_registration_keeps_the_file_in_place(client: TestClient, service_env: Settings) -> None:
    root = service_env.api.storage_root
    assert root is not None
    (root / "reels").mkdir()
    archived = root / "reels" / "r1.mkv"
    archived.write_bytes(BYTES)
    response = client.post("/films/register", json={"path": "reels/r1.mkv", "title": "R1"})
    assert response.status_code == 201, response.text
    film = response.json()
    assert film["sha256"] == hashlib.sha256(BYTES).hexdigest() and film["title"] == "R1"
    again = client.post("/films/register", json={"path": str(archived), "analyze": False})
    assert again.status_code == 200 and again.json()["id"] == film["id"]
    assert client.delete(f"/films/{film['id']}").status_code == 204
    assert archived.read_bytes() == BYTES  # an archive file is not ours to delete


@pytest.mark.parametrize(
    "path", ["../outside.mkv", "reels/../../outside.mkv", "/etc/passwd", "link.mkv"]
)
def test_registration_outside_the_storage_root_is_403(
    client: TestClient, service_env: Settings, path: str
) -> None:
    root = service_env.api.storage_root
    assert root is not None
    outside = root.parent / "outside.mkv"
    outside.write_bytes(BYTES)
    (root / "link.mkv").symlink_to(outside)
    response = client.post("/films/register", json={"path": path})
    assert response.status_code == 403
    assert str(root) not in response.text
    assert client.get("/films").json()["total"] == 0


def test_registration_of_a_missing_file_is_422(client: TestClient) -> None:
    assert client.post("/films/register", json={"path": "nope.mkv"}).status_code == 422


def test_deleting_an_uploaded_film_deletes_its_file(
    client: TestClient, service_env: Settings
) -> None:
    film = client.post("/films", files={"file": ("a.mp4", BYTES)}).json()
    assert client.delete(f"/films/{film['id']}").status_code == 204
    assert not list(service_env.media_dir.rglob(f"{film['sha256']}*"))
    assert client.get(f"/films/{film['id']}").status_code == 404
    assert client.delete(f"/films/{film['id']}").status_code == 404


def test_film_query_filters_sorts_and_pages(client: TestClient, service_env: Settings) -> None:
    url = service_env.sqlalchemy_url
    with session_scope(url) as session:
        ratios = {0.1: 1950, 0.5: 1960, 0.3: 1970, None: 1980}
        ids = {}
        for ratio, year in ratios.items():
            film_id = make_film(session, title=f"f{year}", year=year)
            if ratio is not None:
                make_analysis(session, film_id=film_id, hybrid_ratio=ratio)
            ids[ratio] = film_id
    collection = client.post("/collections", json={"name": "c"}).json()
    client.post(f"/collections/{collection['id']}/films", json={"film_ids": [ids[0.5], ids[0.1]]})

    found = client.get("/films", params={"min_hybrid_ratio": 0.2, "sort": "-hybrid_ratio"}).json()
    assert [film["id"] for film in found["items"]] == [ids[0.5], ids[0.3]]
    in_collection = client.get(
        "/films", params={"collection": collection["id"], "sort": "hybrid_ratio"}
    ).json()
    assert [film["id"] for film in in_collection["items"]] == [ids[0.1], ids[0.5]]
    page = client.get("/films", params={"sort": "-year", "limit": 2, "offset": 1}).json()
    assert page["total"] == 4 and [f["year"] for f in page["items"]] == [1970, 1960]
    assert client.get("/films", params={"min_year": 1965, "max_year": 1975}).json()["total"] == 1


def test_partial_analysis_is_partial_with_its_reason_in_list_and_exports(
    client: TestClient, service_env: Settings
) -> None:
    reason = "decoding stopped at 1.2 s: the file is truncated"
    with session_scope(service_env.sqlalchemy_url) as session:
        film_id = make_film(session, title="damaged")
        make_analysis(session, film_id=film_id, status=RunStatus.PARTIAL, error=reason)
    collection = client.post("/collections", json={"name": "partial"}).json()
    client.post(f"/collections/{collection['id']}/films", json={"film_ids": [film_id]})

    listed = client.get("/films", params={"search": "damaged"}).json()["items"][0]
    table = client.get(f"/collections/{collection['id']}/export", params={"format": "csv"})
    row = next(csv.DictReader(io.StringIO(table.text)))
    edl = client.get(f"/films/{film_id}/export", params={"format": "edl"}).text
    otio = client.get(f"/films/{film_id}/export", params={"format": "otio"}).json()
    document = client.get(f"/films/{film_id}/export", params={"format": "json"}).json()

    assert (listed["analysis_status"], listed["analysis_note"]) == ("partial", reason)
    assert (row["analysis_status"], row["analysis_note"]) == ("partial", reason)
    assert f"* HYBRIDLENS ANALYSIS: PARTIAL: {reason}" in edl.splitlines()
    assert otio["metadata"]["hybridlens"]["analysis"]["status"] == "partial"
    assert document["film"]["analysis_status"] == "partial"
    assert document["analysis"]["error"] == reason


@pytest.mark.parametrize(
    "params",
    [
        {"min_hybrid_ratio": "lots"},
        {"min_hybrid_ratio": 2},
        {"sort": "-stored_path"},
        {"limit": 0},
        {"limit": 100_000},
        {"offset": -1},
        {"min_hybrid_ratio": 0.9, "max_hybrid_ratio": 0.1},
        {"collection": "abc"},
        {"collection": 10**12},
        {"min_year": 10**20},
        {"analyzed": "perhaps"},
        {"search": "\x00"},
    ],
)
def test_malformed_film_query_is_422(client: TestClient, params: dict) -> None:  # type: ignore[type-arg]
    assert client.get("/films", params=params).status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/films/abc",
        "/films/0",
        f"/films/{10**15}",
        "/films/1/frames?min_time_s=-1",
        "/films/1/frames?frame_class=cartoon",
        "/films/1/frames?min_p_fraction=nan",
        "/films/1/frames/-3/mask",
        "/collections/1/stats?bins=0",
        "/films/1/export?format=docx",
        "/batches?collection=x",
    ],
)
def test_malformed_path_or_parameters_are_422(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 422


def test_unreachable_queue_is_503_and_the_job_fails_with_the_reason(
    service_env: Settings, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDLENS_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings()), headers=tokens.header()) as client:
        response = client.post("/films", files={"file": ("a.mp4", BYTES)})
        assert response.status_code == 503
        films = client.get("/films").json()["items"]
        assert len(films) == 1
        job = client.post(f"/films/{films[0]['id']}/analyze")
        assert job.status_code == 503
    with session_scope(service_env.sqlalchemy_url) as session:
        from app.jobs import repository

        assert repository.active_job_ids(session) == []


def test_file_of_a_film_is_served_with_ranges(client: TestClient) -> None:
    film = client.post("/films", files={"file": ("a.mp4", BYTES)}).json()
    whole = client.get(f"/films/{film['id']}/media")
    assert whole.status_code == 200 and whole.content == BYTES
    part = client.get(f"/films/{film['id']}/media", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == BYTES[:10]


def test_empty_paths_never_leak(client: TestClient, tmp_path: Path) -> None:
    film = client.post("/films", files={"file": ("a.mp4", BYTES)}).json()
    body = client.get(f"/films/{film['id']}").text + client.get("/films").text
    assert str(tmp_path) not in body


def test_registration_of_an_impossible_name_is_422(client: TestClient) -> None:
    assert client.post("/films/register", json={"path": "0" * 4000}).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/collections", {"name": "\x00"}),
        ("post", "/films/register", {"path": "a", "title": "\x00"}),
    ],
)
def test_text_the_database_refuses_is_422(
    client: TestClient,
    method: str,
    path: str,
    body: dict,  # type: ignore[type-arg]
) -> None:
    assert client.request(method, path, json=body).status_code == 422


def test_stale_upload_parts_are_deleted_at_start_and_fresh_ones_kept(
    service_env: Settings, tokens: Tokens, tmp_path: Path
) -> None:
    incoming = service_env.media_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    stale, fresh = incoming / "killed-mid-upload.part", incoming / "uploading.part"
    for part in (stale, fresh):
        part.write_bytes(b"half a film")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    with TestClient(create_app(service_env), headers=tokens.header()) as client:
        assert client.get("/health").status_code == 200

    assert not stale.exists() and fresh.exists()


def test_a_failed_analysis_shows_on_the_film_and_a_reupload_says_so(
    client: TestClient, service_env: Settings
) -> None:
    film = client.post("/films", files={"file": ("text2.mp4", BYTES)}).json()
    stored = next(service_env.media_dir.rglob(f"{film['sha256']}*"))
    with session_scope(service_env.sqlalchemy_url) as session:
        analysis_id = analysis_service.start_analysis(
            session, film["id"], "c", "s", {}, job_id=film["job_id"]
        )
        analysis_service.finish_analysis(
            session,
            analysis_id,
            RunStatus.FAILED,
            error=f"not a readable media file (file:{stored.name}: Invalid data found)",
        )
    reason = "not a readable media file (text2.mp4: Invalid data found)"

    shown = client.get(f"/films/{film['id']}").json()
    listed = client.get("/films").json()["items"][0]
    job = client.get(f"/jobs/{film['job_id']}").json()
    again = client.post("/films", files={"file": ("again.mp4", BYTES)})

    for record in (shown, listed):
        assert (record["last_analysis_id"], record["analysis_status"]) == (analysis_id, "failed")
        assert record["analysis_note"] == reason
    assert job["error"] == reason
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["analysis_status"] == "failed"
    message = again.json()["message"]
    assert reason in message and f"POST /films/{film['id']}/analyze" in message
    assert client.get("/films", params={"analyzed": "false"}).json()["total"] == 1
    assert stored.name not in shown["analysis_note"] + job["error"] + message


def test_a_duplicate_upload_says_where_its_analysis_stands(client: TestClient) -> None:
    first = client.post("/films", files={"file": ("a.mp4", BYTES)}).json()
    queued = client.post("/films", files={"file": ("a.mp4", BYTES)}).json()
    assert f"GET /jobs/{first['job_id']}" in queued["message"]
    assert first["message"] is None


def test_film_detail_and_its_export_show_no_storage_path(
    client: TestClient, service_env: Settings
) -> None:
    with session_scope(service_env.sqlalchemy_url) as session:
        film_id = make_film(session, name="reel.mp4")
        make_analysis(session, film_id=film_id)
        path = films_service.get_film(session, film_id).stored_path
        films_service.update_probe(session, film_id, {"path": path, "fps": 25.0})

    shown = client.get(f"/films/{film_id}")
    exported = client.get(f"/films/{film_id}/export", params={"format": "json"})

    assert shown.json()["probe"] == {"fps": 25.0}
    assert exported.status_code == 200 and exported.json()["film"]["probe"] == {"fps": 25.0}
    assert path not in shown.text + exported.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/films/register", {"path": "r.mkv", "analyze": "yes"}),
        ("post", "/films/register", {"path": "r.mkv", "analyze": 1}),
        ("post", "/films/register", {"path": "r.mkv", "year": "1950"}),
        ("patch", "/films/{film}", {"year": "1950"}),
        ("patch", "/films/{film}", {"year": 1950.0}),
        ("post", "/collections", {"name": "x", "description": 5}),
        ("post", "/collections/{collection}/films", {"film_ids": ["1"]}),
        ("post", "/collections/{collection}/films", {"film_ids": [True]}),
    ],
)
def test_json_bodies_are_strict_about_types(
    client: TestClient, method: str, path: str, body: dict[str, object]
) -> None:
    film = client.post("/films", files={"file": ("a.mp4", BYTES)}, data={"analyze": "0"}).json()
    collection = client.post("/collections", json={"name": "strict"}).json()
    url = path.format(film=film["id"], collection=collection["id"])

    response = client.request(method, url, json=body)

    assert response.status_code == 422, response.text
    # The same values with their JSON types are taken.
    assert client.patch(f"/films/{film['id']}", json={"year": 1950}).json()["year"] == 1950
    added = client.post(f"/collections/{collection['id']}/films", json={"film_ids": [film["id"]]})
    assert added.status_code == 200
