"""Enumerations shared by the database, the services and the workers."""

from __future__ import annotations

from enum import StrEnum

from app.core.config import FrameClass

__all__ = ["FINISHED_STATUSES", "FrameClass", "RunStatus"]


class RunStatus(StrEnum):
    """Where an analysis or a job stands.

    ``partial`` means the film broke mid-way: what was decoded before the damage is kept.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = frozenset(
    {RunStatus.DONE, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.CANCELLED}
)
