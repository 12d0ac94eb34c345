"""Every query on films; the service above it decides, this only reads and writes rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, not_, or_, select, update
from sqlalchemy.orm import Session

from app.core.domain import RunStatus
from app.core.sql import insert_ignoring_conflicts, nulls_last
from app.films.schemas import FilmQuery
from app.models import Analysis, CollectionFilm, Film

# The film's last analysis failed; its negation holds for a null status too.
_FAILED = func.coalesce(Film.analysis_status, "") == RunStatus.FAILED.value

SUMMARY_COLUMNS = (
    "hybrid_ratio",
    "adjusted_hybrid_ratio",
    "p_time_share",
    "np_time_share",
    "hybrid_time_share",
    "mean_p_fraction",
    "hybrid_shot_count",
)
# The summary's ``hybrid_ratio_range`` [low, high], cached as two columns.
RANGE_COLUMNS = ("hybrid_ratio_low", "hybrid_ratio_high")


def get(session: Session, film_id: int) -> Film | None:
    # populate_existing: bulk UPDATEs earlier in the session may have left a stale copy.
    return session.get(Film, film_id, populate_existing=True)


def get_id_by_sha256(session: Session, sha256: str) -> int | None:
    return session.scalar(select(Film.id).where(Film.sha256 == sha256))


def exists_by_id(session: Session, film_id: int) -> bool:
    return session.scalar(select(exists().where(Film.id == film_id))) or False


def existing_ids(session: Session, film_ids: list[int]) -> set[int]:
    if not film_ids:
        return set()
    return set(session.scalars(select(Film.id).where(Film.id.in_(film_ids))))


def insert_if_new(session: Session, values: Mapping[str, Any]) -> None:
    insert_ignoring_conflicts(session, Film.__table__, [values], ["sha256"])  # type: ignore[arg-type]


def update_values(session: Session, film_id: int, values: Mapping[str, Any]) -> None:
    session.execute(update(Film).where(Film.id == film_id).values(**values))


def delete_by_id(session: Session, film_id: int) -> str | None:
    """Delete the film (the database cascades to its results); return its stored path."""
    stored_path = session.scalar(delete(Film).where(Film.id == film_id).returning(Film.stored_path))
    return stored_path


def set_summary(
    session: Session,
    film_id: int,
    analysis_id: int,
    summary: Mapping[str, Any],
    *,
    status: str,
    note: str | None,
) -> None:
    values = {column: summary.get(column) for column in SUMMARY_COLUMNS}
    span = summary.get("hybrid_ratio_range")
    values.update(zip(RANGE_COLUMNS, span if span else (None, None), strict=True))
    session.execute(
        update(Film)
        .where(Film.id == film_id)
        .values(last_analysis_id=analysis_id, analysis_status=status, analysis_note=note, **values)
    )


def set_failed(session: Session, film_id: int, analysis_id: int, note: str | None) -> None:
    """Make the failed ``analysis_id`` the film's last analysis (no figures, the reason as
    the note), unless the film has an analysis that succeeded: its figures stand (or, when a
    re-run of the same analysis cleared them, the film's results fall back to it)."""
    succeeded = exists().where(
        Analysis.film_id == film_id,
        Analysis.id != analysis_id,
        Analysis.status.in_([RunStatus.DONE, RunStatus.PARTIAL]),
    )
    session.execute(
        update(Film)
        .where(
            Film.id == film_id,
            or_(Film.last_analysis_id.is_(None), _FAILED),
            not_(succeeded),
        )
        .values(
            last_analysis_id=analysis_id,
            analysis_status=RunStatus.FAILED.value,
            analysis_note=note,
            **dict.fromkeys(SUMMARY_COLUMNS + RANGE_COLUMNS),
        )
    )


def clear_failure_of_film(session: Session, film_id: int) -> None:
    """Forget the film's failed last analysis (another analysis of it starts). Its figures
    are null already (``set_failed``)."""
    session.execute(
        update(Film)
        .where(Film.id == film_id, _FAILED)
        .values(last_analysis_id=None, analysis_status=None, analysis_note=None)
    )


def clear_summary_of(session: Session, analysis_id: int) -> None:
    """Forget the cached figures of films whose figures came from ``analysis_id``."""
    values: dict[str, Any] = dict.fromkeys(SUMMARY_COLUMNS + RANGE_COLUMNS)
    session.execute(
        update(Film)
        .where(Film.last_analysis_id == analysis_id)
        .values(last_analysis_id=None, analysis_status=None, analysis_note=None, **values)
    )


def _conditions(query: FilmQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    ranges: tuple[tuple[Any, Any, Any], ...] = (
        (Film.hybrid_ratio, query.min_hybrid_ratio, query.max_hybrid_ratio),
        (
            Film.adjusted_hybrid_ratio,
            query.min_adjusted_hybrid_ratio,
            query.max_adjusted_hybrid_ratio,
        ),
        (Film.p_time_share, query.min_p_time_share, query.max_p_time_share),
        (Film.np_time_share, query.min_np_time_share, query.max_np_time_share),
        (Film.hybrid_shot_count, query.min_hybrid_shots, query.max_hybrid_shots),
        (Film.year, query.min_year, query.max_year),
    )
    for column, low, high in ranges:
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column <= high)
    if query.collection_ids is not None:
        conditions.append(
            exists().where(
                CollectionFilm.film_id == Film.id,
                CollectionFilm.collection_id.in_(query.collection_ids),
            )
        )
    if query.analyzed is not None:
        # Analysed: an analysis that succeeded, figures or not (a film with no analysable
        # frames); a film whose last analysis failed is not analysed.
        not_analysed = or_(Film.last_analysis_id.is_(None), _FAILED)
        conditions.append(not_(not_analysed) if query.analyzed else not_analysed)
    if query.search:
        # Escape LIKE wildcards so a user's "%" or "_" matches itself.
        needle = query.search.lower().replace("\\", "\\\\").replace("%", "\\%")
        needle = needle.replace("_", "\\_")
        pattern = f"%{needle}%"
        conditions.append(
            or_(
                func.lower(Film.title).like(pattern, escape="\\"),
                func.lower(Film.original_filename).like(pattern, escape="\\"),
            )
        )
    return conditions


def query(session: Session, query: FilmQuery) -> tuple[list[Film], int]:
    conditions = _conditions(query)
    total = session.scalar(select(func.count()).select_from(Film).where(*conditions)) or 0
    descending = query.sort.startswith("-")
    column = getattr(Film, query.sort.removeprefix("-"))
    # id breaks ties so pages never overlap or skip rows between requests.
    order = [nulls_last(column, descending), Film.id.desc() if descending else Film.id.asc()]
    rows = session.scalars(
        select(Film).where(*conditions).order_by(*order).limit(query.limit).offset(query.offset)
    ).all()
    return list(rows), total
