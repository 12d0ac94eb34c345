"""What the API shows, where it differs from the domain schemas: no server paths, progress
as percentages, and the query parameters with the bounds HTTP input needs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.analysis.schemas import FrameQuery
from app.core.domain import RunStatus
from app.core.pagination import PageParams
from app.films.schemas import FilmMetadata, FilmQuery, FilmSummary
from app.jobs.schemas import BatchCounts, JobPublic

# Ids and offsets fit a 32-bit column; bigger numbers are malformed input, not a server error.
MAX_INT = 2**31 - 1
STAGE_ORDER = ("prepare", "infer", "embed", "scenes", "finish")


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class FilmOut(FilmSummary):
    """A film; the summary figures are null until its first analysis finishes."""


class FilmDetailOut(FilmOut):
    probe: dict[str, Any]


class FilmIngested(FilmOut):
    """The answer to an upload or a registration: the film, whether it is new (a duplicate
    gives back the film already stored) and the analysis job queued for it, if any. For a
    duplicate, ``message`` says where its analysis stands (failed: why, and how to retry)."""

    created: bool
    job_id: int | None
    message: str | None = None


class FilmRegister(FilmMetadata):
    """A file already on the archive's storage, relative to the configured storage root."""

    # A JSON body: strict types ("yes" is not a boolean, "1950" not a year). Query
    # parameters and form fields stay lax: they arrive as text.
    model_config = ConfigDict(strict=True)

    path: str = Field(min_length=1, max_length=4096)
    analyze: bool = True

    _path_nul = field_validator("path", "title")(_no_nul)


class FilmPage(BaseModel):
    items: list[FilmOut]
    total: int
    limit: int
    offset: int


class FilmListParams(FilmQuery):
    """Query of ``GET /films``: filters, sort (``-`` for descending) and page."""

    offset: int = Field(default=0, ge=0, le=MAX_INT)
    min_year: int | None = Field(default=None, ge=0, le=9999)
    max_year: int | None = Field(default=None, ge=0, le=9999)
    min_hybrid_shots: int | None = Field(default=None, ge=0, le=MAX_INT)
    max_hybrid_shots: int | None = Field(default=None, ge=0, le=MAX_INT)
    # ``collection=3&collection=5``: films in any of these collections.
    collection: list[int] | None = Field(default=None, max_length=100)
    collection_ids: list[int] | None = Field(default=None, exclude=True)

    @field_validator("collection")
    @classmethod
    def _ids_in_range(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(not 1 <= item <= MAX_INT for item in value):
            raise ValueError(f"collection ids lie between 1 and {MAX_INT}")
        return value

    _search_nul = field_validator("search")(_no_nul)

    def to_query(self) -> FilmQuery:
        values = self.model_dump(exclude={"collection", "collection_ids"})
        return FilmQuery(**values, collection_ids=self.collection)


class PageQuery(PageParams):
    offset: int = Field(default=0, ge=0, le=MAX_INT)


class FrameListParams(FrameQuery):
    """Query of ``GET /films/{id}/frames``: filters and page, in time order."""

    offset: int = Field(default=0, ge=0, le=MAX_INT)
    # Shots are numbered from 1, as ShotPublic.number.
    shot_number: int | None = Field(default=None, ge=1, le=MAX_INT)
    analysis_id: int | None = Field(default=None, ge=1, le=MAX_INT)

    def to_query(self) -> FrameQuery:
        values = self.model_dump(exclude={"analysis_id", "shot_number", "shot_index"})
        shot_index = None if self.shot_number is None else self.shot_number - 1
        return FrameQuery(**values, shot_index=shot_index)


class CollectionFilmsChange(BaseModel):
    model_config = ConfigDict(strict=True)

    film_ids: list[int] = Field(min_length=1, max_length=10_000)

    @field_validator("film_ids")
    @classmethod
    def _ids_in_range(cls, value: list[int]) -> list[int]:
        if any(not 1 <= item <= MAX_INT for item in value):
            raise ValueError(f"film ids lie between 1 and {MAX_INT}")
        return value


class FilmsChanged(BaseModel):
    collection_id: int
    changed: int


class JobOut(JobPublic):
    """A job with its progress as percentages: of its current stage, and of the whole."""

    stage_percent: float
    overall_percent: float

    @classmethod
    def of(cls, job: JobPublic) -> JobOut:
        stage_fraction = job.progress
        if job.status in (RunStatus.DONE, RunStatus.PARTIAL):
            overall = 1.0
        elif job.kind != "analysis":
            overall = stage_fraction  # one stage
        elif job.stage in STAGE_ORDER:
            overall = (STAGE_ORDER.index(job.stage) + stage_fraction) / len(STAGE_ORDER)
        else:
            overall = 0.0
        return cls(
            **job.model_dump(),
            stage_percent=round(100.0 * stage_fraction, 1),
            overall_percent=round(100.0 * overall, 1),
        )


class BatchOut(BaseModel):
    id: int
    collection_id: int | None
    options: dict[str, Any]
    created_at: datetime
    cancelled: bool
    cancelled_at: datetime | None
    counts: BatchCounts
    jobs: list[JobOut] = Field(default_factory=list)


class BatchCancelled(BaseModel):
    batch_id: int
    cancelled_job_ids: list[int]


class BatchRerun(BaseModel):
    batch_id: int
    requeued_job_ids: list[int]


class FilmStatsOut(BaseModel):
    """A film's figures from one analysis (by default the one behind its cached summary):
    ``summary`` as they stand with the film's annotations, ``model_summary`` the model's
    own; ``human_checked_share`` is the share of the sampled running time whose class or
    mask a person gave (null when nothing was analysed)."""

    film_id: int
    analysis_id: int
    status: RunStatus
    error: str | None
    summary: dict[str, Any] | None
    model_summary: dict[str, Any] | None = None
    human_checked_s: float = 0.0
    human_checked_share: float | None = None
    detector: dict[str, Any] | None
    timings: dict[str, Any] | None


class TimelineOut(BaseModel):
    film_id: int
    analysis_id: int
    status: RunStatus
    timeline: list[Any] | dict[str, Any] | None


class Me(BaseModel):
    """What the caller's token is and may do: read only, or also upload, create, analyse,
    change and delete (``can_write``)."""

    token_name: str
    token_prefix: str
    can_write: bool


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    task_mode: Literal["inline", "celery"]
    version: str


CollectionExportFormat = Literal["json", "csv"]
