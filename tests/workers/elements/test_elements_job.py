"""The elements job end to end on generated figures: extract, track, refine, cluster."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.analysis import thumbnails
from app.annotations import service as annotations_service
from app.collections import service as collections_service
from app.collections.schemas import CollectionCreate
from app.core.config import ModelSettings, Settings
from app.core.db import session_scope
from app.core.domain import RunStatus
from app.core.pagination import PageParams
from app.elements import repository
from app.elements import service as elements_service
from app.elements.schemas import ElementRunCreate
from app.models import Element, Frame
from tests.app.conftest import _pg_database, _sqlite_template, db_url  # noqa: F401
from tests.app.factories import make_analysis, make_film
from tests.elements_factories import make_figure_film
from tests.figures import photo_background
from workers.elements.job import run_elements
from workers.ml.element_refine import RefineSettings
from workers.ml.embedding import FrameEmbedder


@pytest.fixture(scope="module")
def embedder() -> FrameEmbedder:
    return FrameEmbedder.load(ModelSettings(device="cpu", cpu_threads=1))


def _collection(session: Session, tmp_path: Path) -> tuple[int, list[int]]:
    collection_id = collections_service.create_collection(
        session, CollectionCreate(name="figures")
    ).id
    films = [
        make_figure_film(session, tmp_path, shots=[["star", "face"], ["house"]], seed=1),
        make_figure_film(session, tmp_path, shots=[["face", "house"], ["star"]], seed=2),
    ]
    collections_service.add_films(session, collection_id, [film.film_id for film in films])
    return collection_id, [film.analysis_id for film in films]


def _run_once(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    embedder: FrameEmbedder,
) -> tuple[Settings, int, list[int]]:
    """The two-film collection after one run without refinement: (settings, collection id,
    analysis ids)."""
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_scope(db_url) as session:
        collection_id, analyses = _collection(session, tmp_path)
        first = elements_service.start_run(session, collection_id, ElementRunCreate(refine=False))
    run_elements(settings, first, embedder=embedder)
    return settings, collection_id, analyses


def test_run_gives_one_cluster_per_figure_when_figures_recur_across_films(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    embedder: FrameEmbedder,
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_scope(db_url) as session:
        collection_id, analyses = _collection(session, tmp_path)
        run_id = elements_service.start_run(session, collection_id, ElementRunCreate(seed=3))

    run = run_elements(
        settings, run_id, embedder=embedder, refine_settings=RefineSettings(steps=30)
    )

    assert run is not None and run.status is RunStatus.DONE, run
    assert (
        run.summary is not None and run.summary["elements"] == 18
    )  # (2 + 1) figures x 3 frames x 2 films
    # One track per figure per shot: 2 films x (2 + 1) figures.
    assert run.summary["tracks"] == 6
    # The head also learnt from augmented views of the stored crops.
    assert run.summary["augment_views"] == 2 and "augment_s" in run.summary["timings"]
    with session_scope(db_url) as session:
        clusters = elements_service.list_clusters(session, collection_id)
        # Each cluster holds one figure: the same (film, shot, track) triples never split.
        tracks = []
        for cluster in clusters:
            members = elements_service.cluster_members(
                session, collection_id, cluster.cluster_id, page=PageParams(limit=100)
            )
            tracks.append({(m.film_id, m.shot_index, m.track_id) for m in members.items})
        assert [len(found) for found in tracks] == [2, 2, 2]
        assert sorted(cluster.size for cluster in clusters) == [6, 6, 6]
        assert all(len(cluster.films) == 2 for cluster in clusters)
        for analysis_id in analyses:
            rows = repository.elements_of_analysis(session, analysis_id)
            assert {row.track_id for row in rows} == {0, 1, 2}


def test_second_run_reuses_elements_and_keeps_names(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    embedder: FrameEmbedder,
) -> None:
    settings, collection_id, _ = _run_once(db_url, tmp_path, embedder)
    with session_scope(db_url) as session:
        cluster = elements_service.list_clusters(session, collection_id)[0]
        elements_service.name_cluster(session, collection_id, cluster.cluster_id, "Hero")
        second = elements_service.start_run(session, collection_id, ElementRunCreate(refine=False))

    run = run_elements(settings, second, embedder=embedder)

    assert run is not None and run.summary is not None
    assert (
        run.summary["extracted"] == 0 and run.summary["elements"] == 18
    )  # (2 + 1) figures x 3 frames x 2 films
    with session_scope(db_url) as session:
        named = [c for c in elements_service.list_clusters(session, collection_id) if c.name]
        assert [c.name for c in named] == ["Hero"]
        assert named[0].size == cluster.size


def test_a_correction_sends_its_film_to_be_extracted_again_with_the_corrected_mask(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    embedder: FrameEmbedder,
) -> None:
    """An archivist marks one hybrid frame of the first film all photographic: the next run
    extracts that film again (not the other) and the frame offers no element any more."""
    settings, collection_id, analyses = _run_once(db_url, tmp_path, embedder)
    with session_scope(db_url) as session:
        before = repository.elements_of_analysis(session, analyses[0])
        frame = before[0].frame_index
        film_id = repository.collection_analyses(session, collection_id)[0][0]
        all_p = io.BytesIO()
        Image.new("L", (32, 24), 255).save(all_p, format="PNG")
        annotations_service.put_mask(session, film_id, frame, all_p.getvalue(), author="archivist")
        second = elements_service.start_run(session, collection_id, ElementRunCreate(refine=False))

    run = run_elements(settings, second, embedder=embedder)

    assert run is not None and run.summary is not None
    assert run.summary["extracted"] == 1
    with session_scope(db_url) as session:
        after = repository.elements_of_analysis(session, analyses[0])
    on_frame = sum(row.frame_index == frame for row in before)
    assert on_frame > 0
    assert len(after) == len(before) - on_frame
    assert frame not in {row.frame_index for row in after}
    # The regions found again keep their rows: clusters and names point at element ids.
    kept = {row.id for row in before if row.frame_index != frame}
    assert {row.id for row in after} == kept


def test_elements_stored_before_annotation_marks_are_not_extracted_again(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    embedder: FrameEmbedder,
) -> None:
    """Upgrading to migration 0008 leaves every element's mark NULL: films without
    annotations must not be re-extracted (that would cost the archive a full re-embedding)."""
    settings, collection_id, _ = _run_once(db_url, tmp_path, embedder)
    with session_scope(db_url) as session:
        session.execute(update(Element).values(annotation_mark=None))
        second = elements_service.start_run(session, collection_id, ElementRunCreate(refine=False))

    run = run_elements(settings, second, embedder=embedder)

    assert run is not None and run.summary is not None
    assert run.summary["extracted"] == 0


def test_film_with_a_broken_mask_is_skipped_and_the_run_finishes(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    embedder: FrameEmbedder,
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_scope(db_url) as session:
        collection_id, _ = _collection(session, tmp_path)
        broken = make_film(session)
        analysis_id = make_analysis(session, film_id=broken)
        # factories.make_analysis stores real masks now: break the hybrids' ones.
        session.execute(
            update(Frame)
            .where(Frame.analysis_id == analysis_id, Frame.mask_png.is_not(None))
            .values(mask_png=b"\x89PNG-mask")
        )
        picture = photo_background(5)
        thumbnails.write_all(tmp_path, analysis_id, [(i * 25, picture, None) for i in range(6)])
        collections_service.add_films(session, collection_id, [broken])
        run_id = elements_service.start_run(session, collection_id, ElementRunCreate(refine=False))

    run = run_elements(settings, run_id, embedder=embedder)

    assert run is not None and run.status is RunStatus.DONE, run
    assert run.summary is not None
    assert run.summary["films_skipped"] == [broken] and run.summary["elements"] == 18


def test_run_of_a_deleted_collection_is_not_runnable(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    embedder: FrameEmbedder,
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_scope(db_url) as session:
        collection_id, _ = _collection(session, tmp_path)
        run_id = elements_service.start_run(session, collection_id, ElementRunCreate())
        collections_service.delete_collection(session, collection_id)

    assert run_elements(settings, run_id, embedder=embedder) is None
