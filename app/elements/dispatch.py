"""Hand a committed element run to whatever runs it: the gpu queue of the Celery workers,
or a background thread of this process (inline mode), like analysis jobs
(``app.jobs.dispatch``). The API never imports ``workers``: tasks are sent by name."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import session_scope
from app.elements import service as elements_service
from app.jobs.dispatch import Dispatcher, InlineDispatcher, QueueUnavailable, celery_client

TASK_ELEMENTS = "hybridlens.elements.run"
QUEUE_GPU = "gpu"
INLINE_RUNNER = "workers.tasks.elements_inline:run_run"

_inline_lock = threading.Lock()
_inline: InlineDispatcher | None = None


def inline_runner() -> InlineDispatcher:
    """One thread for element runs in this process, apart from the analyses' thread."""
    global _inline
    with _inline_lock:
        if _inline is None:
            _inline = InlineDispatcher(INLINE_RUNNER)
        return _inline


def enqueue_run(settings: Settings, dispatcher: Dispatcher, run_id: int) -> None:
    if dispatcher.mode != "celery":
        inline_runner().enqueue([run_id])
        return
    client = celery_client(settings)
    try:
        client.send_task(
            TASK_ELEMENTS,
            args=[run_id],
            queue=QUEUE_GPU,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception as exc:
        raise QueueUnavailable(str(exc) or type(exc).__name__) from exc
    finally:
        client.close()


def commit_and_enqueue_run(
    session: Session, settings: Settings, dispatcher: Dispatcher, run_id: int
) -> None:
    """Commit the run's row, then send it; a queue that is down fails the run (503)."""
    session.commit()
    try:
        enqueue_run(settings, dispatcher, run_id)
    except QueueUnavailable as exc:
        with session_scope(settings.sqlalchemy_url) as failing:
            elements_service.fail_run(failing, run_id, str(exc))
        raise
