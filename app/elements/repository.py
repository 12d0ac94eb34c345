"""Every query on elements, element runs and element clusters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.core.domain import FrameClass, RunStatus
from app.models import (
    CollectionFilm,
    Element,
    ElementCluster,
    ElementClusterMember,
    ElementRun,
    Film,
    Frame,
)

ELEMENT_COLUMNS = (
    Element.id,
    Element.analysis_id,
    Element.film_id,
    Element.frame_index,
    Element.time_s,
    Element.shot_index,
    Element.box,
    Element.source,
    Element.track_id,
)


# -- runs --------------------------------------------------------------------------------------


def insert_run(session: Session, values: Mapping[str, Any]) -> int:
    run_id = session.scalar(insert(ElementRun).values(**values).returning(ElementRun.id))
    assert run_id is not None
    return run_id


def get_run(session: Session, run_id: int) -> ElementRun | None:
    return session.get(ElementRun, run_id, populate_existing=True)


def latest_run(
    session: Session, collection_id: int, statuses: Sequence[RunStatus] | None = None
) -> ElementRun | None:
    statement = select(ElementRun).where(ElementRun.collection_id == collection_id)
    if statuses is not None:
        statement = statement.where(ElementRun.status.in_(statuses))
    statement = statement.order_by(ElementRun.id.desc()).limit(1)
    return session.scalars(statement.execution_options(populate_existing=True)).first()


def update_run_if(
    session: Session, run_id: int, values: Mapping[str, Any], statuses: Sequence[RunStatus]
) -> bool:
    result = session.execute(
        update(ElementRun)
        .where(ElementRun.id == run_id, ElementRun.status.in_(statuses))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def run_head(session: Session, run_id: int) -> bytes | None:
    return session.scalar(select(ElementRun.head).where(ElementRun.id == run_id))


# -- elements ----------------------------------------------------------------------------------


def collection_analyses(session: Session, collection_id: int) -> list[tuple[int, int]]:
    """(film_id, analysis_id) of the latest finished analysis of each film of the collection."""
    rows = session.execute(
        select(Film.id, Film.last_analysis_id)
        .join(CollectionFilm, CollectionFilm.film_id == Film.id)
        .where(
            CollectionFilm.collection_id == collection_id,
            Film.last_analysis_id.is_not(None),
            # A film whose last analysis failed has nothing to extract.
            func.coalesce(Film.analysis_status, "") != RunStatus.FAILED.value,
        )
        .order_by(Film.id)
    ).all()
    return [(int(film_id), int(analysis_id or 0)) for film_id, analysis_id in rows]


def extracted_marks(session: Session, analysis_id: int, embedding_version: str) -> set[str | None]:
    """The annotation marks the analysis's elements of that embedding version were extracted
    with (empty when there are none)."""
    return set(
        session.scalars(
            select(Element.annotation_mark)
            .where(
                Element.analysis_id == analysis_id,
                Element.embedding_version == embedding_version,
            )
            .distinct()
        ).all()
    )


def replace_elements(session: Session, analysis_id: int, rows: list[dict[str, Any]]) -> int:
    """Make ``rows`` the analysis's elements, keeping the row (and id) of every region found
    again unchanged (same frame, rank, source, box and embedding): clusters of any collection
    and the names carried between runs point at element ids, so a re-extraction after one
    corrected frame must not renumber the whole film. Returns how many rows were new."""
    existing = session.execute(
        select(
            Element.id,
            Element.frame_index,
            Element.region_index,
            Element.source,
            Element.box,
            Element.embedding,
            Element.embedding_version,
        ).where(Element.analysis_id == analysis_id)
    ).all()

    def key(row: Any) -> tuple[Any, ...]:
        return (
            int(row["frame_index"]),
            int(row["region_index"]),
            str(row["source"]),
            tuple(float(value) for value in row["box"]),
            bytes(row["embedding"]),
            str(row["embedding_version"]),
        )

    stale = {key(row._mapping): int(row.id) for row in existing}
    kept: list[tuple[int, dict[str, Any]]] = []
    fresh: list[dict[str, Any]] = []
    for row in rows:
        element_id = stale.pop(key(row), None)
        if element_id is None:
            fresh.append(row)
        else:
            kept.append((element_id, row))
    if stale:
        session.execute(delete(Element).where(Element.id.in_(list(stale.values()))))
    for element_id, row in kept:
        session.execute(
            update(Element)
            .where(Element.id == element_id)
            .values(
                shot_index=row["shot_index"],
                track_id=row["track_id"],
                annotation_mark=row["annotation_mark"],
            )
            .execution_options(synchronize_session=False)
        )
    insert_elements(session, fresh)
    return len(fresh)


def insert_elements(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Element), rows)


def set_track_ids(session: Session, pairs: Sequence[tuple[int, int]]) -> None:
    """``(element_id, track_id)`` pairs."""
    for element_id, track_id in pairs:
        session.execute(
            update(Element)
            .where(Element.id == element_id)
            .values(track_id=track_id)
            .execution_options(synchronize_session=False)
        )


def frames_with_masks(session: Session, analysis_id: int, *, drawn_only: bool) -> Sequence[Any]:
    """Sampled frames with the model's classes and masks; ``drawn_only``: those the model
    called hybrid or NP."""
    statement = select(
        Frame.frame_index,
        Frame.time_s,
        Frame.shot_index,
        Frame.frame_class,
        Frame.mask_png,
    ).where(Frame.analysis_id == analysis_id)
    if drawn_only:
        statement = statement.where(Frame.frame_class.in_((FrameClass.HYBRID, FrameClass.NP)))
    return session.execute(statement.order_by(Frame.frame_index)).all()


def elements_of_analysis(session: Session, analysis_id: int) -> Sequence[Any]:
    return session.execute(
        select(*ELEMENT_COLUMNS, Element.embedding)
        .where(Element.analysis_id == analysis_id)
        .order_by(Element.frame_index, Element.region_index)
    ).all()


def elements_of_analyses(
    session: Session, analysis_ids: Sequence[int], embedding_version: str | None
) -> Sequence[Any]:
    statement = select(*ELEMENT_COLUMNS, Element.embedding).where(
        Element.analysis_id.in_(analysis_ids)
    )
    if embedding_version is not None:
        statement = statement.where(Element.embedding_version == embedding_version)
    return session.execute(
        statement.order_by(Element.analysis_id, Element.frame_index, Element.region_index)
    ).all()


def crops(session: Session, element_ids: Sequence[int]) -> dict[int, bytes | None]:
    rows = session.execute(
        select(Element.id, Element.crop_jpeg).where(Element.id.in_(element_ids))
    ).all()
    return {int(element_id): data for element_id, data in rows}


def element_place(session: Session, element_id: int) -> Any:
    return session.execute(
        select(Element.film_id, Element.frame_index, Element.box).where(Element.id == element_id)
    ).first()


# -- clusters ----------------------------------------------------------------------------------


def insert_cluster(session: Session, values: Mapping[str, Any]) -> int:
    cluster_id = session.scalar(
        insert(ElementCluster).values(**values).returning(ElementCluster.id)
    )
    assert cluster_id is not None
    return cluster_id


def insert_members(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(ElementClusterMember), rows)


def clusters_of_run(session: Session, run_id: int) -> list[ElementCluster]:
    return list(
        session.scalars(
            select(ElementCluster)
            .where(ElementCluster.run_id == run_id)
            .order_by(ElementCluster.rank, ElementCluster.id)
            .execution_options(populate_existing=True)
        ).all()
    )


def get_cluster(session: Session, collection_id: int, cluster_id: int) -> ElementCluster | None:
    return session.scalar(
        select(ElementCluster)
        .where(ElementCluster.id == cluster_id, ElementCluster.collection_id == collection_id)
        .execution_options(populate_existing=True)
    )


def member_ids_by_cluster(session: Session, cluster_ids: Sequence[int]) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {cluster_id: set() for cluster_id in cluster_ids}
    for cluster_id, element_id in session.execute(
        select(ElementClusterMember.cluster_id, ElementClusterMember.element_id).where(
            ElementClusterMember.cluster_id.in_(cluster_ids)
        )
    ):
        found[int(cluster_id)].add(int(element_id))
    return found


def occurrences(session: Session, cluster_ids: Sequence[int]) -> Sequence[Any]:
    """Per cluster and film: how many members, first and last time, the film's title."""
    return session.execute(
        select(
            ElementClusterMember.cluster_id,
            Element.film_id,
            Film.title,
            func.count().label("count"),
            func.min(Element.time_s).label("first_time_s"),
            func.max(Element.time_s).label("last_time_s"),
        )
        .join(Element, Element.id == ElementClusterMember.element_id)
        .join(Film, Film.id == Element.film_id)
        .where(ElementClusterMember.cluster_id.in_(cluster_ids))
        .group_by(ElementClusterMember.cluster_id, Element.film_id, Film.title)
        .order_by(ElementClusterMember.cluster_id, Element.film_id)
    ).all()


