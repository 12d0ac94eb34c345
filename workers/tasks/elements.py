"""The elements job as a Celery task on the gpu queue (a CPU-only worker runs it on its CPU),
and the runner the API's in-process mode calls."""

from __future__ import annotations

from celery import Task

from app.core.config import get_settings
from app.jobs.dispatch import TASK_ELEMENTS
from workers.celery_app import app
from workers.elements.job import run_elements


@app.task(name=TASK_ELEMENTS, bind=True, max_retries=0)
def run_elements_task(self: Task, run_id: int) -> None:
    """Extract, track, refine and cluster the elements of one collection."""
    run_elements(get_settings(), run_id, task_id=self.request.id)
