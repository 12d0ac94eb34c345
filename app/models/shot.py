"""The ``shots`` table: the shots an analysis found, with each shot's class and hybrid ratio."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.domain import FrameClass
from app.models.base import Base, BigIntId
from app.models.types import frame_class_type


class Shot(Base):
    __tablename__ = "shots"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    # Position of the shot in the film, from 0.
    shot_index: Mapped[int] = mapped_column(Integer)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)
    # By majority of classified time; NULL when no frame of the shot was classified.
    frame_class: Mapped[FrameClass | None] = mapped_column(frame_class_type())
    hybrid_ratio: Mapped[float] = mapped_column(Float)
    mean_p_fraction: Mapped[float | None] = mapped_column(Float)
    # Running time and number of the shot's frames that were classified.
    classified_s: Mapped[float | None] = mapped_column(Float)
    sampled_frames: Mapped[int | None] = mapped_column(Integer)
    # How the shot begins: "cut", "dissolve", "fade" or "wipe" (NULL for the first shot and
    # for analyses made before transitions were stored); frames a gradual one takes.
    transition: Mapped[str | None] = mapped_column(String(16))
    transition_frames: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (UniqueConstraint("analysis_id", "shot_index"),)
