"""The ``scenes`` table: runs of consecutive shots an analysis grouped into scenes."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntId, JSONType


class Scene(Base):
    __tablename__ = "scenes"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    # Position of the scene in the film, from 0.
    scene_index: Mapped[int] = mapped_column(Integer)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)
    # The indexes of its shots, in order.
    shot_indices: Mapped[list[int]] = mapped_column(JSONType)
    # The scene detector that found it (app.scenes.detectors).
    method: Mapped[str] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("analysis_id", "scene_index"),)
