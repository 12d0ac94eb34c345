"""Keyword-only factories for database tests: a film, an analysis with results."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.analysis.schemas import FrameRecord, ShotRecord
from app.core.domain import FrameClass, RunStatus
from app.films import service as films_service
from app.films.schemas import FilmMetadata
from app.pipeline.masks import encode_mask
from app.pipeline.quantify import HybridRates

_counter = itertools.count(1)

DEFAULT_SETTINGS: dict[str, Any] = {"working_size": 320, "sampling": {"max_interval_s": 1.0}}


def make_film(
    session: Session,
    *,
    name: str | None = None,
    title: str | None = None,
    year: int | None = None,
    duration_s: float = 60.0,
    extra: dict[str, Any] | None = None,
) -> int:
    number = next(_counter)
    name = name or f"film-{number}.mp4"
    sha256 = hashlib.sha256(f"{name}-{number}".encode()).hexdigest()
    registered = films_service.register_film(
        session,
        f"/archive/{name}",
        sha256,
        {
            "duration_s": duration_s,
            "fps": 25.0,
            "width": 320,
            "height": 240,
            "frame_count": round(duration_s * 25),
            "has_audio": False,
            "codec": "h264",
        },
        FilmMetadata(title=title, year=year, extra=extra or {}),
        size_bytes=1000 + number,
    )
    return registered.film_id


# A real mask PNG (left half P): the API decodes masks to serve them at the frame's size.
HALF_MASK = encode_mask(np.tile(np.arange(64) < 32, (48, 1)), 160)


def frame_records(count: int, *, fps: float = 25.0, step: int = 25) -> list[FrameRecord]:
    """``count`` frames one second apart, cycling P, hybrid, NP; hybrids carry a mask; the
    confidence runs 0.95, 0.55, 0.75, 0.95, ... (so a sort by confidence differs from time)."""
    classes = [FrameClass.P, FrameClass.HYBRID, FrameClass.NP]
    records = []
    for index in range(count):
        frame_class = classes[index % 3]
        p_fraction = {FrameClass.P: 1.0, FrameClass.HYBRID: 0.5, FrameClass.NP: 0.0}[frame_class]
        records.append(
            FrameRecord(
                frame_index=index * step,
                time_s=index * step / fps,
                frame_class=frame_class,
                p_fraction=p_fraction,
                weight_s=step / fps,
                confidence=(0.95, 0.55, 0.75)[index % 3] - 0.01 * (index // 3),
                shot_index=index // 3,
                mask_png=HALF_MASK if frame_class is FrameClass.HYBRID else None,
                np_grid=[[1.0 - p_fraction, 0.0], [0.0, 1.0 - p_fraction]],
            )
        )
    return records


def shot_records(count: int) -> list[ShotRecord]:
    return [
        ShotRecord(
            shot_index=index,
            start_frame=index * 75,
            end_frame=(index + 1) * 75 - 1,  # inclusive: the next shot starts at the next frame
            start_time=index * 3.0,
            end_time=(index + 1) * 3.0,
            frame_class=FrameClass.HYBRID,
            hybrid_ratio=1 / 3,
            mean_p_fraction=0.5,
        )
        for index in range(count)
    ]


def summary(*, hybrid_ratio: float = 0.3, hybrid_shot_count: int = 2) -> dict[str, Any]:
    rest = 1.0 - hybrid_ratio
    return {
        "hybrid_ratio": hybrid_ratio,
        "p_time_share": rest / 2,
        "np_time_share": rest / 2,
        "hybrid_time_share": hybrid_ratio,
        "mean_p_fraction": 0.5,
        "hybrid_shot_count": hybrid_shot_count,
        "longest_hybrid_run_s": 4.0,
    }


def make_analysis(
    session: Session,
    *,
    film_id: int,
    frames: int = 6,
    shots: int = 2,
    hybrid_ratio: float | None = 0.3,
    status: RunStatus = RunStatus.DONE,
    settings: dict[str, Any] | None = None,
    classifier_version: str = "vit-proxy-1",
    segmenter_version: str = "segformer-1",
    job_id: int | None = None,
    error: str | None = None,
    summary_extra: dict[str, Any] | None = None,
) -> int:
    """A finished analysis with ``frames`` frames and ``shots`` shots (None ratio: no summary);
    ``error`` is why a partial analysis is partial; ``summary_extra`` is added to its summary."""
    analysis_id = analysis_service.start_analysis(
        session,
        film_id,
        classifier_version,
        segmenter_version,
        settings if settings is not None else DEFAULT_SETTINGS,
        job_id=job_id,
    )
    analysis_service.save_shots(session, analysis_id, shot_records(shots))
    analysis_service.save_frames(session, analysis_id, frame_records(frames))
    analysis_service.finish_analysis(
        session,
        analysis_id,
        status,
        summary=None
        if hybrid_ratio is None
        else {**summary(hybrid_ratio=hybrid_ratio), **(summary_extra or {})},
        timeline={"time_s": [0.0, 1.0], "hybrid": [0.0, 1.0]},
        timings={"decode_s": 1.5},
        detector={"name": "adaptive", "threshold": 3.0},
        error=error,
    )
    return analysis_id


def register_all_p_film(
    session: Session,
    path: Path,
    *,
    size: tuple[int, int],
    seconds: int,
    shots: list[ShotRecord],
    settings: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """A 1 fps film file (lossless, say) registered and analysed as if every sampled frame
    (one a second, frame ``i`` in the shot holding it) were P: (film id, analysis id). For
    tests whose annotations, not the model, carry the truth."""
    film_id = films_service.register_film(
        session,
        path,
        hashlib.sha256(path.read_bytes()).hexdigest(),
        {
            "duration_s": float(seconds),
            "fps": 1.0,
            "width": size[0],
            "height": size[1],
            "frame_count": seconds,
            "has_audio": False,
            "codec": "ffv1",
        },
        FilmMetadata(),
        size_bytes=path.stat().st_size,
    ).film_id
    analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", settings or {})
    analysis_service.save_shots(session, analysis_id, shots)
    shot_of = {
        frame: shot.shot_index
        for shot in shots
        for frame in range(shot.start_frame, shot.end_frame + 1)
    }
    analysis_service.save_frames(
        session,
        analysis_id,
        [FrameRecord(i, float(i), "P", 1.0, 1.0, shot_index=shot_of[i]) for i in range(seconds)],
    )
    analysis_service.finish_analysis(
        session,
        analysis_id,
        RunStatus.DONE,
        summary={
            "hybrid_ratio": 0.0,
            "p_time_share": 1.0,
            "np_time_share": 0.0,
            "hybrid_time_share": 0.0,
        },
    )
    return film_id, analysis_id


def hybrid_rates(**overrides: Any) -> HybridRates:
    """Usable hybrid rates (tpr 0.8, fpr 0.05, spreads measured) for the models
    ``make_analysis`` names."""
    values: dict[str, Any] = {
        "tpr": 0.8,
        "fpr": 0.05,
        "hybrid_frames": 200,
        "homogeneous_frames": 100,
        "classifier_version": "vit-proxy-1",
        "segmenter_version": "segformer-1",
        "min_area": 0.08,
        "balance_colour": True,
        "tpr_spread": 0.02,
        "fpr_spread": 0.03,
    }
    values.update(overrides)
    return HybridRates(**values)
