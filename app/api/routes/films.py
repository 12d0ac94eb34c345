"""Films: upload, registration in place, query across the archive, metadata, delete, and
starting an analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.analysis import thumbnails
from app.analysis.overlay import FilmFileMissing
from app.api import uploads
from app.api.deps import DispatcherDep, ReaderDep, SessionDep, SettingsDep, WriterDep
from app.api.params import FilmId, check_page_size
from app.api.schemas import (
    FilmDetailOut,
    FilmIngested,
    FilmListParams,
    FilmOut,
    FilmPage,
    FilmRegister,
    JobOut,
)
from app.core.config import Settings
from app.core.domain import RunStatus
from app.core.errors import InvalidRequestError
from app.films import ingest
from app.films import service as films_service
from app.films.schemas import FilmMetadata, FilmMetadataUpdate
from app.jobs import service as jobs_service
from app.jobs.dispatch import Dispatcher, commit_and_enqueue

router = APIRouter(prefix="/films", tags=["films"])


@router.get("", response_model=FilmPage)
def list_films(
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    params: Annotated[FilmListParams, Query()],
) -> FilmPage:
    """Films across the archive, filtered by their figures, metadata and collections
    (``?min_hybrid_ratio=0.2&sort=-hybrid_ratio&collection=3``)."""
    check_page_size(settings, params.limit)
    page = films_service.query_films(session, params.to_query())
    return FilmPage(
        items=[FilmOut.model_validate(film) for film in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


def _answer(
    session: Session,
    settings: Settings,
    dispatcher: Dispatcher,
    result: ingest.Ingested,
    response: Response,
) -> FilmIngested:
    if result.job_id is not None:
        commit_and_enqueue(session, dispatcher, [result.job_id], settings.sqlalchemy_url)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    film = FilmOut.model_validate(films_service.get_film(session, result.film_id))
    return FilmIngested(
        **film.model_dump(),
        created=result.created,
        job_id=result.job_id,
        message=None if result.created else _known_film(session, film),
    )


def _known_film(session: Session, film: FilmOut) -> str:
    """What a duplicate's uploader is told: the film that has the file, and where its
    analysis stands (a failed one: why, and how to analyse it again)."""
    known = f"this file is film {film.id} ({film.original_filename}), stored before"
    analyse = f"POST /films/{film.id}/analyze"
    active = [
        job
        for job in jobs_service.list_jobs(
            session, film_id=film.id, statuses=[RunStatus.QUEUED, RunStatus.RUNNING], limit=10
        )
        if job.kind == jobs_service.KIND_ANALYSIS
    ]
    if active:
        return f"{known}; its analysis is {active[0].status.value}: GET /jobs/{active[0].id}"
    if film.analysis_status == RunStatus.FAILED:
        reason = film.analysis_note or "no reason given"
        return f"{known}; its analysis failed: {reason}. {analyse} to try again"
    if film.analysis_status is not None:
        return f"{known}; it is analysed ({film.analysis_status.value})"
    return f"{known}; it has not been analysed: {analyse}"


def _metadata(title: str | None, year: int | str | None, extra: object) -> FilmMetadata:
    try:
        return FilmMetadata.model_validate(
            {"title": title, "year": year, "extra": extra if extra is not None else {}}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRequestError(f"{where}: {first['msg']}") from exc


@router.post(
    "",
    response_model=FilmIngested,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=uploads.UPLOAD_OPENAPI,
    responses={
        200: {"description": "The same file was uploaded before: the existing film."},
        413: {"description": "The file exceeds the upload limit."},
        415: {"description": "Neither multipart nor a raw video body."},
    },
)
async def upload_film(
    request: Request,
    response: Response,
    _: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    analyze: Annotated[bool, Query(description="Start the analysis (default).")] = True,
    title: Annotated[str | None, Query(max_length=512)] = None,
    year: Annotated[int | None, Query(ge=1850, le=2200)] = None,
    filename: Annotated[
        str | None, Query(max_length=1024, description="The file's name, for a raw body.")
    ] = None,
) -> FilmIngested:
    """Upload a film, streamed to disk and hashed on the way in: multipart (field ``file``,
    optional fields ``title``, ``year``, ``extra`` as JSON, ``analyze``) or the raw file as the
    body. A file already stored (same sha256) gives back that film with status 200."""
    # End the token check's transaction: an upload may take minutes, and must not hold a
    # database connection (or a transaction) open meanwhile.
    await run_in_threadpool(session.commit)
    max_bytes = settings.api.max_upload_bytes
    incoming = ingest.IncomingFile(settings.media_dir, max_bytes)
    try:
        received = await uploads.receive(request, incoming, max_bytes)
        fields = received.fields
        metadata = _metadata(
            fields.get("title", title), fields.get("year", year), uploads.form_extra(fields)
        )
        wanted = uploads.form_bool(fields["analyze"]) if "analyze" in fields else analyze
        name = ingest.safe_filename(filename or received.filename)
        stored = await run_in_threadpool(incoming.finish, name)
    except BaseException:
        incoming.discard()
        raise

    def register() -> FilmIngested:
        try:
            result = ingest.ingest(session, stored, metadata, analyze=wanted)
        except BaseException:
            if stored.fresh:
                stored.path.unlink(missing_ok=True)
            raise
        return _answer(session, settings, dispatcher, result, response)

    return await run_in_threadpool(register)


@router.post(
    "/register",
    response_model=FilmIngested,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The file is already registered: the existing film."},
        403: {"description": "The path lies outside the storage root."},
    },
)
def register_film(
    body: FilmRegister,
    response: Response,
    _: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> FilmIngested:
    """Register a file already on the archive's storage, in place (``path`` relative to the
    configured storage root; nothing outside it is reachable)."""
    metadata = FilmMetadata(title=body.title, year=body.year, extra=body.extra)
    result = ingest.register_stored(session, settings, body.path, metadata, analyze=body.analyze)
    return _answer(session, settings, dispatcher, result, response)


@router.get("/{film_id}", response_model=FilmDetailOut)
def get_film(film_id: FilmId, _: ReaderDep, session: SessionDep) -> FilmDetailOut:
    return FilmDetailOut.model_validate(films_service.get_film_detail(session, film_id))


@router.patch("/{film_id}", response_model=FilmOut)
def update_film(
    film_id: FilmId, change: FilmMetadataUpdate, _: WriterDep, session: SessionDep
) -> FilmOut:
    """Change the uploader's metadata (fields left out keep their value)."""
    return FilmOut.model_validate(films_service.update_metadata(session, film_id, change))


@router.delete("/{film_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_film(
    film_id: FilmId, _: WriterDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Delete the film with all its results; an uploaded file is deleted too, a registered
    archive file is left where it is."""
    analyses = analysis_service.list_analyses(session, film_id)
    stored_path = films_service.delete_film(session, film_id)
    session.commit()
    ingest.remove_owned_file(stored_path, settings)
    for analysis in analyses:
        thumbnails.remove(settings.data_dir, analysis.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{film_id}/media",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def film_media(film_id: FilmId, _: ReaderDep, session: SessionDep) -> FileResponse:
    """The film file itself (range requests supported): what exports and annotations point at."""
    film = films_service.get_film(session, film_id)
    path = Path(film.stored_path)
    if not path.is_file():
        raise FilmFileMissing(film_id)
    return FileResponse(path, filename=film.original_filename)


@router.post("/{film_id}/analyze", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED)
def analyze_film(
    film_id: FilmId,
    _: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> JobOut:
    """Queue an analysis of the film; follow it at ``GET /jobs/{id}``."""
    job_id = jobs_service.create_job(session, film_id)
    commit_and_enqueue(session, dispatcher, [job_id], settings.sqlalchemy_url)
    return JobOut.of(jobs_service.get_job(session, job_id))
