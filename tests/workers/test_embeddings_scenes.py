"""The ``embed`` and ``scenes`` stages through ``analyze_path``, on SQLite and PostgreSQL:
what is stored, that re-analysis replaces it, that look-alike search and scenes make sense
on generated films."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, update

from app.core.config import PipelineSettings, Settings, ShotSettings
from app.core.db import session_scope
from app.embeddings import service as embeddings_service
from app.models import FrameEmbedding
from app.scenes import service as scenes_service
from tests.app.conftest import _pg_database, _sqlite_template, db_url  # noqa: F401
from tests.media import GeneratedVideo, Segment, make_video
from workers.orchestrator import analyze_path

ZOOM = "scale=160:120,setsar=1"


@pytest.fixture
def settings(db_url: str) -> Settings:  # noqa: F811
    # The fast cut detector: these films have hard cuts only.
    return Settings(
        database_url=db_url, pipeline=PipelineSettings(shots=ShotSettings(detector="adaptive"))
    )


@pytest.fixture(scope="module")
def two_scene_film(tmp_path_factory: pytest.TempPathFactory) -> GeneratedVideo:
    """Scene 1: three shots of testsrc2 (two zoomed-in crops); scene 2, from frame 90: three
    shots of the Mandelbrot set (two crops). 30 frames a shot, hard cuts."""
    return make_video(
        tmp_path_factory.mktemp("media") / "two_scenes.mkv",
        segments=[
            Segment(source="testsrc2", frames=30, extra=f"crop=80:60:0:0,{ZOOM}"),
            Segment(source="testsrc2", frames=30, extra=f"crop=100:75:60:45,{ZOOM}"),
            Segment(source="testsrc2", frames=30),
            Segment(source="mandelbrot", frames=30, extra=f"crop=100:75:0:0,{ZOOM}"),
            Segment(source="mandelbrot", frames=30),
            Segment(source="mandelbrot", frames=30, extra=f"crop=120:90:40:30,{ZOOM}"),
        ],
    )


def _embedding_rows(settings: Settings, analysis_id: int) -> list[tuple[int, int]]:
    with session_scope(settings.sqlalchemy_url) as session:
        return [
            (row.id, row.frame_index)
            for row in session.execute(
                select(FrameEmbedding.id, FrameEmbedding.frame_index).where(
                    FrameEmbedding.analysis_id == analysis_id
                )
            )
        ]


def test_embed_stores_one_vector_per_sampled_frame_and_reanalysis_replaces_them(
    settings: Settings, two_scene_film: GeneratedVideo
) -> None:
    first = analyze_path(two_scene_film.path, settings)
    rows = _embedding_rows(settings, first.analysis_id)
    assert first.summary is not None
    assert len(rows) == first.summary["sampled_frames"] >= 6
    with session_scope(settings.sqlalchemy_url) as session:
        indices, vectors = embeddings_service.film_embeddings(session, first.analysis_id)
    assert sorted(indices) == sorted(index for _, index in rows)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=2e-3)

    # Spoil the stored vectors: re-analysis must write them afresh, not keep or add to them.
    with session_scope(settings.sqlalchemy_url) as session:
        session.execute(update(FrameEmbedding).values(vector=b"\x00\x00" * vectors.shape[1]))

    again = analyze_path(two_scene_film.path, settings)

    assert again.analysis_id == first.analysis_id  # same film, models and settings
    replaced = _embedding_rows(settings, again.analysis_id)
    assert sorted(index for _, index in replaced) == sorted(index for _, index in rows)
    with session_scope(settings.sqlalchemy_url) as session:
        assert session.scalar(select(func.count()).select_from(FrameEmbedding)) == len(rows)
        _, fresh = embeddings_service.film_embeddings(session, again.analysis_id)
    np.testing.assert_allclose(np.linalg.norm(fresh, axis=1), 1.0, atol=2e-3)


def test_similar_frames_puts_the_frames_near_duplicates_first(
    settings: Settings, tmp_path: Path
) -> None:
    # testsrc2, then the Mandelbrot set, then testsrc2 again: its frames are alike.
    film = make_video(
        tmp_path / "abab.mkv",
        segments=[
            Segment(source="testsrc2", frames=50),
            Segment(source="mandelbrot", frames=50),
            Segment(source="testsrc2", frames=50, extra="hflip"),
            Segment(source="mandelbrot", frames=50, extra="hflip"),
        ],
    )
    result = analyze_path(film.path, settings)
    with session_scope(settings.sqlalchemy_url) as session:
        indices, _ = embeddings_service.film_embeddings(session, result.analysis_id)
        query = next(index for index in indices if index < 50)
        hits = embeddings_service.similar_to_frame(session, result.film_id, query, k=3)

    assert len(hits) == 3
    assert all(hit.film_id == result.film_id and hit.frame_index != query for hit in hits)
    testsrc = [index for index in indices if index < 50 or 100 <= index < 150]
    assert [hit.frame_index in testsrc for hit in hits] == [True] * min(3, len(testsrc) - 1)
    assert hits[0].score >= hits[-1].score


def test_two_obvious_scenes_give_one_boundary_where_the_source_changes(
    settings: Settings, two_scene_film: GeneratedVideo
) -> None:
    result = analyze_path(two_scene_film.path, settings)

    with session_scope(settings.sqlalchemy_url) as session:
        scenes = scenes_service.list_scenes(session, result.analysis_id)

    assert [scene.start_frame for scene in scenes] == [0, 90]
    assert scenes[0].end_frame == 89 and scenes[1].end_frame == 179
    assert scenes[1].start_time_s == pytest.approx(90 / 25)
    assert scenes[0].shot_indices[0] == 0 and scenes[1].shot_indices[-1] == 5
