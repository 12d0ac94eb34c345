"""Registering, updating, deleting and querying films."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.collections import service as collections_service
from app.collections.schemas import CollectionCreate
from app.core.domain import RunStatus
from app.films import service as films_service
from app.films.schemas import FilmMetadata, FilmMetadataUpdate, FilmQuery
from app.jobs import service as jobs_service
from app.models import Analysis, CollectionFilm, Film, Frame, Job, Shot
from tests.app.factories import DEFAULT_SETTINGS, make_analysis, make_film

SHA = "ab" * 32


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_register_film_returns_existing_film_when_sha256_is_known(session: Session) -> None:
    first = films_service.register_film(
        session,
        "/archive/a.mp4",
        SHA,
        {"duration_s": 10.0},
        FilmMetadata(title="A"),
        size_bytes=10,
    )
    second = films_service.register_film(
        session,
        "/elsewhere/copy.mp4",
        SHA.upper(),
        {"duration_s": 99.0},
        {"title": "B"},
        size_bytes=10,
    )
    session.commit()

    assert first.created and not second.created
    assert first.film_id == second.film_id
    assert _count(session, Film) == 1
    film = films_service.get_film(session, first.film_id)
    assert (film.title, film.stored_path, film.duration_s) == ("A", "/archive/a.mp4", 10.0)


def test_register_film_copies_probe_fields_into_columns(session: Session) -> None:
    probe = {
        "duration": "12.5",
        "frame_rate": 24,
        "width": 640,
        "height": 480,
        "nb_frames": 300,
        "has_audio": True,
        "codec": "h264",
    }
    film_id = films_service.register_film(
        session, "/archive/b.mkv", SHA, probe, None, original_filename="B.mkv", size_bytes=5
    ).film_id
    session.commit()

    film = films_service.get_film_detail(session, film_id)
    assert (film.duration_s, film.fps, film.width, film.height) == (12.5, 24.0, 640, 480)
    assert (film.frame_count, film.has_audio) == (300, True)
    assert film.original_filename == "B.mkv"
    assert film.probe["codec"] == "h264"
    assert film.created_at.tzinfo is not None


def test_register_film_reads_size_from_disk_when_not_given(session: Session, tmp_path) -> None:
    path = tmp_path / "film.bin"
    path.write_bytes(b"x" * 1234)
    film_id = films_service.register_film(session, path, SHA).film_id

    assert films_service.get_film(session, film_id).size_bytes == 1234


def test_update_metadata_changes_only_given_fields(session: Session) -> None:
    film_id = make_film(session, title="Old", year=1950, extra={"archive": "X"})

    film = films_service.update_metadata(session, film_id, FilmMetadataUpdate(year=1951))

    assert (film.title, film.year, film.extra) == ("Old", 1951, {"archive": "X"})


def test_delete_film_removes_its_results_jobs_and_memberships(session: Session) -> None:
    film_id = make_film(session)
    other_id = make_film(session)
    collection = collections_service.create_collection(session, CollectionCreate(name="C"))
    collections_service.add_films(session, collection.id, [film_id, other_id])
    job_id = jobs_service.create_job(session, film_id)
    make_analysis(session, film_id=film_id, job_id=job_id)
    make_analysis(session, film_id=other_id)
    session.commit()

    stored_path = films_service.delete_film(session, film_id)
    session.commit()

    assert stored_path.endswith(".mp4")
    assert _count(session, Film) == 1
    assert _count(session, Analysis) == 1
    assert session.scalar(select(func.count()).select_from(Frame)) == 6
    assert session.scalar(select(func.count()).select_from(Shot)) == 2
    assert _count(session, Job) == 0
    assert session.scalars(select(CollectionFilm.film_id)).all() == [other_id]


def test_delete_film_raises_when_film_is_missing(session: Session) -> None:
    with pytest.raises(films_service.FilmNotFound):
        films_service.delete_film(session, 404)


def _ids(session: Session, **query: object) -> list[int]:
    return [film.id for film in films_service.query_films(session, FilmQuery(**query)).items]


def test_query_films_filters_and_sorts_by_hybrid_ratio(session: Session) -> None:
    low, mid, high = (make_film(session) for _ in range(3))
    unanalysed = make_film(session)
    for film_id, ratio in ((low, 0.1), (mid, 0.4), (high, 0.8)):
        make_analysis(session, film_id=film_id, hybrid_ratio=ratio)
    session.commit()

    assert _ids(session, min_hybrid_ratio=0.2, sort="-hybrid_ratio") == [high, mid]
    assert _ids(session, max_hybrid_ratio=0.4, sort="hybrid_ratio") == [low, mid]
    # Unanalysed films sort last in both directions.
    assert _ids(session, sort="-hybrid_ratio") == [high, mid, low, unanalysed]
    assert _ids(session, sort="hybrid_ratio") == [low, mid, high, unanalysed]
    assert _ids(session, analyzed=False) == [unanalysed]


def test_query_films_paginates_with_total(session: Session) -> None:
    film_ids = [make_film(session) for _ in range(5)]
    session.commit()

    page = films_service.query_films(session, FilmQuery(sort="id", limit=2, offset=2))

    assert page.total == 5
    assert [film.id for film in page.items] == film_ids[2:4]


def test_query_films_filters_by_collection_year_shots_and_search(session: Session) -> None:
    in_collection = make_film(session, title="Gertie the Dinosaur", year=1914)
    outside = make_film(session, title="100% Live_Action", year=1960)
    make_analysis(session, film_id=in_collection, hybrid_ratio=0.5)
    make_analysis(session, film_id=outside, hybrid_ratio=0.5)
    collection = collections_service.create_collection(session, CollectionCreate(name="Early"))
    collections_service.add_films(session, collection.id, [in_collection])
    session.commit()

    assert _ids(session, collection_ids=[collection.id]) == [in_collection]
    assert _ids(session, max_year=1920) == [in_collection]
    assert _ids(session, min_hybrid_shots=2, sort="id") == [in_collection, outside]
    assert _ids(session, min_hybrid_shots=3) == []
    assert _ids(session, search="DINOSAUR") == [in_collection]
    # LIKE wildcards in the search match themselves only.
    assert _ids(session, search="0% live_") == [outside]
    assert _ids(session, search="_") == [outside]


def test_film_query_rejects_unknown_sort_and_inverted_ranges() -> None:
    with pytest.raises(ValidationError):
        FilmQuery(sort="-stored_path")
    with pytest.raises(ValidationError):
        FilmQuery(min_hybrid_ratio=0.5, max_hybrid_ratio=0.1)
    with pytest.raises(ValidationError):
        FilmQuery(limit=0)


def test_film_summary_columns_follow_latest_finished_analysis(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = make_analysis(session, film_id=film_id, hybrid_ratio=0.25)
    session.commit()

    film = films_service.get_film(session, film_id)
    assert (film.hybrid_ratio, film.hybrid_shot_count) == (0.25, 2)
    assert film.last_analysis_id == analysis_id
    assert film.p_time_share == pytest.approx(0.375)

    # Restarting that analysis withdraws figures whose shots and frames are gone.
    analysis_service.start_analysis(
        session, film_id, "vit-proxy-1", "segformer-1", DEFAULT_SETTINGS
    )
    session.commit()
    film = films_service.get_film(session, film_id)
    assert film.hybrid_ratio is None and film.last_analysis_id is None


def _fail(session: Session, film_id: int, reason: str, *, version: str = "vit-proxy-1") -> int:
    analysis_id = analysis_service.start_analysis(
        session, film_id, version, "segformer-1", DEFAULT_SETTINGS
    )
    analysis_service.finish_analysis(session, analysis_id, RunStatus.FAILED, error=reason)
    return analysis_id


def test_a_failed_analysis_shows_on_the_film_with_its_reason(session: Session) -> None:
    film_id = make_film(session)
    analysed = make_film(session)
    make_analysis(session, film_id=analysed)
    analysis_id = _fail(session, film_id, "not a readable media file")
    session.commit()

    film = films_service.get_film(session, film_id)
    assert (film.last_analysis_id, film.analysis_status, film.analysis_note) == (
        analysis_id,
        RunStatus.FAILED,
        "not a readable media file",
    )
    assert film.hybrid_ratio is None
    listed = films_service.query_films(session, FilmQuery(sort="id")).items
    assert [f.analysis_status for f in listed] == [RunStatus.FAILED, RunStatus.DONE]
    # A failed film is not analysed: it has no figures to filter on.
    assert _ids(session, analyzed=True) == [analysed]
    assert _ids(session, analyzed=False) == [film_id]


def test_a_failure_after_a_success_leaves_the_figures_and_a_new_analysis_clears_it(
    session: Session,
) -> None:
    film_id = make_film(session)
    done = make_analysis(session, film_id=film_id, hybrid_ratio=0.25)
    _fail(session, film_id, "out of memory", version="other-model")
    session.commit()

    film = films_service.get_film(session, film_id)
    assert (film.last_analysis_id, film.analysis_status, film.hybrid_ratio) == (
        done,
        RunStatus.DONE,
        0.25,
    )

    bad = make_film(session)
    _fail(session, bad, "first try")
    again = _fail(session, bad, "second try", version="other-model")
    session.commit()
    assert films_service.get_film(session, bad).last_analysis_id == again
    assert films_service.get_film(session, bad).analysis_note == "second try"

    # Analysed again: the failure is history while it runs, figures once it succeeds.
    analysis_service.start_analysis(session, bad, "third", "segformer-1", DEFAULT_SETTINGS)
    session.commit()
    film = films_service.get_film(session, bad)
    assert (film.last_analysis_id, film.analysis_status, film.analysis_note) == (None, None, None)
    succeeded = make_analysis(session, film_id=bad, classifier_version="third", hybrid_ratio=0.5)
    session.commit()
    film = films_service.get_film(session, bad)
    assert (film.last_analysis_id, film.analysis_status, film.hybrid_ratio) == (
        succeeded,
        RunStatus.DONE,
        0.5,
    )


def test_a_failed_rerun_of_the_films_analysis_falls_back_to_one_that_succeeded(
    session: Session,
) -> None:
    film_id = make_film(session)
    older = make_analysis(session, film_id=film_id, classifier_version="old", hybrid_ratio=0.1)
    latest = make_analysis(session, film_id=film_id, hybrid_ratio=0.25)
    # "Re-analyse" with the same models and settings reruns the same analysis; it fails.
    assert _fail(session, film_id, "out of memory") == latest
    session.commit()

    film = films_service.get_film(session, film_id)
    assert film.analysis_status is not RunStatus.FAILED and film.last_analysis_id is None
    assert analysis_service.resolve_analysis_id(session, film_id) == older


def test_failure_reasons_name_the_uploaders_file_not_the_stored_one(
    session: Session, tmp_path
) -> None:
    sha = "cd" * 32
    stored = tmp_path / "media" / sha[:2] / f"{sha}.mp4"
    film_id = films_service.register_film(
        session, stored, sha, None, None, original_filename="text2.mp4", size_bytes=19
    ).film_id
    job_id = jobs_service.create_job(session, film_id)
    analysis_id = analysis_service.start_analysis(
        session, film_id, "c", "s", DEFAULT_SETTINGS, job_id=job_id
    )
    raw = (
        f"not a readable media file (moov atom not found | file:{sha}.mp4: Invalid data found "
        f"when processing input); also file:{stored} and {stored}"
    )
    analysis_service.finish_analysis(session, analysis_id, RunStatus.FAILED, error=raw)
    session.commit()

    expected = (
        "not a readable media file (moov atom not found | text2.mp4: Invalid data found "
        "when processing input); also text2.mp4 and text2.mp4"
    )
    assert analysis_service.get_analysis(session, analysis_id).error == expected
    assert jobs_service.get_job(session, job_id).error == expected
    assert films_service.get_film(session, film_id).analysis_note == expected


def test_name_the_file_leaves_an_archive_files_own_name() -> None:
    text = "file:/archive/reel.mkv: Invalid data; reel.mkv is short"
    assert films_service.name_the_file(text, "/archive/reel.mkv", "reel.mkv") == (
        "reel.mkv: Invalid data; reel.mkv is short"
    )


def test_film_detail_shows_no_server_path_in_its_probe(session: Session) -> None:
    film_id = make_film(session)
    films_service.update_probe(session, film_id, {"path": "/srv/media/ab/abab.mp4", "fps": 25.0})
    session.commit()

    detail = films_service.get_film_detail(session, film_id)

    assert detail.probe == {"fps": 25.0}


def test_update_metadata_is_strict_about_types() -> None:
    with pytest.raises(ValidationError):
        FilmMetadataUpdate.model_validate({"year": "1951"})
    assert FilmMetadataUpdate.model_validate({"year": 1951}).year == 1951
    # The uploader's form fields arrive as text and stay lax.
    assert FilmMetadata.model_validate({"year": "1951"}).year == 1951


def test_name_the_file_replaces_whole_names_only() -> None:
    text = "file:/srv/media/1.mp4: Invalid data; reel1.mp4 and 1.mp4.bak are other files"
    assert films_service.name_the_file(text, "/srv/media/1.mp4", "Intro.mp4") == (
        "Intro.mp4: Invalid data; reel1.mp4 and 1.mp4.bak are other files"
    )
