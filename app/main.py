"""The FastAPI app factory: routers, the one handler for typed service errors, and the job
dispatcher's lifetime.

``create_app()`` reads the ``HYBRIDLENS_*`` settings; ``hybridlens serve`` runs it with
uvicorn (``uvicorn --factory app.main:create_app`` works too). Everything but ``/health``,
the docs and the page at ``/ui`` needs a bearer token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from app.api.deps import current_token
from app.api.routes import annotations as annotation_routes
from app.api.routes import (
    collections,
    elements,
    exports,
    films,
    health,
    jobs,
    me,
    results,
    similar,
    ui,
)
from app.api.routes import elan as elan_routes
from app.core.config import Settings, get_settings
from app.core.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceError,
    UnavailableError,
)
from app.films.ingest import remove_stale_parts
from app.jobs.dispatch import Dispatcher, build_dispatcher, resume_active_jobs
from app.tokens.service import TokenCache

log = logging.getLogger(__name__)

# First match wins; a ServiceError of no listed family is a plain 400.
ERROR_STATUS: tuple[tuple[type[ServiceError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (ForbiddenError, 403),
    (PayloadTooLargeError, 413),
    (InvalidRequestError, 422),
    (UnavailableError, 503),
)

DESCRIPTION = """Find and measure hybrid compositions (photographic and drawn content in one
frame) in films: upload films, group them in collections, analyse them in batches, query and
export the results. Send `Authorization: Bearer TOKEN` (from `hybridlens token create`)."""


def status_of(error: ServiceError) -> int:
    for family, status_code in ERROR_STATUS:
        if isinstance(error, family):
            return status_code
    return 400


async def service_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    status_code = status_of(error)
    if status_code >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, error)
    return JSONResponse(status_code=status_code, content={"detail": str(error)})


async def data_error_handler(request: Request, error: Exception) -> JSONResponse:
    """Values the database refuses (a NUL character in text, a number out of range) are the
    client's doing: 422, never a 500."""
    log.warning(
        "%s %s: value refused by the database: %s",
        request.method,
        request.url.path,
        getattr(error, "orig", error),
    )
    return JSONResponse(
        status_code=422, content={"detail": "a value in the request cannot be stored"}
    )


async def sweep_stale_parts(settings: Settings) -> None:
    """Delete stale upload parts now and every ``api.part_sweep_interval_s``."""
    while True:
        try:
            removed = await asyncio.to_thread(
                remove_stale_parts, settings.media_dir, older_than_s=settings.api.stale_part_age_s
            )
            if removed:
                log.info("deleted %d stale upload parts", len(removed))
        except OSError as exc:
            log.warning("could not sweep upload parts: %s", exc)
        await asyncio.sleep(settings.api.part_sweep_interval_s)


def create_app(settings: Settings | None = None, dispatcher: Dispatcher | None = None) -> FastAPI:
    """The API for ``settings`` (default: from the environment). ``dispatcher`` defaults to
    the one ``settings.task_mode`` names: Celery through Redis, or in-process."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep_stale_parts(settings))
        running: Dispatcher = app.state.dispatcher
        if running.mode == "inline":
            try:
                resumed = resume_active_jobs(running, settings.sqlalchemy_url)
                if resumed:
                    log.info("resuming %d unfinished jobs in-process", len(resumed))
            except Exception as exc:  # no schema yet, say: the API still answers
                log.warning("could not resume unfinished jobs: %s", exc)
        try:
            yield
        finally:
            sweeper.cancel()
            running.close()

    app = FastAPI(
        title="hybridlens",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.dispatcher = dispatcher or build_dispatcher(settings)
    app.state.token_cache = TokenCache(settings.api.token_cache_s)
    app.add_exception_handler(ServiceError, service_error_handler)
    app.add_exception_handler(DataError, data_error_handler)
    app.include_router(health.router)
    app.include_router(ui.router)
    authenticated = [Depends(current_token)]
    routers = (
        films.router,
        results.router,
        annotation_routes.router,
        elan_routes.router,
        collections.router,
        elements.router,
        jobs.router,
        exports.router,
        similar.router,
    )
    for router in (me.router, *routers):
        app.include_router(router, dependencies=authenticated)
    return app
