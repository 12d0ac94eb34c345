"""Stage ``scenes`` (gpu queue: its repro-VAE detector trains with torch): the shots grouped
into scenes by the detector ``pipeline.scenes.detector`` names, left in the spool for
``finish``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from app.core.domain import RunStatus
from app.scenes.detectors import SCENE_DETECTORS, SceneMaterial
from app.scenes.rule import ShotSpan, scenes_from_starts
from workers.stages.base import AnalysisStopped, Meter, StageCall, StageOutcome, inactive
from workers.stages.spool import ScenesDone, SpoolScene

SCENES = "scenes"


def scenes(analysis_id: int, call: StageCall) -> StageOutcome:
    started = time.perf_counter()
    try:
        context = call.store.context(analysis_id, call.settings)
        if context is None or not context.active:
            return inactive(analysis_id, SCENES, context, started)
        spool = call.spool(analysis_id)
        manifest = spool.read_manifest()
        vectors, _ = spool.read_embeddings()
        meter = Meter(analysis_id, SCENES, call)
        meter.begin(None)
        settings = context.pipeline.scenes

        def images() -> Iterator[np.ndarray]:
            for chunk in range(manifest.chunk_count):
                yield from spool.read_frames(chunk)

        shots = [
            ShotSpan(shot.index, shot.start_frame, shot.end_frame, shot.start_time, shot.end_time)
            for shot in manifest.shots
        ]
        material = SceneMaterial(
            shots=shots,
            frame_shots=[frame.shot_index for frame in manifest.frames],
            embeddings=vectors.astype(np.float32),
            images=images,
        )
        finding = SCENE_DETECTORS.get(settings.detector).load()(settings, material)
        found = scenes_from_starts(shots, finding.starts)
        spool.write_scenes(
            ScenesDone(
                method=settings.detector,
                scenes=[SpoolScene(**scene.__dict__) for scene in found],
                detail=finding.detail,
                timings={"scenes_s": time.perf_counter() - started},
            )
        )
        meter.end()
    except AnalysisStopped:
        call.spool(analysis_id).remove()
        return inactive(
            analysis_id, SCENES, call.store.context(analysis_id, call.settings), started
        )
    return StageOutcome(analysis_id, SCENES, RunStatus.RUNNING, time.perf_counter() - started)
