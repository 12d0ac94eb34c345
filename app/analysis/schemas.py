"""Values that cross the analysis boundary.

Records going in (``ShotRecord``, ``FrameRecord``) are light dataclasses, since a film has
thousands of frames; values going out are pydantic models, ready for JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from app.annotations.schemas import LabelVersion
from app.core.domain import FrameClass, RunStatus
from app.core.pagination import PageParams
from app.films.schemas import FilmDetail
from app.scenes.schemas import ScenePublic


@dataclass(frozen=True, slots=True)
class ShotRecord:
    """One shot as the pipeline found it."""

    shot_index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    frame_class: FrameClass | str | None
    hybrid_ratio: float
    mean_p_fraction: float | None = None
    classified_s: float | None = None
    sampled_frames: int | None = None
    # How the shot begins ("cut", "dissolve", "fade", "wipe"; None for the first shot) and
    # how many frames a gradual transition takes.
    transition: str | None = None
    transition_frames: int = 0


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One sampled frame as the pipeline classified (and maybe segmented) it."""

    frame_index: int
    time_s: float
    frame_class: FrameClass | str
    p_fraction: float
    # Running time this sample stands for, in seconds.
    weight_s: float
    confidence: float | None = None
    shot_index: int | None = None
    mask_png: bytes | None = None
    np_grid: list[list[float]] | None = None


class AnalysisSummary(BaseModel):
    """Film-level figures of one analysis; those declared here are cached on the film for
    queries.

    Other keys the pipeline computes (longest hybrid run, counts...) are kept as given. The
    shares are null when no frame could be analysed (not 0: such a film matches no ratio query).
    """

    model_config = ConfigDict(extra="allow")

    hybrid_ratio: float | None = Field(ge=0.0, le=1.0)
    p_time_share: float | None = Field(ge=0.0, le=1.0)
    np_time_share: float | None = Field(ge=0.0, le=1.0)
    hybrid_time_share: float | None = Field(ge=0.0, le=1.0)
    mean_p_fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    hybrid_shot_count: int = Field(default=0, ge=0)
    # The hybrid ratio adjusted for the models' measured error rates (``quantify``); null
    # when the models carry none for the analysis's settings.
    adjusted_hybrid_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    # Where the true hybrid share plausibly lies, [low, high] (90 %: ``quantify``); null
    # whenever the adjusted ratio is.
    hybrid_ratio_range: tuple[float, float] | None = None


class AnalysisPublic(BaseModel):
    """An analysis without its timeline (which may be long)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    film_id: int
    classifier_version: str
    segmenter_version: str
    settings: dict[str, Any]
    settings_hash: str
    status: RunStatus
    stage: str | None
    progress: float
    error: str | None
    error_frame: int | None
    error_time_s: float | None
    detector: dict[str, Any] | None
    timings: dict[str, Any] | None
    summary: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AnalysisDetail(AnalysisPublic):
    timeline: dict[str, Any] | list[Any] | None


class ShotPublic(BaseModel):
    """A shot as people and files see it. Shots are numbered from 1 (``number``) everywhere:
    API, page, CSV, EDL, OTIO, annotations; frames from 0 (frame 0 is at 00:00:00:00). The
    0-based ``shot_index`` is the stored key only and is not serialised."""

    model_config = ConfigDict(from_attributes=True)

    shot_index: int = Field(exclude=True)
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    frame_class: FrameClass | None
    hybrid_ratio: float
    mean_p_fraction: float | None
    classified_s: float | None
    sampled_frames: int | None
    # How the shot begins: cut, dissolve, fade or wipe (null for the first shot, and for
    # analyses stored before transitions were kept); frames a gradual transition takes.
    transition: Literal["cut", "dissolve", "fade", "wipe"] | None = None
    transition_frames: int = 0
    # The most trusted source among the shot's frames' masks ("human", "propagated",
    # "model"; null: no frame has a mask) and where its class comes from: its own label
    # ("human", "elan"), else the most trusted source among its frames' classes.
    mask_source: Literal["human", "propagated", "model"] | None = None
    label_source: Literal["human", "elan", "propagated", "model"] = "model"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def number(self) -> int:
        """The shot's number, from 1."""
        return self.shot_index + 1


class FramePublic(BaseModel):
    """A stored frame without its mask bytes; ``has_mask`` says whether there is one.
    ``shot_number`` counts from 1, like ``ShotPublic.number``.

    ``frame_class``, ``p_fraction`` and ``has_mask`` are the effective ones (annotations
    over the model, ``app.annotations.resolve``); ``mask_source`` names the layer of the
    effective mask (null: none), ``label_source`` where the class comes from, and
    ``model_frame_class`` what the model alone said.
    """

    model_config = ConfigDict(from_attributes=True)

    frame_index: int
    time_s: float
    shot_index: int | None = Field(exclude=True)
    frame_class: FrameClass
    p_fraction: float
    confidence: float | None
    weight_s: float
    np_grid: list[list[float]] | None
    has_mask: bool
    mask_source: Literal["human", "propagated", "model"] | None = None
    label_source: Literal["human", "elan", "propagated", "model"] = "model"
    model_frame_class: FrameClass | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def shot_number(self) -> int | None:
        return None if self.shot_index is None else self.shot_index + 1


class FrameQuery(PageParams):
    """Filters and page for the frames of one analysis. Bounds are inclusive.

    ``sort``: ``time`` (film order) or ``confidence`` (least confident first, then film order):
    the frames most worth a human look.
    """

    limit: int = Field(default=100, ge=1, le=10_000)
    sort: Literal["time", "confidence"] = "time"
    frame_class: FrameClass | None = None
    min_time_s: float | None = Field(default=None, ge=0.0)
    max_time_s: float | None = Field(default=None, ge=0.0)
    min_p_fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    max_p_fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    shot_index: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered_ranges(self) -> FrameQuery:
        if (
            self.min_time_s is not None
            and self.max_time_s is not None
            and self.min_time_s > self.max_time_s
        ):
            raise ValueError("min_time_s is greater than max_time_s")
        if (
            self.min_p_fraction is not None
            and self.max_p_fraction is not None
            and self.min_p_fraction > self.max_p_fraction
        ):
            raise ValueError("min_p_fraction is greater than max_p_fraction")
        return self


class FilmReport(BaseModel):
    """Everything stored about one film's analysis: what ``show`` prints and exports write.
    Frames and shots are the effective ones (with their sources); ``labels`` are the labels
    in force over frames, shots and time ranges (human and imported)."""

    film: FilmDetail
    analysis: AnalysisDetail | None
    shots: list[ShotPublic]
    frames: list[FramePublic]
    labels: list[LabelVersion] = Field(default_factory=list)
    scenes: list[ScenePublic] = []
