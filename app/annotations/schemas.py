"""Values that cross the annotations boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.core.domain import FrameClass

MaskLayer = Literal["model", "human", "propagated"]


class LabelIn(BaseModel):
    """A P / NP / hybrid label for a frame or a whole shot."""

    model_config = ConfigDict(extra="forbid")

    label: FrameClass


class MaskVersion(BaseModel):
    """One stored version of a frame's human or propagated mask (``active``: it is the one
    in force; a version with ``reverted`` true records a revert)."""

    model_config = ConfigDict(from_attributes=True)

    film_id: int
    frame_index: int
    source: Literal["human", "propagated"]
    version: int
    reverted: bool
    p_fraction: float | None
    width: int | None
    height: int | None
    author: str | None
    created_at: datetime
    job_id: int | None = None


class LabelVersion(BaseModel):
    """One stored version of a label over a frame, a shot or a time range."""

    model_config = ConfigDict(from_attributes=True)

    film_id: int
    scope: Literal["frame", "shot", "range"]
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    source: str
    version: int
    label: FrameClass | None
    reverted: bool
    author: str | None
    created_at: datetime


class FrameAnnotations(BaseModel):
    """Every version of every annotation of one frame, oldest first per layer."""

    film_id: int
    frame_index: int
    masks: list[MaskVersion]
    labels: list[LabelVersion]


class ServedMask(BaseModel):
    """A mask PNG and the layer it comes from."""

    png: bytes
    source: MaskLayer
