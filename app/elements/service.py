"""Element logic: runs of the elements job, clusters and their members, collages, names,
and the labels that named clusters give to a collection's films.

The job itself (crops, embeddings, tracks, refinement) needs torch and runs in
``workers.elements.job``; it records its state here, and stores what it found through
``store_elements`` and ``save_clusters``. Everything the API answers is read here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.annotations import repository as annotations_repository
from app.annotations import service as annotations_service
from app.annotations.repository import NO_ANNOTATIONS
from app.collections import repository as collections_repository
from app.core.domain import FrameClass, RunStatus
from app.core.errors import ConflictError, InvalidRequestError, NotFoundError
from app.core.pagination import PageParams
from app.elements import head as head_codec
from app.elements import repository
from app.elements.clustering import Clustering, cut_tree, nearest_centroid, track_vectors
from app.elements.collage import contact_sheet
from app.elements.schemas import (
    ClusterMembers,
    ClusterPublic,
    ElementLabel,
    ElementMember,
    ElementPlace,
    ElementRunCreate,
    ElementRunPublic,
    FilmOccurrence,
)
from app.films import repository as films_repository
from app.films.service import FilmNotFound
from app.models.base import utcnow

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
# A running run that reported no progress for this long lost its worker (a killed process,
# an API restarted in inline mode): a new run may start, and the old one is failed.
STALE_AFTER = timedelta(hours=1)
# Labels below this cosine similarity to every named centroid are left unlabelled.
LABEL_MIN_SIMILARITY = 0.5
# A named cluster hands its name to the new cluster holding at least this share of it.
NAME_CARRY_OVERLAP = 0.5


class ElementRunNotFound(NotFoundError):
    def __init__(self, run_id: int) -> None:
        super().__init__("element run", run_id)


class ClusterNotFound(NotFoundError):
    def __init__(self, cluster_id: int) -> None:
        super().__init__("element cluster", cluster_id)


class ClusterEmpty(ConflictError):
    """The cluster's members went with their films (deleted since the run): 409."""

    def __init__(self, cluster_id: int) -> None:
        super().__init__(
            f"element cluster {cluster_id} has no members left (their films were deleted); "
            "run the elements job again"
        )


class ElementRunActive(ConflictError):
    def __init__(self, run_id: int) -> None:
        super().__init__(f"element run {run_id} of this collection is still queued or running")
        self.run_id = run_id


def _require_collection(session: Session, collection_id: int) -> None:
    from app.collections.service import CollectionNotFound

    if collections_repository.get(session, collection_id) is None:
        raise CollectionNotFound(collection_id)


# -- runs --------------------------------------------------------------------------------------


def start_run(session: Session, collection_id: int, data: ElementRunCreate) -> int:
    """Queue a run of the elements job; commit, then enqueue the returned id."""
    _require_collection(session, collection_id)
    active = repository.latest_run(session, collection_id, ACTIVE)
    if active is not None:
        # A run queued for an hour that nothing claimed lost its message (an in-process
        # runner restarted, say): nothing else would ever clear it.
        last_sign = active.heartbeat_at or active.started_at or active.created_at
        if utcnow() - last_sign < STALE_AFTER:
            raise ElementRunActive(active.id)
        fail_run(session, active.id, "abandoned: no progress for an hour (its worker stopped)")
    return repository.insert_run(
        session,
        {
            "collection_id": collection_id,
            "status": RunStatus.QUEUED,
            "progress": 0.0,
            "options": data.model_dump(),
            "created_at": utcnow(),
        },
    )


def get_run(session: Session, run_id: int) -> ElementRunPublic:
    run = repository.get_run(session, run_id)
    if run is None:
        raise ElementRunNotFound(run_id)
    return ElementRunPublic.model_validate(run)


def latest_run(session: Session, collection_id: int) -> ElementRunPublic | None:
    _require_collection(session, collection_id)
    run = repository.latest_run(session, collection_id)
    return None if run is None else ElementRunPublic.model_validate(run)


def claim_run(session: Session, run_id: int, task_id: str | None = None) -> ElementRunPublic | None:
    """Mark a queued run running; None: it must not run (gone, finished or failed). A run
    left running by a dead worker is claimed again (it starts over; its writes are idempotent)."""
    now = utcnow()
    values: dict[str, Any] = {
        "status": RunStatus.RUNNING,
        "started_at": now,
        "heartbeat_at": now,
        "error": None,
    }
    if task_id is not None:
        values["task_id"] = task_id
    if not repository.update_run_if(session, run_id, values, ACTIVE):
        return None
    return get_run(session, run_id)


