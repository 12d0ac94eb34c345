"""Job logic: queue films for analysis alone or as a batch, claim, fail, cancel, re-run.

The queue (Celery, or the in-process runner) only carries job ids. The rows here are the
truth the API reads: create them, commit, then enqueue the returned ids. A worker calls
``claim_job`` first and gives up when it returns None (cancelled, finished or deleted);
``analysis.service.start_analysis(..., job_id=...)`` links the job to its analysis, and
``finish_analysis`` gives the job its final status. Errors before an analysis exists (a film
that cannot be probed) go through ``fail_job``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.collections import repository as collections_repository
from app.core.domain import RunStatus
from app.core.errors import ConflictError, NotFoundError
from app.films import repository as films_repository
from app.films.service import FilmNotFound
from app.jobs import repository
from app.jobs.schemas import (
    BatchCounts,
    BatchPublic,
    CancelledBatch,
    CreatedBatch,
    JobClaim,
    JobPublic,
)
from app.models import Frame, Job
from app.models.base import utcnow

_ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


class JobNotFound(NotFoundError):
    def __init__(self, job_id: int) -> None:
        super().__init__("job", job_id)


class BatchNotFound(NotFoundError):
    def __init__(self, batch_id: int) -> None:
        super().__init__("batch", batch_id)


class BatchCancelled(ConflictError):
    def __init__(self, batch_id: int) -> None:
        super().__init__(f"batch {batch_id} was cancelled")
        self.batch_id = batch_id


def _new_job(film_id: int, batch_id: int | None) -> dict[str, Any]:
    return {
        "film_id": film_id,
        "batch_id": batch_id,
        "status": RunStatus.QUEUED,
        "attempts": 0,
        "created_at": utcnow(),
    }


# Job kinds: an analysis runs the registered stages; a propagation spreads one shot's human
# masks through it (``workers.propagation``), one stage of that name on the gpu queue.
KIND_ANALYSIS = "analysis"
KIND_PROPAGATE = "propagate"
PROPAGATE_STAGE = "propagate"


def create_propagation_job(
    session: Session, film_id: int, analysis_id: int, shot_index: int
) -> int:
    """Queue the propagation of a shot's human masks (``shot_index`` from 0) over the
    sampled frames of ``analysis_id``; the job is linked to that analysis."""
    if not films_repository.exists_by_id(session, film_id):
        raise FilmNotFound(film_id)
    values = _new_job(film_id, None)
    values.update(
        kind=KIND_PROPAGATE,
        analysis_id=analysis_id,
        params={"film_id": film_id, "analysis_id": analysis_id, "shot_index": shot_index},
        progress=0.0,
    )
    return repository.insert_jobs(session, [values])[0]


def propagation_in_progress(session: Session, film_id: int, frame_indices: Sequence[int]) -> bool:
    """Whether a queued or running propagation of the film spreads masks to any of these
    frames: its results would land after anything done to their propagated masks now. Each
    propagation covers one shot of the analysis it was started on, which need not be the
    film's latest (shots may be cut differently there)."""
    if not frame_indices:
        return False
    jobs = session.scalars(
        select(Job).where(
            Job.film_id == film_id,
            Job.kind == KIND_PROPAGATE,
            Job.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
        )
    ).all()
    for job in jobs:
        params = job.params or {}
        covered = session.scalar(
            select(Frame.frame_index)
            .where(
                Frame.analysis_id == params.get("analysis_id"),
                Frame.shot_index == params.get("shot_index"),
                Frame.frame_index.in_(list(frame_indices)),
            )
            .limit(1)
        )
        if covered is not None:
            return True
    return False


def job_kind(session: Session, job_id: int) -> tuple[str, dict[str, Any]] | None:
    """(kind, parameters) of a job; None when it no longer exists."""
    job = repository.get_job(session, job_id)
    if job is None:
        return None
    return job.kind or KIND_ANALYSIS, dict(job.params or {})


def set_job_progress(session: Session, job_id: int, progress: float) -> bool:
    """Progress (0..1) of a job that has no analysis of its own (a propagation); False
    when the job stopped running (cancelled, deleted with its film)."""
    return repository.update_job_if(
        session,
        job_id,
        {"progress": min(max(float(progress), 0.0), 1.0)},
        Job.status == RunStatus.RUNNING,
    )


def finish_job(session: Session, job_id: int, status: RunStatus, error: str | None = None) -> bool:
    """Close a job that has no analysis of its own with its final status."""
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "finished_at": utcnow(),
        "stage": None,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if status is RunStatus.DONE:
        values["progress"] = 1.0
    return repository.update_job_if(session, job_id, values, Job.status.in_(_ACTIVE))


