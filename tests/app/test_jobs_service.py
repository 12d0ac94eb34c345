"""Batches and jobs: counts, per-film progress, claim, cancel, re-run failed only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.collections import service as collections_service
from app.collections.schemas import CollectionCreate
from app.core.domain import RunStatus
from app.jobs import service as jobs_service
from app.models import Frame
from tests.app.factories import frame_records, make_analysis, make_film


def _collection_batch(session: Session, films: int) -> tuple[list[int], list[int], int]:
    film_ids = [make_film(session, title=f"F{index}") for index in range(films)]
    collection = collections_service.create_collection(session, CollectionCreate(name="B"))
    collections_service.add_films(session, collection.id, film_ids)
    created = jobs_service.create_batch(session, collection_id=collection.id, options={"x": 1})
    session.commit()
    return film_ids, created.job_ids, created.batch_id


def test_create_batch_queues_one_job_per_film_of_collection(session: Session) -> None:
    film_ids, job_ids, batch_id = _collection_batch(session, 3)

    batch = jobs_service.get_batch(session, batch_id)

    assert len(job_ids) == 3
    assert batch.counts.queued == 3 and batch.counts.total == 3
    assert [job.film_id for job in batch.jobs] == film_ids
    assert all(job.status is RunStatus.QUEUED and job.progress == 0.0 for job in batch.jobs)


def test_batch_shows_counts_and_per_film_stage_progress_and_error(session: Session) -> None:
    film_ids, job_ids, batch_id = _collection_batch(session, 4)
    claims = [jobs_service.claim_job(session, job_id, task_id=f"t{job_id}") for job_id in job_ids]
    assert all(claim is not None and claim.options == {"x": 1} for claim in claims)
    # Film 0 finishes, film 1 is mid-way, film 2 fails before any analysis, film 3 waits.
    make_analysis(session, film_id=film_ids[0], job_id=job_ids[0])
    running = analysis_service.start_analysis(session, film_ids[1], "c", "s", {}, job_id=job_ids[1])
    analysis_service.update_progress(session, running, "classify", 0.25)
    jobs_service.fail_job(session, job_ids[2], "not a video: no video stream")
    session.commit()

    batch = jobs_service.get_batch(session, batch_id)

    assert (batch.counts.done, batch.counts.running, batch.counts.failed) == (1, 2, 1)
    jobs = {job.film_id: job for job in batch.jobs}
    assert jobs[film_ids[0]].status is RunStatus.DONE and jobs[film_ids[0]].progress == 1.0
    assert (jobs[film_ids[1]].stage, jobs[film_ids[1]].progress) == ("classify", 0.25)
    assert jobs[film_ids[2]].error == "not a video: no video stream"
    assert jobs[film_ids[3]].status is RunStatus.RUNNING and jobs[film_ids[3]].attempts == 1


def test_failed_analysis_gives_its_job_the_error(session: Session) -> None:
    film_ids, job_ids, _ = _collection_batch(session, 1)
    jobs_service.claim_job(session, job_ids[0])
    analysis_id = analysis_service.start_analysis(
        session, film_ids[0], "c", "s", {}, job_id=job_ids[0]
    )
    analysis_service.finish_analysis(session, analysis_id, "failed", error="decode failed")
    session.commit()

    job = jobs_service.get_job(session, job_ids[0])
    assert (job.status, job.error, job.analysis_id) == (
        RunStatus.FAILED,
        "decode failed",
        analysis_id,
    )


def test_cancel_batch_stops_queued_and_running_jobs_and_their_analyses(session: Session) -> None:
    film_ids, job_ids, batch_id = _collection_batch(session, 3)
    jobs_service.claim_job(session, job_ids[0], task_id="celery-1")
    analysis_id = analysis_service.start_analysis(
        session, film_ids[0], "c", "s", {}, job_id=job_ids[0]
    )
    make_analysis(session, film_id=film_ids[2], job_id=job_ids[2])  # already done
    session.commit()

    cancelled = jobs_service.cancel_batch(session, batch_id)
    session.commit()

    assert sorted(cancelled.job_ids) == job_ids[:2]
    assert cancelled.task_ids == ["celery-1"]
    batch = jobs_service.get_batch(session, batch_id)
    assert batch.cancelled and batch.counts.cancelled == 2 and batch.counts.done == 1
    assert not analysis_service.update_progress(session, analysis_id, "segment", 0.5)
    assert jobs_service.claim_job(session, job_ids[1]) is None
    assert jobs_service.is_cancelled(session, job_ids[0])


def test_rerun_failed_requeues_only_failed_jobs(session: Session) -> None:
    film_ids, job_ids, batch_id = _collection_batch(session, 3)
    for job_id in job_ids:
        jobs_service.claim_job(session, job_id)
    make_analysis(session, film_id=film_ids[0], job_id=job_ids[0])
    jobs_service.fail_job(session, job_ids[1], "corrupt")
    jobs_service.fail_job(session, job_ids[2], "corrupt")
    session.commit()

    requeued = jobs_service.rerun_failed(session, batch_id)
    session.commit()

    assert requeued == job_ids[1:]
    batch = jobs_service.get_batch(session, batch_id)
    assert (batch.counts.done, batch.counts.queued, batch.counts.failed) == (1, 2, 0)
    claim = jobs_service.claim_job(session, job_ids[1])
    assert claim is not None and claim.attempt == 2


def test_claim_job_reclaims_running_job_when_worker_died_without_duplicates(
    session: Session,
) -> None:
    film_ids, job_ids, _ = _collection_batch(session, 1)
    jobs_service.claim_job(session, job_ids[0], task_id="t")
    first = analysis_service.start_analysis(session, film_ids[0], "c", "s", {}, job_id=job_ids[0])
    analysis_service.save_frames(session, first, frame_records(3))
    session.commit()

    # The worker was killed; the redelivered task claims the still-running job again.
    claim = jobs_service.claim_job(session, job_ids[0], task_id="t")
    again = make_analysis(
        session,
        film_id=film_ids[0],
        settings={},
        job_id=job_ids[0],
        classifier_version="c",
        segmenter_version="s",
        frames=3,
    )
    session.commit()

    assert claim is not None and claim.attempt == 2
    assert again == first
    assert session.scalar(select(func.count()).select_from(Frame)) == 3
    assert jobs_service.get_job(session, job_ids[0]).status is RunStatus.DONE
    # A finished job is not run again.
    assert jobs_service.claim_job(session, job_ids[0]) is None


def test_rerun_failed_refuses_cancelled_batch(session: Session) -> None:
    _, _, batch_id = _collection_batch(session, 1)
    jobs_service.cancel_batch(session, batch_id)

    with pytest.raises(jobs_service.BatchCancelled):
        jobs_service.rerun_failed(session, batch_id)


def test_single_job_and_batch_lists(session: Session) -> None:
    film_id = make_film(session)
    job_id = jobs_service.create_job(session, film_id)
    _, _, batch_id = _collection_batch(session, 2)

    assert jobs_service.get_job(session, job_id).batch_id is None
    batches = jobs_service.list_batches(session)
    assert [batch.id for batch in batches] == [batch_id]
    assert batches[0].counts.total == 2 and batches[0].jobs == []
    with pytest.raises(jobs_service.BatchNotFound):
        jobs_service.get_batch(session, 999)


def test_list_jobs_filters_by_state_and_film_newest_first(session: Session) -> None:
    film_ids, job_ids, _ = _collection_batch(session, 3)
    jobs_service.claim_job(session, job_ids[0], task_id="t0")
    make_analysis(session, film_id=film_ids[0], job_id=job_ids[0])
    jobs_service.claim_job(session, job_ids[1], task_id="t1")
    session.commit()

    active = jobs_service.list_jobs(session, statuses=[RunStatus.QUEUED, RunStatus.RUNNING])
    of_film = jobs_service.list_jobs(session, film_id=film_ids[0])

    assert [job.id for job in active] == [job_ids[2], job_ids[1]]
    assert [(job.id, job.status) for job in of_film] == [(job_ids[0], RunStatus.DONE)]


def test_stage_lease_runs_a_stage_once_and_frees_it_only_when_it_expires(
    session: Session,
) -> None:
    _, job_ids, _ = _collection_batch(session, 1)
    job_id = job_ids[0]
    claim = jobs_service.claim_job(session, job_id, stage="prepare", lease_s=30)
    assert claim is not None
    analysis_id = analysis_service.start_analysis(
        session, claim.film_id, "c", "s", {}, job_id=job_id
    )
    take = lambda owner, stage="prepare", lease_s=30.0: jobs_service.acquire_stage(  # noqa: E731
        session, job_id, analysis_id, claim.attempt, stage, owner, lease_s
    )

    assert take("a") and not take("b")  # a live lease is not taken
    assert jobs_service.claim_job(session, job_id, stage="prepare", lease_s=30) is None
    assert jobs_service.requeue_expired(session) == []
    assert jobs_service.renew_lease(session, job_id, "a", 0.0)  # a's lease now runs out
    (freed,) = jobs_service.requeue_expired(session)
    assert (freed.job_id, freed.analysis_id, freed.stage) == (job_id, analysis_id, "prepare")
    assert jobs_service.requeue_expired(session) == []  # sent once
    assert not jobs_service.renew_lease(session, job_id, "a", 30.0)  # a's heartbeat: lost
    assert take("b")
    assert not jobs_service.hand_on(session, job_id, "a", "infer")
    assert jobs_service.hand_on(session, job_id, "b", "infer")
    assert not take("c")  # prepare finished: never run again
    assert take("c", "infer")
