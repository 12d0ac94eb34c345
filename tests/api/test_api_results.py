"""Results and exports over HTTP, on results stored by the analysis service's factories."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import session_scope
from app.films import service as films_service
from tests.app.factories import make_analysis, make_film
from tests.media import Segment, make_video

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def analysed(service_env: Settings) -> dict[str, int]:
    with session_scope(service_env.sqlalchemy_url) as session:
        film_id = make_film(session, title="Analysed", year=1955)
        analysis_id = make_analysis(session, film_id=film_id, frames=9, shots=3, hybrid_ratio=0.4)
        bare_id = make_film(session, title="Never analysed")
    return {"film": film_id, "analysis": analysis_id, "bare": bare_id}


def test_shots_frames_and_figures_of_a_film(client: TestClient, analysed: dict[str, int]) -> None:
    film = analysed["film"]
    assert len(client.get(f"/films/{film}/shots").json()) == 3
    hybrids = client.get(f"/films/{film}/frames", params={"frame_class": "hybrid"}).json()
    assert hybrids["total"] == 3
    assert all(frame["frame_class"] == "hybrid" for frame in hybrids["items"])
    window = client.get(
        f"/films/{film}/frames", params={"min_time_s": 2.0, "max_time_s": 4.0, "limit": 2}
    ).json()
    assert window["total"] == 3 and len(window["items"]) == 2
    stats = client.get(f"/films/{film}/stats").json()
    assert stats["summary"]["hybrid_ratio"] == 0.4 and stats["status"] == "done"
    assert client.get(f"/films/{film}/timeline").json()["timeline"]
    assert [a["id"] for a in client.get(f"/films/{film}/analyses").json()] == [analysed["analysis"]]


def test_frames_sorted_by_confidence_put_the_least_sure_first(
    client: TestClient, analysed: dict[str, int]
) -> None:
    film = analysed["film"]
    page = client.get(f"/films/{film}/frames", params={"sort": "confidence", "limit": 4}).json()
    confidences = [frame["confidence"] for frame in page["items"]]
    assert page["total"] == 9 and len(confidences) == 4
    assert confidences == sorted(confidences) and confidences[0] == pytest.approx(0.53)
    timed = client.get(f"/films/{film}/frames").json()["items"]
    assert [f["time_s"] for f in timed] == sorted(f["time_s"] for f in timed)
    assert client.get(f"/films/{film}/frames", params={"sort": "size"}).status_code == 422


def test_mask_of_a_segmented_frame_is_png_and_others_404(
    client: TestClient, analysed: dict[str, int]
) -> None:
    film = analysed["film"]
    frames = client.get(f"/films/{film}/frames").json()["items"]
    masked = next(frame for frame in frames if frame["has_mask"])
    bare = next(frame for frame in frames if not frame["has_mask"])
    mask = client.get(f"/films/{film}/frames/{masked['frame_index']}/mask")
    assert mask.status_code == 200 and mask.headers["content-type"] == "image/png"
    no_mask = client.get(f"/films/{film}/frames/{bare['frame_index']}/mask")
    no_frame = client.get(f"/films/{film}/frames/99999/mask")
    assert no_mask.status_code == 404 and no_frame.status_code == 404
    # Said in words, with the film's id (not the analysis's key).
    assert no_mask.json()["detail"] == f"frame {bare['frame_index']} of film {film} has no mask"
    assert no_frame.json()["detail"] == f"film {film} has no sampled frame 99999"
    thumbnail = client.get(f"/films/{film}/frames/99999/thumbnail").json()
    assert thumbnail["detail"] == f"frame 99999 of film {film} has no stored thumbnail"


def test_results_of_an_unanalysed_film_are_404(
    client: TestClient, analysed: dict[str, int]
) -> None:
    bare = analysed["bare"]
    for path in ("shots", "frames", "stats", "timeline"):
        answer = client.get(f"/films/{bare}/{path}")
        assert answer.status_code == 404
        assert answer.json()["detail"] == f"film {bare} has not been analysed"
    assert client.get(f"/films/{analysed['film']}/shots?analysis_id=999").status_code == 404


def test_overlay_of_a_film_whose_file_is_gone_is_503(
    client: TestClient, analysed: dict[str, int]
) -> None:
    film = analysed["film"]
    masked = next(
        frame for frame in client.get(f"/films/{film}/frames").json()["items"] if frame["has_mask"]
    )
    response = client.get(f"/films/{film}/frames/{masked['frame_index']}/overlay")
    assert response.status_code == 503
    assert "/archive" not in response.text


def test_a_frame_ffmpeg_cannot_cut_is_503_naming_the_uploaded_file(
    client: TestClient, service_env: Settings, tmp_path: Path
) -> None:
    sha = "ef" * 32
    stored = tmp_path / f"{sha}.mp4"
    stored.write_bytes(b"no film here\n" * 10)
    with session_scope(service_env.sqlalchemy_url) as session:
        film = films_service.register_film(
            session, stored, sha, None, None, original_filename="reel.mp4"
        ).film_id
        make_analysis(session, film_id=film, frames=3, shots=1)

    response = client.get(f"/films/{film}/frames/0/image")

    assert response.status_code == 503
    assert "reel.mp4" in response.json()["detail"]
    assert sha not in response.text and str(tmp_path) not in response.text


def test_film_exports(client: TestClient, analysed: dict[str, int]) -> None:
    film = analysed["film"]

    def export(fmt: str) -> str:
        response = client.get(f"/films/{film}/export", params={"format": fmt})
        assert response.status_code == 200, response.text
        assert "attachment" in response.headers["content-disposition"]
        return response.text

    report = json.loads(export("json"))
    assert len(report["frames"]) == 9 and "stored_path" not in report["film"]
    rows = list(csv.DictReader(io.StringIO(export("csv"))))
    assert len(rows) == 9 and rows[1]["class"] == "hybrid"
    shots = list(csv.DictReader(io.StringIO(export("shots.csv"))))
    assert [row["start_timecode"] for row in shots] == ["00:00:00:00", "00:00:03:00", "00:00:06:00"]
    edl = export("edl")
    assert "FCM: NON-DROP FRAME" in edl and "003  AX" in edl
    timeline = json.loads(export("otio"))
    clips = timeline["tracks"]["children"][0]["children"]
    assert timeline["OTIO_SCHEMA"] == "Timeline.1" and len(clips) == 3
    annotations = json.loads(export("annotations"))
    # The three hybrid shots as one segment, then the hybrid frames' runs (as in the eaf).
    assert annotations["type"] == "AnnotationCollection" and annotations["total"] == 4
    targets = [item["target"]["id"] for item in annotations["first"]["items"]]
    assert targets[0].endswith(f"/films/{film}/media#t=0,9")
    assert [target.rsplit("#", 1)[1] for target in targets[1:]] == ["t=1,2", "t=4,5", "t=7,8"]


def test_collection_stats_and_exports(client: TestClient, analysed: dict[str, int]) -> None:
    collection = client.post("/collections", json={"name": "stats"}).json()
    client.post(
        f"/collections/{collection['id']}/films",
        json={"film_ids": [analysed["film"], analysed["bare"]]},
    )
    stats = client.get(f"/collections/{collection['id']}/stats", params={"bins": 5}).json()
    assert (stats["film_count"], stats["analyzed_count"]) == (2, 1)
    assert stats["mean_hybrid_ratio"] == 0.4 and len(stats["hybrid_ratio_histogram"]) == 5
    table = client.get(f"/collections/{collection['id']}/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert {row["title"] for row in rows} == {"Analysed", "Never analysed"}
    # The 90 % range beside the adjusted ratio (empty where a film has none).
    header = table.text.splitlines()[0].split(",")
    at = header.index("adjusted_hybrid_ratio")
    assert header[at + 1 : at + 3] == ["hybrid_ratio_low", "hybrid_ratio_high"]
    document = client.get(f"/collections/{collection['id']}/export").json()
    assert document["stats"]["film_count"] == 2 and len(document["films"]) == 2
    films = client.get(f"/collections/{collection['id']}/films", params={"analyzed": True})
    assert [film["id"] for film in films.json()["items"]] == [analysed["film"]]


def test_collection_membership_and_delete(client: TestClient, analysed: dict[str, int]) -> None:
    collection = client.post("/collections", json={"name": "m"}).json()
    assert client.post("/collections", json={"name": "m"}).status_code == 409
    url = f"/collections/{collection['id']}"
    assert client.post(f"{url}/films", json={"film_ids": [analysed["film"]]}).json()["changed"] == 1
    assert client.post(f"{url}/films", json={"film_ids": [analysed["film"]]}).json()["changed"] == 0
    assert client.post(f"{url}/films", json={"film_ids": [424242]}).status_code == 404
    assert client.get(url).json()["film_count"] == 1
    assert client.delete(f"{url}/films/{analysed['film']}").json()["changed"] == 1
    assert client.get("/collections").json()["total"] == 1
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def _mask_png(width: int, height: int) -> bytes:
    import numpy as np
    from PIL import Image

    p_mask = np.zeros((height, width), dtype=bool)
    p_mask[:, : width // 2] = True  # left half photographic
    buffer = io.BytesIO()
    Image.fromarray(p_mask).convert("1").save(buffer, format="PNG")
    return buffer.getvalue()


def test_overlay_tints_the_drawn_part_of_the_re_extracted_frame(
    client: TestClient, service_env: Settings, tmp_path: Path
) -> None:
    from PIL import Image

    from app.analysis import service as analysis_service
    from app.analysis.schemas import FrameRecord
    from app.films import service as films_service

    video = make_video(
        tmp_path / "film.mkv", segments=[Segment(source="color", color="gray", frames=20)]
    )
    with session_scope(service_env.sqlalchemy_url) as session:
        film_id = films_service.register_film(
            session, video.path, "f" * 64, {"fps": 25.0, "width": 160, "height": 120}
        ).film_id
        analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})
        analysis_service.save_frames(
            session,
            analysis_id,
            [
                FrameRecord(
                    frame_index=10, time_s=0.4, frame_class="hybrid", p_fraction=0.5,
                    weight_s=0.8, mask_png=_mask_png(80, 60),
                )
            ],
        )  # fmt: skip
        analysis_service.finish_analysis(session, analysis_id, "done")
    response = client.get(f"/films/{film_id}/frames/10/overlay", params={"max_size": 160})
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert image.size == (160, 120)
    left, right = image.getpixel((20, 60)), image.getpixel((140, 60))
    assert abs(left[0] - left[1]) < 10  # photographic half: untouched gray
    assert right[0] > right[1] + 40  # drawn half: tinted magenta
