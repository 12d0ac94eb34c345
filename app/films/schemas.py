"""Values that cross the films service boundary: uploader metadata, public views, queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.core.domain import RunStatus
from app.core.pagination import PageParams

# Columns a film list may be sorted by; a leading "-" sorts descending.
FILM_SORT_FIELDS = (
    "id",
    "created_at",
    "title",
    "year",
    "duration_s",
    "hybrid_ratio",
    "adjusted_hybrid_ratio",
    "p_time_share",
    "np_time_share",
    "hybrid_time_share",
    "mean_p_fraction",
    "hybrid_shot_count",
)


class FilmMetadata(BaseModel):
    """What an uploader may tell about a film; ``extra`` holds anything else (JSON)."""

    title: str | None = Field(default=None, max_length=512)
    year: int | None = Field(default=None, ge=1850, le=2200)
    extra: dict[str, Any] = Field(default_factory=dict)


class FilmMetadataUpdate(BaseModel):
    """A partial change of metadata: fields left unset keep their value. A JSON body: the
    year is a number, not a string."""

    model_config = ConfigDict(strict=True)

    title: str | None = Field(default=None, max_length=512)
    year: int | None = Field(default=None, ge=1850, le=2200)
    extra: dict[str, Any] | None = None


class FilmSummary(BaseModel):
    """A film's public facts; summary fields are None until analysed. No server paths."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    sha256: str
    original_filename: str
    size_bytes: int
    duration_s: float | None
    fps: float | None
    width: int | None
    height: int | None
    frame_count: int | None
    has_audio: bool | None
    title: str | None
    year: int | None
    extra: dict[str, Any]
    created_at: datetime
    hybrid_ratio: float | None
    # The hybrid ratio adjusted for the models' measured error rates (null: not adjusted,
    # see ``app.pipeline.quantify``).
    adjusted_hybrid_ratio: float | None = None
    # Where the true hybrid share plausibly lies, 90 % (null wherever the adjusted ratio
    # is, for rates measured without their spreads, and for films analysed before the
    # range was computed).
    hybrid_ratio_low: float | None = None
    hybrid_ratio_high: float | None = None
    p_time_share: float | None
    np_time_share: float | None
    hybrid_time_share: float | None
    mean_p_fraction: float | None
    hybrid_shot_count: int | None
    # The analysis behind the figures, or the film's last analysis if it failed (null: none
    # finished yet). An analysis that fails after one that succeeded leaves these alone.
    last_analysis_id: int | None
    # The state of that analysis: "done", "partial" or "failed"; ``analysis_note`` says why
    # it is partial or failed, or that no frame could be analysed (the figures are then null).
    analysis_status: RunStatus | None = None
    analysis_note: str | None = None


class FilmPublic(FilmSummary):
    """A film as the services return it: its public facts plus where its file is stored."""

    stored_path: str


class FilmDetail(FilmPublic):
    """A film with its probe record (without the path the probe read: ``stored_path``)."""

    probe: dict[str, Any]

    @field_validator("probe")
    @classmethod
    def _no_server_path(cls, probe: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in probe.items() if key != "path"}


class RegisteredFilm(BaseModel):
    """The answer to a registration: the film's id and whether it was already known."""

    film_id: int
    created: bool


class FilmQuery(PageParams):
    """Filters, sort and page for listing films across the archive.

    Range bounds are inclusive. A film that has not been analysed has no figures, so any
    figure filter excludes it; unanalysed films sort last whichever the direction.
    """

    min_hybrid_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    max_hybrid_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    min_adjusted_hybrid_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    max_adjusted_hybrid_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    min_p_time_share: float | None = Field(default=None, ge=0.0, le=1.0)
    max_p_time_share: float | None = Field(default=None, ge=0.0, le=1.0)
    min_np_time_share: float | None = Field(default=None, ge=0.0, le=1.0)
    max_np_time_share: float | None = Field(default=None, ge=0.0, le=1.0)
    min_hybrid_shots: int | None = Field(default=None, ge=0)
    max_hybrid_shots: int | None = Field(default=None, ge=0)
    min_year: int | None = None
    max_year: int | None = None
    # Films in any of these collections.
    collection_ids: list[int] | None = None
    analyzed: bool | None = None
    # Case-insensitive substring of the title or the original filename.
    search: str | None = Field(default=None, min_length=1, max_length=200)
    sort: str = "-created_at"

    @field_validator("sort")
    @classmethod
    def _known_sort(cls, value: str) -> str:
        if value.removeprefix("-") not in FILM_SORT_FIELDS:
            raise ValueError(
                f"sort must be one of {', '.join(FILM_SORT_FIELDS)} (prefix - for descending)"
            )
        return value

    @model_validator(mode="after")
    def _ordered_ranges(self) -> FilmQuery:
        pairs = (
            ("hybrid_ratio", self.min_hybrid_ratio, self.max_hybrid_ratio),
            (
                "adjusted_hybrid_ratio",
                self.min_adjusted_hybrid_ratio,
                self.max_adjusted_hybrid_ratio,
            ),
            ("p_time_share", self.min_p_time_share, self.max_p_time_share),
            ("np_time_share", self.min_np_time_share, self.max_np_time_share),
            ("hybrid_shots", self.min_hybrid_shots, self.max_hybrid_shots),
            ("year", self.min_year, self.max_year),
        )
        for name, low, high in pairs:
            if low is not None and high is not None and low > high:
                raise ValueError(f"min_{name} is greater than max_{name}")
        return self
