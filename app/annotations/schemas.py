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


class ElanRange(BaseModel):
    """One imported ELAN annotation: its time span (and frames), the tier's value and the
    class it was mapped to."""

    start_time: float
    end_time: float
    start_frame: int
    end_frame: int
    value: str
    label: FrameClass


class ElanSkipped(BaseModel):
    """A tier value no mapping covers: how often it occurs and how long it lasts."""

    value: str
    count: int
    duration_s: float


class ElanImport(BaseModel):
    """What an ELAN import stored: the film's ``elan`` range labels now in force (they
    replace the previous import's), and the values left out (unmapped or empty)."""

    film_id: int
    tier: str
    filename: str | None
    mapping: dict[str, FrameClass]
    imported: list[ElanRange]
    skipped: list[ElanSkipped]
    replaced: int


class ClassAgreement(BaseModel):
    """One class: its time in the ELAN labels, in the analysis (over the labelled time),
    the time both give it, and recall/precision of the analysis against the labels."""

    label: FrameClass
    elan_s: float
    analysis_s: float
    agreed_s: float
    recall: float | None
    precision: float | None


class ElanAgreement(BaseModel):
    """The analysis's frame classes (the model's, before annotations) against the imported
    ELAN labels, by running time. ``confusion[elan][analysis]`` is seconds; ``unclassified_s``
    is labelled time no classified frame covers (blank or undecoded)."""

    film_id: int
    analysis_id: int
    labelled_s: float
    compared_s: float
    agreed_s: float
    agreement: float | None
    unclassified_s: float
    confusion: dict[str, dict[str, float]]
    classes: list[ClassAgreement]
