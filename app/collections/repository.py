"""Every query on collections and their membership."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, func, insert, select
from sqlalchemy.orm import Session

from app.core.domain import FrameClass
from app.core.sql import insert_ignoring_conflicts
from app.models import Analysis, Collection, CollectionFilm, Film, Frame


def get(session: Session, collection_id: int) -> Collection | None:
    return session.get(Collection, collection_id, populate_existing=True)


def get_id_by_name(session: Session, name: str) -> int | None:
    return session.scalar(select(Collection.id).where(Collection.name == name))


def insert_collection(session: Session, values: dict[str, Any]) -> int:
    collection_id = session.scalar(insert(Collection).values(**values).returning(Collection.id))
    assert collection_id is not None
    return collection_id


def delete_collection(session: Session, collection_id: int) -> bool:
    deleted = session.scalar(
        delete(Collection).where(Collection.id == collection_id).returning(Collection.id)
    )
    return deleted is not None


def list_with_counts(session: Session, limit: int, offset: int) -> Sequence[Row[Any]]:
    film_count = (
        select(func.count())
        .where(CollectionFilm.collection_id == Collection.id)
        .correlate(Collection)
        .scalar_subquery()
    )
    return session.execute(
        select(
            Collection.id,
            Collection.name,
            Collection.description,
            Collection.created_at,
            film_count.label("film_count"),
        )
        .order_by(Collection.name, Collection.id)
        .limit(limit)
        .offset(offset)
    ).all()


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Collection)) or 0


def film_count(session: Session, collection_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(CollectionFilm)
            .where(CollectionFilm.collection_id == collection_id)
        )
        or 0
    )


def member_ids(session: Session, collection_id: int, film_ids: Sequence[int]) -> set[int]:
    return set(
        session.scalars(
            select(CollectionFilm.film_id).where(
                CollectionFilm.collection_id == collection_id,
                CollectionFilm.film_id.in_(film_ids),
            )
        )
    )


def add_members(session: Session, rows: list[dict[str, Any]]) -> None:
    insert_ignoring_conflicts(
        session,
        CollectionFilm.__table__,  # type: ignore[arg-type]
        rows,
        ["collection_id", "film_id"],
    )


def remove_members(session: Session, collection_id: int, film_ids: Sequence[int]) -> int:
    result = session.execute(
        delete(CollectionFilm)
        .where(
            CollectionFilm.collection_id == collection_id,
            CollectionFilm.film_id.in_(film_ids),
        )
        .returning(CollectionFilm.film_id)
    )
    return len(result.all())


def stats_row(session: Session, collection_id: int) -> Row[Any]:
    """Totals in one pass over the collection's films (the films columns are cached)."""
    analysed = Film.hybrid_ratio.is_not(None)
    duration = func.coalesce(Film.duration_s, 0.0)
    analysed_duration = func.sum(duration).filter(analysed)
    statement = (
        select(
            func.count(Film.id).label("film_count"),
            func.count(Film.hybrid_ratio).label("analyzed_count"),
            func.count(Film.adjusted_hybrid_ratio).label("adjusted_count"),
            func.coalesce(func.sum(duration), 0.0).label("total_duration_s"),
            func.coalesce(analysed_duration, 0.0).label("analyzed_duration_s"),
            func.coalesce(func.sum(Film.hybrid_time_share * duration), 0.0).label(
                "hybrid_duration_s"
            ),
            func.avg(Film.hybrid_ratio).label("mean_hybrid_ratio"),
            func.sum(Film.hybrid_ratio * duration).label("weighted_hybrid"),
            func.sum(Film.adjusted_hybrid_ratio * duration).label("weighted_adjusted"),
            func.sum(duration)
            .filter(Film.adjusted_hybrid_ratio.is_not(None))
            .label("adjusted_duration_s"),
            func.sum(Film.p_time_share * duration).label("weighted_p"),
            func.sum(Film.np_time_share * duration).label("weighted_np"),
            func.min(Film.hybrid_ratio).label("min_hybrid_ratio"),
            func.max(Film.hybrid_ratio).label("max_hybrid_ratio"),
            func.coalesce(func.sum(Film.hybrid_shot_count), 0).label("hybrid_shot_count"),
        )
        .select_from(CollectionFilm)
        .join(Film, Film.id == CollectionFilm.film_id)
        .where(CollectionFilm.collection_id == collection_id)
    )
    return session.execute(statement).one()


def hybrid_ratios(session: Session, collection_id: int) -> list[float]:
    return [
        float(value or 0.0)
        for value in session.scalars(
            select(Film.hybrid_ratio)
            .join(CollectionFilm, CollectionFilm.film_id == Film.id)
            .where(CollectionFilm.collection_id == collection_id, Film.hybrid_ratio.is_not(None))
        )
    ]


def model_paths_of_film(session: Session, film_id: int) -> Sequence[Any]:
    """(classifier_path, segmenter_path) of the film's collections that set either, by id."""
    return session.execute(
        select(Collection.classifier_path, Collection.segmenter_path)
        .join(CollectionFilm, CollectionFilm.collection_id == Collection.id)
        .where(
            CollectionFilm.film_id == film_id,
            Collection.classifier_path.is_not(None) | Collection.segmenter_path.is_not(None),
        )
        .order_by(Collection.id)
    ).all()


def adjusted_films(
    session: Session, collection_id: int
) -> list[tuple[int, float | None, dict[str, Any] | None]]:
    """The collection's films whose ratio was adjusted: (film id, duration, the rates its
    analysis stored in its summary)."""
    statement = (
        select(Film.id, Film.duration_s, Analysis.summary)
        .select_from(CollectionFilm)
        .join(Film, Film.id == CollectionFilm.film_id)
        .join(Analysis, Analysis.id == Film.last_analysis_id)
        .where(
            CollectionFilm.collection_id == collection_id,
            Film.adjusted_hybrid_ratio.is_not(None),
        )
        .order_by(Film.id)
    )
    return [(int(i), duration, summary) for i, duration, summary in session.execute(statement)]


def range_units(
    session: Session, film_ids: Sequence[int]
) -> list[tuple[int, int, bool, float | None]]:
    """The units of error of these films' last analyses, as the range counts them: (film
    id, shot, called hybrid, running time); frames of no shot are units of their own."""
    hybrid = Frame.frame_class == FrameClass.HYBRID
    shot = func.coalesce(Frame.shot_index, -1 - Frame.frame_index)
    statement = (
        select(Film.id, shot.label("shot"), hybrid.label("hybrid"), func.sum(Frame.weight_s))
        .select_from(Film)
        .join(Frame, Frame.analysis_id == Film.last_analysis_id)
        .where(Film.id.in_(film_ids))
        .group_by(Film.id, shot, hybrid)
        .order_by(Film.id, shot, hybrid)
    )
    return [
        (int(i), int(shot_index), bool(called), seconds)
        for i, shot_index, called, seconds in session.execute(statement)
    ]
