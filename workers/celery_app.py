"""The one Celery app: queues ``cpu`` and ``gpu``, configured from the hybridlens settings.

Run a worker with ``hybridlens worker`` (or ``celery -A workers.celery_app worker -Q cpu,gpu``).
Tasks are acknowledged late and requeued when their worker dies, one message at a time per
process; results are not kept (progress and errors live in the database's jobs table). Each
worker also runs the lease reaper (``workers.leases``), which sends again, within
``tasks.lease_s + tasks.reaper_interval_s``, a stage whose worker was killed.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Exchange, Queue

from app.core.config import Settings, get_settings
from app.core.db import dispose_engines
from app.jobs.dispatch import (
    TASK_ELEMENTS,
    TASK_EMBED_STILL,
    TASK_PROPAGATE,
    broker_transport_options,
)
from app.jobs.service import PROPAGATE_STAGE, ExpiredStage
from workers.leases import Reaper
from workers.stages.registry import QUEUE_CPU, QUEUE_GPU, STAGES


def configure(app: Celery, settings: Settings) -> None:
    app.conf.update(
        broker_url=settings.redis_url,
        broker_connection_retry_on_startup=True,
        # Redis hands an unacknowledged message (its worker was killed) to another worker
        # after TaskSettings.visibility_timeout_s.
        broker_transport_options=broker_transport_options(settings),
        # Each queue its own direct exchange: a bare Queue("gpu") would be bound to the
        # default queue's exchange, and the worker banner would show "gpu exchange=cpu".
        task_queues=tuple(
            Queue(name, Exchange(name, type="direct"), routing_key=name)
            for name in (QUEUE_CPU, QUEUE_GPU)
        ),
        task_default_queue=QUEUE_CPU,
        task_routes={
            **{stage.task_name: {"queue": stage.queue} for stage in STAGES},
            TASK_PROPAGATE: {"queue": QUEUE_GPU},
            TASK_EMBED_STILL: {"queue": QUEUE_GPU},
            # The elements job (workers.tasks.elements) trains a head: the gpu queue.
            TASK_ELEMENTS: {"queue": QUEUE_GPU},
        },
        # Ack after the task ran, and requeue it when its process dies mid-way: a killed
        # worker's film is picked up again (the stages are idempotent).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A film is long work: never hold a second message while running one.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        # Except the still task's (ignore_result=False), which the API waits for.
        result_backend=settings.redis_url,
        result_expires=60,
        task_serializer="json",
        accept_content=["json"],
        imports=(
            "workers.tasks.analysis",
            "workers.tasks.annotations",
            "workers.tasks.still",
            "workers.tasks.elements",
        ),
    )


app = Celery("hybridlens")
configure(app, get_settings())


@signals.worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # A forked pool process must not reuse the parent's pooled database connections.
    dispose_engines()


_reaper: Reaper | None = None


def send_again(expired: ExpiredStage) -> None:
    """Send a stage whose worker died to its queue again (the first stage by job id alone
    when no analysis was started: it claims the job anew)."""
    if expired.stage == PROPAGATE_STAGE:  # a propagation job: its one task, on the gpu queue
        app.send_task(
            TASK_PROPAGATE,
            args=[expired.job_id, expired.analysis_id, expired.attempt],
            queue=QUEUE_GPU,
            ignore_result=True,
        )
        return
    if expired.analysis_id is None or expired.stage is None:
        stage = STAGES.first
        args: list[int] = [expired.job_id]
    else:
        stage = STAGES.get(expired.stage)
        args = [expired.job_id, expired.analysis_id, expired.attempt]
    # ignore_result: with the result backend configured, a send would otherwise subscribe to
    # the task's result.
    app.send_task(stage.task_name, args=args, queue=stage.queue, ignore_result=True)


@signals.worker_ready.connect
def _start_reaper(**_: Any) -> None:
    # In the worker's main process, which outlives its pool's children: every worker looks
    # for stages whose worker died, so one live worker is enough to resume them.
    global _reaper
    _reaper = Reaper(get_settings(), send_again).start()


@signals.worker_shutdown.connect
def _stop_reaper(**_: Any) -> None:
    if _reaper is not None:
        _reaper.stop()
