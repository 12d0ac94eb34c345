"""Jobs and batches: progress per film and stage, counts per batch, cancel, re-run failed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import DispatcherDep, ReaderDep, SessionDep, SettingsDep, WriterDep
from app.api.params import BatchId, JobId, check_page_size
from app.api.schemas import MAX_INT, BatchCancelled, BatchOut, BatchRerun, JobOut, PageQuery
from app.core.domain import RunStatus
from app.jobs import service as jobs_service
from app.jobs.dispatch import commit_and_enqueue
from app.jobs.schemas import BatchPublic

router = APIRouter(tags=["jobs"])


def _batch_out(batch: BatchPublic) -> BatchOut:
    return BatchOut(
        **batch.model_dump(exclude={"jobs"}), jobs=[JobOut.of(job) for job in batch.jobs]
    )


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[PageQuery, Query()],
    status: Annotated[
        list[RunStatus] | None,
        Query(
            max_length=6, description="Only jobs in these states (`status=queued&status=running`)."
        ),
    ] = None,
    film: Annotated[
        int | None, Query(ge=1, le=MAX_INT, description="Only this film's jobs.")
    ] = None,
) -> list[JobOut]:
    """Jobs, newest first, with their progress: poll ``?status=queued&status=running`` to see
    what is being analysed."""
    check_page_size(settings, page.limit)
    jobs = jobs_service.list_jobs(
        session, film_id=film, statuses=status, limit=page.limit, offset=page.offset
    )
    return [JobOut.of(job) for job in jobs]


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: JobId, _: ReaderDep, session: SessionDep) -> JobOut:
    """One film's job: status, current stage, progress (%), error."""
    return JobOut.of(jobs_service.get_job(session, job_id))


@router.get("/batches", response_model=list[BatchOut])
def list_batches(
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[PageQuery, Query()],
    collection: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> list[BatchOut]:
    """Batches, newest first, with their counts (not their jobs)."""
    check_page_size(settings, page.limit)
    batches = jobs_service.list_batches(
        session, collection_id=collection, limit=page.limit, offset=page.offset
    )
    return [_batch_out(batch) for batch in batches]


@router.get("/batches/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: BatchId, _: ReaderDep, session: SessionDep) -> BatchOut:
    """A batch with its counts (queued, running, done, failed, ...) and every film's job."""
    return _batch_out(jobs_service.get_batch(session, batch_id))


@router.post("/batches/{batch_id}/cancel", response_model=BatchCancelled)
def cancel_batch(
    batch_id: BatchId, _: WriterDep, session: SessionDep, dispatcher: DispatcherDep
) -> BatchCancelled:
    """Cancel the batch's queued and running jobs; running analyses stop at their next
    progress report, results already stored stay."""
    cancelled = jobs_service.cancel_batch(session, batch_id)
    session.commit()
    dispatcher.revoke(cancelled.task_ids)
    return BatchCancelled(batch_id=batch_id, cancelled_job_ids=cancelled.job_ids)


@router.post("/batches/{batch_id}/rerun-failed", response_model=BatchRerun)
def rerun_failed(
    batch_id: BatchId,
    _: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> BatchRerun:
    """Queue again only the batch's failed films."""
    job_ids = jobs_service.rerun_failed(session, batch_id)
    commit_and_enqueue(session, dispatcher, job_ids, settings.sqlalchemy_url)
    return BatchRerun(batch_id=batch_id, requeued_job_ids=job_ids)
