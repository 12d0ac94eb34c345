"""Every query on the annotation tables. "Active" is the latest version of each subject;
a version without content (a revert) leaves the subject with no active annotation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from app.models import LabelAnnotation, MaskAnnotation


def _latest_masks(film_id: int, source: str | None = None) -> Any:
    conditions = [MaskAnnotation.film_id == film_id]
    if source is not None:
        conditions.append(MaskAnnotation.source == source)
    return (
        select(
            MaskAnnotation.frame_index,
            MaskAnnotation.source,
            func.max(MaskAnnotation.version).label("version"),
        )
        .where(*conditions)
        .group_by(MaskAnnotation.frame_index, MaskAnnotation.source)
        .subquery()
    )


def _active_masks(film_id: int, *columns: Any) -> Any:
    """``columns`` of every mask in force on the film's frames (latest version, not a
    revert)."""
    latest = _latest_masks(film_id)
    return (
        select(*columns)
        .join(
            latest,
            and_(
                MaskAnnotation.frame_index == latest.c.frame_index,
                MaskAnnotation.source == latest.c.source,
                MaskAnnotation.version == latest.c.version,
            ),
        )
        .where(MaskAnnotation.film_id == film_id, MaskAnnotation.p_fraction.is_not(None))
    )


def active_mask_fractions(session: Session, film_id: int) -> Sequence[Any]:
    """(frame_index, source, p_fraction) of every active mask of the film."""
    return session.execute(
        _active_masks(
            film_id, MaskAnnotation.frame_index, MaskAnnotation.source, MaskAnnotation.p_fraction
        )
    ).all()


def latest_mask(
    session: Session, film_id: int, frame_index: int, source: str
) -> MaskAnnotation | None:
    """The latest version (maybe a revert) of one frame's layer."""
    return session.scalar(
        select(MaskAnnotation)
        .where(
            MaskAnnotation.film_id == film_id,
            MaskAnnotation.frame_index == frame_index,
            MaskAnnotation.source == source,
        )
        .order_by(MaskAnnotation.version.desc())
        .limit(1)
    )


def mask_png(session: Session, annotation_id: int) -> bytes | None:
    return session.scalar(select(MaskAnnotation.mask_png).where(MaskAnnotation.id == annotation_id))


def insert_mask(session: Session, values: dict[str, Any]) -> int:
    result = session.execute(insert(MaskAnnotation).values(**values).returning(MaskAnnotation.id))
    return int(result.scalar_one())


def mask_history(session: Session, film_id: int, frame_index: int) -> Sequence[MaskAnnotation]:
    return session.scalars(
        select(MaskAnnotation)
        .where(MaskAnnotation.film_id == film_id, MaskAnnotation.frame_index == frame_index)
        .order_by(MaskAnnotation.source, MaskAnnotation.version)
    ).all()


def latest_label(
    session: Session, film_id: int, scope: str, start_frame: int, end_frame: int, source: str
) -> LabelAnnotation | None:
    return session.scalar(
        select(LabelAnnotation)
        .where(
            LabelAnnotation.film_id == film_id,
            LabelAnnotation.scope == scope,
            LabelAnnotation.start_frame == start_frame,
            LabelAnnotation.end_frame == end_frame,
            LabelAnnotation.source == source,
        )
        .order_by(LabelAnnotation.version.desc())
        .limit(1)
    )


def label_history(session: Session, film_id: int, frame_index: int) -> Sequence[LabelAnnotation]:
    """Every version of every label whose span holds the frame."""
    return session.scalars(
        select(LabelAnnotation)
        .where(
            LabelAnnotation.film_id == film_id,
            LabelAnnotation.start_frame <= frame_index,
            LabelAnnotation.end_frame >= frame_index,
        )
        .order_by(
            LabelAnnotation.scope,
            LabelAnnotation.start_frame,
            LabelAnnotation.source,
            LabelAnnotation.version,
        )
    ).all()