def finish_job_of_owner(session: Session, job_id: int, owner: str) -> bool:
    """Close a job ``owner`` holds the lease of as done (its results are written in the
    same transaction); False when the lease is no longer ``owner``'s."""
    return repository.update_job_if(
        session,
        job_id,
        {
            "status": RunStatus.DONE,
            "error": None,
            "finished_at": utcnow(),
            "progress": 1.0,
            "stage": None,
            "lease_owner": None,
            "lease_expires_at": None,
        },
        Job.lease_owner == owner,
        Job.status == RunStatus.RUNNING,
    )


def create_job(session: Session, film_id: int) -> int:
    """Queue one film on its own (an upload, ``POST /films/{id}/analyze``)."""
    if not films_repository.exists_by_id(session, film_id):
        raise FilmNotFound(film_id)
    return repository.insert_jobs(session, [_new_job(film_id, None)])[0]


def create_batch(
    session: Session,
    *,
    collection_id: int | None = None,
    film_ids: list[int] | None = None,
    options: Mapping[str, Any] | None = None,
) -> CreatedBatch:
    """One job per film of the collection (or of ``film_ids``); ``options`` are kept for the
    workers (settings overrides, say)."""
    from app.collections.service import CollectionNotFound

    if collection_id is not None:
        if collections_repository.get(session, collection_id) is None:
            raise CollectionNotFound(collection_id)
        targets = repository.film_ids_of_collection(session, collection_id)
    else:
        targets = []
    if film_ids:
        unknown = set(film_ids) - films_repository.existing_ids(session, film_ids)
        if unknown:
            raise FilmNotFound(min(unknown))
        targets = sorted(set(targets) | set(film_ids))
    batch_id = repository.insert_batch(
        session,
        {
            "collection_id": collection_id,
            "options": dict(options or {}),
            "created_at": utcnow(),
            "cancelled": False,
        },
    )
    job_ids = repository.insert_jobs(session, [_new_job(film, batch_id) for film in targets])
    return CreatedBatch(batch_id=batch_id, job_ids=job_ids)


def set_task_id(session: Session, job_id: int, task_id: str) -> None:
    """Remember the queue's task id (after enqueueing) so a cancel can revoke it."""
    if not repository.update_jobs(session, {"task_id": task_id}, job_ids=[job_id]):
        raise JobNotFound(job_id)


def claim_job(
    session: Session,
    job_id: int,
    task_id: str | None = None,
    *,
    stage: str | None = None,
    lease_s: float | None = None,
) -> JobClaim | None:
    """Mark a job running for this worker; None means: do not run it.

    With ``stage`` (the first stage) the job is put at that stage, whose runner must take
    its lease (``acquire_stage``) within ``lease_s`` or the reaper sends it again. A job
    already running at a stage is left alone: its stages and their leases are in charge
    (a message redelivered while a long stage runs must not start it over). A job running
    with no stage (the embedded mode released it on start, or a row from before leases) is
    claimed again, and ``start_analysis`` resets its half-written results.
    """
    job = repository.get_job(session, job_id)
    if job is None or job.status not in _ACTIVE:
        return None
    if job.status is RunStatus.RUNNING and job.stage is not None:
        return None
    options: dict[str, Any] = {}
    if job.batch_id is not None:
        batch = repository.get_batch(session, job.batch_id)
        if batch is not None:
            if batch.cancelled:
                return None
            options = dict(batch.options)
    now = utcnow()
    values: dict[str, Any] = {
        "status": RunStatus.RUNNING,
        "attempts": job.attempts + 1,
        "started_at": now,
        "finished_at": None,
        "error": None,
        "stage": stage,
        "lease_owner": None,
        "lease_expires_at": (
            now + timedelta(seconds=lease_s) if stage is not None and lease_s else None
        ),
    }
    if task_id is not None:
        values["task_id"] = task_id
    # Conditional on the status (and on no stage having taken over), so a cancel or another
    # worker's claim committed in between wins.
    claimable = Job.stage.is_(None) | (Job.status == RunStatus.QUEUED)
    if not repository.update_job_if(
        session, job_id, values, Job.status.in_(_ACTIVE), Job.attempts == job.attempts, claimable
    ):
        return None
    return JobClaim(
        job_id=job_id,
        film_id=job.film_id,
        batch_id=job.batch_id,
        attempt=job.attempts + 1,
        options=options,
    )


