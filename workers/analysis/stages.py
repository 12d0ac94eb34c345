"""The three stages of analysing one film, each runnable in its own process.

``prepare`` (cpu): probe, one streaming decode through shot detection and frame sampling,
sampled frames spooled to disk. ``infer`` (gpu when there is one): classify every spooled
frame, segment the hybrids. ``finish`` (cpu): statistics, store shots, frames and summary,
close the analysis, delete the spool.

Each stage takes an analysis id (created by ``start``), reads what it needs from the database
and the spool, records its progress with ``update_progress`` and stops cleanly when that says
the analysis was cancelled. The pipeline settings come from the analysis row, not from the
process, so every stage of one analysis works with the settings its key was made from. A bad
film (``VideoOpenFailure``) fails the analysis with the reason; a damaged one
(``DecodeError``) keeps what was decoded and ends ``partial``. Re-running a stage overwrites
its output; anything else unexpected propagates, for the caller to retry or ``fail_analysis``.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.analysis import service as analysis_service
from app.analysis.schemas import FrameRecord
from app.core.config import (
    ClassThresholds,
    FrameClass,
    ModelSettings,
    PipelineSettings,
    Settings,
    get_settings,
)
from app.core.db import session_scope
from app.core.domain import RunStatus
from app.films import service as films_service
from app.pipeline.errors import DecodeError, VideoOpenFailure
from app.pipeline.masks import encode_mask, np_grid
from app.pipeline.sampling import FrameSampler, SampledFrame
from app.pipeline.shots import Shot, ShotDetector
from app.pipeline.stats import FrameResult, film_stats, shot_stats, timeline
from app.pipeline.video import VideoInfo, decode, probe, working_dimensions
from workers.analysis.spool import (
    FRAMES_PER_CHUNK,
    DecodeDamage,
    FrameInference,
    InferenceChunk,
    InferenceDone,
    Manifest,
    Spool,
    SpoolFrame,
    SpoolShot,
    encode_png,
)

if TYPE_CHECKING:
    from workers.ml.inference import Classifier, Segmenter

log = logging.getLogger(__name__)

PREPARE, INFER, FINISH = "prepare", "infer", "finish"
STAGES = (PREPARE, INFER, FINISH)
# Progress reaches the database at most this often (it is also when cancellation is noticed).
PROGRESS_INTERVAL_S = 1.0
TIMELINE_BINS = 100

# (stage, done, total): frames decoded / classified / stored so far; total None if unknown.
ProgressSink = Callable[[str, int, int | None], None]


# ----------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class ModelVersions:
    """Digests of the weights an analysis is keyed on."""

    classifier: str
    segmenter: str


@dataclass(frozen=True)
class Models:
    """The classifier and segmenter, loaded once per process and shared by every film."""

    classifier: Classifier
    segmenter: Segmenter

    @classmethod
    def load(cls, settings: ModelSettings | None = None) -> Models:
        """Both models, on the configured device. Without ``cpu_threads``, torch gets half the
        cores: on a shared 2-core machine two OpenMP threads spin-waiting against ffmpeg and
        other processes classified 5x slower than one (bench/bench_pipeline.py)."""
        # Imported here: stages A and C, and their processes, never need torch.
        from workers.ml.inference import Classifier, Segmenter

        settings = settings or get_settings().model
        if settings.cpu_threads is None:
            threads = max(1, (os.cpu_count() or 2) // 2)
            settings = settings.model_copy(update={"cpu_threads": threads})
        return cls(Classifier.load(settings), Segmenter.load(settings))

    @property
    def versions(self) -> ModelVersions:
        return ModelVersions(self.classifier.version, self.segmenter.version)


@dataclass(frozen=True)
class StageOutcome:
    """What a stage did. ``proceed`` says whether the next stage should run."""

    analysis_id: int
    stage: str
    # RUNNING when the analysis goes on to the next stage; otherwise its final status
    # (``finish`` gives DONE or PARTIAL; a bad film FAILED; a cancelled one CANCELLED).
    status: RunStatus
    seconds: float
    error: str | None = None

    @property
    def proceed(self) -> bool:
        return self.status is RunStatus.RUNNING


class ModelMismatch(RuntimeError):
    """The models of this process are not those the analysis was started with."""


class AnalysisStopped(Exception):
    """The analysis stopped being active (cancelled, finished or deleted) while a stage ran."""


# ----------------------------------------------------------------------------------------------
# Starting


def analysis_settings(settings: Settings) -> dict[str, Any]:
    """The settings an analysis is keyed on (and that its stages run with): everything that
    changes results, nothing that only changes where or how fast they are computed."""
    return {
        "pipeline": settings.pipeline.model_dump(mode="json"),
        "thresholds": settings.model.thresholds.model_dump(mode="json"),
    }


def model_versions(settings: ModelSettings | None = None) -> ModelVersions:
    """The versions of the configured weights, without building the models."""
    from workers.ml.inference import (
        DEFAULT_CLASSIFIER_DIR,
        DEFAULT_SEGMENTER_DIR,
        weights_version,
    )

    settings = settings or get_settings().model
    return ModelVersions(
        weights_version(settings.classifier_path or DEFAULT_CLASSIFIER_DIR),
        weights_version(settings.segmenter_path or DEFAULT_SEGMENTER_DIR),
    )


def start(
    film_id: int,
    *,
    settings: Settings | None = None,
    versions: ModelVersions | None = None,
    job_id: int | None = None,
) -> int:
    """Create (or reset, for the same film, models and settings) the analysis of a registered
    film and commit it; returns its id, to pass to ``prepare``."""
    settings = settings or get_settings()
    versions = versions or model_versions(settings.model)
    with session_scope(settings.sqlalchemy_url) as session:
        return analysis_service.start_analysis(
            session,
            film_id,
            versions.classifier,
            versions.segmenter,
            analysis_settings(settings),
            job_id=job_id,
        )


def file_sha256(path: str | Path, *, block_bytes: int = 1 << 20) -> str:
    """sha256 of a file, read in blocks (films are many gigabytes)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(block_bytes):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# Stage A


