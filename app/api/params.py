"""Typed path and query parameters shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.api.schemas import MAX_INT
from app.core.config import Settings
from app.core.errors import InvalidRequestError

FilmId = Annotated[int, Path(ge=1, le=MAX_INT, description="A film's id.")]
CollectionId = Annotated[int, Path(ge=1, le=MAX_INT, description="A collection's id.")]
JobId = Annotated[int, Path(ge=1, le=MAX_INT)]
BatchId = Annotated[int, Path(ge=1, le=MAX_INT)]
FrameIndex = Annotated[int, Path(ge=0, le=MAX_INT, description="The frame's number in the film.")]
AnalysisParam = Annotated[
    int | None,
    Query(ge=1, le=MAX_INT, description="An analysis of the film; default: its latest results."),
]


def check_page_size(settings: Settings, limit: int) -> None:
    if limit > settings.api.page_size_max:
        raise InvalidRequestError(f"limit may be at most {settings.api.page_size_max}")