# -- stage leases ------------------------------------------------------------------------------
#
# A running job is at one stage (``Job.stage``). The process running it holds the stage's
# lease (``lease_owner``) and renews it (``renew_lease``) every few seconds; when the stage
# ends it hands the job on to the next stage (``hand_on``), which waits in the queue with no
# owner and no deadline. A lease that runs out means its worker died: ``requeue_expired``
# frees it once, for the reaper to send the stage again. Every change is a compare-and-set on
# the row, so of two processes only one runs a stage, and a stage handed on is never re-run.


def acquire_stage(
    session: Session,
    job_id: int,
    analysis_id: int,
    attempt: int,
    stage: str,
    owner: str,
    lease_s: float,
) -> bool:
    """Take the lease of ``stage`` for ``owner``: the job must run this attempt, be at this
    stage, and the stage be free (queued, or its lease run out). False: do not run it."""
    now = utcnow()
    return repository.update_job_if(
        session,
        job_id,
        {
            "lease_owner": owner,
            "lease_expires_at": now + timedelta(seconds=lease_s),
            "heartbeat_at": now,
        },
        Job.status == RunStatus.RUNNING,
        Job.analysis_id == analysis_id,
        Job.attempts == attempt,
        Job.stage == stage,
        Job.lease_owner.is_(None) | (Job.lease_expires_at < now) | (Job.lease_owner == owner),
    )


def renew_lease(session: Session, job_id: int, owner: str, lease_s: float) -> bool:
    """A heartbeat: extend ``owner``'s lease; False when it is no longer theirs."""
    now = utcnow()
    return repository.update_job_if(
        session,
        job_id,
        {"lease_expires_at": now + timedelta(seconds=lease_s), "heartbeat_at": now},
        Job.lease_owner == owner,
        Job.status == RunStatus.RUNNING,
    )


def holds_lease(session: Session, analysis_id: int, owner: str) -> bool:
    """Whether ``owner`` holds the stage lease of the job running ``analysis_id``; the write
    locks that job's row until the transaction ends (PostgreSQL), so a stage that checks it
    before writing its results cannot write them beside another runner's."""
    return repository.touch_lease(session, analysis_id, owner, utcnow())


def hand_on(session: Session, job_id: int, owner: str, next_stage: str | None) -> bool:
    """``owner`` finished its stage: the job moves to ``next_stage`` (None: no stage left),
    which waits in the queue unowned. False when the lease was no longer ``owner``'s (the
    stage was given to another worker, or the job was cancelled): do not hand on then."""
    return repository.update_job_if(
        session,
        job_id,
        {"stage": next_stage, "lease_owner": None, "lease_expires_at": None},
        Job.lease_owner == owner,
    )


def release_lease(session: Session, job_id: int, owner: str) -> None:
    """``owner`` gives its stage back unfinished (a retry will take it again)."""
    repository.update_job_if(
        session,
        job_id,
        {"lease_owner": None, "lease_expires_at": None},
        Job.lease_owner == owner,
    )


@dataclass(frozen=True)
class ExpiredStage:
    """A stage whose worker stopped renewing its lease, freed for the reaper to send again;
    ``analysis_id`` None when the worker died before the analysis existed (send the first
    stage with the job id alone: it claims the job again)."""

    job_id: int
    analysis_id: int | None
    attempt: int
    stage: str | None


def requeue_expired(session: Session) -> list[ExpiredStage]:
    """Free every running stage whose lease ran out, each once (of two reapers one wins),
    and return them for the caller to send again after the commit. A freed stage waits
    unowned with no deadline, like one handed on: sent once, it is not sent again."""
    now = utcnow()
    freed: list[ExpiredStage] = []
    for job_id, analysis_id, attempt, stage in repository.expired_leases(session, now):
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_expires_at": None,
            "requeues": Job.requeues + 1,
        }
        if analysis_id is None:
            # Died between claiming the job and starting its analysis: claim it anew.
            values["stage"] = None
        if repository.update_job_if(
            session,
            job_id,
            values,
            Job.status == RunStatus.RUNNING,
            Job.lease_expires_at < now,
        ):
            freed.append(ExpiredStage(job_id, analysis_id, attempt, stage))
    return freed


def release_leases(session: Session) -> None:
    """The embedded mode on start: it is the only runner, so every lease left is a dead
    process's; running jobs become claimable again (they start over)."""
    repository.update_jobs(
        session,
        {"stage": None, "lease_owner": None, "lease_expires_at": None},
        statuses=[RunStatus.RUNNING],
    )


def fail_job(session: Session, job_id: int, error: str) -> None:
    """A job that failed before (or without) an analysis: record why."""
    changed = repository.update_jobs(
        session,
        {"status": RunStatus.FAILED, "error": error, "finished_at": utcnow()},
        job_ids=[job_id],
        statuses=_ACTIVE,
    )
    if not changed and repository.get_job(session, job_id) is None:
        raise JobNotFound(job_id)


