"""Pydantic views of element runs, clusters, members and labels."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.domain import RunStatus


class ElementRunCreate(BaseModel):
    # A JSON body: strict types ("yes" is not a boolean, "3" not a number).
    model_config = ConfigDict(extra="forbid", strict=True)

    # Fine-tune the projection head on the collection's tracks (else: the pretrained space).
    refine: bool = True
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    steps: int | None = Field(default=None, ge=1, le=100_000)


class ElementRunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    collection_id: int
    status: RunStatus
    stage: str | None
    progress: float
    error: str | None
    options: dict[str, Any]
    summary: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None


class ElementPlace(BaseModel):
    """Where an element is: which film, which sampled frame, which box (fractions)."""

    film_id: int
    frame_index: int
    box: list[float]


class FilmOccurrence(BaseModel):
    film_id: int
    title: str | None
    count: int
    first_time_s: float
    last_time_s: float


class ClusterPublic(BaseModel):
    cluster_id: int
    size: int
    name: str | None
    exemplar: ElementPlace | None
    films: list[FilmOccurrence]


class ElementMember(BaseModel):
    element_id: int
    film_id: int
    analysis_id: int
    frame_index: int
    time_s: float
    shot_index: int | None
    box: list[float]
    source: str
    track_id: int | None
    similarity: float


class ClusterMembers(BaseModel):
    cluster_id: int
    name: str | None
    items: list[ElementMember]
    total: int
    limit: int
    offset: int


class ClusterName(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # None (or blank) removes the name.
    name: str | None = Field(default=None, max_length=255)

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        return value or None


class ClusterMerge(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # The clusters folded into the one named in the path.
    cluster_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        min_length=1, max_length=100
    )


class ElementLabel(BaseModel):
    element_id: int
    frame_index: int
    time_s: float
    box: list[float]
    cluster_id: int
    name: str
    similarity: float
