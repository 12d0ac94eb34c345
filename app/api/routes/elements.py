"""Recurring drawn elements of a collection: start the job, list clusters, members, collages,
name and merge clusters, and label a film with the named ones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from app.api.deps import DispatcherDep, ReaderDep, SessionDep, SettingsDep, WriterDep
from app.api.params import CollectionId, check_page_size
from app.api.schemas import MAX_INT, PageQuery
from app.elements import service as elements_service
from app.elements.dispatch import commit_and_enqueue_run
from app.elements.schemas import (
    ClusterMembers,
    ClusterMerge,
    ClusterName,
    ClusterPublic,
    ElementLabel,
    ElementRunCreate,
    ElementRunPublic,
)

router = APIRouter(prefix="/collections/{collection_id}/elements", tags=["elements"])

ClusterId = Annotated[int, Path(ge=1, le=MAX_INT, description="A cluster's id.")]
JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "A JPEG image."}
}


@router.post("", response_model=ElementRunPublic, status_code=status.HTTP_202_ACCEPTED)
def start_elements(
    collection_id: CollectionId,
    _: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    body: ElementRunCreate | None = None,
) -> ElementRunPublic:
    """Queue the elements job (extract, track, refine, cluster); follow it at ``.../run``.
    409 while another run of the collection is queued or running."""
    run_id = elements_service.start_run(session, collection_id, body or ElementRunCreate())
    commit_and_enqueue_run(session, settings, dispatcher, run_id)
    return elements_service.get_run(session, run_id)


@router.get("", response_model=list[ClusterPublic])
def list_clusters(
    collection_id: CollectionId, _: ReaderDep, session: SessionDep
) -> list[ClusterPublic]:
    """The clusters of the latest finished run, largest first; [] before any."""
    return elements_service.list_clusters(session, collection_id)


@router.get("/run", response_model=ElementRunPublic | None)
def latest_run(
    collection_id: CollectionId, _: ReaderDep, session: SessionDep
) -> ElementRunPublic | None:
    """The latest run's state, stage and progress (null before any)."""
    return elements_service.latest_run(session, collection_id)


@router.get("/labels", response_model=list[ElementLabel])
def label_film(
    collection_id: CollectionId,
    _: ReaderDep,
    session: SessionDep,
    film_id: Annotated[int, Query(ge=1, le=MAX_INT, description="A film's id.")],
) -> list[ElementLabel]:
    """The film's elements that the named clusters recognise (nearest centroid)."""
    return elements_service.label_film(session, collection_id, film_id)


@router.get("/{cluster_id}", response_model=ClusterMembers)
def cluster_members(
    collection_id: CollectionId,
    cluster_id: ClusterId,
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[PageQuery, Query()],
) -> ClusterMembers:
    """The cluster's members (film, frame, box), nearest its centroid first."""
    check_page_size(settings, page.limit)
    return elements_service.cluster_members(session, collection_id, cluster_id, page)


@router.get(
    "/{cluster_id}/collage.jpg", response_class=Response, responses=JPEG, response_model=None
)
def cluster_collage(
    collection_id: CollectionId, cluster_id: ClusterId, _: ReaderDep, session: SessionDep
) -> Response:
    """A contact sheet of the cluster's members nearest its centroid."""
    data = elements_service.collage(session, collection_id, cluster_id)
    return Response(content=data, media_type="image/jpeg")


@router.put("/{cluster_id}", response_model=ClusterPublic)
def name_cluster(
    collection_id: CollectionId,
    cluster_id: ClusterId,
    body: ClusterName,
    _: WriterDep,
    session: SessionDep,
) -> ClusterPublic:
    """Name the cluster (null or blank: remove its name)."""
    return elements_service.name_cluster(session, collection_id, cluster_id, body.name)


@router.post("/{cluster_id}/merge", response_model=ClusterPublic)
def merge_clusters(
    collection_id: CollectionId,
    cluster_id: ClusterId,
    body: ClusterMerge,
    _: WriterDep,
    session: SessionDep,
) -> ClusterPublic:
    """Fold other clusters into this one (their members, and a name if this has none)."""
    return elements_service.merge_clusters(session, collection_id, cluster_id, body.cluster_ids)


@router.post("/{cluster_id}/split", response_model=list[ClusterPublic])
def split_cluster(
    collection_id: CollectionId, cluster_id: ClusterId, _: WriterDep, session: SessionDep
) -> list[ClusterPublic]:
    """Split the cluster in two (its tracks clustered again); the larger part keeps its id
    and name. 422 for a cluster of a single track."""
    return elements_service.split_cluster(session, collection_id, cluster_id)
