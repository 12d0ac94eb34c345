"""Celery tasks: one per registered stage, named ``hybridlens.analysis.<stage>`` and routed
to the stage's queue; each hands on to the next stage's task itself.

The API sends only the first stage's task, with a job id; that task claims the job. Later
tasks carry ``(job_id, analysis_id, attempt)``. What to retry and what to fail is the
orchestrator's one policy; here a ``RetryLater`` becomes Celery's retry with its countdown.
"""

from __future__ import annotations

import logging

from celery import Task

from app.core.config import get_settings
from workers.celery_app import app
from workers.orchestrator import RetryLater, claim, guarded, run_stage
from workers.stages.registry import STAGES, Stage
from workers.stages.store import StageTicket

log = logging.getLogger(__name__)


def _run(task: Task, stage: Stage, job_id: int, ticket: StageTicket | None) -> None:
    settings = get_settings()
    retries = task.request.retries
    try:
        if ticket is None:
            ticket = guarded(
                settings,
                job_id,
                None,
                lambda: claim(settings, job_id, task.request.id),
                retries=retries,
            )
            if ticket is None:
                return
        outcome = run_stage(settings, ticket, stage.name, retries=retries)
    except RetryLater as later:
        raise task.retry(exc=later.cause, countdown=later.countdown) from later
    following = STAGES.after(stage.name)
    if outcome is None or not outcome.proceed or following is None:
        return
    app.send_task(
        following.task_name,
        args=[ticket.job_id, ticket.analysis_id, ticket.attempt],
        queue=following.queue,
        ignore_result=True,  # never waited for (only the still task's result is)
    )


def _register(stage: Stage) -> None:
    @app.task(name=stage.task_name, bind=True, max_retries=None)
    def stage_task(
        self: Task, job_id: int, analysis_id: int | None = None, attempt: int | None = None
    ) -> None:
        ticket = StageTicket.from_task(job_id, analysis_id, attempt)
        _run(self, stage, job_id, ticket)

    stage_task.__doc__ = f"Stage {stage.name} ({stage.queue}): {stage.description}."


for _stage in STAGES:
    _register(_stage)
