"""Stage ``prepare`` (cpu): probe, one streaming decode through shot detection and frame
sampling, the sampled frames spooled to disk with a manifest describing them.

A bad film (``VideoOpenFailure``) fails the analysis with the reason; a damaged one
(``DecodeError``) keeps what was decoded, and the analysis ends ``partial``.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import time

import numpy as np

from app.core.domain import RunStatus
from app.films import service as films_service
from app.pipeline.detectors import create_detector
from app.pipeline.errors import DecodeError, VideoOpenFailure
from app.pipeline.sampling import FrameSampler, SampledFrame
from app.pipeline.video import VideoInfo, decode, probe, working_dimensions
from workers.stages.base import (
    OUTCOME_LOG,
    AnalysisStopped,
    Meter,
    StageCall,
    StageOutcome,
    failed,
    inactive,
)
from workers.stages.early import EarlyInference
from workers.stages.spool import (
    FRAMES_PER_CHUNK,
    DecodeDamage,
    Manifest,
    Spool,
    SpoolFrame,
    SpoolShot,
)
from workers.stages.store import AnalysisContext

log = logging.getLogger(__name__)

PREPARE = "prepare"


def prepare(analysis_id: int, call: StageCall) -> StageOutcome:
    """Probe and decode the film once; spool the sampled frames and describe them."""
    started = time.perf_counter()
    store = call.store
    context = store.context(analysis_id, call.settings)
    if context is None or not context.active:
        return inactive(analysis_id, PREPARE, context, started)
    if call.film_path is not None:
        context = dataclasses.replace(context, film_path=str(call.film_path))
    spool = call.spool(analysis_id)
    spool.reset()
    meter = Meter(analysis_id, PREPARE, call)
    early: EarlyInference | None = None
    try:
        meter.begin(None)
        try:
            info = probe(context.film_path)
        except VideoOpenFailure as failure:
            return failed(context, call, PREPARE, failure.reason, started)
        store.update_probe(context.film_id, info)
        too_small = _too_small(info, context.pipeline.min_size)
        if too_small is not None:
            return failed(context, call, PREPARE, too_small, started)
        if call.early is not None:
            # The infer stage runs next in this process: classify as frames are sampled.
            early = EarlyInference(context, call, spool)
        manifest = _decode_and_sample(context, call, info, spool, meter, started, early)
        spool.write_manifest(manifest)
        meter.end()
        if early is not None and call.early is not None:
            call.early[analysis_id] = early
            early = None  # infer's now
    except VideoOpenFailure as failure:  # not a single frame decoded
        return failed(context, call, PREPARE, failure.reason, started)
    except AnalysisStopped:
        spool.remove()
        return inactive(analysis_id, PREPARE, store.context(analysis_id, call.settings), started)
    finally:
        if early is not None:
            early.cancel()
    return StageOutcome(analysis_id, PREPARE, RunStatus.RUNNING, time.perf_counter() - started)


def _too_small(info: VideoInfo, min_size: int) -> str | None:
    width, height = info.display_size
    if min(width, height) >= min_size:
        return None
    return (
        f"the picture is too small to analyse: {width}x{height} pixels "
        f"(at least {min_size} on each side)"
    )


def _decode_and_sample(
    context: AnalysisContext,
    call: StageCall,
    info: VideoInfo,
    spool: Spool,
    meter: Meter,
    started: float,
    early: EarlyInference | None,
) -> Manifest:
    pipeline = context.pipeline
    detector = create_detector(pipeline.shots, fps=info.fps)
    call.store.set_detector(context.analysis_id, detector.describe())
    sampler = FrameSampler(pipeline.sampling, fps=info.fps, lag_frames=detector.cut_lag_frames)
    writer = _FrameWriter(spool, early)
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
        log.warning("analysis %s: %s", context.analysis_id, error, extra=OUTCOME_LOG)
    finally:
        # Closing the generator kills ffmpeg when we stop early (cancelled).
        close = getattr(frames, "close", None)
        if close is not None:
            close()
    writer.add_all(sampler.finish())
    writer.flush()
    if early is not None:
        early.close()
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

    def __init__(self, spool: Spool, early: EarlyInference | None = None) -> None:
        self.spool = spool
        self.early = early
        self.frames: list[SpoolFrame] = []
        self.chunks = 0
        self._images: list[np.ndarray] = []

    def add_all(self, samples: list[SampledFrame]) -> None:
        for sample in samples:
            frame = SpoolFrame(
                frame_index=sample.frame.index,
                time_s=sample.frame.pts_s,
                weight_s=sample.weight_s,
            )
            self.frames.append(frame)
            self._images.append(sample.frame.image)
            if self.early is not None:
                self.early.add(frame, sample.frame.image)
            if len(self._images) >= FRAMES_PER_CHUNK:
                self.flush()

    def flush(self) -> None:
        if self._images:
            self.spool.write_frames(self.chunks, self._images)
            self.chunks += 1
            self._images = []
            if self.early is not None:
                self.early.end_chunk()
