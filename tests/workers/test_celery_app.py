"""The Celery app's queues: each stage's queue is its own exchange (what the worker banner
shows), and tasks route to it."""

from __future__ import annotations

from celery import Celery

from app.core.config import Settings
from workers.celery_app import configure
from workers.stages.registry import QUEUE_CPU, QUEUE_GPU, STAGES


def test_each_queue_has_an_exchange_of_its_own_name() -> None:
    app = Celery("test")
    configure(app, Settings(redis_url="redis://127.0.0.1:6379/9"))

    queues = {queue.name: queue for queue in app.amqp.queues.values()}

    assert set(queues) == {QUEUE_CPU, QUEUE_GPU}
    for name, queue in queues.items():
        assert (queue.exchange.name, queue.routing_key) == (name, name)
    assert {app.amqp.router.route({}, stage.task_name)["queue"].name for stage in STAGES} == {
        QUEUE_CPU,
        QUEUE_GPU,
    }
