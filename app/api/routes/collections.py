"""Collections: create, list, delete, membership, statistics, and analysing them as a batch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import DispatcherDep, ReaderDep, SessionDep, SettingsDep, WriterDep
from app.api.params import CollectionId, FilmId, check_page_size
from app.api.schemas import (
    BatchOut,
    CollectionFilmsChange,
    FilmListParams,
    FilmOut,
    FilmPage,
    FilmsChanged,
    JobOut,
    PageQuery,
)
from app.collections import service as collections_service
from app.collections.schemas import CollectionCreate, CollectionPublic, CollectionStats
from app.core.pagination import Page
from app.films import service as films_service
from app.jobs import service as jobs_service
from app.jobs.dispatch import commit_and_enqueue

router = APIRouter(prefix="/collections", tags=["collections"])


@router.post("", response_model=CollectionPublic, status_code=status.HTTP_201_CREATED)
def create_collection(
    body: CollectionCreate, _: WriterDep, session: SessionDep
) -> CollectionPublic:
    return collections_service.create_collection(session, body)


@router.get("", response_model=Page[CollectionPublic])
def list_collections(
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[PageQuery, Query()],
) -> Page[CollectionPublic]:
    check_page_size(settings, page.limit)
    return collections_service.list_collections(session, page)


@router.get("/{collection_id}", response_model=CollectionPublic)
def get_collection(
    collection_id: CollectionId, _: ReaderDep, session: SessionDep
) -> CollectionPublic:
    return collections_service.get_collection(session, collection_id)


@router.delete("/{collection_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_collection(collection_id: CollectionId, _: WriterDep, session: SessionDep) -> Response:
    """Delete the collection; its films stay in the archive."""
    collections_service.delete_collection(session, collection_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{collection_id}/films", response_model=FilmPage)
def list_collection_films(
    collection_id: CollectionId,
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    params: Annotated[FilmListParams, Query()],
) -> FilmPage:
    """The collection's films, with the same filters and sorts as ``GET /films``."""
    check_page_size(settings, params.limit)
    collections_service.get_collection(session, collection_id)  # 404 for an unknown one
    query = params.to_query().model_copy(update={"collection_ids": [collection_id]})
    page = films_service.query_films(session, query)
    return FilmPage(
        items=[FilmOut.model_validate(film) for film in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/{collection_id}/films", response_model=FilmsChanged)
def add_films(
    collection_id: CollectionId, body: CollectionFilmsChange, _: WriterDep, session: SessionDep
) -> FilmsChanged:
    """Add films (already members are skipped); ``changed`` counts the new ones."""
    added = collections_service.add_films(session, collection_id, body.film_ids)
    return FilmsChanged(collection_id=collection_id, changed=added)


@router.delete("/{collection_id}/films/{film_id}", response_model=FilmsChanged)
def remove_film(
    collection_id: CollectionId, film_id: FilmId, _: WriterDep, session: SessionDep
) -> FilmsChanged:
    """Take a film out of the collection (not out of the archive)."""
    removed = collections_service.remove_films(session, collection_id, [film_id])
    return FilmsChanged(collection_id=collection_id, changed=removed)


@router.get("/{collection_id}/stats", response_model=CollectionStats)
def collection_stats(
    collection_id: CollectionId,
    _: ReaderDep,
    session: SessionDep,
    bins: Annotated[int, Query(ge=1, le=100, description="Histogram bins over [0, 1].")] = 10,
) -> CollectionStats:
    """Totals, time-weighted shares and the distribution of hybrid ratios of its films."""
    return collections_service.collection_stats(session, collection_id, bins=bins)


@router.post(
    "/{collection_id}/analyze", response_model=BatchOut, status_code=status.HTTP_202_ACCEPTED
)
def analyze_collection(
    collection_id: CollectionId,
    _: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> BatchOut:
    """Queue one analysis job per film of the collection, as a batch (``GET /batches/{id}``)."""
    created = jobs_service.create_batch(session, collection_id=collection_id)
    commit_and_enqueue(session, dispatcher, created.job_ids, settings.sqlalchemy_url)
    batch = jobs_service.get_batch(session, created.batch_id)
    return BatchOut(
        **batch.model_dump(exclude={"jobs"}), jobs=[JobOut.of(job) for job in batch.jobs]
    )
