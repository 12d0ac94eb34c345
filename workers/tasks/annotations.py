"""The Celery task of a propagation job (``hybridlens.annotations.propagate``, gpu queue):
the API sends it with a job id; the reaper sends it again with the job's ticket when the
worker running it died."""

from __future__ import annotations

from celery import Task

from app.core.config import get_settings
from app.jobs.dispatch import TASK_PROPAGATE
from workers.celery_app import app
from workers.orchestrator import RetryLater
from workers.stages import propagate
from workers.stages.store import StageTicket


@app.task(name=TASK_PROPAGATE, bind=True, max_retries=None)
def propagate_task(
    self: Task, job_id: int, analysis_id: int | None = None, attempt: int | None = None
) -> None:
    """Spread a shot's human masks through it (a job of kind "propagate")."""
    ticket = StageTicket.from_task(job_id, analysis_id, attempt)
    try:
        propagate.run_job(
            get_settings(),
            job_id,
            task_id=self.request.id,
            ticket=ticket,
            retries=self.request.retries,
        )
    except RetryLater as later:
        raise self.retry(exc=later.cause, countdown=later.countdown) from later
