"""Every query on stored frame embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.annotations import repository as annotations_repository
from app.models import Analysis, CollectionFilm, Film, Frame, FrameEmbedding


def insert_embeddings(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(FrameEmbedding), rows)


def delete_for_analysis(session: Session, analysis_id: int) -> None:
    session.execute(delete(FrameEmbedding).where(FrameEmbedding.analysis_id == analysis_id))


def current_analyses(session: Session) -> dict[int, tuple[int, Any, int, int]]:
    """film id -> (the analysis behind its figures, when that finished, the film's latest
    mask and label annotation ids), for every film that has one: the token the search index
    reloads a film's vectors on (a new annotation may change the effective classes)."""
    rows = session.execute(
        select(Film.id, Film.last_analysis_id, Analysis.finished_at).join(
            Analysis, Analysis.id == Film.last_analysis_id
        )
    ).all()
    marks = annotations_repository.annotation_marks(session)
    return {
        int(film_id): (int(analysis_id), finished, *marks.get(int(film_id), (0, 0)))
        for film_id, analysis_id, finished in rows
        if analysis_id is not None
    }


def vectors_of(session: Session, analysis_id: int) -> Sequence[Any]:
    """(frame_index, time_s, frame_class, version, vector) of an analysis's embedded frames;
    ``frame_class`` is the model's (``service.index_for`` applies the film's annotations)."""
    return session.execute(
        select(
            FrameEmbedding.frame_index,
            Frame.time_s,
            Frame.frame_class,
            FrameEmbedding.version,
            FrameEmbedding.vector,
        )
        .join(
            Frame,
            (Frame.analysis_id == FrameEmbedding.analysis_id)
            & (Frame.frame_index == FrameEmbedding.frame_index),
        )
        .where(FrameEmbedding.analysis_id == analysis_id)
        .order_by(FrameEmbedding.frame_index)
    ).all()


def vector_of(session: Session, analysis_id: int, frame_index: int) -> Any:
    """(version, vector) of one frame, or None."""
    return session.execute(
        select(FrameEmbedding.version, FrameEmbedding.vector).where(
            FrameEmbedding.analysis_id == analysis_id,
            FrameEmbedding.frame_index == frame_index,
        )
    ).first()


def collection_film_ids(session: Session, collection_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CollectionFilm.film_id).where(CollectionFilm.collection_id == collection_id)
        ).all()
    )
