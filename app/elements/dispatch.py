"""Hand a committed element run to whatever runs it: the gpu queue of the Celery workers,
or a background thread of this process (inline mode), like analysis jobs
(``app.jobs.dispatch``). The API never imports ``workers``: tasks are sent by name."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import session_scope
from app.elements import service as elements_service
from app.jobs.dispatch import (
    QUEUE_GPU,
    TASK_ELEMENTS,
    CeleryDispatcher,
    Dispatcher,
    InlineDispatcher,
    QueueUnavailable,
)

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


def enqueue_run(dispatcher: Dispatcher, run_id: int) -> None:
    if isinstance(dispatcher, CeleryDispatcher):
        dispatcher.send(TASK_ELEMENTS, [run_id], QUEUE_GPU)
    else:
        inline_runner().enqueue([run_id])


def commit_and_enqueue_run(
    session: Session, settings: Settings, dispatcher: Dispatcher, run_id: int
) -> None:
    """Commit the run's row, then send it; a queue that is down fails the run (503)."""
    session.commit()
    try:
        enqueue_run(dispatcher, run_id)
    except QueueUnavailable as exc:
        with session_scope(settings.sqlalchemy_url) as failing:
            elements_service.fail_run(failing, run_id, str(exc))
        raise
