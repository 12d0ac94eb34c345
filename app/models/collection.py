"""The ``collections`` table: named groups of films an archive analyses and queries together."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Model weights directories this collection's films are analysed with (e.g. fine-tuned
    # on its annotations by `hybridlens train ... --annotations`); NULL: the configured ones.
    classifier_path: Mapped[str | None] = mapped_column(Text)
    segmenter_path: Mapped[str | None] = mapped_column(Text)
