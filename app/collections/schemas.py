"""Values that cross the collections boundary."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CollectionCreate(BaseModel):
    model_config = ConfigDict(strict=True)

    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)


class CollectionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    created_at: datetime
    film_count: int = 0


class HistogramBin(BaseModel):
    """Films whose hybrid ratio lies in [lower, upper) (the last bin includes 1.0)."""

    lower: float
    upper: float
    count: int


class CollectionStats(BaseModel):
    """Figures over the analysed films of a collection.

    Time-weighted figures weight each film by its duration, so a feature counts more than
    a short; ``mean_hybrid_ratio`` weights every film the same.
    """

    collection_id: int
    film_count: int
    analyzed_count: int
    total_duration_s: float
    analyzed_duration_s: float
    hybrid_duration_s: float
    mean_hybrid_ratio: float | None
    time_weighted_hybrid_ratio: float | None
    # The same from the films' adjusted ratios (``app.pipeline.quantify``), over the
    # ``adjusted_count`` films that have one; null when none has.
    adjusted_count: int = 0
    time_weighted_adjusted_hybrid_ratio: float | None = None
    # Where the collection's true hybrid share of running time plausibly lies, 90 %, over
    # the same films; null when they were adjusted by different rates (other models), by
    # rates without spreads, or are more than 200.
    adjusted_hybrid_ratio_range: tuple[float, float] | None = None
    time_weighted_p_share: float | None
    time_weighted_np_share: float | None
    min_hybrid_ratio: float | None
    max_hybrid_ratio: float | None
    hybrid_shot_count: int
    hybrid_ratio_histogram: list[HistogramBin]
