"""The propagation job: a shot's human masks spread to its other sampled frames
(``workers.ml.propagation``), stored as their "propagated" masks.

A job of kind "propagate" (``app.jobs.service.create_propagation_job``) is one stage of
that name on the gpu queue, run under the same claim, stage lease, heartbeat and failure
policy as the analysis stages (``workers.orchestrator``), and sent again by the reaper when
its worker dies. It never touches its analysis's status: its own status, progress and
error are on the job row. The frames are re-extracted from the film with ffmpeg at the
analysis's working size, so nothing of the analysis's spool is needed.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from app.core.config import Settings
from app.core.domain import RunStatus
from app.jobs.service import KIND_PROPAGATE, PROPAGATE_STAGE
from app.pipeline.video import extract_frame
from workers.leases import Lease, LeaseLost, new_owner
from workers.ml.inference import Segmenter
from workers.ml.propagation import PropagationConfig, propagate
from workers.orchestrator import guarded, process_models
from workers.stages.store import StageTicket, Store

log = logging.getLogger(__name__)

METHOD = "features+model+flow"


def _config() -> PropagationConfig:
    return PropagationConfig()  # features + model logits + flow, as tuned


def run_job(
    settings: Settings,
    job_id: int,
    *,
    task_id: str | None = None,
    ticket: StageTicket | None = None,
    segmenter: Segmenter | None = None,
    retries: int = 0,
) -> RunStatus | None:
    """Run one propagation job here; its final status, or None when it was not this
    runner's to run (cancelled, finished, another worker holds it, lease lost). A
    transient error raises ``RetryLater`` (the orchestrator's policy)."""
    store = Store(settings.sqlalchemy_url)
    found = store.job_kind(job_id)
    if found is None or found[0] != KIND_PROPAGATE:
        return None
    params = found[1]
    analysis_id, film_id = int(params["analysis_id"]), int(params["film_id"])
    if ticket is None:
        claimed = guarded(
            settings,
            job_id,
            None,
            lambda: store.claim_job_at(job_id, task_id, PROPAGATE_STAGE, settings.tasks.lease_s),
            retries=retries,
        )
        if claimed is None:
            return None
        ticket = StageTicket(job_id, analysis_id, claimed.attempt)
    owner = new_owner()
    if not store.acquire_stage(ticket, PROPAGATE_STAGE, owner, settings.tasks.lease_s):
        log.info("job %s: propagation is running elsewhere or has finished; skipped", job_id)
        return None

    def step() -> RunStatus | None:
        try:
            with Lease(settings, job_id, owner) as lease:
                return _propagate(settings, store, lease, film_id, params, segmenter)
        except LeaseLost:
            log.warning("job %s: propagation went to another runner; stopped", job_id)
            return None

    return guarded(settings, job_id, None, step, retries=retries)


def _propagate(
    settings: Settings,
    store: Store,
    lease: Lease,
    film_id: int,
    params: dict[str, int],
    segmenter: Segmenter | None,
) -> RunStatus | None:
    job_id = lease.job_id
    inputs = store.propagation_inputs(
        film_id, int(params["analysis_id"]), int(params["shot_index"])
    )
    if not inputs.human_masks:
        store.finish_job(job_id, RunStatus.FAILED, "the shot has no human mask any more")
        return RunStatus.FAILED
    pictures = [
        np.asarray(
            extract_frame(
                Path(inputs.film_path),
                time_s,
                max_size=inputs.working_size,
                timeout_s=settings.api.ffmpeg_timeout_s,
            )
        )
        for _, time_s in inputs.frames
    ]
    lease.check()
    positions = {index: position for position, (index, _) in enumerate(inputs.frames)}
    annotated = {positions[index]: mask for index, mask in inputs.human_masks.items()}
    # The segmenter this film is analysed with (its collection may name its own).
    model = segmenter or process_models(store.film_settings(settings, film_id)).segmenter
    config = _config()

    def progress(done: int, total: int) -> None:
        lease.check()
        store.set_job_progress(job_id, 0.9 * done / max(total, 1))

    maps = propagate(pictures, annotated, model, config, progress=progress)
    masks = {
        index: maps[position] >= 0.5
        for index, position in positions.items()
        if position not in annotated
    }
    detail = {
        "method": METHOD,
        "from_frames": sorted(inputs.human_masks),
        "segmenter": model.version,
        "config": dataclasses.asdict(config),
    }
    if not store.save_propagated(film_id, masks, job_id=job_id, owner=lease.owner, detail=detail):
        return None
    return RunStatus.DONE
