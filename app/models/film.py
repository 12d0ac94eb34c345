"""The ``films`` table: one row per distinct video file (by sha256), with cached results.

The summary columns copy the figures of the film's latest finished analysis, so queries
across thousands of films filter and sort on indexed columns without touching analyses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, utcnow


class Film(Base):
    __tablename__ = "films"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    original_filename: Mapped[str] = mapped_column(String(1024))
    stored_path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)

    # Probe data: the whole ffprobe-derived record, plus the columns queries need.
    probe: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    duration_s: Mapped[float | None] = mapped_column(Float)
    fps: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    frame_count: Mapped[int | None] = mapped_column(Integer)
    has_audio: Mapped[bool | None]

    # What the uploader told us.
    title: Mapped[str | None] = mapped_column(String(512))
    year: Mapped[int | None] = mapped_column(Integer, index=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    # Cached from the latest finished analysis (NULL until one finishes).
    hybrid_ratio: Mapped[float | None] = mapped_column(Float, index=True)
    # The same, adjusted for the models' measured error rates (``app.pipeline.quantify``);
    # NULL where the models carried no rates for the analysis's settings.
    adjusted_hybrid_ratio: Mapped[float | None] = mapped_column(Float, index=True)
    # Where the true hybrid share plausibly lies (90 %: ``quantify.ratio_range``); NULL
    # wherever the adjusted ratio is, and for rates measured without their spreads.
    hybrid_ratio_low: Mapped[float | None] = mapped_column(Float)
    hybrid_ratio_high: Mapped[float | None] = mapped_column(Float)
    p_time_share: Mapped[float | None] = mapped_column(Float, index=True)
    np_time_share: Mapped[float | None] = mapped_column(Float, index=True)
    hybrid_time_share: Mapped[float | None] = mapped_column(Float)
    mean_p_fraction: Mapped[float | None] = mapped_column(Float)
    hybrid_shot_count: Mapped[int | None] = mapped_column(Integer, index=True)
    # The state of that analysis: "done" or "partial", and why it is partial (or that no
    # frame could be analysed, when the figures above are NULL).
    analysis_status: Mapped[str | None] = mapped_column(String(16))
    analysis_note: Mapped[str | None] = mapped_column(Text)
    # use_alter: films and analyses refer to each other, so this key is added after both exist.
    last_analysis_id: Mapped[int | None] = mapped_column(
        ForeignKey("analyses.id", ondelete="SET NULL", use_alter=True)
    )
