"""Values that cross the jobs boundary: batches with their counts, jobs with their progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.core.domain import RunStatus


class JobPublic(BaseModel):
    """One film's job; stage and progress come from its analysis once a worker started it."""

    id: int
    batch_id: int | None
    film_id: int
    film_title: str | None
    film_filename: str
    analysis_id: int | None
    # "analysis", or "propagate" (a shot's human masks spread through it).
    kind: str = "analysis"
    status: RunStatus
    stage: str | None
    # 0..1 (the API shows it as a percentage).
    progress: float
    error: str | None
    attempts: int
    task_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BatchCounts(BaseModel):
    queued: int = 0
    running: int = 0
    done: int = 0
    partial: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


class BatchPublic(BaseModel):
    id: int
    collection_id: int | None
    options: dict[str, Any]
    created_at: datetime
    cancelled: bool
    cancelled_at: datetime | None
    counts: BatchCounts
    # Empty in batch lists; filled when one batch is asked for.
    jobs: list[JobPublic] = Field(default_factory=list)


class CreatedBatch(BaseModel):
    """A new batch and its jobs; enqueue the job ids only after the commit."""

    batch_id: int
    job_ids: list[int]


class JobClaim(BaseModel):
    """What a worker needs to run a job it has claimed."""

    job_id: int
    film_id: int
    batch_id: int | None
    attempt: int
    options: dict[str, Any]


class CancelledBatch(BaseModel):
    """Jobs a cancel stopped, and the task ids the caller may revoke in the queue."""

    job_ids: list[int]
    task_ids: list[str]
