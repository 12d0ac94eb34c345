"""Element runs: one active run per collection, and a run whose worker died does not block
the next one for ever."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.collections import service as collections_service
from app.collections.schemas import CollectionCreate
from app.core.domain import RunStatus
from app.elements import repository
from app.elements import service as elements_service
from app.elements.schemas import ElementRunCreate
from app.models import ElementRun
from app.models.base import utcnow
from tests.app.factories import make_analysis, make_film


def _collection(session: Session) -> int:
    return collections_service.create_collection(session, CollectionCreate(name="runs")).id


def test_second_run_is_refused_while_the_first_is_active(session: Session) -> None:
    collection_id = _collection(session)
    first = elements_service.start_run(session, collection_id, ElementRunCreate())
    elements_service.claim_run(session, first)

    with pytest.raises(elements_service.ElementRunActive):
        elements_service.start_run(session, collection_id, ElementRunCreate())


def test_run_silent_for_an_hour_is_failed_when_a_new_one_starts(session: Session) -> None:
    collection_id = _collection(session)
    first = elements_service.start_run(session, collection_id, ElementRunCreate())
    elements_service.claim_run(session, first)
    long_ago = utcnow() - timedelta(hours=2)
    session.execute(
        update(ElementRun)
        .where(ElementRun.id == first)
        .values(started_at=long_ago, heartbeat_at=long_ago)
    )

    second = elements_service.start_run(session, collection_id, ElementRunCreate())

    old = elements_service.get_run(session, first)
    assert old.status is RunStatus.FAILED and "abandoned" in (old.error or "")
    assert elements_service.get_run(session, second).status is RunStatus.QUEUED
    # The dead run's worker, should it come back, may no longer report progress.
    assert not elements_service.update_progress(session, first, "extract", 0.5)


def test_reanalysis_drops_the_elements_of_the_previous_run(session: Session) -> None:
    from sqlalchemy import func, select

    from app.analysis import service as analysis_service
    from app.elements import repository as elements_repository
    from app.models import Element, Film
    from tests.elements_factories import make_clusters

    collection_id = _collection(session)
    make_clusters(session, collection_id)
    analysis_id = session.scalar(select(Film.last_analysis_id))
    assert len(elements_repository.elements_of_analysis(session, analysis_id)) == 6

    # The same film re-analysed with the same models and settings: the same analysis row,
    # new frames; elements of the old frames must not be taken for the new run's.
    analysis_service.clear_results(session, analysis_id)
    session.commit()

    assert session.scalar(select(func.count()).select_from(Element)) == 0


def test_merging_clusters_whose_film_was_deleted_is_a_conflict(session: Session) -> None:
    from sqlalchemy import select

    from app.core.errors import ConflictError
    from app.elements import service as elements_service
    from app.films import service as films_service
    from app.models import Film
    from tests.elements_factories import make_clusters

    collection_id = _collection(session)
    first, second = make_clusters(session, collection_id)
    film_id = session.scalar(select(Film.id))
    assert film_id is not None
    films_service.delete_film(session, film_id)

    # Every member went with the film: nothing is left to merge (not a crash).
    with pytest.raises(ConflictError):
        elements_service.merge_clusters(session, collection_id, first, [second])


def test_run_queued_for_an_hour_and_never_started_does_not_block_the_next(
    session: Session,
) -> None:
    # Its message was lost (an in-process runner restarted before it ran it, a flushed
    # queue): nothing will ever claim it, and there is no other way to clear it.
    collection_id = _collection(session)
    first = elements_service.start_run(session, collection_id, ElementRunCreate())
    session.execute(
        update(ElementRun)
        .where(ElementRun.id == first)
        .values(created_at=utcnow() - timedelta(hours=2))
    )

    second = elements_service.start_run(session, collection_id, ElementRunCreate())

    assert elements_service.get_run(session, first).status is RunStatus.FAILED
    assert elements_service.get_run(session, second).status is RunStatus.QUEUED


def test_films_whose_analysis_failed_have_nothing_to_extract(session: Session) -> None:
    collection_id = _collection(session)
    analysed, failed = make_film(session), make_film(session)
    analysis_id = make_analysis(session, film_id=analysed)
    broken = analysis_service.start_analysis(session, failed, "c", "s", {})
    analysis_service.finish_analysis(session, broken, RunStatus.FAILED, error="not a video")
    collections_service.add_films(session, collection_id, [analysed, failed])
    session.commit()

    assert repository.collection_analyses(session, collection_id) == [(analysed, analysis_id)]


def test_run_options_are_strict_json_types() -> None:
    with pytest.raises(ValidationError):
        ElementRunCreate.model_validate({"refine": "yes"})
    with pytest.raises(ValidationError):
        ElementRunCreate.model_validate({"seed": "3"})
    assert ElementRunCreate.model_validate({"refine": False, "seed": 3}).refine is False
