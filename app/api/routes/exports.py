"""Exports of a film's results and of a collection, as downloadable files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.api.deps import ReaderDep, SessionDep
from app.api.params import AnalysisParam, CollectionId, FilmId
from app.api.schemas import CollectionExportFormat
from app.collections import service as collections_service
from app.core.errors import InvalidRequestError
from app.core.registry import UnknownName
from app.exports import registry as exports
from app.exports import tables
from app.films import service as films_service
from app.films.schemas import FilmPublic, FilmQuery

router = APIRouter(tags=["exports"])

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export as a file.",
        "content": {
            "application/json": {},
            "text/csv": {},
            "text/plain": {},
            "application/ld+json": {},
        },
    },
    409: {"description": "The film has no finished analysis; the detail says why."},
}
COLLECTION_PAGE = 1000


def _download(body: str, media_type: str, filename: str) -> Response:
    return Response(
        content=body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/films/{film_id}/export",
    response_class=Response,
    response_model=None,
    responses=FILE_RESPONSES,
)
def export_film(
    film_id: FilmId,
    request: Request,
    _: ReaderDep,
    session: SessionDep,
    format: Annotated[
        str,
        Query(description="What to export.", json_schema_extra={"enum": exports.EXPORTS.names()}),
    ] = "json",
    analysis_id: AnalysisParam = None,
    drop_frame: Annotated[
        bool, Query(description="Drop-frame timecode (edl, otio; 29.97 and 59.94 fps films).")
    ] = False,
) -> Response:
    """One film's results: ``json`` (everything), ``csv`` (frames), ``shots.csv``, ``edl``
    (CMX3600), ``otio`` (OpenTimelineIO) or ``annotations`` (W3C Web Annotations of its
    hybrid segments, with media fragments ``#t=start,end``). Edit lists count at the film's
    nominal rate. 409 with the reason when the film has no finished analysis."""
    try:
        export = exports.EXPORTS.get(format)
    except UnknownName as exc:
        raise InvalidRequestError(str(exc)) from exc
    report = analysis_service.get_film_report(
        session, film_id, analysis_id, include_frames=export.frames
    )
    target = exports.ExportTarget(
        film_id=film_id, base_url=str(request.base_url), drop_frame=drop_frame
    )
    exported = exports.export_film(report, format, target)
    return _download(exported.body, exported.media_type, exported.filename)


def _all_films(session: Session, collection_id: int) -> Iterator[FilmPublic]:
    offset = 0
    while True:
        page = films_service.query_films(
            session,
            FilmQuery(
                collection_ids=[collection_id], sort="id", limit=COLLECTION_PAGE, offset=offset
            ),
        )
        yield from page.items
        offset += COLLECTION_PAGE
        if offset >= page.total:
            return


@router.get(
    "/collections/{collection_id}/export",
    response_class=Response,
    response_model=None,
    responses=FILE_RESPONSES,
)
def export_collection(
    collection_id: CollectionId,
    _: ReaderDep,
    session: SessionDep,
    format: Annotated[CollectionExportFormat, Query()] = "json",
) -> Response:
    """A collection's films with their figures: ``csv`` (one row per film) or ``json`` (the
    collection, its statistics and its films)."""
    collection = collections_service.get_collection(session, collection_id)
    films = list(_all_films(session, collection_id))
    if format == "csv":
        return _download(
            tables.collection_csv(films),
            "text/csv; charset=utf-8",
            f"collection-{collection_id}.csv",
        )
    stats = collections_service.collection_stats(session, collection_id)
    return _download(
        tables.collection_json(collection, stats, films),
        "application/json",
        f"collection-{collection_id}.json",
    )
