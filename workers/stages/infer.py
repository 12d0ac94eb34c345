"""Stage ``infer`` (gpu when there is one): classify every spooled frame, segment the hybrids
(every frame with ``segment_all``), and leave the verdicts in the spool for ``finish``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.config import PipelineSettings
from app.core.domain import RunStatus
from app.pipeline.masks import encode_mask, np_grid
from workers.stages.base import (
    AnalysisStopped,
    Meter,
    StageCall,
    StageOutcome,
    check_models,
    inactive,
    lap,
)
from workers.stages.models import Models
from workers.stages.spool import (
    FrameInference,
    InferenceChunk,
    InferenceDone,
    Manifest,
    Spool,
    SpoolFrame,
    encode_png,
)
from workers.stages.store import AnalysisContext

if TYPE_CHECKING:
    from workers.ml.inference import FrameDecision, MaskVerdict

log = logging.getLogger(__name__)

INFER = "infer"
INFER_TIMINGS = ("load_s", "classify_s", "segment_s", "masks_s")


def infer(analysis_id: int, call: StageCall) -> StageOutcome:
    """Classify every spooled frame; segment the hybrids (all frames with ``segment_all``).

    A segmented frame keeps the segmenter's mask as a 1-bit PNG and takes its P fraction from
    it; a frame the classifier calls hybrid stays hybrid unless ``segmenter_overrules`` (see
    ``cascade``), one segmented only because of ``segment_all`` takes the segmenter's verdict.
    Other frames keep the classifier's figures and no mask (``has_mask`` means "segmented");
    their NP grid comes from the classifier's patch map. Raises ``ModelMismatch`` when the
    models are not the ones the analysis was started with, ``SpoolMissing`` before
    ``prepare``.
    """
    started = time.perf_counter()
    # Work ``prepare`` started on these frames as it sampled them (a job run in one process).
    early = call.early.pop(analysis_id, None) if call.early is not None else None
    try:
        context = call.store.context(analysis_id, call.settings)
        if context is None or not context.active:
            return inactive(analysis_id, INFER, context, started)
        models = call.loaded_models()
        check_models(context, models)
        if (note := models.classifier.frame_head_note(context.thresholds)) is not None:
            log.warning("analysis %s: %s", analysis_id, note)
        spool = call.spool(analysis_id)
        manifest = spool.read_manifest()
        meter = Meter(analysis_id, INFER, call)
        meter.begin(len(manifest.frames))
        done = early.wait(manifest, meter) if early is not None else None
        if done is not None:
            segmented, timings = done
        else:
            segmented, timings = _infer_spool(models, spool, manifest, context, meter)
        timings["infer_s"] = time.perf_counter() - started
        spool.write_inference_done(
            InferenceDone(
                classifier_version=context.classifier_version,
                segmenter_version=context.segmenter_version,
                frames=len(manifest.frames),
                segmented=segmented,
                timings=timings,
                hybrid_rates=_rates_for(models, context),
            )
        )
        meter.end()
    except AnalysisStopped:
        if early is not None:
            early.cancel()  # before its spool goes
        call.spool(analysis_id).remove()
        return inactive(analysis_id, INFER, call.store.context(analysis_id, call.settings), started)
    finally:
        if early is not None:
            early.cancel()  # a no-op once its work is done and used
    return StageOutcome(analysis_id, INFER, RunStatus.RUNNING, time.perf_counter() - started)


def _rates_for(models: Models, context: AnalysisContext) -> dict[str, Any] | None:
    """The classifier's hybrid rates, if they were measured as this analysis decides frames."""
    rates = models.classifier.hybrid_rates
    if rates is None or not rates.applies_to(
        context.classifier_version,
        context.segmenter_version,
        context.thresholds.min_area,
        overrules=context.pipeline.segmenter_overrules,
        segment_all=context.pipeline.segment_all,
        # An analysis that stored no such setting was made without it.
        balance_colour=bool((context.picture or {}).get("balance_colour", False)),
    ):
        return None
    return rates.as_meta()


