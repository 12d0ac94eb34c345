"""The ``jobs`` table: one queued request to analyse one film, alone or as part of a batch,
or (``kind`` "propagate") to spread a shot's human masks through the shot.

A job exists from the moment it is enqueued; the analysis it produces is linked once a
worker starts it. Stage and progress live on the analysis (the worker writes them in one
place); the job keeps the queue's view: status, attempts, task id and errors that happen
before an analysis exists (a film that cannot be probed, say).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.domain import RunStatus
from app.models.base import Base, JSONType, utcnow
from app.models.types import run_status_type


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    film_id: Mapped[int] = mapped_column(ForeignKey("films.id", ondelete="CASCADE"), index=True)
    analysis_id: Mapped[int | None] = mapped_column(
        ForeignKey("analyses.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[RunStatus] = mapped_column(run_status_type(), default=RunStatus.QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The Celery task id, so a cancel can revoke it; NULL when run in-process.
    task_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The stage lease (workers.leases): the stage this job is at, the process running it
    # (NULL while the stage waits in the queue) and until when its heartbeats hold it. A
    # running stage whose lease ran out lost its worker; a reaper sends it again.
    stage: Mapped[str | None] = mapped_column(String(64))
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    heartbeat_at: Mapped[datetime | None]
    # How often a reaper sent a stage of this job again.
    requeues: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # What the job does: "analysis" (the registered stages) or "propagate" (one shot's human
    # masks spread through it); its parameters; and the progress of a job without an
    # analysis (an analysis job's progress lives on its analysis).
    kind: Mapped[str] = mapped_column(String(16), default="analysis", server_default="analysis")
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    progress: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        # Serves the per-batch counts (GROUP BY status) without visiting the table.
        Index("ix_jobs_batch_id_status", "batch_id", "status"),
        Index("ix_jobs_status", "status"),
    )
