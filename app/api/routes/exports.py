"""Exports of a film's results and of a collection, as downloadable files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.api.deps import ReaderDep, SessionDep
from app.api.params import AnalysisParam, CollectionId, FilmId
from app.api.schemas import CollectionExportFormat, ExportFormat
from app.collections import service as collections_service
from app.exports import edl, otio, tables, web_annotations
from app.films import service as films_service
from app.films.schemas import FilmPublic, FilmQuery

router = APIRouter(tags=["exports"])

# (media type, file suffix) of each format.
MEDIA_TYPES = {
    "json": ("application/json", "json"),
    "csv": ("text/csv; charset=utf-8", "frames.csv"),
    "shots.csv": ("text/csv; charset=utf-8", "shots.csv"),
    "edl": ("text/plain; charset=utf-8", "edl"),
    "otio": ("application/json", "otio"),
    "annotations": ("application/ld+json", "annotations.jsonld"),
}
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export as a file.",
        "content": {
            "application/json": {},
            "text/csv": {},
            "text/plain": {},
            "application/ld+json": {},
        },
    }
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
    format: Annotated[ExportFormat, Query(description="What to export.")] = "json",
    analysis_id: AnalysisParam = None,
) -> Response:
    """One film's results: ``json`` (everything), ``csv`` (frames), ``shots.csv``, ``edl``
    (CMX3600), ``otio`` (OpenTimelineIO) or ``annotations`` (W3C Web Annotations of its
    hybrid segments, with media fragments ``#t=start,end``)."""
    report = analysis_service.get_film_report(
        session, film_id, analysis_id, include_frames=format in ("json", "csv")
    )
    film = report.film
    media_url = str(request.url_for("film_media", film_id=film_id))
    name = film.title or PurePath(film.original_filename).stem or f"film-{film_id}"
    if format == "json":
        body = tables.film_json(report)
    elif format == "csv":
        body = tables.frames_csv(report)
    elif format == "shots.csv":
        body = tables.shots_csv(report)
    elif format == "edl":
        body = edl.shots_edl(
            report.shots, title=name, fps=film.fps, clip_name=film.original_filename
        )
    elif format == "otio":
        timeline = otio.shots_timeline(
            report.shots,
            name=name,
            fps=film.fps,
            media_url=media_url,
            frame_count=film.frame_count,
        )
        body = json.dumps(timeline, indent=2)
    else:
        collection = web_annotations.annotation_collection(
            report.shots,
            collection_id=str(request.url),
            media_url=media_url,
            label=f"Hybrid compositions in {name}",
        )
        body = json.dumps(collection, indent=2)
    media_type, suffix = MEDIA_TYPES[format]
    return _download(body, media_type, f"film-{film_id}.{suffix}")


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
