"""The Celery app's queues: each stage's queue is its own exchange (what the worker banner
shows), and tasks route to it."""

from __future__ import annotations

from typing import Any

import pytest
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


def test_the_reaper_sends_a_propagation_again_without_waiting_for_its_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.jobs.service import PROPAGATE_STAGE, ExpiredStage
    from workers import celery_app

    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(celery_app.app, "send_task", lambda *args, **kwargs: sent.append(kwargs))

    celery_app.send_again(ExpiredStage(7, 3, 1, PROPAGATE_STAGE))
    celery_app.send_again(ExpiredStage(8, 4, 1, STAGES.first.name))

    # The app has a result backend (the still task's): a send that does not ignore the
    # result subscribes the reaper to it, one subscription per send, never released.
    assert [kwargs.get("ignore_result") for kwargs in sent] == [True, True]