def update_progress(session: Session, run_id: int, stage: str, progress: float) -> bool:
    """False when the run is no longer running (deleted with its collection): stop then."""
    return repository.update_run_if(
        session,
        run_id,
        {"stage": stage, "progress": max(0.0, min(1.0, progress)), "heartbeat_at": utcnow()},
        [RunStatus.RUNNING],
    )


def fail_run(session: Session, run_id: int, reason: str) -> None:
    repository.update_run_if(
        session,
        run_id,
        {"status": RunStatus.FAILED, "error": reason, "finished_at": utcnow()},
        ACTIVE,
    )


def finish_run(
    session: Session,
    run_id: int,
    *,
    summary: dict[str, Any],
    head: bytes | None,
    embedding_version: str,
) -> bool:
    return repository.update_run_if(
        session,
        run_id,
        {
            "status": RunStatus.DONE,
            "stage": None,
            "progress": 1.0,
            "summary": summary,
            "head": head,
            "embedding_version": embedding_version,
            "finished_at": utcnow(),
        },
        [RunStatus.RUNNING],
    )


def current_run_id(session: Session, collection_id: int) -> int | None:
    """The run whose clusters the collection shows: its latest finished one."""
    run = repository.latest_run(session, collection_id, [RunStatus.DONE])
    return None if run is None else run.id


# -- clusters ----------------------------------------------------------------------------------


def save_clusters(
    session: Session,
    collection_id: int,
    run_id: int,
    element_ids: Sequence[int],
    clustering: Clustering,
) -> list[int]:
    """Store a run's clusters (largest first); names of the previous run's clusters carry
    over to the new cluster that holds most of their members. Returns the cluster ids."""
    previous_run = current_run_id(session, collection_id)
    cluster_ids: list[int] = []
    for rank, exemplar in enumerate(clustering.exemplars):
        members = np.flatnonzero(clustering.labels == rank)
        cluster_id = repository.insert_cluster(
            session,
            {
                "run_id": run_id,
                "collection_id": collection_id,
                "rank": rank,
                "size": len(members),
                "exemplar_element_id": int(element_ids[exemplar]),
                "centroid": np.asarray(clustering.centroids[rank], np.float32).tobytes(),
            },
        )
        repository.insert_members(
            session,
            [
                {
                    "cluster_id": cluster_id,
                    "element_id": int(element_ids[int(position)]),
                    "similarity": float(clustering.similarity[position]),
                }
                for position in members
            ],
        )
        cluster_ids.append(cluster_id)
    if previous_run is not None and previous_run != run_id:
        _carry_names(session, previous_run, cluster_ids)
    return cluster_ids


def _carry_names(session: Session, previous_run: int, new_ids: list[int]) -> None:
    named = {c.id: c.name for c in repository.clusters_of_run(session, previous_run) if c.name}
    if not named:
        return
    old_members = repository.member_ids_by_cluster(session, list(named))
    new_members = repository.member_ids_by_cluster(session, new_ids)
    taken: set[int] = set()
    for old_id, name in named.items():
        old = old_members[old_id]
        if not old:
            continue
        best = max(new_ids, key=lambda new_id: len(old & new_members[new_id]), default=None)
        if best is None or best in taken:
            continue
        if len(old & new_members[best]) / len(old) >= NAME_CARRY_OVERLAP:
            repository.update_cluster(session, best, {"name": name})
            taken.add(best)


def _current_cluster(session: Session, collection_id: int, cluster_id: int) -> Any:
    _require_collection(session, collection_id)
    cluster = repository.get_cluster(session, collection_id, cluster_id)
    if cluster is None or cluster.run_id != current_run_id(session, collection_id):
        raise ClusterNotFound(cluster_id)
    return cluster


def _publics(session: Session, clusters: Sequence[Any]) -> list[ClusterPublic]:
    ids = [cluster.id for cluster in clusters]
    films: dict[int, list[FilmOccurrence]] = defaultdict(list)
    for row in repository.occurrences(session, ids):
        films[int(row.cluster_id)].append(
            FilmOccurrence(
                film_id=row.film_id,
                title=row.title,
                count=int(row[3]),
                first_time_s=float(row.first_time_s),
                last_time_s=float(row.last_time_s),
            )
        )
    publics = []
    for cluster in clusters:
        exemplar = None
        if cluster.exemplar_element_id is not None:
            place = repository.element_place(session, cluster.exemplar_element_id)
            if place is not None:
                exemplar = ElementPlace(
                    film_id=place.film_id, frame_index=place.frame_index, box=list(place.box)
                )
        publics.append(
            ClusterPublic(
                cluster_id=cluster.id,
                size=cluster.size,
                name=cluster.name,
                exemplar=exemplar,
                films=sorted(films[cluster.id], key=lambda film: -film.count),
            )
        )
    return publics


