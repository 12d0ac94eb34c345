"""The ``element_runs`` table: one run of the elements job over a collection (extract,
track, refine, cluster), with its state and progress, and the refined projection head.

The latest finished run of a collection holds its clusters and the head that maps the
pretrained embeddings into the collection's refined space.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.core.domain import RunStatus
from app.models.base import Base, JSONType, utcnow
from app.models.types import run_status_type


class ElementRun(Base):
    __tablename__ = "element_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[RunStatus] = mapped_column(run_status_type())
    stage: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    # What was asked for (refine, seed, steps) and what came of it (counts, losses, times).
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The refined projection head (app.elements.head: npz of float32 arrays); NULL = identity.
    head: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    embedding_version: Mapped[str | None] = mapped_column(String(128))
    # The Celery task id; NULL when run in-process.
    task_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    # Renewed with every progress report; a running run silent for long lost its worker.
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
