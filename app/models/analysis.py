"""The ``analyses`` table: one run of the pipeline over one film with given models and settings.

The key (film, classifier version, segmenter version, settings hash) is unique: analysing a
film again with the same models and settings reuses and resets the row instead of adding one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.domain import RunStatus
from app.models.base import Base, JSONType, utcnow
from app.models.types import run_status_type


class Analysis(Base):
    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    film_id: Mapped[int] = mapped_column(ForeignKey("films.id", ondelete="CASCADE"))
    classifier_version: Mapped[str] = mapped_column(String(128))
    segmenter_version: Mapped[str] = mapped_column(String(128))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # sha256 of the canonical JSON of ``settings`` (see app.analysis.service.settings_hash).
    settings_hash: Mapped[str] = mapped_column(String(64))

    status: Mapped[RunStatus] = mapped_column(run_status_type(), index=True)
    stage: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    # Where a damaged film broke: the last frame read and its presentation time.
    error_frame: Mapped[int | None] = mapped_column(Integer)
    error_time_s: Mapped[float | None] = mapped_column(Float)

    detector: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Whatever series the pipeline produces (a list of time bins, or named series).
    timeline: Mapped[Any] = mapped_column(JSONType, nullable=True)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint(
            "film_id",
            "classifier_version",
            "segmenter_version",
            "settings_hash",
            name="uq_analyses_film_id_versions_settings_hash",
        ),
    )