def list_clusters(session: Session, collection_id: int) -> list[ClusterPublic]:
    """The clusters of the collection's latest finished run, largest first ([] before one)."""
    _require_collection(session, collection_id)
    run_id = current_run_id(session, collection_id)
    if run_id is None:
        return []
    return _publics(session, repository.clusters_of_run(session, run_id))


def get_cluster(session: Session, collection_id: int, cluster_id: int) -> ClusterPublic:
    return _publics(session, [_current_cluster(session, collection_id, cluster_id)])[0]


def cluster_members(
    session: Session, collection_id: int, cluster_id: int, page: PageParams
) -> ClusterMembers:
    cluster = _current_cluster(session, collection_id, cluster_id)
    rows, total = repository.members(session, cluster_id, page.limit, page.offset)
    return ClusterMembers(
        cluster_id=cluster_id,
        name=cluster.name,
        items=[
            ElementMember(
                element_id=row.id,
                film_id=row.film_id,
                analysis_id=row.analysis_id,
                frame_index=row.frame_index,
                time_s=row.time_s,
                shot_index=row.shot_index,
                box=list(row.box),
                source=row.source,
                track_id=row.track_id,
                similarity=row.similarity,
            )
            for row in rows
        ],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


def collage(session: Session, collection_id: int, cluster_id: int, *, limit: int = 24) -> bytes:
    """A JPEG contact sheet of the cluster's members nearest its centroid."""
    _current_cluster(session, collection_id, cluster_id)
    rows, _ = repository.members(session, cluster_id, limit, 0)
    ids = [int(row.id) for row in rows]
    crops = repository.crops(session, ids)
    return contact_sheet([data for data in (crops.get(i) for i in ids) if data])


def name_cluster(
    session: Session, collection_id: int, cluster_id: int, name: str | None
) -> ClusterPublic:
    _current_cluster(session, collection_id, cluster_id)
    repository.update_cluster(session, cluster_id, {"name": name})
    return get_cluster(session, collection_id, cluster_id)


def _refresh(session: Session, cluster_id: int, weights: Any) -> list[Any]:
    """Recompute a cluster's size, centroid, exemplar and similarities from its members."""
    rows = list(repository.member_embeddings(session, cluster_id))
    if not rows:
        raise ClusterEmpty(cluster_id)
    vectors = head_codec.project(
        head_codec.embeddings_from_bytes([row.embedding for row in rows]), weights
    )
    centroid = head_codec.normalise(vectors.mean(axis=0, keepdims=True))[0]
    similarity = vectors @ centroid
    repository.set_similarities(
        session,
        cluster_id,
        {int(row.id): float(value) for row, value in zip(rows, similarity, strict=True)},
    )
    repository.update_cluster(
        session,
        cluster_id,
        {
            "size": len(rows),
            "centroid": centroid.astype(np.float32).tobytes(),
            "exemplar_element_id": int(rows[int(np.argmax(similarity))].id),
        },
    )
    return rows


def _weights(session: Session, run_id: int) -> Any:
    data = repository.run_head(session, run_id)
    return head_codec.from_bytes(data) if data else None


def merge_clusters(
    session: Session, collection_id: int, cluster_id: int, others: Sequence[int]
) -> ClusterPublic:
    """Fold ``others`` into ``cluster_id``: one element, seen as two by the clustering."""
    target = _current_cluster(session, collection_id, cluster_id)
    others = sorted(set(others) - {cluster_id})
    if not others:
        raise InvalidRequestError("name at least one other cluster to merge")
    folded = [_current_cluster(session, collection_id, other) for other in others]
    name = target.name or next((c.name for c in folded if c.name), None)
    repository.move_members(session, others, cluster_id)
    repository.delete_clusters(session, others)
    _refresh(session, cluster_id, _weights(session, target.run_id))
    repository.update_cluster(session, cluster_id, {"name": name})
    return get_cluster(session, collection_id, cluster_id)


def split_cluster(session: Session, collection_id: int, cluster_id: int) -> list[ClusterPublic]:
    """Split a cluster in two (two elements the clustering took for one): its tracks are
    clustered again into two groups; the larger keeps the id and the name."""
    cluster = _current_cluster(session, collection_id, cluster_id)
    weights = _weights(session, cluster.run_id)
    rows = list(repository.member_embeddings(session, cluster_id))
    track_keys = [
        (row.analysis_id, row.track_id if row.track_id is not None else -row.id) for row in rows
    ]
    numbers = {key: number for number, key in enumerate(dict.fromkeys(track_keys))}
    if len(numbers) < 2:
        raise InvalidRequestError("a cluster of one track cannot be split")
    vectors = head_codec.project(
        head_codec.embeddings_from_bytes([row.embedding for row in rows]), weights
    )
    tracks, row_of = track_vectors(vectors, [numbers[key] for key in track_keys])
    distance = np.clip(1.0 - tracks @ tracks.T, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    model = AgglomerativeClustering(
        metric="precomputed", linkage="average", compute_full_tree=True, n_clusters=1
    ).fit(distance)
    labels = cut_tree(model.children_, len(tracks), 2)[row_of]
    smaller = int(np.argmin(np.bincount(labels)))
    moved = [int(row.id) for row, label in zip(rows, labels, strict=True) if label == smaller]
    new_id = repository.insert_cluster(
        session,
        {
            "run_id": cluster.run_id,
            "collection_id": collection_id,
            "rank": repository.max_rank(session, cluster.run_id) + 1,
            "size": len(moved),
            "centroid": b"",
            "exemplar_element_id": moved[0],
        },
    )
    repository.move_elements(session, cluster_id, moved, new_id)
    _refresh(session, cluster_id, weights)
    _refresh(session, new_id, weights)
    return [
        get_cluster(session, collection_id, cluster_id),
        get_cluster(session, collection_id, new_id),
    ]


# -- labels ------------------------------------------------------------------------------------


def label_film(
    session: Session,
    collection_id: int,
    film_id: int,
    *,
    min_similarity: float = LABEL_MIN_SIMILARITY,
) -> list[ElementLabel]:
    """The named clusters as a nearest-centroid classifier (in the collection's refined
    space) over the elements of a film's latest analysis; unlabelled elements are left out.
    A film added after the clustering is labelled once the elements job has extracted it."""
    _require_collection(session, collection_id)
    film = films_repository.get(session, film_id)
    if film is None:
        raise FilmNotFound(film_id)
    run = repository.latest_run(session, collection_id, [RunStatus.DONE])
    if run is None:
        return []
    named = [c for c in repository.clusters_of_run(session, run.id) if c.name]
    if not named or film.last_analysis_id is None:
        return []
    rows = repository.elements_of_analyses(session, [film.last_analysis_id], run.embedding_version)
    if not rows:
        return []
    run_head = repository.run_head(session, run.id)
    weights = head_codec.from_bytes(run_head) if run_head else None
    vectors = head_codec.project(
        head_codec.embeddings_from_bytes([row.embedding for row in rows]), weights
    )
    centroids = np.stack([np.frombuffer(c.centroid, np.float32) for c in named])
    best, score = nearest_centroid(vectors, centroids, min_similarity=min_similarity)
    return [
        ElementLabel(
            element_id=row.id,
            frame_index=row.frame_index,
            time_s=row.time_s,
            box=list(row.box),
            cluster_id=named[int(choice)].id,
            name=str(named[int(choice)].name),
            similarity=float(similarity),
        )
        for row, choice, similarity in zip(rows, best, score, strict=True)
        if choice >= 0
    ]


# -- what extraction reads ---------------------------------------------------------------------


@dataclass(frozen=True)
class DrawnFrame:
    """A sampled frame that may hold drawn elements, as it stands with the film's
    annotations."""

    frame_index: int
    time_s: float
    shot_index: int | None
    frame_class: FrameClass
    mask_png: bytes | None


_DRAWN = (FrameClass.HYBRID, FrameClass.NP)


def drawn_frames(session: Session, film_id: int, analysis_id: int) -> tuple[list[DrawnFrame], str]:
    """The analysis's hybrid and NP frames by their effective class (an archivist's labels
    and masks applied), each with the mask in force (a person's, else a propagated one, else
    the model's), and the film's annotation mark they were read with."""
    mark = annotations_repository.annotation_mark(session, film_id)
    classes = analysis_service.effective_classes(session, analysis_id)
    rows = repository.frames_with_masks(session, analysis_id, drawn_only=classes is None)
    corrections = annotations_repository.active_mask_ids(session, film_id) if classes else {}
    found = []
    for row in rows:
        index = int(row.frame_index)
        frame_class = (classes or {}).get(index, FrameClass(row.frame_class))
        if frame_class not in _DRAWN:
            continue
        chosen = annotations_service.correction_layer(corrections.get(index, {}))
        mask = (
            row.mask_png if chosen is None else annotations_repository.mask_png(session, chosen[1])
        )
        found.append(DrawnFrame(index, float(row.time_s), row.shot_index, frame_class, mask))
    return found, mark


def needs_extraction(
    session: Session, film_id: int, analysis_id: int, embedding_version: str
) -> bool:
    """Whether the analysis has no elements of this embedding version, or has them from
    before the film's latest correction."""
    marks = repository.extracted_marks(session, analysis_id, embedding_version)
    # Elements stored before marks were (migration 0008) were found without corrections:
    # what a film without annotations ("0-0") gives.
    found = {NO_ANNOTATIONS if mark is None else mark for mark in marks}
    return found != {annotations_repository.annotation_mark(session, film_id)}
