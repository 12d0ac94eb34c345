"""Every query on batches and jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from app.core.domain import RunStatus
from app.models import Analysis, Batch, CollectionFilm, Film, Job


def insert_batch(session: Session, values: Mapping[str, Any]) -> int:
    batch_id = session.scalar(insert(Batch).values(**values).returning(Batch.id))
    assert batch_id is not None
    return batch_id


def insert_jobs(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    result = session.scalars(insert(Job).returning(Job.id, sort_by_parameter_order=True), rows)
    return list(result)


def get_batch(session: Session, batch_id: int) -> Batch | None:
    return session.get(Batch, batch_id, populate_existing=True)


def list_batches(
    session: Session, collection_id: int | None, limit: int, offset: int
) -> list[Batch]:
    statement = select(Batch).order_by(Batch.id.desc()).limit(limit).offset(offset)
    if collection_id is not None:
        statement = statement.where(Batch.collection_id == collection_id)
    return list(session.scalars(statement).all())


def film_ids_of_collection(session: Session, collection_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CollectionFilm.film_id)
            .where(CollectionFilm.collection_id == collection_id)
            .order_by(CollectionFilm.film_id)
        ).all()
    )


def counts_by_batch(session: Session, batch_ids: Sequence[int]) -> dict[int, dict[RunStatus, int]]:
    counts: dict[int, dict[RunStatus, int]] = {batch_id: {} for batch_id in batch_ids}
    if not batch_ids:
        return counts
    rows = session.execute(
        select(Job.batch_id, Job.status, func.count())
        .where(Job.batch_id.in_(batch_ids))
        .group_by(Job.batch_id, Job.status)
    ).all()
    for batch_id, status, count in rows:
        if batch_id is not None:
            counts[batch_id][RunStatus(status)] = count
    return counts


_JOB_VIEW_COLUMNS = (
    Job.id,
    Job.batch_id,
    Job.film_id,
    Film.title.label("film_title"),
    Film.original_filename.label("film_filename"),
    Job.analysis_id,
    Job.kind,
    Job.status,
    # A propagation is linked to the analysis it works on, but its stage and progress are
    # its own.
    case((Job.kind == "analysis", Analysis.stage), else_=Job.stage).label("stage"),
    case(
        (Job.kind == "analysis", func.coalesce(Analysis.progress, 0.0)),
        else_=func.coalesce(Job.progress, 0.0),
    ).label("progress"),
    case((Job.kind == "analysis", func.coalesce(Job.error, Analysis.error)), else_=Job.error).label(
        "error"
    ),
    Job.attempts,
    Job.task_id,
    Job.created_at,
    Job.started_at,
    Job.finished_at,
)


def job_views(
    session: Session,
    *,
    batch_id: int | None = None,
    job_id: int | None = None,
    film_id: int | None = None,
    statuses: Sequence[RunStatus] | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Any]:
    statement = (
        select(*_JOB_VIEW_COLUMNS)
        .join(Film, Film.id == Job.film_id)
        .outerjoin(Analysis, Analysis.id == Job.analysis_id)
        .order_by(Job.id.desc() if newest_first else Job.id)
        .offset(offset)
        .limit(limit)
    )
    if batch_id is not None:
        statement = statement.where(Job.batch_id == batch_id)
    if job_id is not None:
        statement = statement.where(Job.id == job_id)
    if film_id is not None:
        statement = statement.where(Job.film_id == film_id)
    if statuses is not None:
        statement = statement.where(Job.status.in_(statuses))
    return session.execute(statement).all()


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id, populate_existing=True)


def link_analysis(session: Session, job_id: int, analysis_id: int) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(analysis_id=analysis_id)
        .execution_options(synchronize_session=False)
    )


def update_job_if(
    session: Session, job_id: int, values: Mapping[str, Any], *conditions: Any
) -> bool:
    """Update one job when every condition holds; whether it did (the conditions make a
    compare-and-set: of two workers racing for a lease, one wins)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, *conditions)
        .values(**values)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


def touch_lease(session: Session, analysis_id: int, owner: str, now: datetime) -> bool:
    result = session.execute(
        update(Job)
        .where(Job.analysis_id == analysis_id, Job.lease_owner == owner)
        .values(heartbeat_at=now)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


def expired_leases(session: Session, now: datetime) -> Sequence[Any]:
    """Running jobs whose stage lease ran out: (id, analysis_id, attempts, stage)."""
    return session.execute(
        select(Job.id, Job.analysis_id, Job.attempts, Job.stage)
        .where(Job.status == RunStatus.RUNNING, Job.lease_expires_at < now)
        .order_by(Job.id)
    ).all()


def update_jobs(
    session: Session,
    values: Mapping[str, Any],
    *,
    job_ids: Sequence[int] | None = None,
    batch_id: int | None = None,
    statuses: Sequence[RunStatus] | None = None,
) -> list[tuple[int, int | None, str | None]]:
    """Update matching jobs; returns (job id, analysis id, task id) of each one changed."""
    statement = update(Job).values(**values)
    if job_ids is not None:
        statement = statement.where(Job.id.in_(job_ids))
    if batch_id is not None:
        statement = statement.where(Job.batch_id == batch_id)
    if statuses is not None:
        statement = statement.where(Job.status.in_(statuses))
    result = session.execute(
        statement.returning(Job.id, Job.analysis_id, Job.task_id).execution_options(
            synchronize_session=False
        )
    )
    return [(row[0], row[1], row[2]) for row in result.all()]


def update_analyses(
    session: Session,
    analysis_ids: Sequence[int],
    values: Mapping[str, Any],
    statuses: Sequence[RunStatus],
) -> None:
    if analysis_ids:
        session.execute(
            update(Analysis)
            .where(Analysis.id.in_(analysis_ids), Analysis.status.in_(statuses))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def update_batch(session: Session, batch_id: int, values: Mapping[str, Any]) -> None:
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def active_job_ids(session: Session) -> list[int]:
    """Jobs queued or running, oldest first: what an in-process runner picks up on start."""
    return list(
        session.scalars(
            select(Job.id)
            .where(Job.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)))
            .order_by(Job.id)
        ).all()
    )