def is_cancelled(session: Session, job_id: int) -> bool:
    """True when the job was cancelled or no longer exists (its film was deleted)."""
    job = repository.get_job(session, job_id)
    return job is None or job.status is RunStatus.CANCELLED


def _job_view(row: Any) -> JobPublic:
    return JobPublic.model_validate(row, from_attributes=True)


def get_job(session: Session, job_id: int) -> JobPublic:
    rows = repository.job_views(session, job_id=job_id)
    if not rows:
        raise JobNotFound(job_id)
    return _job_view(rows[0])


def list_jobs(
    session: Session,
    *,
    film_id: int | None = None,
    statuses: Sequence[RunStatus] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[JobPublic]:
    """Jobs, newest first: what a page polls to show which films are being analysed."""
    rows = repository.job_views(
        session,
        film_id=film_id,
        statuses=statuses,
        newest_first=True,
        limit=limit,
        offset=offset,
    )
    return [_job_view(row) for row in rows]


def _counts(by_status: Mapping[RunStatus, int]) -> BatchCounts:
    values = {status.value: count for status, count in by_status.items()}
    return BatchCounts(**values, total=sum(by_status.values()))


def get_batch(session: Session, batch_id: int, *, with_jobs: bool = True) -> BatchPublic:
    batch = repository.get_batch(session, batch_id)
    if batch is None:
        raise BatchNotFound(batch_id)
    counts = repository.counts_by_batch(session, [batch_id])[batch_id]
    jobs = (
        [_job_view(row) for row in repository.job_views(session, batch_id=batch_id)]
        if with_jobs
        else []
    )
    return BatchPublic(
        id=batch.id,
        collection_id=batch.collection_id,
        options=batch.options,
        created_at=batch.created_at,
        cancelled=batch.cancelled,
        cancelled_at=batch.cancelled_at,
        counts=_counts(counts),
        jobs=jobs,
    )


def list_batches(
    session: Session, *, collection_id: int | None = None, limit: int = 50, offset: int = 0
) -> list[BatchPublic]:
    batches = repository.list_batches(session, collection_id, limit, offset)
    counts = repository.counts_by_batch(session, [batch.id for batch in batches])
    return [
        BatchPublic(
            id=batch.id,
            collection_id=batch.collection_id,
            options=batch.options,
            created_at=batch.created_at,
            cancelled=batch.cancelled,
            cancelled_at=batch.cancelled_at,
            counts=_counts(counts[batch.id]),
        )
        for batch in batches
    ]


def cancel_batch(session: Session, batch_id: int) -> CancelledBatch:
    """Cancel every queued or running job of a batch, and their running analyses.

    A running worker notices at its next ``update_progress`` (which returns False). Results
    already stored stay; the returned task ids may be revoked in the queue.
    """
    if repository.get_batch(session, batch_id) is None:
        raise BatchNotFound(batch_id)
    now = utcnow()
    repository.update_batch(session, batch_id, {"cancelled": True, "cancelled_at": now})
    changed = repository.update_jobs(
        session,
        {"status": RunStatus.CANCELLED, "finished_at": now},
        batch_id=batch_id,
        statuses=_ACTIVE,
    )
    analysis_ids = [analysis_id for _, analysis_id, _ in changed if analysis_id is not None]
    repository.update_analyses(
        session,
        analysis_ids,
        {"status": RunStatus.CANCELLED, "finished_at": now},
        statuses=_ACTIVE,
    )
    return CancelledBatch(
        job_ids=[job_id for job_id, _, _ in changed],
        task_ids=[task_id for _, _, task_id in changed if task_id],
    )


def rerun_failed(session: Session, batch_id: int) -> list[int]:
    """Queue again the failed jobs of a batch (only those); returns their ids to enqueue.

    Re-running a cancelled batch is refused: un-cancel is not a thing, create a new batch.
    """
    batch = repository.get_batch(session, batch_id)
    if batch is None:
        raise BatchNotFound(batch_id)
    if batch.cancelled:
        raise BatchCancelled(batch_id)
    changed = repository.update_jobs(
        session,
        {
            "status": RunStatus.QUEUED,
            "error": None,
            "task_id": None,
            "started_at": None,
            "finished_at": None,
        },
        batch_id=batch_id,
        statuses=[RunStatus.FAILED],
    )
    return sorted(job_id for job_id, _, _ in changed)


def active_job_ids(session: Session) -> list[int]:
    """Jobs still queued or running (an in-process runner resumes them when it starts)."""
    return repository.active_job_ids(session)
