"""The one orchestrator: a job through the registered stages, whoever runs it.

Celery tasks run one stage each (``workers.tasks.analysis``), the API's in-process mode and
``hybridlens analyze`` run them all here (``run_job``, ``analyze_path``); all go through
``claim`` and ``run_stage`` under one failure policy (``failure_policy``):

- the film is bad or damaged: the stage itself fails the analysis, or ends it partial;
- a named transient error (database or broker unreachable): retried with exponential backoff,
  ``Settings.tasks.max_retries`` times, then the job fails;
- anything else: the job and its analysis fail with the error as the reason (a bad film would
  fail again).

A job is claimed by ``claim`` (which starts, or resets, its analysis); later stages carry a
``StageTicket`` and do nothing unless the job still runs that attempt, so a stage message
left over from an attempt that a redelivery superseded exits cleanly. Each stage runs under
the job's stage lease (``workers.leases``): it takes the lease or does not run (another
worker holds it, or it has finished), renews it while it runs, and hands the job on to the
next stage when it ends; a reaper sends again a stage whose worker died. The embedded mode
(``analyze_path``) registers the film and records a job like the service does.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.core.config import Settings, get_settings
from app.core.db import ensure_database
from app.core.domain import RunStatus
from app.films import service as films_service
from app.films.schemas import FilmMetadata
from app.pipeline.errors import VideoOpenFailure, user_reason
from app.pipeline.hashing import sha256_of_file
from app.pipeline.video import VideoInfo, probe
from workers.leases import Lease, LeaseLost, new_owner
from workers.stages.base import (
    ModelMismatch,
    ProgressSink,
    StageCall,
    StageOutcome,
    analysis_settings,
)
from workers.stages.models import ModelLoader, Models, ModelVersions, model_versions
from workers.stages.registry import STAGES
from workers.stages.spool import Spool, SpoolMissing
from workers.stages.store import StageTicket, Store

if TYPE_CHECKING:
    from workers.stages.early import EarlyInference

log = logging.getLogger(__name__)

T = TypeVar("T")

_models_lock = threading.Lock()
# By model settings: a collection may name weights of its own (``Store.film_settings``).
_models: dict[str, Models] = {}
_versions: dict[str, ModelVersions] = {}


def process_models(settings: Settings) -> Models:
    """The classifier and segmenter of these settings in this process, loaded on first use
    and kept (one pair per weights a collection names, besides the configured ones)."""
    key = settings.model.model_dump_json()
    with _models_lock:
        if key not in _models:
            log.info("loading models (device %s)", settings.model.device)
            _models[key] = Models.load(settings.model)
        return _models[key]


def configured_versions(settings: Settings) -> ModelVersions:
    """Versions of the configured weights (hashing them once per process, not per film)."""
    key = settings.model.model_dump_json()
    with _models_lock:
        if key not in _versions:
            _versions[key] = model_versions(settings.model)
        return _versions[key]


# ----------------------------------------------------------------------------------------------
# The failure policy


class RetryLater(Exception):
    """A transient error: run the same step again after ``countdown`` seconds."""

    def __init__(self, countdown: float, cause: BaseException) -> None:
        super().__init__(f"retry in {countdown:g} s: {type(cause).__name__}: {cause}")
        self.countdown = countdown
        self.cause = cause


@functools.cache
def transient_errors() -> tuple[type[BaseException], ...]:
    """The errors worth retrying: the database or the broker was unreachable for a moment.
    (Imported on first use: the embedded mode never needs the broker's libraries.)"""
    import redis.exceptions
    import sqlalchemy.exc
    from kombu.exceptions import OperationalError as BrokerOperationalError

    return (
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        BrokerOperationalError,
    )


def failure_policy(exc: Exception, retries: int, settings: Settings) -> RetryLater | str:
    """What to do about an exception a step raised: retry it later, or give up with the
    returned reason."""
    if isinstance(exc, transient_errors()):
        if retries < settings.tasks.max_retries:
            return RetryLater(min(2**retries, settings.tasks.retry_backoff_max_s), exc)
        return f"gave up after {retries} retries: {type(exc).__name__}: {exc}"
    if isinstance(exc, ModelMismatch | SpoolMissing):
        # Not transient: another try here would meet the same weights, or the same missing
        # spool (the cpu and gpu workers must share data_dir).
        return str(exc)
    # The user sees the reason; the log (guarded) keeps the full text with paths.
    return user_reason(f"{type(exc).__name__}: {exc}")


def guarded(
    settings: Settings,
    job_id: int,
    analysis_id: int | None,
    step: Callable[[], T],
    *,
    retries: int = 0,
) -> T | None:
    """Run ``step`` under the failure policy: ``RetryLater`` for a transient error, else the
    job (and its analysis) fail and None is returned. An interrupt fails them too."""
    try:
        return step()
    except KeyboardInterrupt:
        fail(settings, job_id, analysis_id, "interrupted")
        raise
    except Exception as exc:
        decision = failure_policy(exc, retries, settings)
        if isinstance(decision, RetryLater):
            log.warning("job %s: transient error, %s", job_id, decision)
            raise decision from exc
        if not isinstance(exc, ModelMismatch | SpoolMissing):
            log.exception("job %s (analysis %s) failed", job_id, analysis_id)
        try:
            fail(settings, job_id, analysis_id, decision)
        except Exception:
            log.exception("job %s: could not record its failure", job_id)
        return None


def fail(settings: Settings, job_id: int, analysis_id: int | None, reason: str) -> None:
    """Give a job up with ``reason`` (its analysis too, if it has one)."""
    store = Store(settings.sqlalchemy_url)
    if analysis_id is not None:
        Spool(settings.data_dir, analysis_id).remove()
        if store.fail_analysis(analysis_id, reason):
            return  # closing the analysis gave the job the same status and error
    store.fail_job(job_id, reason)


# ----------------------------------------------------------------------------------------------
# Steps


def start(
    film_id: int,
    *,
    settings: Settings | None = None,
    versions: ModelVersions | None = None,
    job_id: int | None = None,
) -> int:
    """Create (or reset, for the same film, models and settings) the analysis of a registered
    film and commit it; returns its id."""
    settings = settings or get_settings()
    versions = versions or configured_versions(settings)
    return Store(settings.sqlalchemy_url).start_analysis(
        film_id,
        versions.classifier,
        versions.segmenter,
        analysis_settings(settings),
        job_id=job_id,
    )


def claim(
    settings: Settings,
    job_id: int,
    task_id: str | None = None,
    *,
    versions: ModelVersions | None = None,
) -> StageTicket | None:
    """Claim the job and start (or reset) its analysis; None when the job must not run
    (cancelled, finished, or deleted with its film)."""
    # Hash the weights first (once per process): the claimed job's first stage must take
    # its lease within tasks.lease_s of the claim.
    explicit = versions is not None
    versions = versions or configured_versions(settings)
    store = Store(settings.sqlalchemy_url)
    claimed = store.claim_job_at(job_id, task_id, STAGES.first.name, settings.tasks.lease_s)
    if claimed is None:
        log.info("job %s: not runnable any more, skipped", job_id)
        return None
    film_settings = store.film_settings(settings, claimed.film_id)
    if film_settings is not settings and not explicit:
        # The film's collection names its own weights: the analysis is keyed on those.
        versions = configured_versions(film_settings)
    try:
        analysis_id = start(claimed.film_id, settings=settings, versions=versions, job_id=job_id)
    except films_service.FilmNotFound:
        log.info("job %s: its film was deleted meanwhile, skipped", job_id)
        return None
    return StageTicket(job_id, analysis_id, claimed.attempt)


def run_stage(
    settings: Settings,
    ticket: StageTicket,
    name: str,
    *,
    models: Models | ModelLoader | None = None,
    progress: ProgressSink | None = None,
    film_path: str | Path | None = None,
    retries: int = 0,
    early: dict[int, EarlyInference] | None = None,
) -> StageOutcome | None:
    """One registered stage of a claimed job, under its lease and the failure policy; None
    when the job moved on without it (a stale message), another runner holds or took the
    stage, or the stage failed (the job records why). ``early``: see ``StageCall``."""
    stage = STAGES.get(name)
    store = Store(settings.sqlalchemy_url)

    def loader() -> Models:
        film_id = store.analysis_film_id(ticket.analysis_id)
        chosen = settings if film_id is None else store.film_settings(settings, film_id)
        return process_models(chosen)

    def step() -> StageOutcome | None:
        if not store.is_current(ticket):
            return None
        owner = new_owner()
        if not store.acquire_stage(ticket, name, owner, settings.tasks.lease_s):
            log.info(
                "job %s: stage %s is running elsewhere or has finished; skipped",
                ticket.job_id,
                name,
            )
            return None
        try:
            with Lease(settings, ticket.job_id, owner) as lease:
                call = StageCall(
                    settings=settings,
                    progress=progress,
                    models=models or loader,
                    film_path=film_path,
                    lease=lease,
                    early=early,
                )
                outcome = stage.load()(ticket.analysis_id, call)
        except LeaseLost:
            log.warning("job %s: stage %s went to another runner; stopped", ticket.job_id, name)
            return None
        except BaseException:
            # A retry (or the failure policy) decides what next; free the stage for it.
            with contextlib.suppress(Exception):
                store.release_lease(ticket.job_id, owner)
            raise
        following = STAGES.after(name) if outcome.proceed else None
        handed = store.hand_on(ticket.job_id, owner, following.name if following else None)
        if not handed and outcome.proceed:
            log.warning("job %s: lost stage %s at its end; not handed on", ticket.job_id, name)
            return None
        return outcome

    return guarded(settings, ticket.job_id, ticket.analysis_id, step, retries=retries)


@dataclass(frozen=True)
class JobRun:
    """What became of a job run here: its ticket (None when it was not runnable) and the
    outcome of each stage that ran."""

    ticket: StageTicket | None
    outcomes: list[StageOutcome] = field(default_factory=list)

    @property
    def status(self) -> RunStatus | None:
        if self.ticket is None:
            return None
        return self.outcomes[-1].status if self.outcomes else RunStatus.FAILED


def run_job(
    settings: Settings,
    job_id: int,
    *,
    models: Models | ModelLoader | None = None,
    progress: ProgressSink | None = None,
    film_path: str | Path | None = None,
) -> JobRun:
    """Every stage of one job in this process, in registration order; transient errors are
    waited out here as a Celery worker would (``RetryLater``)."""
    versions = models.versions if models is not None else None
    ticket = _retrying(
        lambda retries: guarded(
            settings,
            job_id,
            None,
            lambda: claim(settings, job_id, versions=versions),
            retries=retries,
        )
    )
    if ticket is None:
        return JobRun(None)
    outcomes: list[StageOutcome] = []
    # Every stage runs here: prepare may start infer's work as it samples (StageCall.early).
    early: dict[int, EarlyInference] = {}
    for stage in STAGES:

        def attempt(retries: int, name: str = stage.name) -> StageOutcome | None:
            assert ticket is not None
            return run_stage(
                settings,
                ticket,
                name,
                models=models,
                progress=progress,
                film_path=film_path,
                retries=retries,
                early=early,
            )

        outcome = _retrying(attempt)
        if outcome is None:
            break
        outcomes.append(outcome)
        if not outcome.proceed:
            break
    for left in early.values():  # a stage stopped before infer took its work
        left.cancel()
    return JobRun(ticket, outcomes)


def _retrying(step: Callable[[int], T]) -> T:
    retries = 0
    while True:
        try:
            return step(retries)
        except RetryLater as later:
            time.sleep(later.countdown)
            retries += 1


# ----------------------------------------------------------------------------------------------
# The embedded mode


@dataclass(frozen=True)
class AnalysisResult:
    """What became of one film: its ids (None when it could not even be registered), the
    analysis's final status and error, and its film-level figures. ``error_time_s``: where
    decoding stopped in a damaged film (a ``partial`` analysis covers the film up to there)."""

    path: str
    film_id: int | None
    analysis_id: int | None
    status: RunStatus
    error: str | None = None
    summary: dict[str, Any] | None = None
    wall_s: float = 0.0
    stages: list[StageOutcome] = field(default_factory=list)
    job_id: int | None = None
    error_time_s: float | None = None

    @property
    def ok(self) -> bool:
        """Results were stored (``partial`` included: a damaged film keeps its first part)."""
        return self.status in (RunStatus.DONE, RunStatus.PARTIAL)


def analyze_path(
    path: str | Path,
    settings: Settings | None = None,
    *,
    models: Models | ModelLoader | None = None,
    progress: ProgressSink | None = None,
    metadata: FilmMetadata | None = None,
) -> AnalysisResult:
    """Register the film (by sha256), record a job for it and run every stage here.

    Pass ``models`` (or a ``ModelLoader``, to decode while they load) to reuse them across
    films; without, the process's models load when the ``infer`` stage first needs them. A
    file that is not a decodable video gives a ``failed`` result with the reason (and a film
    row recording the attempt); this never raises for a bad film.
    """
    settings = settings or get_settings()
    started = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        reason = "no such file" if not path.exists() else "not a regular file"
        return AnalysisResult(str(path), None, None, RunStatus.FAILED, error=reason)
    # The film's sha256 (seconds for a long film: hashlib leaves the GIL) is read on a thread
    # while the database is checked and the film probed.
    with ThreadPoolExecutor(1, thread_name_prefix="hybridlens-sha256") as hashing:
        hashed = hashing.submit(sha256_of_file, path)
        ensure_database(settings.sqlalchemy_url)
        info: VideoInfo | None
        try:
            info = probe(path)
        except VideoOpenFailure:
            info = None  # registered anyway: the prepare stage records why it cannot be analysed
        sha256, size_bytes = hashed.result()
    store = Store(settings.sqlalchemy_url)
    film_id = store.register_film(
        path.resolve(),
        sha256,
        info,
        metadata,
        original_filename=path.name,
        size_bytes=size_bytes,
    )
    job_id = store.create_job(film_id)
    run = run_job(settings, job_id, models=models, progress=progress, film_path=path)
    if run.ticket is None:  # pragma: no cover - a job made a moment ago is always runnable
        return AnalysisResult(
            str(path), film_id, None, RunStatus.FAILED, error="the job could not be started"
        )
    analysis = store.analysis(run.ticket.analysis_id)
    return AnalysisResult(
        path=str(path),
        film_id=film_id,
        analysis_id=run.ticket.analysis_id,
        status=analysis.status,
        error=analysis.error,
        summary=analysis.summary,
        wall_s=time.perf_counter() - started,
        stages=run.outcomes,
        job_id=job_id,
        error_time_s=analysis.error_time_s,
    )
