"""The ``frame_embeddings`` table: one pooled embedding per sampled frame of an analysis
(float16 bytes, L2-normalised), what look-alike search and the scene rule read.

Kept apart from ``frames`` so that loading the search index reads vectors only, and frame
listings never carry them.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntId


class FrameEmbedding(Base):
    __tablename__ = "frame_embeddings"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    frame_index: Mapped[int] = mapped_column(Integer)
    # The embedder's version (recipe and weights digest): vectors of two versions never meet.
    version: Mapped[str] = mapped_column(String(64))
    # float16 little-endian, ``dimension`` values.
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (UniqueConstraint("analysis_id", "frame_index"),)
