"""Human masks and labels over HTTP: round trips, precedence of sources, write access, bad
PNGs, and the figures recomputed from them."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image

from app.analysis import thumbnails
from app.annotations import service as annotations_service
from app.core.config import Settings
from app.core.db import session_scope
from app.jobs import service as jobs_service
from tests.app.factories import make_analysis, make_film
from tests.service_harness import Tokens

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# make_film: 320x240 pictures; make_analysis(frames=9, shots=3): frames 0, 25, ... 200,
# classes cycling P, hybrid, NP, three per shot; hybrid frames carry a model mask.
P_FRAME, HYBRID_FRAME, NP_FRAME = 0, 25, 50


@pytest.fixture
def film(service_env: Settings) -> int:
    with session_scope(service_env.sqlalchemy_url) as session:
        film_id = make_film(session, title="Annotated")
        make_analysis(session, film_id=film_id, frames=9, shots=3, hybrid_ratio=1 / 3)
    return film_id


def png_of(array: np.ndarray, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def left_p(width: int, height: int, share: float) -> np.ndarray:
    """A mask whose left ``share`` of the columns is P (255)."""
    columns = np.arange(width) < round(width * share)
    return np.where(np.tile(columns, (height, 1)), 255, 0).astype(np.uint8)


def decoded(response: Response) -> np.ndarray:
    with Image.open(io.BytesIO(response.content)) as image:
        return np.asarray(image.convert("L")) >= 128


def put_mask(
    client: TestClient,
    film: int,
    frame: int,
    data: bytes,
    *,
    auth: dict[str, str] | None = None,
) -> Response:
    headers = {"Content-Type": "image/png", **(auth or {})}
    return client.put(f"/films/{film}/frames/{frame}/mask", content=data, headers=headers)


def test_mask_round_trip_at_an_odd_size_is_resized_to_the_frame(
    client: TestClient, film: int
) -> None:
    answer = put_mask(client, film, P_FRAME, png_of(left_p(37, 23, 0.25)))
    assert answer.status_code == 200, answer.text
    stored = answer.json()
    assert (stored["version"], stored["source"], stored["author"]) == (1, "human", "writer")
    assert (stored["width"], stored["height"]) == (320, 240)
    assert stored["p_fraction"] == pytest.approx(9 / 37, abs=0.02)

    served = client.get(f"/films/{film}/frames/{P_FRAME}/mask")
    assert served.status_code == 200 and served.headers["x-mask-source"] == "human"
    mask = decoded(served)
    assert mask.shape == (240, 320)
    assert mask[:, :70].all() and not mask[:, 80:].any()

    reverted = client.delete(f"/films/{film}/frames/{P_FRAME}/mask")
    assert reverted.status_code == 200 and reverted.json()["reverted"]
    assert reverted.json()["version"] == 2
    # The P frame has no model mask: nothing is left to serve, the history keeps both.
    assert client.get(f"/films/{film}/frames/{P_FRAME}/mask").status_code == 404
    history = client.get(f"/films/{film}/frames/{P_FRAME}/annotations").json()
    assert [(m["version"], m["reverted"]) for m in history["masks"]] == [(1, False), (2, True)]
    assert client.delete(f"/films/{film}/frames/{P_FRAME}/mask").status_code == 404


def test_sources_take_precedence_human_then_propagated_then_model(
    client: TestClient, film: int, service_env: Settings
) -> None:
    path = f"/films/{film}/frames/{HYBRID_FRAME}/mask"
    assert client.get(path).headers["x-mask-source"] == "model"
    with session_scope(service_env.sqlalchemy_url) as session:
        annotations_service.save_propagated(
            session, film, {HYBRID_FRAME: np.zeros((60, 80), dtype=bool)}, job_id=None
        )
    assert client.get(path).headers["x-mask-source"] == "propagated"
    assert not decoded(client.get(path)).any()

    put_mask(client, film, HYBRID_FRAME, png_of(np.full((5, 7), 255, dtype=np.uint8)))
    assert client.get(path).headers["x-mask-source"] == "human"
    assert decoded(client.get(path)).all()
    for layer in ("model", "propagated", "human"):
        one = client.get(path, params={"source": layer})
        assert one.status_code == 200 and one.headers["x-mask-source"] == layer
    frame = client.get(f"/films/{film}/frames", params={"shot_number": 1}).json()["items"][1]
    assert (frame["mask_source"], frame["label_source"]) == ("human", "human")
    assert (frame["frame_class"], frame["model_frame_class"]) == ("P", "hybrid")

    client.delete(path)
    assert client.get(path).headers["x-mask-source"] == "propagated"
    assert client.get(path, params={"source": "human"}).status_code == 404
    assert client.get(path, params={"source": "drawn"}).status_code == 422


def test_propagated_masks_are_reverted_one_frame_or_a_whole_shot_at_a_time(
    client: TestClient, film: int, service_env: Settings
) -> None:
    """Shot 1 holds frames 0, 25 and 50; a propagation that went wrong is undone."""
    with session_scope(service_env.sqlalchemy_url) as session:
        annotations_service.save_propagated(
            session,
            film,
            {index: np.zeros((60, 80), dtype=bool) for index in (P_FRAME, HYBRID_FRAME, NP_FRAME)},
            job_id=None,
        )
    hybrid = f"/films/{film}/frames/{HYBRID_FRAME}/mask"
    assert client.get(hybrid).headers["x-mask-source"] == "propagated"

    one = client.delete(f"/films/{film}/frames/{P_FRAME}/mask", params={"source": "propagated"})
    shot = client.delete(f"/films/{film}/shots/1/propagated")

    assert one.status_code == 200 and one.json()["source"] == "propagated"
    assert one.json()["reverted"]
    # The shot revert takes the two still in force; the model's mask is in force again.
    assert shot.status_code == 200
    assert sorted(version["frame_index"] for version in shot.json()) == [HYBRID_FRAME, NP_FRAME]
    assert client.get(hybrid).headers["x-mask-source"] == "model"
    frames = client.get(f"/films/{film}/frames", params={"shot_number": 1}).json()["items"]
    assert [frame["mask_source"] for frame in frames] == [None, "model", None]
    assert client.delete(f"/films/{film}/shots/1/propagated").status_code == 404
    assert client.delete(f"/films/{film}/shots/9/propagated").status_code == 404
    # While a propagation of the shot is queued, an undo would be overwritten: 409.
    with session_scope(service_env.sqlalchemy_url) as session:
        analysis = client.get(f"/films/{film}/stats").json()["analysis_id"]
        annotations_service.save_propagated(
            session, film, {NP_FRAME: np.zeros((60, 80), dtype=bool)}, job_id=None
        )
        jobs_service.create_propagation_job(session, film, analysis, 0)
    busy = client.delete(f"/films/{film}/shots/1/propagated")
    assert busy.status_code == 409 and "still queued or running" in busy.json()["detail"]
    busy_frame = client.delete(
        f"/films/{film}/frames/{NP_FRAME}/mask", params={"source": "propagated"}
    )
    assert busy_frame.status_code == 409 and f"frame {NP_FRAME}" in busy_frame.json()["detail"]
    wrong_layer = client.delete(f"/films/{film}/frames/{P_FRAME}/mask", params={"source": "model"})
    assert wrong_layer.status_code == 422


def test_a_shot_label_applies_to_its_frames_but_not_over_a_human_mask(
    client: TestClient, film: int
) -> None:
    put_mask(client, film, HYBRID_FRAME, png_of(left_p(32, 24, 0.5)))
    answer = client.put(f"/films/{film}/shots/1/label", json={"label": "NP"})
    assert answer.status_code == 200 and answer.json()["label"] == "NP"
    frames = client.get(f"/films/{film}/frames", params={"shot_number": 1}).json()["items"]
    assert [(f["frame_class"], f["label_source"]) for f in frames] == [
        ("NP", "human"),
        ("hybrid", "human"),  # its own human mask wins over the shot's label
        ("NP", "human"),
    ]
    shot = client.get(f"/films/{film}/shots").json()[0]
    assert (shot["number"], shot["frame_class"], shot["label_source"]) == (1, "NP", "human")
    assert shot["mask_source"] == "human"
    assert client.get(f"/films/{film}/shots").json()[1]["label_source"] == "model"
    assert client.put(f"/films/{film}/shots/9/label", json={"label": "NP"}).status_code == 404
    assert client.put(f"/films/{film}/shots/1/label", json={"label": "X"}).status_code == 422
    assert client.delete(f"/films/{film}/shots/1/label").json()["reverted"]
    assert client.get(f"/films/{film}/shots").json()[0]["frame_class"] == "hybrid"


def test_statistics_follow_the_annotations_and_count_human_checked_time(
    client: TestClient, film: int
) -> None:
    before = client.get(f"/films/{film}/stats").json()
    assert before["human_checked_share"] == 0.0
    assert before["summary"]["hybrid_ratio"] == pytest.approx(1 / 3)
    # Shot 1 holds frames P, hybrid, NP: labelled P, it loses its hybrid frame.
    client.put(f"/films/{film}/shots/1/label", json={"label": "P"})
    after = client.get(f"/films/{film}/stats").json()
    assert after["summary"]["hybrid_ratio"] == pytest.approx(2 / 9)
    assert after["model_summary"]["hybrid_ratio"] == pytest.approx(1 / 3)
    assert after["human_checked_share"] == pytest.approx(1 / 3)
    listed = client.get("/films", params={"max_hybrid_ratio": 0.25}).json()["items"]
    assert [f["id"] for f in listed] == [film]
    exported = client.get(f"/films/{film}/export", params={"format": "json"}).json()
    assert exported["labels"][0]["scope"] == "shot" and exported["labels"][0]["label"] == "P"
    assert {f["label_source"] for f in exported["frames"][:3]} == {"human"}
    csv_text = client.get(f"/films/{film}/export", params={"format": "csv"}).text
    assert csv_text.splitlines()[0].endswith("mask_source,label_source,model_class")


def test_the_overlay_thumbnail_shows_the_mask_in_force_and_is_revalidated(
    client: TestClient, service_env: Settings
) -> None:
    """Stored at analysis time with the model's mask (left half P); a person's all-NP mask
    tints the whole stored picture instead, and a revert brings the stored one back."""
    with session_scope(service_env.sqlalchemy_url) as session:
        film = make_film(session, title="Overlaid")
        analysis = make_analysis(session, film_id=film, frames=9, shots=3)
    picture = np.full((240, 320, 3), 128, dtype=np.uint8)
    model_mask = png_of(left_p(320, 240, 0.5), mode="1")
    thumbnails.write_all(service_env.data_dir, analysis, [(HYBRID_FRAME, picture, model_mask)])
    path = f"/films/{film}/frames/{HYBRID_FRAME}/thumbnail"

    def tinted_share(response: Response) -> float:
        with Image.open(io.BytesIO(response.content)) as image:
            pixels = np.asarray(image.convert("RGB")).astype(int)
        return float((np.abs(pixels[..., 0] - pixels[..., 1]) > 40).mean())

    model = client.get(path, params={"overlay": True})
    put_mask(client, film, HYBRID_FRAME, png_of(np.zeros((24, 32), dtype=np.uint8)))
    corrected = client.get(path, params={"overlay": True})
    unchanged = client.get(
        path, params={"overlay": True}, headers={"If-None-Match": corrected.headers["etag"]}
    )
    client.delete(f"/films/{film}/frames/{HYBRID_FRAME}/mask")
    reverted = client.get(path, params={"overlay": True})

    assert model.status_code == corrected.status_code == reverted.status_code == 200
    assert corrected.headers["content-type"] == "image/jpeg"
    assert tinted_share(model) == pytest.approx(0.5, abs=0.05)
    assert tinted_share(corrected) > 0.95
    assert "no-cache" in corrected.headers["cache-control"]
    assert corrected.headers["etag"] != model.headers["etag"]
    assert unchanged.status_code == 304
    assert reverted.content == model.content and reverted.headers["etag"] == model.headers["etag"]


def test_a_read_only_token_cannot_annotate(client: TestClient, film: int, tokens: Tokens) -> None:
    reader = tokens.header(write=False)
    body = png_of(left_p(8, 8, 0.5))
    assert put_mask(client, film, P_FRAME, body, auth=reader).status_code == 403
    assert (
        client.delete(f"/films/{film}/frames/{HYBRID_FRAME}/mask", headers=reader).status_code
        == 403
    )
    for path in (f"/films/{film}/shots/1/label", f"/films/{film}/frames/{P_FRAME}/label"):
        assert client.put(path, json={"label": "P"}, headers=reader).status_code == 403
    assert client.post(f"/films/{film}/shots/1/propagate", headers=reader).status_code == 403
    assert client.delete(f"/films/{film}/shots/1/propagated", headers=reader).status_code == 403
    assert client.get(f"/films/{film}/frames/{P_FRAME}/mask", headers=reader).status_code == 404
    assert client.get(f"/films/{film}/frames/{P_FRAME}/annotations").json()["masks"] == []


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (8-bit grey) with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"GIF89a not a png", "not a PNG"),
        (png_of(np.zeros((8, 8, 3), dtype=np.uint8), "RGB"), "single channel"),
        (png_of(np.zeros((8, 8), dtype=np.uint8), "LA"), "single channel"),
        (png_of(left_p(64, 64, 0.5))[:60], "cannot be read"),
        (_png_header_only(20_000, 10), "pixels a side"),
        (_png_header_only(16_000, 16_000), "at most"),
        (b"", "not a PNG"),
    ],
)
def test_bad_pngs_get_a_clear_422(client: TestClient, film: int, body: bytes, reason: str) -> None:
    answer = put_mask(client, film, P_FRAME, body)
    assert answer.status_code == 422
    assert reason in answer.json()["detail"]


def test_masks_of_frames_that_were_not_sampled_are_404(client: TestClient, film: int) -> None:
    body = png_of(left_p(8, 8, 0.5))
    assert put_mask(client, film, 7, body).status_code == 404
    assert put_mask(client, 999_999, 0, body).status_code == 404


def test_propagation_needs_a_human_mask_in_the_shot(client: TestClient, film: int) -> None:
    refused = client.post(f"/films/{film}/shots/1/propagate")
    assert refused.status_code == 409 and "no human mask" in refused.json()["detail"]
    assert client.post(f"/films/{film}/shots/7/propagate").status_code == 404