def _infer_spool(
    models: Models,
    spool: Spool,
    manifest: Manifest,
    context: AnalysisContext,
    meter: Meter,
) -> tuple[int, dict[str, float]]:
    """Every spooled chunk through the models; the number of frames segmented, and timings."""
    timings = dict.fromkeys(INFER_TIMINGS, 0.0)
    segmented = 0
    spool.clear_inference()
    for chunk in range(manifest.chunk_count):
        mark = time.perf_counter()
        images = list(spool.read_frames(chunk))
        first = chunk * manifest.frames_per_chunk
        spooled = manifest.frames[first : first + len(images)]
        timings["load_s"] += lap(mark)
        results = infer_chunk(models, images, spooled, context, timings)
        segmented += sum(result.segmented for result in results)
        spool.write_results(chunk, InferenceChunk(frames=results))
        meter.update(first + len(images))
    return segmented, timings


def infer_chunk(
    models: Models,
    images: Sequence[np.ndarray],
    spooled: Sequence[SpoolFrame],
    context: AnalysisContext,
    timings: dict[str, float],
    verdicts: Sequence[MaskVerdict] | None = None,
    decisions: Sequence[FrameDecision] | None = None,
) -> list[FrameInference]:
    """The results of one spool chunk: its frames classified (unless ``verdicts`` already
    holds the classifier's verdict on each, computed in the same batches), the hybrids (every
    frame with ``segment_all``) segmented together; or, when ``decisions`` holds them
    (decided batch by batch, the models sharing one encoder), those. Adds its seconds to
    ``timings``."""
    pipeline = context.pipeline
    if decisions is None:
        decisions = decide(models, images, context, timings, verdicts)
    mark = time.perf_counter()
    results = [
        _segmented(frame.frame_index, decision.verdict, pipeline)
        if decision.segmented
        else FrameInference(
            frame_index=frame.frame_index,
            frame_class=decision.verdict.frame_class,
            p_fraction=decision.verdict.p_fraction,
            confidence=decision.verdict.confidence,
            segmented=False,
            # The classifier's patch mask, uniform when it calls the frame homogeneous.
            np_grid=np_grid(decision.verdict.p_mask, pipeline.grid_rows, pipeline.grid_cols),
            # The models looked at the picture inside black bars, above subtitles, its colour
            # cast taken out.
            in_bars=_barred(decision.verdict),
            subtitled=_subtitled(decision.verdict),
            balanced=_balanced(decision.verdict),
        )
        for frame, decision in zip(spooled, decisions, strict=True)
    ]
    timings["masks_s"] += lap(mark)
    return results


def decide(
    models: Models,
    images: Sequence[np.ndarray],
    context: AnalysisContext,
    timings: dict[str, float],
    verdicts: Sequence[MaskVerdict] | None = None,
) -> list[FrameDecision]:
    """``decide_frames`` as this analysis is configured."""
    from workers.ml.inference import decide_frames  # torch: loaded with the models already

    return decide_frames(
        models.classifier,
        models.pending_segmenter,  # loaded, or loaded on first use
        images,
        context.thresholds,
        overrule=context.pipeline.segmenter_overrules,
        segment_all=context.pipeline.segment_all,
        verdicts=verdicts,
        timings=timings,
    )


def _segmented(
    frame_index: int, verdict: MaskVerdict, pipeline: PipelineSettings
) -> FrameInference:
    # The segmenter's verdict: P fraction and class from its mask (uniform when the frame is
    # homogeneous), calibrated confidence.
    return FrameInference(
        frame_index=frame_index,
        frame_class=verdict.frame_class,
        p_fraction=verdict.p_fraction,
        confidence=verdict.confidence,
        segmented=True,
        mask_png_b64=encode_png(encode_mask(verdict.p_mask, pipeline.mask_size)),
        np_grid=np_grid(verdict.p_mask, pipeline.grid_rows, pipeline.grid_cols),
        in_bars=_barred(verdict),
        subtitled=_subtitled(verdict),
        balanced=_balanced(verdict),
    )


def _barred(verdict: MaskVerdict) -> bool:
    return verdict.picture is not None and verdict.picture.barred


def _subtitled(verdict: MaskVerdict) -> bool:
    return verdict.picture is not None and verdict.picture.subtitles


def _balanced(verdict: MaskVerdict) -> bool:
    return verdict.colour_cast
