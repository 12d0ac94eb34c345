"""Celery tasks for the three analysis stages, chained across queues by the tasks themselves:
``prepare`` (cpu) -> ``infer`` (gpu) -> ``finish`` (cpu).

The API sends only ``prepare`` with a job id. Each task reloads its rows and exits cleanly
when the job is gone, cancelled or superseded. Only named transient errors (database or
broker unreachable) are retried, with exponential backoff; anything else fails the job with
its reason, since a bad film would fail again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import redis.exceptions
import sqlalchemy.exc
from celery import Task
from kombu.exceptions import OperationalError as BrokerOperationalError

from app.core.config import get_settings
from app.jobs.dispatch import QUEUE_CPU, QUEUE_GPU, TASK_FINISH, TASK_INFER, TASK_PREPARE
from workers.analysis import StageOutcome
from workers.celery_app import app
from workers.tasks import runner
from workers.tasks.runner import StageTicket

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    BrokerOperationalError,
)

T = TypeVar("T")


def _guarded(task: Task, job_id: int, analysis_id: int | None, step: Callable[[], T]) -> T | None:
    """Run ``step``; retry transient errors with backoff, fail the job on anything else."""
    settings = get_settings()
    try:
        return step()
    except TRANSIENT_ERRORS as exc:
        retries = task.request.retries
        if retries < settings.tasks.max_retries:
            countdown = min(2**retries, settings.tasks.retry_backoff_max_s)
            log.warning("job %s: transient error, retry in %s s: %s", job_id, countdown, exc)
            raise task.retry(exc=exc, countdown=countdown) from exc
        reason = f"gave up after {retries} retries: {type(exc).__name__}: {exc}"
    except Exception as exc:
        log.exception("job %s (analysis %s) failed", job_id, analysis_id)
        reason = f"{type(exc).__name__}: {exc}"
    try:
        runner.fail(settings, job_id, analysis_id, reason)
    except Exception:
        log.exception("job %s: could not record its failure", job_id)
    return None


def _hand_on(outcome: StageOutcome | None, task_name: str, queue: str, ticket: StageTicket) -> None:
    if outcome is None or not outcome.proceed:
        return
    app.send_task(task_name, args=[ticket.job_id, ticket.analysis_id, ticket.attempt], queue=queue)


@app.task(name=TASK_PREPARE, bind=True, max_retries=None)
def prepare_task(self: Task, job_id: int) -> None:
    """Stage A: claim the job, start its analysis, decode and spool the sampled frames."""
    settings = get_settings()
    ticket = _guarded(self, job_id, None, lambda: runner.begin(settings, job_id, self.request.id))
    if ticket is None:
        return
    outcome = _guarded(
        self, job_id, ticket.analysis_id, lambda: runner.run_prepare(settings, ticket)
    )
    _hand_on(outcome, TASK_INFER, QUEUE_GPU, ticket)


def _ticket(job_id: int, analysis_id: int, attempt: int) -> StageTicket:
    return StageTicket(job_id=job_id, analysis_id=analysis_id, attempt=attempt)


@app.task(name=TASK_INFER, bind=True, max_retries=None)
def infer_task(self: Task, job_id: int, analysis_id: int, attempt: int) -> None:
    """Stage B: classify and segment the spooled frames with this process's models."""
    settings = get_settings()
    ticket = _ticket(job_id, analysis_id, attempt)
    outcome = _guarded(self, job_id, analysis_id, lambda: runner.run_infer(settings, ticket))
    _hand_on(outcome, TASK_FINISH, QUEUE_CPU, ticket)


@app.task(name=TASK_FINISH, bind=True, max_retries=None)
def finish_task(self: Task, job_id: int, analysis_id: int, attempt: int) -> None:
    """Stage C: statistics, store the results, close the analysis and the job."""
    settings = get_settings()
    _guarded(
        self,
        job_id,
        analysis_id,
        lambda: runner.run_finish(settings, _ticket(job_id, analysis_id, attempt)),
    )
