"""The one way the stages and the orchestrator reach the database: each method is one
session and one transaction, on the services of ``app``; nothing else in ``workers`` opens a
session."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.analysis import service as analysis_service
from app.analysis.schemas import AnalysisPublic, FrameRecord
from app.annotations import service as annotations_service
from app.collections import service as collections_service
from app.core.config import PipelineSettings, Settings
from app.core.db import session_scope
from app.core.domain import ClassThresholds, RunStatus
from app.embeddings import service as embeddings_service
from app.films import service as films_service
from app.films.schemas import FilmMetadata
from app.jobs import repository as jobs_repository
from app.jobs import service as jobs_service
from app.jobs.schemas import JobClaim
from app.scenes import service as scenes_service


@dataclass(frozen=True)
class AnalysisContext:
    """What a stage needs to know about its analysis and film."""

    analysis_id: int
    film_id: int
    film_path: str
    status: RunStatus
    pipeline: PipelineSettings
    thresholds: ClassThresholds
    classifier_version: str
    segmenter_version: str
    # What of each frame the models look at (``base.picture_settings``); None: not stored.
    picture: dict[str, Any] | None = None

    @property
    def active(self) -> bool:
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class StageTicket:
    """A claimed job's analysis; a stage runs only while the job still runs this attempt."""

    job_id: int
    analysis_id: int
    attempt: int

    @classmethod
    def from_task(
        cls, job_id: int, analysis_id: int | None, attempt: int | None
    ) -> StageTicket | None:
        """The ticket a task message carries; None for a first send (the job is claimed)."""
        if analysis_id is None or attempt is None:
            return None
        return cls(job_id=job_id, analysis_id=analysis_id, attempt=attempt)


@dataclass(frozen=True)
class PropagationInputs:
    """What a propagation reads: the film's file, the shot's sampled frames (index, time)
    in order, the human masks among them, and the analysis's working size."""

    film_path: str
    frames: list[tuple[int, float]]
    human_masks: dict[int, Any]
    working_size: int


@dataclass(frozen=True)
class Closing:
    """The final write of an analysis: its results, figures and status."""

    status: RunStatus
    shots: list[dict[str, Any]]
    frames: Iterable[FrameRecord]
    summary: Mapping[str, Any]
    timeline: Any
    detector: Mapping[str, Any]
    error: str | None = None
    error_frame: int | None = None
    error_time_s: float | None = None
    # One vector per sampled frame: (frame indices, (n, D) float16 vectors, embedder version).
    embeddings: tuple[list[int], Any, str] | None = None
    # The scenes (SpoolScene fields) and the detector that found them.
    scenes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    scene_method: str | None = None


