"""The ``collection_films`` table: which films belong to which collections (many to many)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class CollectionFilm(Base):
    __tablename__ = "collection_films"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    # Indexed on its own: the primary key serves "films of a collection", this serves
    # "collections of a film" and the cascade when a film is deleted.
    film_id: Mapped[int] = mapped_column(
        ForeignKey("films.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
