"""The annotation tables: what people (and propagation, and imported ELAN files) say about a
film's frames and shots, kept beside the model's output and never written over it.

Annotations belong to the film, not to one analysis: they are keyed on frame numbers (and
for labels on frame and time ranges), so they survive a re-analysis. Every change is a new
row with the next ``version`` of its subject; the latest version is the active one, and a
row without content (``mask_png`` / ``label`` NULL) records a revert. Older versions stay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.models.base import Base, BigIntId, JSONType, utcnow


class MaskAnnotation(Base):
    """One version of one layer ("human" or "propagated") of a sampled frame's P/NP mask."""

    __tablename__ = "mask_annotations"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    film_id: Mapped[int] = mapped_column(ForeignKey("films.id", ondelete="CASCADE"))
    frame_index: Mapped[int] = mapped_column(Integer)
    # "human" (drawn and saved by a person) or "propagated" (spread from human masks).
    source: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    # 1-bit PNG, white (1) where the picture is photographic; NULL: this version reverts
    # the layer (the frame has no mask of this source any more).
    mask_png: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    p_fraction: Mapped[float | None] = mapped_column(Float)
    # Who: the API token's name, "cli", or the propagation job.
    author: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The job that propagated it, and the human frames (and their versions) it came from.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    __table_args__ = (
        UniqueConstraint("film_id", "frame_index", "source", "version"),
        Index("ix_mask_annotations_film_id_source", "film_id", "source"),
    )


class LabelAnnotation(Base):
    """One version of a P / NP / hybrid label over a span of the film.

    ``scope`` says what the span is: "frame" (one sampled frame: start = end = its number),
    "shot" (a shot's frames, as the analysis cut it) or "range" (any time range, e.g. an
    ELAN annotation). ``source`` is "human" or "elan". Versions count per (film, scope,
    start_frame, end_frame, source).
    """

    __tablename__ = "label_annotations"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    film_id: Mapped[int] = mapped_column(ForeignKey("films.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(16))
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)  # inclusive
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    # "P", "NP" or "hybrid"; NULL: this version reverts the label.
    label: Mapped[str | None] = mapped_column(String(8))
    author: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where an imported label came from (file, tier, original value), free-form.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    __table_args__ = (
        UniqueConstraint("film_id", "scope", "start_frame", "end_frame", "source", "version"),
        Index("ix_label_annotations_film_id_scope", "film_id", "scope"),
    )