def prepare(
    analysis_id: int,
    *,
    settings: Settings | None = None,
    progress: ProgressSink | None = None,
    path: str | Path | None = None,
) -> StageOutcome:
    """Probe and decode the film once; spool the sampled frames and describe them.

    ``path`` reads the film from there instead of its stored path (the embedded mode knows
    where the file is now; a film registered earlier may have been moved since).
    """
    settings = settings or get_settings()
    started = time.perf_counter()
    context = _load(analysis_id, settings)
    if context is None or context.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        return _inactive(analysis_id, PREPARE, context, started)
    if path is not None:
        context = dataclasses.replace(context, film_path=str(path))
    spool = Spool(settings.data_dir, analysis_id)
    spool.reset()
    meter = _Meter(analysis_id, PREPARE, settings.sqlalchemy_url, progress)
    try:
        meter.begin(None)
        try:
            info = probe(context.film_path)
        except VideoOpenFailure as failure:
            return _fail(context, settings, PREPARE, failure.reason, started)
        with session_scope(settings.sqlalchemy_url) as session:
            films_service.update_probe(session, context.film_id, info)
        manifest = _decode_and_sample(context, info, spool, meter, started)
        spool.write_manifest(manifest)
        meter.end()
    except VideoOpenFailure as failure:  # not a single frame decoded
        return _fail(context, settings, PREPARE, failure.reason, started)
    except AnalysisStopped:
        spool.remove()
        return _inactive(analysis_id, PREPARE, _load(analysis_id, settings), started)
    return StageOutcome(analysis_id, PREPARE, RunStatus.RUNNING, time.perf_counter() - started)


