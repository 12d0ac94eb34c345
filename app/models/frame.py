"""The ``frames`` table: every sampled frame of an analysis, its class, P fraction and mask.

Rows are many (one film has thousands), so ids are 64-bit on PostgreSQL and the indexes
follow the result queries: by class, by time range, by shot.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.core.domain import FrameClass
from app.models.base import Base, BigIntId, JSONType
from app.models.types import frame_class_type


class Frame(Base):
    __tablename__ = "frames"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    # The shot's index within the analysis, not a key to ``shots``: frames may be stored
    # before their shot is closed, and both go away with the analysis anyway.
    shot_index: Mapped[int | None] = mapped_column(Integer)
    frame_index: Mapped[int] = mapped_column(Integer)
    time_s: Mapped[float] = mapped_column(Float)
    frame_class: Mapped[FrameClass] = mapped_column(frame_class_type())
    p_fraction: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    # Running time this sample stands for; time-weighted statistics sum it.
    weight_s: Mapped[float] = mapped_column(Float)
    # 1-bit PNG of the P/NP mask; only segmented frames have one. Deferred: lists never need it.
    mask_png: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    # Share of NP content per cell of a coarse grid, rows of columns.
    np_grid: Mapped[list[list[float]] | None] = mapped_column(JSONType)

    __table_args__ = (
        UniqueConstraint("analysis_id", "frame_index"),
        Index("ix_frames_analysis_id_frame_class_time_s", "analysis_id", "frame_class", "time_s"),
        Index("ix_frames_analysis_id_time_s", "analysis_id", "time_s"),
        Index("ix_frames_analysis_id_shot_index", "analysis_id", "shot_index"),
    )
