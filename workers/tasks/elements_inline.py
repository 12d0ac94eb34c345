"""What the API's in-process mode calls with an element run id (no Celery involved)."""

from __future__ import annotations

from app.core.config import get_settings
from workers.elements.job import run_elements


def run_run(run_id: int) -> None:
    run_elements(get_settings(), run_id)