def _decode_and_sample(
    context: _Context, info: VideoInfo, spool: Spool, meter: _Meter, started: float
) -> Manifest:
    pipeline = context.pipeline
    detector = ShotDetector(pipeline.shots, fps=info.fps)
    with session_scope(meter.url) as session:
        analysis_service.set_detector(session, context.analysis_id, detector.describe())
    sampler = FrameSampler(pipeline.sampling, fps=info.fps, lag_frames=detector.cut_lag_frames)
    writer = _FrameWriter(spool)
    width, height = working_dimensions(info, pipeline.working_size)
    meter.total = info.frame_count
    timings = dict.fromkeys(("decode_s", "shots_s", "sampling_s", "spool_s"), 0.0)
    frames_decoded = 0
    damage: DecodeDamage | None = None
    frames = decode(context.film_path, info, pipeline.working_size)
    try:
        mark = time.perf_counter()
        for frame in frames:
            now = time.perf_counter()
            timings["decode_s"] += now - mark
            cuts = detector.process(frame)
            mark, now = now, time.perf_counter()
            timings["shots_s"] += now - mark
            samples = sampler.push(frame, cuts)
            mark, now = now, time.perf_counter()
            timings["sampling_s"] += now - mark
            writer.add_all(samples)
            frames_decoded = frame.index + 1
            meter.update(frames_decoded)
            mark, now = now, time.perf_counter()
            timings["spool_s"] += now - mark
            mark = now
    except DecodeError as error:
        # Everything before the damage was processed; it is kept and the analysis is partial.
        damage = DecodeDamage(
            reason=error.reason, last_frame=error.last_frame_index, last_time_s=error.last_pts_s
        )
        log.warning("analysis %s: %s", context.analysis_id, error)
    finally:
        # Closing the generator kills ffmpeg when we stop early (cancelled).
        close = getattr(frames, "close", None)
        if close is not None:
            close()
    writer.add_all(sampler.finish())
    writer.flush()
    shots = detector.finish()
    starts = [shot.start_frame for shot in shots]
    spooled = [
        frame.model_copy(update={"shot_index": bisect.bisect_right(starts, frame.frame_index) - 1})
        for frame in writer.frames
    ]
    timings["prepare_s"] = time.perf_counter() - started
    return Manifest(
        analysis_id=context.analysis_id,
        film_path=context.film_path,
        probe=films_service.probe_as_dict(info),
        fps=info.fps,
        duration_s=info.duration_s,
        working_width=width,
        working_height=height,
        frames_per_chunk=FRAMES_PER_CHUNK,
        chunk_count=writer.chunks,
        frames_decoded=frames_decoded,
        blank_frames=sampler.blank_frames,
        detector=detector.describe(),
        shots=[SpoolShot.model_validate(dataclasses.asdict(shot)) for shot in shots],
        frames=spooled,
        damage=damage,
        timings=timings,
    )


