"""Factories for element tests: an analysed film whose hybrid frames show known drawn
figures (masks and thumbnails stored as the pipeline stores them), and stored clusters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.analysis import thumbnails
from app.analysis.schemas import FrameRecord
from app.core.domain import FrameClass, RunStatus
from app.elements import repository as elements_repository
from app.elements import service as elements_service
from app.elements.clustering import cluster_elements
from app.elements.schemas import ElementRunCreate
from app.pipeline.masks import encode_mask
from tests.app.factories import make_analysis, make_film, summary
from tests.figures import paste, photo_background


@dataclass(frozen=True)
class FigureFilm:
    film_id: int
    analysis_id: int
    # Per sampled frame: the figures shown, in the order pasted.
    shown: dict[int, list[str]]


def make_figure_film(
    session: Session,
    data_dir: Path,
    *,
    shots: list[list[str]],
    frames_per_shot: int = 3,
    seed: int = 0,
) -> FigureFilm:
    """One hybrid shot per entry of ``shots``, each showing those figures moving right over a
    photographic background; masks and thumbnails stored like an analysis stores them."""
    film_id = make_film(session, duration_s=float(len(shots) * frames_per_shot))
    analysis_id = analysis_service.start_analysis(
        session, film_id, "classifier-1", "segmenter-1", {"seed": seed, "shots": shots}
    )
    rng = np.random.default_rng(seed)
    records, pictures, shown = [], [], {}
    frame_index = 0
    for shot_index, figures in enumerate(shots):
        background = photo_background(seed * 100 + shot_index)
        starts = [
            (20 + 100 * k + rng.uniform(0, 20), 30 + 90 * (k % 2)) for k in range(len(figures))
        ]
        for step in range(frames_per_shot):
            pasted = paste(
                background,
                [
                    (name, x + 12 * step, y + 4 * step, 64 + 4 * step)
                    for name, (x, y) in zip(figures, starts, strict=True)
                ],
            )
            mask_png = encode_mask(pasted.p_mask, 160)
            records.append(
                FrameRecord(
                    frame_index=frame_index,
                    time_s=frame_index / 25,
                    frame_class=FrameClass.HYBRID,
                    p_fraction=float(pasted.p_mask.mean()),
                    weight_s=1.0,
                    shot_index=shot_index,
                    mask_png=mask_png,
                )
            )
            pictures.append((frame_index, pasted.image, mask_png))
            shown[frame_index] = list(figures)
            frame_index += 25
    analysis_service.save_frames(session, analysis_id, records)
    analysis_service.finish_analysis(session, analysis_id, RunStatus.DONE, summary=summary())
    thumbnails.write_all(data_dir, analysis_id, pictures)
    return FigureFilm(film_id, analysis_id, shown)


def make_clusters(session: Session, collection_id: int, *, clusters: int = 2) -> list[int]:
    """A finished element run of the collection with ``clusters`` clusters of three elements
    each (made-up embeddings and a one-pixel crop), on one film; returns the cluster ids."""
    from app.collections import service as collections_service

    film_id = make_film(session)
    analysis_id = make_analysis(session, film_id=film_id)
    collections_service.add_films(session, collection_id, [film_id])
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:clusters]
    rows = []
    for index in range(clusters * 3):
        vector = centres[index // 3] + 0.05 * rng.normal(size=8).astype(np.float32)
        vector /= np.linalg.norm(vector)
        rows.append(
            {
                "analysis_id": analysis_id,
                "film_id": film_id,
                "frame_index": index * 25,
                "region_index": 0,
                "shot_index": index // 3,
                "time_s": float(index),
                "source": "mask",
                "box": [0.1, 0.1, 0.5, 0.5],
                "area": 0.1,
                "embedding": vector.astype(np.float16).tobytes(),
                "embedding_version": "test-1",
                "crop_jpeg": _tiny_jpeg(),
                "track_id": index,
            }
        )
    elements_repository.insert_elements(session, rows)
    run_id = elements_service.start_run(session, collection_id, ElementRunCreate(refine=False))
    elements_service.claim_run(session, run_id)
    stored = elements_repository.elements_of_analyses(session, [analysis_id], "test-1")
    vectors = np.stack([np.frombuffer(row.embedding, np.float16) for row in stored])
    clustering = cluster_elements(
        vectors.astype(np.float32),
        [row.track_id for row in stored],
        moments=[(row.analysis_id, row.frame_index) for row in stored],
    )
    ids = elements_service.save_clusters(
        session, collection_id, run_id, [row.id for row in stored], clustering
    )
    elements_service.finish_run(session, run_id, summary={}, head=None, embedding_version="test-1")
    return ids


def _tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()
