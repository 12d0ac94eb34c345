"""One job through the three analysis stages, whoever runs it (a Celery task per stage, or
the API's in-process thread for all three).

A job is claimed by ``begin`` (which starts, or resets, its analysis); later stages carry
``(job_id, analysis_id, attempt)`` and do nothing unless the job is still running that same
attempt, so a stage message left over from an attempt that a redelivery superseded exits
cleanly. Every stage overwrites its own output, so a re-run never duplicates rows.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass

from app.core.config import Settings
from app.core.db import session_scope
from app.core.domain import RunStatus
from app.films import service as films_service
from app.jobs import repository as jobs_repository
from app.jobs import service as jobs_service
from workers.analysis import (
    ModelMismatch,
    Models,
    ModelVersions,
    SpoolMissing,
    StageOutcome,
    fail_analysis,
    finish,
    infer,
    model_versions,
    prepare,
    start,
)

log = logging.getLogger(__name__)

_models_lock = threading.Lock()
_models: Models | None = None
_versions: dict[str, ModelVersions] = {}


def process_models(settings: Settings) -> Models:
    """The classifier and segmenter of this process, loaded on first use and kept."""
    global _models
    with _models_lock:
        if _models is None:
            log.info("loading models (device %s)", settings.model.device)
            _models = Models.load(settings.model)
        return _models


def configured_versions(settings: Settings) -> ModelVersions:
    """Versions of the configured weights (hashing them once per process, not per film)."""
    key = settings.model.model_dump_json()
    with _models_lock:
        if key not in _versions:
            _versions[key] = model_versions(settings.model)
        return _versions[key]


@dataclass(frozen=True)
class StageTicket:
    """What the next stage of a claimed job needs."""

    job_id: int
    analysis_id: int
    attempt: int


def begin(settings: Settings, job_id: int, task_id: str | None = None) -> StageTicket | None:
    """Claim the job and start (or reset) its analysis; None when the job must not run
    (cancelled, finished, or deleted with its film)."""
    with session_scope(settings.sqlalchemy_url) as session:
        claim = jobs_service.claim_job(session, job_id, task_id)
    if claim is None:
        log.info("job %s: not runnable any more, skipped", job_id)
        return None
    try:
        analysis_id = start(
            claim.film_id,
            settings=settings,
            versions=configured_versions(settings),
            job_id=job_id,
        )
    except films_service.FilmNotFound:
        log.info("job %s: its film was deleted meanwhile, skipped", job_id)
        return None
    return StageTicket(job_id, analysis_id, claim.attempt)


def is_current(settings: Settings, ticket: StageTicket) -> bool:
    """Whether the job still runs this ticket's attempt of this analysis."""
    with session_scope(settings.sqlalchemy_url) as session:
        job = jobs_repository.get_job(session, ticket.job_id)
        return (
            job is not None
            and job.status is RunStatus.RUNNING
            and job.analysis_id == ticket.analysis_id
            and job.attempts == ticket.attempt
        )


def run_prepare(settings: Settings, ticket: StageTicket) -> StageOutcome:
    return prepare(ticket.analysis_id, settings=settings)


def run_infer(settings: Settings, ticket: StageTicket) -> StageOutcome | None:
    """Stage B; None when the job moved on without it (stale message)."""
    if not is_current(settings, ticket):
        return None
    try:
        return infer(ticket.analysis_id, models=process_models(settings), settings=settings)
    except (ModelMismatch, SpoolMissing) as exc:
        # Not transient: another try on this worker would meet the same weights, or the same
        # missing spool (the cpu and gpu workers must share data_dir).
        fail(settings, ticket.job_id, ticket.analysis_id, str(exc))
        return None


def run_finish(settings: Settings, ticket: StageTicket) -> StageOutcome | None:
    """Stage C; None when the job moved on without it (stale message)."""
    if not is_current(settings, ticket):
        return None
    try:
        return finish(ticket.analysis_id, settings=settings)
    except SpoolMissing as exc:
        fail(settings, ticket.job_id, ticket.analysis_id, str(exc))
        return None


def fail(settings: Settings, job_id: int, analysis_id: int | None, reason: str) -> None:
    """Give a job up with ``reason`` (its analysis too, if it has one)."""
    if analysis_id is not None and fail_analysis(analysis_id, reason, settings=settings):
        return  # finish_analysis gave the job the same status and error
    # A job deleted with its film needs no failure recorded.
    with (
        session_scope(settings.sqlalchemy_url) as session,
        contextlib.suppress(jobs_service.JobNotFound),
    ):
        jobs_service.fail_job(session, job_id, reason)


def run_job(settings: Settings, job_id: int) -> RunStatus | None:
    """All three stages of one job in this process; returns the analysis's final status."""
    ticket = begin(settings, job_id)
    if ticket is None:
        return None
    try:
        outcome: StageOutcome | None = run_prepare(settings, ticket)
        if outcome is not None and outcome.proceed:
            outcome = run_infer(settings, ticket)
        if outcome is not None and outcome.proceed:
            outcome = run_finish(settings, ticket)
    except Exception as exc:
        log.exception("job %s (analysis %s) crashed", job_id, ticket.analysis_id)
        fail(settings, job_id, ticket.analysis_id, f"{type(exc).__name__}: {exc}")
        return RunStatus.FAILED
    return None if outcome is None else outcome.status
