"""The domain values every side shares: what a frame shows (``FrameClass``), the one rule
that turns a P fraction into a class (``ClassThresholds.classify``), where a run stands."""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel, Field


class FrameClass(StrEnum):
    """What a frame shows: homogeneous photographic, homogeneous non-photographic, or both."""

    P = "P"
    NP = "NP"
    HYBRID = "hybrid"


class ClassThresholds(BaseModel):
    """A frame is hybrid when each kind of content covers at least ``min_area`` of it.

    A frame whose P fraction is >= 1 - min_area is P, <= min_area is NP, anything between is
    hybrid. The default, 8% of the frame, is about one line of subtitles or a small inset: less
    than that is too little to call the composition hybrid. It was set by that reasoning, not
    tuned on the validation split (docs/results.md shows its effect). By it, a credit's
    letters superimposed on live action (a few percent of the picture) leave the frame P.
    """

    min_area: float = Field(default=0.08, gt=0.0, lt=0.5)

    def classify(self, p_fraction: float) -> FrameClass:
        if p_fraction >= 1.0 - self.min_area:
            return FrameClass.P
        if p_fraction <= self.min_area:
            return FrameClass.NP
        return FrameClass.HYBRID

    def within_hybrid(self, p_fraction: float) -> float:
        """``p_fraction`` moved just inside the hybrid range, for a frame called hybrid on other
        evidence (a frame head) whose pixels or patches fall outside it: ``classify`` of the
        result is hybrid again (the range's ends themselves classify as homogeneous)."""
        low = math.nextafter(self.min_area, 1.0)
        high = math.nextafter(1.0 - self.min_area, 0.0)
        return min(max(p_fraction, low), high)


# The rule a classifier's frame head learns its labels by (``workers/ml/train.py``). The head
# decides the frames it calls P or NP, so another configured ``min_area`` moves only the
# frames a mask decides: those the head calls hybrid, and every frame with ``segment_all``.
FRAME_HEAD_THRESHOLDS = ClassThresholds()


class RunStatus(StrEnum):
    """Where an analysis or a job stands.

    ``partial`` means the film broke mid-way: what was decoded before the damage is kept.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = frozenset(
    {RunStatus.DONE, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.CANCELLED}
)
