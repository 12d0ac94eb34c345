"""Every query on analyses, shots and frames."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.analysis.schemas import FrameQuery
from app.core.domain import RunStatus
from app.core.sql import insert_ignoring_conflicts
from app.models import Analysis, Element, Frame, FrameEmbedding, Job, Scene, Shot

ANALYSIS_KEY = ("film_id", "classifier_version", "segmenter_version", "settings_hash")

# Frame columns a listing reads: everything but the mask bytes, plus whether there are any.
FRAME_LIST_COLUMNS = (
    Frame.frame_index,
    Frame.time_s,
    Frame.shot_index,
    Frame.frame_class,
    Frame.p_fraction,
    Frame.confidence,
    Frame.weight_s,
    Frame.np_grid,
    Frame.mask_png.is_not(None).label("has_mask"),
)


def get(session: Session, analysis_id: int) -> Analysis | None:
    return session.get(Analysis, analysis_id, populate_existing=True)


def get_id_by_key(
    session: Session,
    film_id: int,
    classifier_version: str,
    segmenter_version: str,
    settings_hash: str,
) -> int | None:
    return session.scalar(
        select(Analysis.id).where(
            Analysis.film_id == film_id,
            Analysis.classifier_version == classifier_version,
            Analysis.segmenter_version == segmenter_version,
            Analysis.settings_hash == settings_hash,
        )
    )


def insert_if_new(session: Session, values: Mapping[str, Any]) -> None:
    insert_ignoring_conflicts(session, Analysis.__table__, [values], ANALYSIS_KEY)  # type: ignore[arg-type]


def film_id_of(session: Session, analysis_id: int) -> int | None:
    return session.scalar(select(Analysis.film_id).where(Analysis.id == analysis_id))


def status_of(session: Session, analysis_id: int) -> RunStatus | None:
    return session.scalar(select(Analysis.status).where(Analysis.id == analysis_id))


def delete_results(session: Session, analysis_id: int) -> None:
    # Elements are cut from the frames' masks: a re-run's frames need them extracted afresh.
    session.execute(delete(Element).where(Element.analysis_id == analysis_id))
    session.execute(delete(FrameEmbedding).where(FrameEmbedding.analysis_id == analysis_id))
    session.execute(delete(Scene).where(Scene.analysis_id == analysis_id))
    session.execute(delete(Frame).where(Frame.analysis_id == analysis_id))
    session.execute(delete(Shot).where(Shot.analysis_id == analysis_id))


def update_values(
    session: Session,
    analysis_id: int,
    values: Mapping[str, Any],
    *,
    only_if_status_in: Sequence[RunStatus] | None = None,
) -> int:
    """Update one analysis; returns how many rows changed (0 if absent or filtered out)."""
    conditions: list[ColumnElement[bool]] = [Analysis.id == analysis_id]
    if only_if_status_in is not None:
        conditions.append(Analysis.status.in_(only_if_status_in))
    result = session.execute(
        update(Analysis)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def update_jobs_of(
    session: Session,
    analysis_id: int,
    values: Mapping[str, Any],
    from_statuses: Sequence[RunStatus],
) -> None:
    # Only the analysis's own jobs: a propagation linked to it ends on its own.
    session.execute(
        update(Job)
        .where(
            Job.analysis_id == analysis_id,
            Job.status.in_(from_statuses),
            Job.kind == "analysis",
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def insert_shots(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Shot), rows)


def insert_frames(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Frame), rows)


def list_for_film(session: Session, film_id: int) -> list[Analysis]:
    return list(
        session.scalars(
            select(Analysis).where(Analysis.film_id == film_id).order_by(Analysis.id)
        ).all()
    )


def latest_id_for_film(session: Session, film_id: int) -> int | None:
    """The most recently finished analysis with results, else the most recent one."""
    with_results = session.scalar(
        select(Analysis.id)
        .where(
            Analysis.film_id == film_id,
            Analysis.status.in_((RunStatus.DONE, RunStatus.PARTIAL)),
        )
        .order_by(Analysis.finished_at.desc(), Analysis.id.desc())
        .limit(1)
    )
    if with_results is not None:
        return with_results
    return session.scalar(
        select(Analysis.id).where(Analysis.film_id == film_id).order_by(Analysis.id.desc()).limit(1)
    )


def list_shots(session: Session, analysis_id: int) -> list[Shot]:
    return list(
        session.scalars(
            select(Shot).where(Shot.analysis_id == analysis_id).order_by(Shot.shot_index)
        ).all()
    )


def _frame_conditions(analysis_id: int, query: FrameQuery | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Frame.analysis_id == analysis_id]
    if query is None:
        return conditions
    if query.frame_class is not None:
        conditions.append(Frame.frame_class == query.frame_class)
    if query.min_time_s is not None:
        conditions.append(Frame.time_s >= query.min_time_s)
    if query.max_time_s is not None:
        conditions.append(Frame.time_s <= query.max_time_s)
    if query.min_p_fraction is not None:
        conditions.append(Frame.p_fraction >= query.min_p_fraction)
    if query.max_p_fraction is not None:
        conditions.append(Frame.p_fraction <= query.max_p_fraction)
    if query.shot_index is not None:
        conditions.append(Frame.shot_index == query.shot_index)
    return conditions


def list_frames(
    session: Session, analysis_id: int, query: FrameQuery | None
) -> tuple[Sequence[Any], int]:
    """Frames in the query's order with the total matching; ``query`` None means all of them,
    in time order."""
    conditions = _frame_conditions(analysis_id, query)
    order: list[Any] = [Frame.time_s, Frame.frame_index]
    if query is not None and query.sort == "confidence":
        # Frames without a confidence (none stored) sort last on both databases.
        order = [Frame.confidence.is_(None), Frame.confidence.asc(), *order]
    statement = select(*FRAME_LIST_COLUMNS).where(*conditions).order_by(*order)
    if query is None:
        rows = session.execute(statement).all()
        return rows, len(rows)
    total = session.scalar(select(func.count()).select_from(Frame).where(*conditions)) or 0
    rows = session.execute(statement.limit(query.limit).offset(query.offset)).all()
    return rows, total


def frame_mask(session: Session, analysis_id: int, frame_index: int) -> tuple[bool, bytes | None]:
    """(whether the frame exists, its mask bytes or None)."""
    row = session.execute(
        select(Frame.mask_png).where(
            Frame.analysis_id == analysis_id, Frame.frame_index == frame_index
        )
    ).first()
    if row is None:
        return False, None
    return True, row[0]


def frame_time(session: Session, analysis_id: int, frame_index: int) -> float | None:
    """The presentation time of a stored frame, or None when there is no such frame."""
    return session.scalar(
        select(Frame.time_s).where(
            Frame.analysis_id == analysis_id, Frame.frame_index == frame_index
        )
    )
