"""Hand committed jobs to whatever runs them: Celery workers through Redis, or a thread here.

The API never imports ``workers``: in ``celery`` mode it sends tasks by name
(the first stage's task, ``TASK_PREPARE``, on its queue), and
in ``inline`` mode it calls the runner named in ``Settings.tasks.inline_runner`` from one
background thread. Either way the queue only carries job ids; the jobs table is the truth.
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import session_scope
from app.core.errors import UnavailableError
from app.core.registry import load_object
from app.jobs import service as jobs_service

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

# The first registered stage's task and queue (workers.stages.registry, which the API does
# not import; a test keeps the two in step). The workers chain the later stages themselves.
TASK_PREPARE = "hybridlens.analysis.prepare"
QUEUE_CPU = "cpu"
# A propagation job is one task on the gpu queue (workers.tasks.annotations).
TASK_PROPAGATE = "hybridlens.annotations.propagate"
# Embedding a still for look-alike search (workers.tasks.still): a short task on the gpu
# queue whose answer the API waits for.
TASK_EMBED_STILL = "hybridlens.embed_still"
# A collection's element run (app.elements, workers.tasks.elements): its own table, not a job.
TASK_ELEMENTS = "hybridlens.elements.run"
QUEUE_GPU = "gpu"
# Job kind -> the task that starts it and its queue (app.jobs.service names the kinds).
JOB_TASKS = {
    "analysis": (TASK_PREPARE, QUEUE_CPU),
    "propagate": (TASK_PROPAGATE, QUEUE_GPU),
}

# How often a send retries a broker that does not answer before giving up.
FAIL_FAST = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}

# A still's embedding: the vector (floats) and the embedder version it is comparable with.
StillEmbedding = tuple[list[float], str]


class QueueUnavailable(UnavailableError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"the task queue is unavailable: {reason}")


class StillUnavailable(UnavailableError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"the still could not be embedded: {reason}")


class Dispatcher(Protocol):
    """Runs jobs whose rows are committed, and embeds stills (work that needs torch, which
    the API process never imports); ``mode`` is ``celery`` or ``inline``."""

    mode: str

    def enqueue(self, job_ids: Sequence[int], kind: str = "analysis") -> None: ...

    def embed_still(self, png: bytes, timeout_s: float) -> StillEmbedding: ...

    def revoke(self, task_ids: Sequence[str]) -> None: ...

    def close(self) -> None: ...


def broker_transport_options(settings: Settings) -> dict[str, int]:
    """Redis transport options shared by the API's client and the workers.

    Redis gives an unacknowledged message (its worker was SIGKILLed) back to the queue once
    it is ``visibility_timeout`` old; workers look for such messages every
    ``unacked_restore_interval`` seconds (kombu's default looks only every 100 s).
    """
    timeout = settings.tasks.visibility_timeout_s
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1, min(10, timeout // 4)),
        "unacked_restore_throttle": 1,
    }


def celery_client(settings: Settings, *, results: bool = False) -> Celery:
    """A Celery app that only sends: broker settings shared with ``workers.celery_app``.
    With ``results``, it can also wait for a task's result (the still task's), through Redis;
    the client that sends analyses has no result backend, so it never talks to one."""
    from celery import Celery

    client = Celery("hybridlens", broker=settings.redis_url, set_as_current=False)
    client.conf.update(
        broker_connection_retry_on_startup=True,
        broker_transport_options=broker_transport_options(settings),
        task_ignore_result=True,
        task_routes={
            **{task: {"queue": queue} for task, queue in JOB_TASKS.values()},
            TASK_EMBED_STILL: {"queue": QUEUE_GPU},
        },
    )
    if results:
        # The still task keeps its result for a minute: the API waits for it.
        client.conf.update(result_backend=settings.redis_url, result_expires=60)
    return client


class CeleryDispatcher:
    mode = "celery"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client = celery_client(settings)
        self._still_client: Celery | None = None
        self._still_lock = threading.Lock()

    def enqueue(self, job_ids: Sequence[int], kind: str = "analysis") -> None:
        task, queue_name = JOB_TASKS[kind]
        for job_id in job_ids:
            self.send(task, [job_id], queue_name)

    def send(self, task: str, args: list[Any], queue: str) -> None:
        """Send ``task`` whose state lives in the database (no result to wait for); a dead
        broker fails fast with ``QueueUnavailable`` (the API answers 503) rather than hang."""
        try:
            self._client.send_task(
                task,
                args=args,
                queue=queue,
                ignore_result=True,
                retry=True,
                retry_policy=FAIL_FAST,
            )
        except Exception as exc:
            raise QueueUnavailable(str(exc) or type(exc).__name__) from exc

    def embed_still(self, png: bytes, timeout_s: float) -> StillEmbedding:
        """Send the still to a gpu worker and wait for its embedding, at most ``timeout_s``."""
        from celery import exceptions as celery_exceptions

        with self._still_lock:
            if self._still_client is None:
                self._still_client = celery_client(self._settings, results=True)
            client = self._still_client
        try:
            result = client.send_task(
                TASK_EMBED_STILL,
                args=[base64.b64encode(png).decode("ascii")],
                queue=QUEUE_GPU,
                expires=timeout_s,
                retry=True,
                retry_policy=FAIL_FAST,
            )
        except Exception as exc:
            raise QueueUnavailable(str(exc) or type(exc).__name__) from exc
        try:
            answer = result.get(timeout=timeout_s, propagate=True)
        except celery_exceptions.TimeoutError as exc:
            result.revoke()
            raise StillUnavailable(f"no worker answered within {timeout_s:g} s") from exc
        except Exception as exc:
            raise StillUnavailable(str(exc) or type(exc).__name__) from exc
        finally:
            result.forget()
        return list(answer["vector"]), str(answer["version"])

    def revoke(self, task_ids: Sequence[str]) -> None:
        if not task_ids:
            return
        try:
            self._client.control.revoke(list(task_ids))
        except Exception as exc:
            # Revoking is an optimisation: a revoked job's task exits on its own anyway
            # (claim_job refuses a cancelled job), so a broker hiccup here is not an error.
            log.warning("could not revoke tasks %s: %s", task_ids, exc)

    def close(self) -> None:
        self._client.close()
        if self._still_client is not None:
            self._still_client.close()


def resolve_runner(dotted: str) -> Callable[[int], None]:
    """``package.module:function`` -> the function."""
    runner: Callable[[int], None] = load_object(dotted)
    return runner


class InlineDispatcher:
    """Runs jobs one at a time on a daemon thread of this process (the embedded mode).

    The runner is resolved on first use, so importing the API stays free of torch.
    """

    mode = "inline"

    def __init__(
        self,
        runner: Callable[[int], None] | str,
        still_embedder: str = "workers.stages.embed:embed_still",
    ) -> None:
        self._still_embedder_spec = still_embedder
        self._still_embedder: Callable[[bytes], StillEmbedding] | None = None
        self._runner_spec = runner
        self._runner: Callable[[int], None] | None = runner if callable(runner) else None
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Jobs enqueued and not yet run, for wait_idle.
        self._pending = 0
        self._settled = threading.Condition()

    def enqueue(self, job_ids: Sequence[int], kind: str = "analysis") -> None:
        # The runner reads each job's kind from its row.
        if not job_ids:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="hybridlens-inline-jobs", daemon=True
                )
                self._thread.start()
            with self._settled:
                self._pending += len(job_ids)
            for job_id in job_ids:
                self._queue.put(job_id)

    def revoke(self, task_ids: Sequence[str]) -> None:
        # Inline jobs have no task ids; a cancelled job is skipped when its turn comes.
        return

    def embed_still(self, png: bytes, timeout_s: float) -> StillEmbedding:
        """Embed here, in this process (the embedded mode loads the models anyway); the
        embedder, named by ``still_embedder``, is imported on first use."""
        if self._still_embedder is None:
            self._still_embedder = load_object(self._still_embedder_spec)
        return self._still_embedder(png)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every enqueued job has been run (tests, shutdown)."""
        with self._settled:
            return self._settled.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            # A running analysis is not interrupted: the daemon thread dies with the process
            # and the job, still 'running', is resumed by the next start (claim_job allows it).
            thread.join(timeout=1.0)

    def _run(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                if self._runner is None:
                    assert isinstance(self._runner_spec, str)
                    self._runner = resolve_runner(self._runner_spec)
                self._runner(job_id)
            except Exception:
                log.exception("inline job %s crashed", job_id)
            finally:
                with self._settled:
                    self._pending -= 1
                    self._settled.notify_all()


def build_dispatcher(settings: Settings) -> Dispatcher:
    if settings.task_mode == "celery":
        return CeleryDispatcher(settings)
    return InlineDispatcher(settings.tasks.inline_runner, settings.tasks.still_embedder)


def commit_and_enqueue(
    session: Session,
    dispatcher: Dispatcher,
    job_ids: Sequence[int],
    database_url: str,
    *,
    kind: str = "analysis",
) -> None:
    """Commit the jobs' rows, then hand them over: a worker must never see a job that is
    not in the database yet. If the queue is down the jobs are marked failed (re-runnable)
    and ``QueueUnavailable`` is raised."""
    session.commit()
    try:
        dispatcher.enqueue(job_ids, kind)
    except QueueUnavailable as exc:
        with session_scope(database_url) as failing:
            for job_id in job_ids:
                jobs_service.fail_job(failing, job_id, str(exc))
        raise


def resume_active_jobs(dispatcher: Dispatcher, database_url: str) -> list[int]:
    """Inline mode on start: queue again the jobs a previous process left queued or running
    (their stage leases were that process's, and it is gone)."""
    with session_scope(database_url) as session:
        jobs_service.release_leases(session)
        job_ids = jobs_service.active_job_ids(session)
    dispatcher.enqueue(job_ids)
    return job_ids
