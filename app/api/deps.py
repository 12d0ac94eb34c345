"""What routes depend on: the settings, a database session per request, the caller's token,
and the dispatcher that runs jobs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import session_scope
from app.jobs.dispatch import Dispatcher
from app.tokens import service as tokens_service
from app.tokens.schemas import TokenPublic

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API token from `hybridlens token create` (add --write to change data).",
)


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One session per request, committed when the route returns (before the response is
    sent: ``scope="function"`` below), rolled back when it raises."""
    with session_scope(settings.sqlalchemy_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def current_token(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> TokenPublic:
    if credentials is None:
        raise _unauthorized("missing bearer token")
    cache: tokens_service.TokenCache = request.app.state.token_cache
    token = tokens_service.authenticate(session, credentials.credentials, cache)
    if token is None:
        raise _unauthorized("invalid or revoked token")
    return token


ReaderDep = Annotated[TokenPublic, Depends(current_token)]


def writer_token(token: ReaderDep) -> TokenPublic:
    if not token.can_write:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="this token is read-only")
    return token


WriterDep = Annotated[TokenPublic, Depends(writer_token)]