class _FrameWriter:
    """Collects sampled frames into spool chunks; holds at most one chunk of pixels."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.frames: list[SpoolFrame] = []
        self.chunks = 0
        self._images: list[np.ndarray] = []

    def add_all(self, samples: list[SampledFrame]) -> None:
        for sample in samples:
            self.frames.append(
                SpoolFrame(
                    frame_index=sample.frame.index,
                    time_s=sample.frame.pts_s,
                    weight_s=sample.weight_s,
                )
            )
            self._images.append(sample.frame.image)
            if len(self._images) >= FRAMES_PER_CHUNK:
                self.flush()

    def flush(self) -> None:
        if self._images:
            self.spool.write_frames(self.chunks, self._images)
            self.chunks += 1
            self._images = []


# ----------------------------------------------------------------------------------------------
# Stage B


def infer(
    analysis_id: int,
    *,
    models: Models,
    settings: Settings | None = None,
    progress: ProgressSink | None = None,
) -> StageOutcome:
    """Classify every spooled frame; segment the hybrids (all frames with ``segment_all``).

    A segmented frame takes its P fraction, class and confidence from the segmenter's mask
    (the segmenter may overrule the classifier's "hybrid") and keeps that mask as a 1-bit PNG.
    Other frames keep the classifier's figures and no mask (``has_mask`` means "segmented");
    their NP grid comes from the classifier's patch map. Raises ``ModelMismatch`` when
    ``models`` are not the ones the analysis was started with, ``SpoolMissing`` before
    ``prepare``.
    """
    settings = settings or get_settings()
    started = time.perf_counter()
    context = _load(analysis_id, settings)
    if context is None or context.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        return _inactive(analysis_id, INFER, context, started)
    if models.versions != ModelVersions(context.classifier_version, context.segmenter_version):
        raise ModelMismatch(
            f"analysis {analysis_id} was started with classifier {context.classifier_version}"
            f" and segmenter {context.segmenter_version}; this process has {models.versions}"
        )
    spool = Spool(settings.data_dir, analysis_id)
    manifest = spool.read_manifest()
    spool.clear_inference()
    meter = _Meter(analysis_id, INFER, settings.sqlalchemy_url, progress)
    timings = dict.fromkeys(("load_s", "classify_s", "segment_s", "masks_s"), 0.0)
    pipeline, thresholds = context.pipeline, context.thresholds
    segmented = 0
    try:
        meter.begin(len(manifest.frames))
        for chunk in range(manifest.chunk_count):
            mark = time.perf_counter()
            images = list(spool.read_frames(chunk))
            first = chunk * manifest.frames_per_chunk
            spooled = manifest.frames[first : first + len(images)]
            timings["load_s"] += _lap(mark)
            mark = time.perf_counter()
            verdicts = models.classifier.classify(images)
            timings["classify_s"] += _lap(mark)
            results = [
                FrameInference(
                    frame_index=frame.frame_index,
                    frame_class=thresholds.classify(verdict.p_fraction),
                    p_fraction=verdict.p_fraction,
                    confidence=verdict.confidence,
                    segmented=False,
                    np_grid=np_grid(verdict.patch_p > 0.5, pipeline.grid_rows, pipeline.grid_cols),
                )
                for frame, verdict in zip(spooled, verdicts, strict=True)
            ]
            chosen = [
                number
                for number, result in enumerate(results)
                if pipeline.segment_all or result.frame_class is FrameClass.HYBRID
            ]
            if chosen:
                mark = time.perf_counter()
                masks = models.segmenter.segment([images[number] for number in chosen])
                timings["segment_s"] += _lap(mark)
                mark = time.perf_counter()
                for number, mask in zip(chosen, masks, strict=True):
                    results[number] = _segmented(results[number], mask, pipeline, thresholds)
                timings["masks_s"] += _lap(mark)
                segmented += len(chosen)
            spool.write_results(chunk, InferenceChunk(frames=results))
            meter.update(chunk * manifest.frames_per_chunk + len(images))
        timings["infer_s"] = time.perf_counter() - started
        spool.write_inference_done(
            InferenceDone(
                classifier_version=context.classifier_version,
                segmenter_version=context.segmenter_version,
                frames=len(manifest.frames),
                segmented=segmented,
                timings=timings,
            )
        )
        meter.end()
    except AnalysisStopped:
        spool.remove()
        return _inactive(analysis_id, INFER, _load(analysis_id, settings), started)
    return StageOutcome(analysis_id, INFER, RunStatus.RUNNING, time.perf_counter() - started)


def _segmented(
    result: FrameInference,
    mask: np.ndarray,
    pipeline: PipelineSettings,
    thresholds: ClassThresholds,
) -> FrameInference:
    p_mask = mask >= 0.5  # (H, W) bool, the same cut encode_mask makes
    p_fraction = float(p_mask.mean())
    return FrameInference(
        frame_index=result.frame_index,
        frame_class=thresholds.classify(p_fraction),
        p_fraction=p_fraction,
        confidence=float(np.abs(2.0 * mask - 1.0).mean()),
        segmented=True,
        mask_png_b64=encode_png(encode_mask(mask, pipeline.mask_size)),
        np_grid=np_grid(p_mask, pipeline.grid_rows, pipeline.grid_cols),
    )


# ----------------------------------------------------------------------------------------------
# Stage C


def finish(
    analysis_id: int, *, settings: Settings | None = None, progress: ProgressSink | None = None
) -> StageOutcome:
    """Compute the statistics, store shots, frames and summary, close the analysis (done, or
    partial for a damaged film) and delete the spool.

    Everything is written in one transaction, after deleting any results of an earlier try,
    so a re-run (or a retry after a crash half-way) stores each row exactly once.
    """
    settings = settings or get_settings()
    started = time.perf_counter()
    context = _load(analysis_id, settings)
    if context is None or context.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        return _inactive(analysis_id, FINISH, context, started)
    spool = Spool(settings.data_dir, analysis_id)
    manifest = spool.read_manifest()
    inference = spool.read_inference_done()
    meter = _Meter(analysis_id, FINISH, settings.sqlalchemy_url, progress)
    try:
        meter.begin(len(manifest.frames))
    except AnalysisStopped:
        spool.remove()
        return _inactive(analysis_id, FINISH, _load(analysis_id, settings), started)

    mark = time.perf_counter()
    results = [
        FrameResult(
            frame_index=frame.frame_index,
            time_s=frame.time_s,
            frame_class=verdict.frame_class,
            p_fraction=verdict.p_fraction,
            weight_s=frame.weight_s,
        )
        for frame, verdict in _joined(manifest, spool)
    ]
    shots = [Shot(**shot.model_dump()) for shot in manifest.shots]
    per_shot = shot_stats(results, shots)
    duration_s = max(manifest.duration_s, shots[-1].end_time if shots else 0.0)
    film = film_stats(results, per_shot, duration_s=duration_s)
    bins = timeline(results, duration_s=duration_s, bins=TIMELINE_BINS)
    summary = {
        **dataclasses.asdict(film),
        "decoded_frames": manifest.frames_decoded,
        "blank_frames": manifest.blank_frames,
        "sampled_frames": len(results),
        "segmented_frames": inference.segmented,
    }
    stats_s = _lap(mark)

    def records() -> Iterator[FrameRecord]:
        for stored, (frame, verdict) in enumerate(_joined(manifest, spool), start=1):
            yield FrameRecord(
                frame_index=frame.frame_index,
                time_s=frame.time_s,
                frame_class=verdict.frame_class,
                p_fraction=verdict.p_fraction,
                weight_s=frame.weight_s,
                confidence=verdict.confidence,
                shot_index=frame.shot_index,
                mask_png=verdict.mask_png,
                np_grid=verdict.np_grid,
            )
            if progress is not None:
                progress(FINISH, stored, len(manifest.frames))

    damage = manifest.damage
    status = RunStatus.DONE if damage is None else RunStatus.PARTIAL
    mark = time.perf_counter()
    with session_scope(settings.sqlalchemy_url) as session:
        if not analysis_service.is_active(session, analysis_id):
            final = None
        else:
            analysis_service.clear_results(session, analysis_id)
            analysis_service.save_shots(
                session, analysis_id, [dataclasses.asdict(shot) for shot in per_shot]
            )
            analysis_service.save_frames(session, analysis_id, records())
            store_s = _lap(mark)
            finish_s = time.perf_counter() - started
            timings = {
                **manifest.timings,
                **inference.timings,
                "stats_s": stats_s,
                "store_s": store_s,
                "finish_s": finish_s,
                "total_s": manifest.timings["prepare_s"] + inference.timings["infer_s"] + finish_s,
            }
            analysis_service.finish_analysis(
                session,
                analysis_id,
                status,
                summary=summary,
                timeline=bins,
                timings=timings,
                error=damage.reason if damage else None,
                error_frame=damage.last_frame if damage else None,
                error_time_s=damage.last_time_s if damage else None,
                detector=manifest.detector,
            )
            final = status
    spool.remove()
    if final is None:
        return _inactive(analysis_id, FINISH, _load(analysis_id, settings), started)
    if progress is not None:
        progress(FINISH, len(manifest.frames), len(manifest.frames))
    return StageOutcome(
        analysis_id,
        FINISH,
        final,
        time.perf_counter() - started,
        error=damage.reason if damage else None,
    )


def _joined(manifest: Manifest, spool: Spool) -> Iterator[tuple[SpoolFrame, FrameInference]]:
    for frame, verdict in zip(
        manifest.frames, spool.iter_results(manifest.chunk_count), strict=True
    ):
        if frame.frame_index != verdict.frame_index:
            raise RuntimeError(
                f"spool of analysis {manifest.analysis_id} is inconsistent: frame "
                f"{frame.frame_index} has the results of frame {verdict.frame_index}"
            )
        yield frame, verdict


# ----------------------------------------------------------------------------------------------
# Failing


def fail_analysis(analysis_id: int, reason: str, *, settings: Settings | None = None) -> bool:
    """Mark a still-active analysis failed with ``reason`` and delete its spool; what a task
    calls when a stage raised and will not be retried. Returns whether it was active."""
    settings = settings or get_settings()
    Spool(settings.data_dir, analysis_id).remove()
    with session_scope(settings.sqlalchemy_url) as session:
        if not analysis_service.is_active(session, analysis_id):
            return False
        analysis_service.finish_analysis(session, analysis_id, RunStatus.FAILED, error=reason)
    return True


# ----------------------------------------------------------------------------------------------
# Helpers


@dataclass(frozen=True)
class _Context:
    analysis_id: int
    film_id: int
    film_path: str
    status: RunStatus
    pipeline: PipelineSettings
    thresholds: ClassThresholds
    classifier_version: str
    segmenter_version: str


def _load(analysis_id: int, settings: Settings) -> _Context | None:
    """The analysis and its film, or None when the analysis no longer exists."""
    with session_scope(settings.sqlalchemy_url) as session:
        try:
            analysis = analysis_service.get_analysis(session, analysis_id, with_timeline=False)
            film = films_service.get_film(session, analysis.film_id)
        except (analysis_service.AnalysisNotFound, films_service.FilmNotFound):
            return None
    stored = analysis.settings
    return _Context(
        analysis_id=analysis_id,
        film_id=film.id,
        film_path=film.stored_path,
        status=analysis.status,
        # Analyses started elsewhere without these keys run with this process's settings.
        pipeline=PipelineSettings.model_validate(stored.get("pipeline") or settings.pipeline),
        thresholds=ClassThresholds.model_validate(
            stored.get("thresholds") or settings.model.thresholds
        ),
        classifier_version=analysis.classifier_version,
        segmenter_version=analysis.segmenter_version,
    )


def _inactive(
    analysis_id: int, stage: str, context: _Context | None, started: float
) -> StageOutcome:
    """The outcome of a stage that found (or left) its analysis no longer running."""
    if context is None:
        return StageOutcome(
            analysis_id,
            stage,
            RunStatus.CANCELLED,
            time.perf_counter() - started,
            error=f"analysis {analysis_id} no longer exists",
        )
    status = context.status
    if status in (RunStatus.QUEUED, RunStatus.RUNNING):  # pragma: no cover - racing restart
        status = RunStatus.CANCELLED
    return StageOutcome(analysis_id, stage, status, time.perf_counter() - started)


def _fail(
    context: _Context, settings: Settings, stage: str, reason: str, started: float
) -> StageOutcome:
    log.warning("analysis %s failed: %s", context.analysis_id, reason)
    fail_analysis(context.analysis_id, reason, settings=settings)
    return StageOutcome(
        context.analysis_id, stage, RunStatus.FAILED, time.perf_counter() - started, error=reason
    )


def _lap(mark: float) -> float:
    return time.perf_counter() - mark


class _Meter:
    """Progress of one stage: every step to the sink, a few per second to the database,
    whose answer says whether to go on (``AnalysisStopped`` when not)."""

    def __init__(self, analysis_id: int, stage: str, url: str, sink: ProgressSink | None) -> None:
        self.analysis_id = analysis_id
        self.stage = stage
        self.url = url
        self.sink = sink
        self.total: int | None = None
        self._written_at = 0.0

    def begin(self, total: int | None) -> None:
        self.total = total
        self._write(0.0)
        if self.sink is not None:
            self.sink(self.stage, 0, total)

    def update(self, done: int) -> None:
        if self.sink is not None:
            self.sink(self.stage, done, self.total)
        if time.monotonic() - self._written_at >= PROGRESS_INTERVAL_S:
            # An estimated frame count can be short: never claim the stage is over early.
            self._write(min(done / self.total, 0.99) if self.total else 0.0)

    def end(self) -> None:
        self._write(1.0)

    def _write(self, fraction: float) -> None:
        self._written_at = time.monotonic()
        with session_scope(self.url) as session:
            running = analysis_service.update_progress(
                session, self.analysis_id, self.stage, fraction
            )
        if not running:
            raise AnalysisStopped(self.analysis_id)
