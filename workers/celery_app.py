"""The one Celery app: queues ``cpu`` and ``gpu``, configured from the hybridlens settings.

Run a worker with ``hybridlens worker`` (or ``celery -A workers.celery_app worker -Q cpu,gpu``).
Tasks are acknowledged late and requeued when their worker dies, one message at a time per
process; results are not kept (progress and errors live in the database's jobs table).
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Queue

from app.core.config import Settings, get_settings
from app.core.db import dispose_engines
from app.jobs.dispatch import broker_transport_options
from workers.stages.registry import QUEUE_CPU, QUEUE_GPU, STAGES


def configure(app: Celery, settings: Settings) -> None:
    app.conf.update(
        broker_url=settings.redis_url,
        broker_connection_retry_on_startup=True,
        # Redis hands an unacknowledged message (its worker was killed) to another worker
        # after TaskSettings.visibility_timeout_s.
        broker_transport_options=broker_transport_options(settings),
        task_queues=(Queue(QUEUE_CPU), Queue(QUEUE_GPU)),
        task_default_queue=QUEUE_CPU,
        task_routes={stage.task_name: {"queue": stage.queue} for stage in STAGES},
        # Ack after the task ran, and requeue it when its process dies mid-way: a killed
        # worker's film is picked up again (the stages are idempotent).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A film is long work: never hold a second message while running one.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        imports=("workers.tasks.analysis",),
    )


app = Celery("hybridlens")
configure(app, get_settings())


@signals.worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # A forked pool process must not reuse the parent's pooled database connections.
    dispose_engines()
