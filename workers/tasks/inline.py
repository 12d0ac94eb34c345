"""The runner the API calls in ``inline`` mode (``Settings.tasks.inline_runner``): one job,
all stages, in this process."""

from __future__ import annotations

from app.core.config import get_settings
from workers.tasks import runner


def run_job(job_id: int) -> None:
    runner.run_job(get_settings(), job_id)