def insert_label(session: Session, values: dict[str, Any]) -> int:
    result = session.execute(insert(LabelAnnotation).values(**values).returning(LabelAnnotation.id))
    return int(result.scalar_one())


def active_labels(session: Session, film_id: int) -> Sequence[LabelAnnotation]:
    """The latest version of every label subject of the film that is not a revert."""
    latest = (
        select(
            LabelAnnotation.scope,
            LabelAnnotation.start_frame,
            LabelAnnotation.end_frame,
            LabelAnnotation.source,
            func.max(LabelAnnotation.version).label("version"),
        )
        .where(LabelAnnotation.film_id == film_id)
        .group_by(
            LabelAnnotation.scope,
            LabelAnnotation.start_frame,
            LabelAnnotation.end_frame,
            LabelAnnotation.source,
        )
        .subquery()
    )
    return session.scalars(
        select(LabelAnnotation)
        .join(
            latest,
            and_(
                LabelAnnotation.scope == latest.c.scope,
                LabelAnnotation.start_frame == latest.c.start_frame,
                LabelAnnotation.end_frame == latest.c.end_frame,
                LabelAnnotation.source == latest.c.source,
                LabelAnnotation.version == latest.c.version,
            ),
        )
        .where(LabelAnnotation.film_id == film_id, LabelAnnotation.label.is_not(None))
        .order_by(LabelAnnotation.start_frame, LabelAnnotation.scope)
    ).all()


def has_any(session: Session, film_id: int) -> bool:
    masks = session.scalar(select(MaskAnnotation.id).where(MaskAnnotation.film_id == film_id))
    if masks is not None:
        return True
    return (
        session.scalar(select(LabelAnnotation.id).where(LabelAnnotation.film_id == film_id))
        is not None
    )


def annotation_marks(
    session: Session, film_ids: Sequence[int] | None = None
) -> dict[int, tuple[int, int]]:
    """film id -> (its latest mask annotation id, its latest label annotation id), for the
    films that have annotations (of ``film_ids``, else all). Annotations are append-only (a
    correction or a revert is a new row), so a new mark means the effective frames may have
    changed."""
    marks: dict[int, tuple[int, int]] = {}
    columns = (
        (MaskAnnotation.film_id, MaskAnnotation.id),
        (LabelAnnotation.film_id, LabelAnnotation.id),
    )
    for position, (film_column, id_column) in enumerate(columns):
        statement = select(film_column, func.max(id_column)).group_by(film_column)
        if film_ids is not None:
            statement = statement.where(film_column.in_(film_ids))
        for film_id, latest in session.execute(statement).all():
            mark = list(marks.get(int(film_id), (0, 0)))
            mark[position] = int(latest)
            marks[int(film_id)] = (mark[0], mark[1])
    return marks


NO_ANNOTATIONS = "0-0"


def annotation_mark(session: Session, film_id: int) -> str:
    """The film's annotation mark as text (``NO_ANNOTATIONS`` when it has none)."""
    masks, labels = annotation_marks(session, [film_id]).get(film_id, (0, 0))
    return f"{masks}-{labels}"


def active_mask_ids(
    session: Session, film_id: int, frame_indices: Sequence[int] | None = None
) -> dict[int, dict[str, int]]:
    """frame index -> {source: annotation id} of the masks in force on the film's frames (of
    ``frame_indices``, else all)."""
    statement = _active_masks(
        film_id, MaskAnnotation.frame_index, MaskAnnotation.source, MaskAnnotation.id
    )
    if frame_indices is not None:
        statement = statement.where(MaskAnnotation.frame_index.in_(list(frame_indices)))
    rows = session.execute(statement).all()
    found: dict[int, dict[str, int]] = {}
    for frame_index, source, annotation_id in rows:
        found.setdefault(int(frame_index), {})[str(source)] = int(annotation_id)
    return found
