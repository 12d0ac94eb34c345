"""Propagation of human masks through a shot: on a generated moving composite it beats
copying the annotation, and as a job it stores every other frame's propagated mask."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app.analysis import service as analysis_service
from app.analysis.schemas import ShotRecord
from app.annotations import service as annotations_service
from app.core.config import ModelSettings, Settings
from app.core.db import session_scope
from app.core.domain import RunStatus
from app.jobs import service as jobs_service
from app.pipeline.masks import decode_mask
from tests.app.conftest import _pg_database, _sqlite_template, db_url  # noqa: F401
from tests.app.factories import register_all_p_film
from tests.media import make_lossless_video
from workers.ml import propagation
from workers.ml.inference import Segmenter
from workers.stages import propagate as propagate_stage

WIDTH, HEIGHT, SECONDS = 320, 240, 6


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter.load(ModelSettings(device="cpu", cpu_threads=1))


def moving_composite() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A textured "photograph" panning left, with a flat drawn figure (a cartoon disc with
    an outline) moving right across it: the frames and their true P masks."""
    rng = np.random.default_rng(7)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (HEIGHT, WIDTH * 2, 3), np.uint8), (0, 0), 3)
    ramp = np.linspace(40, 200, WIDTH * 2, dtype=np.float32)[None, :, None]
    background = np.clip(0.6 * texture + 0.4 * ramp, 0, 255).astype(np.uint8)
    frames, truth = [], []
    for second in range(SECONDS):
        frame = background[:, second * 24 : second * 24 + WIDTH].copy()
        centre = (60 + 40 * second, 120)
        drawn = np.zeros((HEIGHT, WIDTH), np.uint8)
        cv2.circle(drawn, centre, 50, 255, -1)
        cv2.circle(frame, centre, 50, (250, 210, 40), -1)
        cv2.circle(frame, centre, 50, (10, 10, 10), 4)
        cv2.circle(frame, (centre[0] - 15, centre[1] - 10), 8, (10, 10, 10), -1)
        frames.append(frame)
        truth.append(drawn == 0)
    return frames, truth


def iou_of(p_map: np.ndarray, truth: np.ndarray) -> float:
    predicted = p_map >= 0.5
    scores = [
        np.logical_and(predicted == v, truth == v).sum()
        / max(np.logical_or(predicted == v, truth == v).sum(), 1)
        for v in (False, True)
    ]
    return float(np.mean(scores))


def test_propagation_beats_copying_on_a_moving_composite(segmenter: Segmenter) -> None:
    frames, truth = moving_composite()
    annotated = {0: truth[0]}
    propagated = propagation.propagate(frames, annotated, segmenter)
    copied = propagation.copy_nearest(frames, annotated)
    later = range(1, SECONDS)
    propagated_iou = np.mean([iou_of(propagated[i], truth[i]) for i in later])
    copied_iou = np.mean([iou_of(copied[i], truth[i]) for i in later])
    assert propagated_iou > copied_iou + 0.1, (propagated_iou, copied_iou)
    assert propagated_iou > 0.8
    assert np.array_equal(propagated[0] >= 0.5, truth[0])  # the annotation is kept


def test_a_letterboxed_shot_propagates_inside_its_bars(segmenter: Segmenter) -> None:
    frames, truth = moving_composite()
    barred = [np.pad(frame, ((30, 30), (0, 0), (0, 0))) for frame in frames]
    drawn_over_bars = np.pad(truth[0], ((30, 30), (0, 0)), constant_values=True)
    plain = propagation.propagate(frames[:3], {0: truth[0]}, segmenter)
    # The shot ends in a fade to black, which has no picture of its own to say.
    fade = np.zeros_like(barred[0])
    boxed = propagation.propagate([*barred[:3], fade], {0: drawn_over_bars}, segmenter)
    assert boxed[3].shape == (HEIGHT + 60, WIDTH)
    for inside, alone in zip(boxed[:3], plain, strict=True):
        assert inside.shape == (HEIGHT + 60, WIDTH)
        assert np.allclose(inside[30:-30], alone, atol=1e-5)
        assert np.allclose(inside[:30], alone[0], atol=1e-5)  # the bar takes the edge


def test_propagation_needs_an_annotated_frame(segmenter: Segmenter) -> None:
    frames, _ = moving_composite()
    with pytest.raises(ValueError, match="at least one annotated frame"):
        propagation.propagate(frames, {}, segmenter)


def test_a_propagation_job_stores_the_other_frames_masks(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    segmenter: Segmenter,
) -> None:
    frames, truth = moving_composite()
    path = make_lossless_video(frames, tmp_path / "composite.mkv")
    settings = Settings(database_url=db_url, data_dir=tmp_path / "data")
    with session_scope(db_url) as session:
        film_id, analysis_id = register_all_p_film(
            session,
            path,
            size=(WIDTH, HEIGHT),
            seconds=SECONDS,
            shots=[ShotRecord(0, 0, SECONDS - 1, 0.0, float(SECONDS), "hybrid", 1.0)],
            settings={"pipeline": {"working_size": 320}},
        )
        mask = Image.fromarray(np.where(truth[0], 255, 0).astype(np.uint8))
        buffer = Path(tmp_path / "mask.png")
        mask.save(buffer)
        annotations_service.put_mask(session, film_id, 0, buffer.read_bytes(), author="tester")
        job_id = annotations_service.start_propagation(session, film_id, 1)

    status = propagate_stage.run_job(settings, job_id, segmenter=segmenter)

    assert status is RunStatus.DONE
    with session_scope(db_url) as session:
        job = jobs_service.get_job(session, job_id)
        assert (job.status, job.kind, job.progress) == (RunStatus.DONE, "propagate", 1.0)
        scores = []
        for index in range(1, SECONDS):
            served = annotations_service.get_mask(session, film_id, index)
            assert served.source == "propagated"
            scores.append(iou_of(decode_mask(served.png).astype(np.float32), truth[index]))
        assert np.mean(scores) > 0.8
        stats = analysis_service.film_figures(session, analysis_id)
        assert stats is not None and stats.summary["hybrid_ratio"] == pytest.approx(1.0)
    # Run again: the job is finished, nothing more happens.
    assert propagate_stage.run_job(settings, job_id, segmenter=segmenter) is None
