"""The ``elements`` table: candidate drawn elements of an analysis's sampled frames.

One row per region (a connected NP region of a hybrid frame's mask, or a salient region of
a homogeneous NP frame), with its box, a small crop, its pretrained embedding and the track
that links it to the same element in neighbouring frames of its shot. Elements belong to an
analysis (a film's results), not to a collection: a film in two collections is extracted once.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.models.base import Base, BigIntId, JSONType


class Element(Base):
    __tablename__ = "elements"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    film_id: Mapped[int] = mapped_column(ForeignKey("films.id", ondelete="CASCADE"), index=True)
    frame_index: Mapped[int] = mapped_column(Integer)
    # The region's rank within its frame (largest first).
    region_index: Mapped[int] = mapped_column(Integer)
    shot_index: Mapped[int | None] = mapped_column(Integer)
    time_s: Mapped[float] = mapped_column(Float)
    # "mask" (an NP region of a hybrid frame) or "salient" (a region of an NP frame).
    source: Mapped[str] = mapped_column(String(16))
    # [x0, y0, x1, y1] as fractions of the frame's width and height.
    box: Mapped[list[float]] = mapped_column(JSONType)
    # Share of the frame's area the region itself covers.
    area: Mapped[float] = mapped_column(Float)
    # Pretrained embedding: float16 bytes, L2-normalised (workers.ml.embedding).
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    embedding_version: Mapped[str] = mapped_column(String(128))
    # Small JPEG of the box, for collages. Deferred: lists never need it.
    crop_jpeg: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    # Track within the analysis (unique per analysis, not across analyses).
    track_id: Mapped[int | None] = mapped_column(Integer)
    # The film's annotations the regions were found with (``annotation_mark``): a later
    # correction means the film's elements are extracted again.
    annotation_mark: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("analysis_id", "frame_index", "region_index"),
        Index("ix_elements_analysis_id_track_id", "analysis_id", "track_id"),
    )
