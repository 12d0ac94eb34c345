"""Stage ``finish`` (cpu): statistics, shots, frames and summary stored, the analysis closed
(done, or partial for a damaged film), the spool deleted."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Mapping

import numpy as np

from app.analysis import thumbnails
from app.analysis.schemas import FrameRecord
from app.core.domain import RunStatus
from app.pipeline.quantify import HybridRates
from app.pipeline.shots import Shot
from app.pipeline.stats import FrameResult, film_stats, shot_stats, timeline
from workers.stages.base import AnalysisStopped, Meter, StageCall, StageOutcome, inactive, lap
from workers.stages.spool import (
    FrameInference,
    Manifest,
    ScenesDone,
    Spool,
    SpoolFrame,
    SpoolMissing,
)
from workers.stages.store import Closing

log = logging.getLogger(__name__)

FINISH = "finish"
TIMELINE_BINS = 100
NO_ANALYSABLE_FRAMES = "no analysable frames"


def finish(analysis_id: int, call: StageCall) -> StageOutcome:
    """Compute the statistics, store shots, frames and summary, close the analysis and delete
    the spool. Everything is written in one transaction, after deleting any results of an
    earlier try, so a re-run (or a retry after a crash half-way) stores each row once.
    """
    started = time.perf_counter()
    store, progress = call.store, call.progress
    context = store.context(analysis_id, call.settings)
    if context is None or not context.active:
        return inactive(analysis_id, FINISH, context, started)
    spool = call.spool(analysis_id)
    manifest = spool.read_manifest()
    inference = spool.read_inference_done()
    meter = Meter(analysis_id, FINISH, call)
    try:
        meter.begin(len(manifest.frames))
    except AnalysisStopped:
        spool.remove()
        return inactive(analysis_id, FINISH, store.context(analysis_id, call.settings), started)

    mark = time.perf_counter()
    results: list[FrameResult] = []
    # Frames the models judged by the picture inside black letterbox / pillarbox bars, above
    # burned-in subtitles, which were left out, and with its colour cast taken out: counted in
    # the same pass.
    in_bars = subtitled = balanced = 0
    for frame, verdict in _joined(manifest, spool):
        results.append(
            FrameResult(
                frame_index=frame.frame_index,
                time_s=frame.time_s,
                frame_class=verdict.frame_class,
                p_fraction=verdict.p_fraction,
                weight_s=frame.weight_s,
            )
        )
        in_bars += verdict.in_bars
        subtitled += verdict.subtitled
        balanced += verdict.balanced
    shots = [Shot(**shot.model_dump()) for shot in manifest.shots]
    per_shot = shot_stats(results, shots)
    duration_s = max(manifest.duration_s, shots[-1].end_time if shots else 0.0)
    rates = HybridRates.from_meta(inference.hybrid_rates)
    film = film_stats(results, per_shot, duration_s=duration_s, rates=rates)
    bins = timeline(results, duration_s=duration_s, bins=TIMELINE_BINS)
    summary = {
        **dataclasses.asdict(film),
        "decoded_frames": manifest.frames_decoded,
        "blank_frames": manifest.blank_frames,
        "sampled_frames": len(results),
        "segmented_frames": inference.segmented,
        "frames_in_bars": in_bars,
        "frames_with_subtitles": subtitled,
        "frames_colour_balanced": balanced,
        # What the adjusted ratio was adjusted by (null: not adjusted); kept so that figures
        # recomputed with an archivist's corrections adjust the same way.
        "hybrid_rates": rates.as_meta() if rates is not None else None,
    }
    stats_s = lap(mark)
    mark = time.perf_counter()
    thumbnails.write_all(call.settings.data_dir, analysis_id, _pictures(manifest, spool))
    thumbnails_s = lap(mark)

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

    def timings(store_s: float) -> Mapping[str, float]:
        finish_s = time.perf_counter() - started
        return {
            **manifest.timings,
            **inference.timings,
            **embed_timings,
            **(scenes.timings if scenes else {}),
            "stats_s": stats_s,
            "thumbnails_s": thumbnails_s,
            "store_s": store_s,
            "finish_s": finish_s,
            "total_s": manifest.timings["prepare_s"]
            + inference.timings["infer_s"]
            + embed_timings.get("embed_s", 0.0)
            + (scenes.timings.get("scenes_s", 0.0) if scenes else 0.0)
            + finish_s,
        }

    embeddings, embed_timings, scenes = _embeddings_and_scenes(manifest, spool)
    damage = manifest.damage
    status = RunStatus.DONE if damage is None else RunStatus.PARTIAL
    reasons = [damage.reason] if damage else []
    if not results:
        # Done, but not a 0 % film: its ratios are null and it matches no ratio query.
        reasons.append(_nothing_analysable(manifest))
    closing = Closing(
        status=status,
        shots=[dataclasses.asdict(shot) for shot in per_shot],
        frames=records(),
        summary=summary,
        timeline=bins,
        detector=manifest.detector,
        error="; ".join(reasons) or None,
        error_frame=damage.last_frame if damage else None,
        error_time_s=damage.last_time_s if damage else None,
        embeddings=embeddings,
        scenes=[scene.model_dump() for scene in scenes.scenes] if scenes else [],
        scene_method=scenes.method if scenes else None,
    )
    closed = store.close_analysis(
        analysis_id,
        closing,
        timings,
        lease_owner=call.lease.owner if call.lease is not None else None,
    )
    if not closed and call.lease is not None:
        call.lease.confirm()  # LeaseLost: the spool is the other runner's now, leave it
    spool.remove()
    if not closed:
        return inactive(analysis_id, FINISH, store.context(analysis_id, call.settings), started)
    if progress is not None:
        progress(FINISH, len(manifest.frames), len(manifest.frames))
    return StageOutcome(
        analysis_id, FINISH, status, time.perf_counter() - started, error=closing.error
    )


def _pictures(manifest: Manifest, spool: Spool) -> Iterator[tuple[int, np.ndarray, bytes | None]]:
    """Each sampled frame's picture (from the spool's chunks, in order) with its mask."""
    joined = _joined(manifest, spool)
    for chunk in range(manifest.chunk_count):
        for image in spool.read_frames(chunk):
            frame, verdict = next(joined)
            yield frame.frame_index, image, verdict.mask_png


def _embeddings_and_scenes(
    manifest: Manifest, spool: Spool
) -> tuple[tuple[list[int], np.ndarray, str] | None, dict[str, float], ScenesDone | None]:
    """The ``embed`` and ``scenes`` stages' outputs; None for one whose output is not in the
    spool (a spool prepared before those stages existed): the analysis closes without it."""
    try:
        vectors, done = spool.read_embeddings()
        embeddings = ([frame.frame_index for frame in manifest.frames], vectors, done.version)
        timings = done.timings
    except SpoolMissing:
        log.warning("analysis %s: no embeddings in its spool", manifest.analysis_id)
        embeddings, timings = None, {}
    try:
        scenes: ScenesDone | None = spool.read_scenes()
    except SpoolMissing:
        log.warning("analysis %s: no scenes in its spool", manifest.analysis_id)
        scenes = None
    return embeddings, timings, scenes


def _nothing_analysable(manifest: Manifest) -> str:
    if manifest.frames_decoded and manifest.blank_frames >= manifest.frames_decoded:
        return f"{NO_ANALYSABLE_FRAMES}: all {manifest.frames_decoded} decoded frames are blank"
    if not manifest.frames_decoded:
        return f"{NO_ANALYSABLE_FRAMES}: no frame could be decoded"
    return NO_ANALYSABLE_FRAMES


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
