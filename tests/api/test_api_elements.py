"""The elements API: clusters, members, collages, names, merges, labels, and the job."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image

from app.core.config import Settings
from app.core.db import session_scope
from tests.elements_factories import make_clusters
from tests.service_harness import Tokens


def _collection(client: TestClient, name: str = "shorts") -> int:
    response = client.post("/collections", json={"name": name})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _seeded(client: TestClient, settings: Settings) -> tuple[int, list[int]]:
    collection_id = _collection(client)
    with session_scope(settings.sqlalchemy_url) as session:
        clusters = make_clusters(session, collection_id, clusters=2)
    return collection_id, clusters


def test_clusters_list_is_empty_before_any_run(client: TestClient) -> None:
    collection_id = _collection(client)

    assert client.get(f"/collections/{collection_id}/elements").json() == []
    assert client.get(f"/collections/{collection_id}/elements/run").json() is None


def test_clusters_list_gives_size_exemplar_and_films(
    client: TestClient, service_env: Settings
) -> None:
    collection_id, clusters = _seeded(client, service_env)

    listed = client.get(f"/collections/{collection_id}/elements").json()

    assert [item["cluster_id"] for item in listed] == clusters
    first = listed[0]
    assert first["size"] == 3 and first["name"] is None
    assert set(first["exemplar"]) == {"film_id", "frame_index", "box"}
    assert first["films"][0]["count"] == 3


def test_members_are_paginated(client: TestClient, service_env: Settings) -> None:
    collection_id, clusters = _seeded(client, service_env)

    page = client.get(
        f"/collections/{collection_id}/elements/{clusters[0]}", params={"limit": 2, "offset": 1}
    ).json()

    assert page["total"] == 3 and len(page["items"]) == 2
    assert {"film_id", "frame_index", "box", "track_id"} <= set(page["items"][0])


def test_collage_is_a_valid_jpeg(client: TestClient, service_env: Settings) -> None:
    collection_id, clusters = _seeded(client, service_env)

    response = client.get(f"/collections/{collection_id}/elements/{clusters[1]}/collage.jpg")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as sheet:
        sheet.verify()
        assert sheet.format == "JPEG"


def test_naming_a_cluster_shows_in_the_list_and_labels_the_film(
    client: TestClient, service_env: Settings
) -> None:
    collection_id, clusters = _seeded(client, service_env)

    named = client.put(
        f"/collections/{collection_id}/elements/{clusters[0]}", json={"name": "  Felix "}
    )

    assert named.status_code == 200 and named.json()["name"] == "Felix"
    listed = client.get(f"/collections/{collection_id}/elements").json()
    assert [item["name"] for item in listed] == ["Felix", None]
    film_id = listed[0]["exemplar"]["film_id"]
    labels = client.get(
        f"/collections/{collection_id}/elements/labels", params={"film_id": film_id}
    ).json()
    # The named cluster's three members, and none of the other cluster's.
    assert len(labels) == 3 and {label["name"] for label in labels} == {"Felix"}


def test_read_only_token_cannot_name_a_cluster(
    client: TestClient, service_env: Settings, tokens: Tokens
) -> None:
    collection_id, clusters = _seeded(client, service_env)

    response = client.put(
        f"/collections/{collection_id}/elements/{clusters[0]}",
        json={"name": "Felix"},
        headers=tokens.header(write=False),
    )

    assert response.status_code == 403
    listed = client.get(f"/collections/{collection_id}/elements").json()
    assert listed[0]["name"] is None


def test_bad_ids_get_404(client: TestClient, service_env: Settings) -> None:
    collection_id, clusters = _seeded(client, service_env)
    other = _collection(client, "other")
    base = f"/collections/{collection_id}/elements"

    assert client.get("/collections/999999/elements").status_code == 404
    assert client.post("/collections/999999/elements").status_code == 404
    assert client.get(f"{base}/999999").status_code == 404
    assert client.get(f"{base}/999999/collage.jpg").status_code == 404
    assert client.put(f"{base}/999999", json={"name": "x"}).status_code == 404
    # A cluster of another collection is not this one's.
    assert client.get(f"/collections/{other}/elements/{clusters[0]}").status_code == 404
    assert client.get(f"{base}/labels", params={"film_id": 999999}).status_code == 404
    assert client.get(f"{base}/0").status_code == 422
    assert client.put(f"{base}/{clusters[0]}", json={"name": "x" * 300}).status_code == 422


def test_merge_folds_members_into_one_cluster(client: TestClient, service_env: Settings) -> None:
    collection_id, clusters = _seeded(client, service_env)
    base = f"/collections/{collection_id}/elements"

    merged = client.post(f"{base}/{clusters[0]}/merge", json={"cluster_ids": [clusters[1]]})

    assert merged.status_code == 200 and merged.json()["size"] == 6
    assert client.get(f"{base}/{clusters[1]}").status_code == 404
    assert [item["size"] for item in client.get(base).json()] == [6]


def test_starting_the_job_queues_a_run_and_refuses_a_second(client: TestClient) -> None:
    collection_id = _collection(client)
    base = f"/collections/{collection_id}/elements"

    started = client.post(base, json={"seed": 7})

    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued" and started.json()["options"]["seed"] == 7
    assert client.get(f"{base}/run").json()["id"] == started.json()["id"]
    assert client.post(base).status_code == 409
    assert client.post(base, json={"steps": 0}).status_code == 422


def test_element_bodies_refuse_strings_for_booleans_and_numbers(
    client: TestClient, service_env: Settings
) -> None:
    collection_id, clusters = _seeded(client, service_env)
    base = f"/collections/{collection_id}/elements"
    seeded_run = client.get(f"{base}/run").json()["id"]

    for body in ({"refine": "yes"}, {"refine": 1}, {"seed": "7"}, {"steps": "10"}):
        refused = client.post(base, json=body)
        assert refused.status_code == 422, (body, refused.text)
    merge = client.post(f"{base}/{clusters[0]}/merge", json={"cluster_ids": [str(clusters[1])]})
    assert merge.status_code == 422
    assert client.get(f"{base}/run").json()["id"] == seeded_run  # nothing was queued
    assert client.post(base, json={"refine": False}).status_code == 202


def test_split_gives_two_clusters_and_the_larger_keeps_the_name(
    client: TestClient, service_env: Settings
) -> None:
    collection_id, clusters = _seeded(client, service_env)
    base = f"/collections/{collection_id}/elements"
    client.post(f"{base}/{clusters[0]}/merge", json={"cluster_ids": [clusters[1]]})
    client.put(f"{base}/{clusters[0]}", json={"name": "Felix"})

    parts = client.post(f"{base}/{clusters[0]}/split")

    assert parts.status_code == 200, parts.text
    assert [part["size"] for part in parts.json()] == [3, 3]
    assert parts.json()[0]["name"] == "Felix" and parts.json()[1]["name"] is None
    assert len(client.get(base).json()) == 2
    # Each part holds one of the two made-up elements: splitting one again keeps them apart.
    members = client.get(f"{base}/{parts.json()[1]['cluster_id']}").json()["items"]
    assert len({item["shot_index"] for item in members}) == 1
