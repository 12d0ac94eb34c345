"""The runner the API calls in ``inline`` mode (``Settings.tasks.inline_runner``): one job
in this process, by its kind: an analysis runs every stage, a propagation its one."""

from __future__ import annotations

import time

from app.core.config import get_settings
from app.jobs import service as jobs_service
from workers import orchestrator
from workers.orchestrator import RetryLater
from workers.stages.store import Store


def run_job(job_id: int) -> None:
    settings = get_settings()
    found = Store(settings.sqlalchemy_url).job_kind(job_id)
    if found is not None and found[0] == jobs_service.KIND_PROPAGATE:
        from workers.stages import propagate

        retries = 0
        while True:
            try:
                propagate.run_job(settings, job_id, retries=retries)
                return
            except RetryLater as later:
                time.sleep(later.countdown)
                retries += 1
    orchestrator.run_job(settings, job_id)