class Store:
    """The database as the analysis sees it."""

    def __init__(self, url: str) -> None:
        self.url = url

    # -- films and jobs ------------------------------------------------------------------------

    def register_film(
        self,
        path: Path,
        sha256: str,
        probe: Any,
        metadata: FilmMetadata | None,
        *,
        original_filename: str,
        size_bytes: int,
    ) -> int:
        with session_scope(self.url) as session:
            return films_service.register_film(
                session,
                path,
                sha256,
                probe,
                metadata,
                original_filename=original_filename,
                size_bytes=size_bytes,
            ).film_id

    def create_job(self, film_id: int) -> int:
        with session_scope(self.url) as session:
            return jobs_service.create_job(session, film_id)

    def claim_job(self, job_id: int, task_id: str | None) -> JobClaim | None:
        with session_scope(self.url) as session:
            return jobs_service.claim_job(session, job_id, task_id)

    def is_current(self, ticket: StageTicket) -> bool:
        """Whether the job still runs this ticket's attempt of this analysis."""
        with session_scope(self.url) as session:
            job = jobs_repository.get_job(session, ticket.job_id)
            return (
                job is not None
                and job.status is RunStatus.RUNNING
                and job.analysis_id == ticket.analysis_id
                and job.attempts == ticket.attempt
            )

    # -- stage leases (app.jobs.service says how they work) ------------------------------------

    def claim_job_at(
        self, job_id: int, task_id: str | None, stage: str, lease_s: float
    ) -> JobClaim | None:
        """Claim the job and put it at its first stage, to be leased within ``lease_s``."""
        with session_scope(self.url) as session:
            return jobs_service.claim_job(session, job_id, task_id, stage=stage, lease_s=lease_s)

    def acquire_stage(self, ticket: StageTicket, stage: str, owner: str, lease_s: float) -> bool:
        with session_scope(self.url) as session:
            return jobs_service.acquire_stage(
                session, ticket.job_id, ticket.analysis_id, ticket.attempt, stage, owner, lease_s
            )

    def renew_lease(self, job_id: int, owner: str, lease_s: float) -> bool:
        with session_scope(self.url) as session:
            return jobs_service.renew_lease(session, job_id, owner, lease_s)

    def hand_on(self, job_id: int, owner: str, next_stage: str | None) -> bool:
        with session_scope(self.url) as session:
            return jobs_service.hand_on(session, job_id, owner, next_stage)

    def release_lease(self, job_id: int, owner: str) -> None:
        with session_scope(self.url) as session:
            jobs_service.release_lease(session, job_id, owner)

    def requeue_expired(self) -> list[jobs_service.ExpiredStage]:
        with session_scope(self.url) as session:
            return jobs_service.requeue_expired(session)

    def fail_job(self, job_id: int, reason: str) -> None:
        """Record why a job failed; a job deleted with its film needs nothing recorded."""
        with session_scope(self.url) as session, contextlib.suppress(jobs_service.JobNotFound):
            jobs_service.fail_job(session, job_id, reason)

    def film_settings(self, settings: Settings, film_id: int) -> Settings:
        """``settings`` with the model weights the film's collections set, if any."""
        with session_scope(self.url) as session:
            classifier, segmenter = collections_service.models_for_film(session, film_id)
        if classifier is None and segmenter is None:
            return settings
        model = settings.model.model_copy(
            update={
                "classifier_path": Path(classifier)
                if classifier
                else settings.model.classifier_path,
                "segmenter_path": Path(segmenter) if segmenter else settings.model.segmenter_path,
            }
        )
        return settings.model_copy(update={"model": model})

    def analysis_film_id(self, analysis_id: int) -> int | None:
        with session_scope(self.url) as session:
            return analysis_service.film_id_of(session, analysis_id)

    # -- propagation jobs (app.annotations.service) --------------------------------------------

    def job_kind(self, job_id: int) -> tuple[str, dict[str, Any]] | None:
        with session_scope(self.url) as session:
            return jobs_service.job_kind(session, job_id)

    def propagation_inputs(
        self, film_id: int, analysis_id: int, shot_index: int
    ) -> PropagationInputs:
        """The shot's sampled frames and the human masks among them, and the film's file."""
        with session_scope(self.url) as session:
            film = films_service.get_film(session, film_id)
            frames = annotations_service.shot_frames(session, analysis_id, shot_index)
            masks = annotations_service.human_masks(session, film_id, [i for i, _ in frames])
            analysis = analysis_service.get_analysis(session, analysis_id, with_timeline=False)
        working_size = int((analysis.settings.get("pipeline") or {}).get("working_size") or 320)
        return PropagationInputs(film.stored_path, frames, masks, working_size)

    def set_job_progress(self, job_id: int, fraction: float) -> bool:
        with session_scope(self.url) as session:
            return jobs_service.set_job_progress(session, job_id, fraction)

    def save_propagated(
        self,
        film_id: int,
        masks: Mapping[int, Any],
        *,
        job_id: int,
        owner: str,
        detail: dict[str, Any],
    ) -> bool:
        """Store the propagated masks and close the job, in one transaction, if ``owner``
        still holds its lease (else nothing is written: another runner has it)."""
        with session_scope(self.url) as session:
            if not jobs_service.finish_job_of_owner(session, job_id, owner):
                return False
            annotations_service.save_propagated(
                session, film_id, masks, job_id=job_id, detail=detail
            )
        return True

    def finish_job(self, job_id: int, status: RunStatus, error: str | None = None) -> None:
        with session_scope(self.url) as session:
            jobs_service.finish_job(session, job_id, status, error)

    # -- analyses ------------------------------------------------------------------------------

    def start_analysis(
        self,
        film_id: int,
        classifier_version: str,
        segmenter_version: str,
        settings: Mapping[str, Any],
        *,
        job_id: int | None,
    ) -> int:
        with session_scope(self.url) as session:
            return analysis_service.start_analysis(
                session, film_id, classifier_version, segmenter_version, settings, job_id=job_id
            )

    def context(self, analysis_id: int, settings: Settings) -> AnalysisContext | None:
        """The analysis and its film, or None when the analysis no longer exists. Analyses
        started elsewhere without stored settings run with ``settings``."""
        with session_scope(self.url) as session:
            try:
                analysis = analysis_service.get_analysis(session, analysis_id, with_timeline=False)
                film = films_service.get_film(session, analysis.film_id)
            except (analysis_service.AnalysisNotFound, films_service.FilmNotFound):
                return None
        stored = analysis.settings
        return AnalysisContext(
            analysis_id=analysis_id,
            film_id=film.id,
            film_path=film.stored_path,
            status=analysis.status,
            pipeline=PipelineSettings.model_validate(stored.get("pipeline") or settings.pipeline),
            thresholds=ClassThresholds.model_validate(
                stored.get("thresholds") or settings.model.thresholds
            ),
            classifier_version=analysis.classifier_version,
            segmenter_version=analysis.segmenter_version,
            picture=stored.get("picture"),
        )

    def analysis(self, analysis_id: int) -> AnalysisPublic:
        with session_scope(self.url) as session:
            return analysis_service.get_analysis(session, analysis_id, with_timeline=False)

    def update_probe(self, film_id: int, probe: Any) -> None:
        with session_scope(self.url) as session:
            films_service.update_probe(session, film_id, probe)

    def set_detector(self, analysis_id: int, detector: Mapping[str, Any]) -> None:
        with session_scope(self.url) as session:
            analysis_service.set_detector(session, analysis_id, detector)

    def update_progress(self, analysis_id: int, stage: str, fraction: float) -> bool:
        """Record progress; False when the analysis stopped running (cancelled, deleted)."""
        with session_scope(self.url) as session:
            return analysis_service.update_progress(session, analysis_id, stage, fraction)

    def fail_analysis(self, analysis_id: int, reason: str) -> bool:
        """Mark a still-active analysis failed (its jobs too); whether it was active."""
        with session_scope(self.url) as session:
            if not analysis_service.is_active(session, analysis_id):
                return False
            analysis_service.finish_analysis(session, analysis_id, RunStatus.FAILED, error=reason)
        return True

    def close_analysis(
        self,
        analysis_id: int,
        closing: Closing,
        timings: Callable[[float], Mapping[str, float]],
        *,
        lease_owner: str | None = None,
    ) -> bool:
        """Replace any earlier results with these and close the analysis, in one transaction
        (a retry after a crash half-way stores each row once). ``timings`` gets the seconds
        the rows took to write and gives the timings to store. False when the analysis was
        no longer active, or ``lease_owner`` no longer holds its job's stage: nothing is
        written then (checking the lease locks the job's row, so two closers take turns)."""
        with session_scope(self.url) as session:
            if lease_owner is not None and not jobs_service.holds_lease(
                session, analysis_id, lease_owner
            ):
                return False
            if not analysis_service.is_active(session, analysis_id):
                return False
            started = time.perf_counter()
            analysis_service.clear_results(session, analysis_id)
            analysis_service.save_shots(session, analysis_id, closing.shots)
            analysis_service.save_frames(session, analysis_id, closing.frames)
            if closing.embeddings is not None:
                embeddings_service.save_embeddings(session, analysis_id, *closing.embeddings)
            if closing.scene_method is not None:
                scenes_service.save_scenes(
                    session, analysis_id, closing.scenes, closing.scene_method
                )
            analysis_service.finish_analysis(
                session,
                analysis_id,
                closing.status,
                summary=closing.summary,
                timeline=closing.timeline,
                timings=timings(time.perf_counter() - started),
                error=closing.error,
                error_frame=closing.error_frame,
                error_time_s=closing.error_time_s,
                detector=closing.detector,
            )
        return True
