"""Stage leases at run time: the heartbeat of a running stage and the reaper that sends again
a stage whose worker died (the rules, and the rows, are ``app.jobs.service``'s).

A stage runs inside ``Lease``: a daemon thread renews the job's lease every
``tasks.heartbeat_s`` whatever the stage is doing (loading models, one long batch), so a
healthy stage never looks dead; if a renewal finds the lease gone (the job was cancelled,
or this process stalled past ``tasks.lease_s`` and the stage went to another worker) the
stage stops at its next progress step (``LeaseLost``). Every worker runs a ``Reaper`` thread
that frees expired leases and sends their stages again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from types import TracebackType

from app.core.config import Settings
from app.jobs.service import ExpiredStage
from workers.stages.store import Store

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This process no longer holds the stage it runs: stop without writing anything more."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id}: the stage lease went to another runner")
        self.job_id = job_id


def new_owner() -> str:
    """A lease owner id: which host and process, and which run of a stage in it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Lease:
    """The lease ``owner`` holds on ``job_id``'s stage, renewed while the ``with`` block runs."""

    def __init__(self, settings: Settings, job_id: int, owner: str) -> None:
        self.job_id = job_id
        self.owner = owner
        self._store = Store(settings.sqlalchemy_url)
        self._lease_s = settings.tasks.lease_s
        self._heartbeat_s = settings.tasks.heartbeat_s
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def check(self) -> None:
        """Raise ``LeaseLost`` when a heartbeat found the lease gone."""
        if self._lost.is_set():
            raise LeaseLost(self.job_id)

    def confirm(self) -> None:
        """Renew the lease now; ``LeaseLost`` when it is not this run's any more."""
        if not self._store.renew_lease(self.job_id, self.owner, self._lease_s):
            self._lost.set()
        self.check()

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-job-{self.job_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _beat(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            try:
                held = self._store.renew_lease(self.job_id, self.owner, self._lease_s)
            except Exception as exc:
                # The database is away for a moment: the lease may run out, and then the next
                # renewal says so; the stage's own writes meet the same error meanwhile.
                log.warning("job %s: heartbeat failed: %s", self.job_id, exc)
                continue
            if not held:
                log.warning("job %s: lost the stage lease; stopping", self.job_id)
                self._lost.set()
                return


# (stage name or None for the first stage by job id, job id, analysis id, attempt) -> sent
Sender = Callable[[ExpiredStage], None]


def reap(settings: Settings, send: Sender) -> list[ExpiredStage]:
    """Free the stages whose leases ran out and send each again (after the commit)."""
    freed = Store(settings.sqlalchemy_url).requeue_expired()
    for expired in freed:
        log.warning(
            "job %s: the worker running stage %s stopped renewing its lease; sending it again",
            expired.job_id,
            expired.stage or "(claim)",
        )
        send(expired)
    return freed


class Reaper:
    """A daemon thread that reaps every ``tasks.reaper_interval_s``, first at once."""

    def __init__(self, settings: Settings, send: Sender) -> None:
        self._settings = settings
        self._send = send
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-reaper", daemon=True)

    def start(self) -> Reaper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        interval = self._settings.tasks.reaper_interval_s
        while True:
            try:
                reap(self._settings, self._send)
            except Exception as exc:  # the database or broker away: try again next round
                log.warning("lease reaper: %s", exc)
            if self._stop.wait(interval):
                return