def members(
    session: Session, cluster_id: int, limit: int, offset: int
) -> tuple[Sequence[Any], int]:
    """A cluster's members, nearest the centroid first, and how many there are."""
    condition = ElementClusterMember.cluster_id == cluster_id
    total = (
        session.scalar(select(func.count()).select_from(ElementClusterMember).where(condition)) or 0
    )
    rows = session.execute(
        select(*ELEMENT_COLUMNS, ElementClusterMember.similarity)
        .join(ElementClusterMember, ElementClusterMember.element_id == Element.id)
        .where(condition)
        .order_by(ElementClusterMember.similarity.desc(), Element.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def update_cluster(session: Session, cluster_id: int, values: Mapping[str, Any]) -> None:
    session.execute(
        update(ElementCluster)
        .where(ElementCluster.id == cluster_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def move_elements(session: Session, from_id: int, element_ids: Sequence[int], to_id: int) -> None:
    session.execute(
        update(ElementClusterMember)
        .where(
            ElementClusterMember.cluster_id == from_id,
            ElementClusterMember.element_id.in_(element_ids),
        )
        .values(cluster_id=to_id)
        .execution_options(synchronize_session=False)
    )


def max_rank(session: Session, run_id: int) -> int:
    return (
        session.scalar(select(func.max(ElementCluster.rank)).where(ElementCluster.run_id == run_id))
        or 0
    )


def move_members(session: Session, from_ids: Sequence[int], to_id: int) -> None:
    session.execute(
        update(ElementClusterMember)
        .where(ElementClusterMember.cluster_id.in_(from_ids))
        .values(cluster_id=to_id)
        .execution_options(synchronize_session=False)
    )


def delete_clusters(session: Session, cluster_ids: Sequence[int]) -> None:
    session.execute(delete(ElementCluster).where(ElementCluster.id.in_(cluster_ids)))


def member_embeddings(session: Session, cluster_id: int) -> Sequence[Any]:
    return session.execute(
        select(Element.id, Element.embedding, Element.analysis_id, Element.track_id)
        .join(ElementClusterMember, ElementClusterMember.element_id == Element.id)
        .where(ElementClusterMember.cluster_id == cluster_id)
    ).all()


def set_similarities(session: Session, cluster_id: int, values: Mapping[int, float]) -> None:
    for element_id, similarity in values.items():
        session.execute(
            update(ElementClusterMember)
            .where(
                ElementClusterMember.cluster_id == cluster_id,
                ElementClusterMember.element_id == element_id,
            )
            .values(similarity=similarity)
            .execution_options(synchronize_session=False)
        )
