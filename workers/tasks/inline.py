"""The runner the API calls in ``inline`` mode (``Settings.tasks.inline_runner``): one job,
every stage, in this process."""

from __future__ import annotations

from app.core.config import get_settings
from workers import orchestrator


def run_job(job_id: int) -> None:
    orchestrator.run_job(get_settings(), job_id)
