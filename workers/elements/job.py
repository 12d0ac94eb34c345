"""The elements job of one collection: extract, track, refine, cluster (CAST, steps 2-6).

1. **extract**: for the latest analysis of each film that has no elements of this embedding
   version yet (or has them from before the film's latest correction), the candidate regions
   of its hybrid frames (the NP regions of the mask in force: an archivist's, else a
   propagated one, else the model's) and NP frames (salient regions), classes as corrected;
   cropped from the frame's stored thumbnail (or the film, when there is none), embedded
   with the pretrained encoder and linked into tracks within shots; stored per analysis, so
   a film in several collections, or a second run, is not redone;
2. **refine**: a projection head trained on the collection's tracks and on augmented views
   of the stored crops, re-embedded here (``refine``, ``element_augment``);
3. **cluster**: the refined vectors clustered through their tracks; clusters stored, names
   of the previous run carried over.

Runs on the gpu queue (``workers.tasks.elements``) or in the API's process (inline mode);
a run records its stage and progress, and fails with a reason fit to show.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from app.analysis import thumbnails
from app.core.config import Settings
from app.core.db import session_scope
from app.core.domain import FrameClass
from app.elements import head as head_codec
from app.elements import repository
from app.elements import service as elements_service
from app.elements.clustering import cluster_elements
from app.elements.proposals import Region, crop, frame_regions, masked_crop
from app.elements.schemas import ElementRunPublic
from app.elements.tracking import TrackItem, link_tracks
from app.films import repository as films_repository
from app.pipeline.borders import find_picture_box
from app.pipeline.errors import FrameExtractionFailed, user_reason
from app.pipeline.masks import decode_mask
from app.pipeline.video import extract_frame

log = logging.getLogger(__name__)

CROP_SIZE = 128
HEARTBEAT_FRAMES = 100
EXTRACT_SHARE = 0.6  # of the run's progress
REFINE_SHARE = 0.3
AUGMENT_CHUNK = 512


class Embedder(Protocol):
    version: str

    def embed(self, images: list[np.ndarray]) -> np.ndarray: ...


class RunGone(Exception):
    """The run is no longer running (its collection was deleted): stop quietly."""


_embedder_lock = threading.Lock()
_embedder: Embedder | None = None


def process_embedder(settings: Settings) -> Embedder:
    """The pretrained encoder of this process, loaded on first use and kept."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            from workers.ml.embedding import FrameEmbedder

            _embedder = FrameEmbedder.load(settings.model)
        return _embedder


def _jpeg(image: np.ndarray) -> bytes:
    picture = Image.fromarray(image)
    picture.thumbnail((CROP_SIZE, CROP_SIZE))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


class FrameSource:
    """Pictures of an analysis's sampled frames: the stored thumbnail, else the film."""

    def __init__(self, settings: Settings, analysis_id: int, film_path: Path, fps: float | None):
        self.settings = settings
        self.analysis_id = analysis_id
        self.film_path = film_path
        self.fps = fps

    def image(self, frame_index: int, time_s: float) -> np.ndarray | None:
        stored = thumbnails.find(self.settings.data_dir, self.analysis_id, frame_index)
        try:
            if stored is not None:
                with Image.open(stored.path) as opened:
                    return np.asarray(opened.convert("RGB"))
            if not self.film_path.is_file():
                return None
            seek = time_s - (0.25 / self.fps if self.fps else 0.0)
            picture = extract_frame(
                self.film_path,
                seek,
                max_size=self.settings.pipeline.working_size,
                timeout_s=self.settings.api.ffmpeg_timeout_s,
            )
            return np.asarray(picture.convert("RGB"))
        except (OSError, FrameExtractionFailed) as exc:
            log.warning("analysis %s frame %s: no picture (%s)", self.analysis_id, frame_index, exc)
            return None


def extract_analysis(
    settings: Settings,
    film_id: int,
    analysis_id: int,
    embedder: Embedder,
    tick: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Regions, crops, embeddings and tracks of one analysis, replacing any stored ones."""
    with session_scope(settings.sqlalchemy_url) as session:
        frames, mark = elements_service.drawn_frames(session, film_id, analysis_id)
        film = films_repository.get(session, film_id)
        film_path = Path(film.stored_path) if film is not None else Path()
        fps = film.fps if film is not None else None
    source = FrameSource(settings, analysis_id, film_path, fps)
    found: list[tuple[elements_service.DrawnFrame, Region, np.ndarray]] = []
    skipped = 0
    for position, frame in enumerate(frames):
        if tick is not None and position % HEARTBEAT_FRAMES == HEARTBEAT_FRAMES - 1:
            tick()  # a long film: say the run is alive
        mask_png = frame.mask_png
        if frame.frame_class is FrameClass.HYBRID and mask_png is None:
            continue  # a hybrid that was not segmented has no regions to offer
        image = source.image(frame.frame_index, frame.time_s)
        if image is None:
            skipped += 1
            continue
        # The picture inside black bars, without the transfer's burned-in regions (a
        # timecode window would otherwise be proposed on every frame).
        picture_box = find_picture_box(
            image,
            regions=settings.model.burn_in_regions,
            balance_colour=settings.model.balance_colour,
        )
        if mask_png is not None and frame.frame_class is FrameClass.HYBRID:
            p_mask = decode_mask(mask_png)
            drawn = ~p_mask & picture_box.inside(p_mask.shape)
            regions = frame_regions(image, p_mask, picture=picture_box)
            found.extend((frame, r, masked_crop(image, r.box, drawn)) for r in regions)
        else:
            regions = frame_regions(image, picture=picture_box)
            found.extend((frame, r, crop(image, r.box)) for r in regions)
    vectors = embedder.embed([picture for _, _, picture in found])
    tracks = link_tracks(
        [
            TrackItem(
                frame.shot_index, frame.frame_index, region.box, vectors[i].astype(np.float32)
            )
            for i, (frame, region, _) in enumerate(found)
        ]
    )
    rank_in_frame: dict[int, int] = {}
    rows = []
    for position, (frame, region, picture) in enumerate(found):
        rank = rank_in_frame.get(frame.frame_index, 0)
        rank_in_frame[frame.frame_index] = rank + 1
        rows.append(
            {
                "analysis_id": analysis_id,
                "film_id": film_id,
                "frame_index": frame.frame_index,
                "region_index": rank,
                "shot_index": frame.shot_index,
                "time_s": frame.time_s,
                "source": region.source,
                "box": [round(value, 5) for value in region.box],
                "area": region.area,
                "embedding": vectors[position].astype(np.float16).tobytes(),
                "embedding_version": embedder.version,
                "crop_jpeg": _jpeg(picture),
                "track_id": tracks[position],
                "annotation_mark": mark,
            }
        )
    with session_scope(settings.sqlalchemy_url) as session:
        repository.replace_elements(session, analysis_id, rows)
    return {"elements": len(rows), "tracks": len(set(tracks)), "frames_skipped": skipped}


def run_elements(
    settings: Settings,
    run_id: int,
    *,
    embedder: Embedder | None = None,
    task_id: str | None = None,
    refine_settings: Any | None = None,
) -> ElementRunPublic | None:
    """Run one queued element run to its end; None when it was not runnable."""
    with session_scope(settings.sqlalchemy_url) as session:
        run = elements_service.claim_run(session, run_id, task_id)
    if run is None:
        log.info("element run %s: not runnable any more, skipped", run_id)
        return None
    try:
        _run(settings, run, embedder, refine_settings)
    except RunGone:
        log.info("element run %s: gone while running, stopped", run_id)
        return None
    except Exception as exc:
        # Not retried: a broken film or model would break the next try the same way.
        log.exception("element run %s failed", run_id)
        with session_scope(settings.sqlalchemy_url) as session:
            elements_service.fail_run(session, run_id, user_reason(f"{type(exc).__name__}: {exc}"))
    with session_scope(settings.sqlalchemy_url) as session:
        return elements_service.get_run(session, run_id)


def _progress(settings: Settings, run_id: int) -> Callable[[str, float], None]:
    def report(stage: str, value: float) -> None:
        with session_scope(settings.sqlalchemy_url) as session:
            if not elements_service.update_progress(session, run_id, stage, value):
                raise RunGone

    return report


def _run(
    settings: Settings,
    run: ElementRunPublic,
    embedder: Embedder | None,
    refine_settings: Any | None,
) -> dict[str, Any]:
    from workers.ml.element_refine import RefineSettings, refine

    report = _progress(settings, run.id)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    report("extract", 0.0)
    embedder = embedder or process_embedder(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        targets = repository.collection_analyses(session, run.collection_id)
        todo = [
            (film_id, analysis_id)
            for film_id, analysis_id in targets
            if elements_service.needs_extraction(session, film_id, analysis_id, embedder.version)
        ]
    skipped = 0
    failed_films: list[int] = []
    for done, (film_id, analysis_id) in enumerate(todo, start=1):
        try:
            share = EXTRACT_SHARE * (done - 1) / len(todo)
            found = extract_analysis(
                settings,
                film_id,
                analysis_id,
                embedder,
                tick=lambda share=share: report("extract", share),  # type: ignore[misc]
            )
        except (OSError, ValueError) as exc:
            # One unreadable film (a broken mask, a vanished file) does not sink the run.
            log.warning("element run %s: film %s skipped: %s", run.id, film_id, exc)
            failed_films.append(film_id)
            continue
        skipped += found["frames_skipped"]
        report("extract", EXTRACT_SHARE * done / len(todo))
    timings["extract_s"] = time.perf_counter() - started

    with session_scope(settings.sqlalchemy_url) as session:
        rows = repository.elements_of_analyses(
            session, [analysis_id for _, analysis_id in targets], embedder.version
        )
    element_ids = [int(row.id) for row in rows]
    embeddings = head_codec.embeddings_from_bytes([row.embedding for row in rows])
    track_keys = [(row.analysis_id, row.track_id) for row in rows]
    shot_keys = [(row.analysis_id, row.shot_index) for row in rows]

    started = time.perf_counter()
    weights = None
    refined: dict[str, Any] = {"refined": False}
    if run.options.get("refine", True) and rows:
        report("refine", EXTRACT_SHARE)
        options = refine_settings or RefineSettings()
        seed = int(run.options.get("seed", 0))
        if run.options.get("steps"):
            from dataclasses import replace

            options = replace(options, steps=int(run.options["steps"]))
        augmented = None
        if options.augment_views > 0:
            augmented = _augmented_views(
                settings,
                element_ids,
                embeddings,
                embedder,
                options.augment_views,
                seed,
                tick=lambda: report("refine", EXTRACT_SHARE),
            )
            timings["augment_s"] = time.perf_counter() - started
            started = time.perf_counter()  # refine_s is the training alone
        result = refine(
            embeddings,
            track_keys,
            shot_keys,
            augmented=augmented,
            settings=options,
            seed=seed,
            device=settings.model.device,
            progress=lambda share: report("refine", EXTRACT_SHARE + REFINE_SHARE * share),
        )
        weights = result.weights
        refined = {
            "refined": weights is not None,
            "loss_before": result.loss_before,
            "loss_after": result.loss_after,
            "steps": result.steps,
            "device": result.device,
            "loss": options.loss,
            "augment_views": options.augment_views if augmented is not None else 0,
        }
    timings["refine_s"] = time.perf_counter() - started

    started = time.perf_counter()
    report("cluster", EXTRACT_SHARE + REFINE_SHARE)
    vectors = head_codec.project(embeddings, weights)
    clustering = cluster_elements(
        vectors,
        track_keys_as_ints(track_keys),
        moments=[(row.analysis_id, row.frame_index) for row in rows],
    )
    timings["cluster_s"] = time.perf_counter() - started
    summary = {
        "films": len(targets),
        "extracted": len(todo),
        "elements": len(rows),
        "tracks": len(set(track_keys)),
        "clusters": len(clustering.exemplars),
        "silhouette": clustering.silhouette,
        # Set when the collection had more tracks than the clustering takes at once: the cut
        # was made on this many, the other tracks joined their nearest cluster.
        "sampled_tracks": clustering.sampled_tracks,
        "frames_skipped": skipped,
        "films_skipped": failed_films,
        **refined,
        "timings": {key: round(value, 3) for key, value in timings.items()},
    }
    with session_scope(settings.sqlalchemy_url) as session:
        elements_service.save_clusters(session, run.collection_id, run.id, element_ids, clustering)
        if not elements_service.finish_run(
            session,
            run.id,
            summary=summary,
            head=head_codec.to_bytes(weights) if weights is not None else None,
            embedding_version=embedder.version,
        ):
            session.rollback()
            raise RunGone
    return summary


def _augmented_views(
    settings: Settings,
    element_ids: list[int],
    embeddings: np.ndarray,
    embedder: Embedder,
    views: int,
    seed: int,
    tick: Callable[[], None] | None = None,
) -> np.ndarray:
    """(N, views, D) embeddings of augmented views of the stored crops; an element without a
    readable crop gets its own embedding as its views (a positive that teaches nothing)."""
    from workers.ml.element_augment import augmented_views

    out = np.repeat(np.asarray(embeddings, np.float32)[:, None, :], views, axis=1)
    # In chunks: a large collection's crops need not all be in memory at once.
    for chunk, first in enumerate(range(0, len(element_ids), AUGMENT_CHUNK)):
        ids = element_ids[first : first + AUGMENT_CHUNK]
        if tick is not None:
            tick()  # says the run is alive (and stops it when it is gone)
        with session_scope(settings.sqlalchemy_url) as session:
            stored = repository.crops(session, ids)
        pictures: list[np.ndarray] = []
        readable: list[int] = []
        for position, element_id in enumerate(ids, start=first):
            data = stored.get(element_id)
            if data is None:
                continue
            try:
                with Image.open(io.BytesIO(data)) as opened:
                    pictures.append(np.asarray(opened.convert("RGB")))
            except OSError:
                continue
            readable.append(position)
        if pictures:
            out[readable] = augmented_views(
                pictures, embedder.embed, views=views, seed=seed + 1000 * chunk
            )
    return out


def track_keys_as_ints(track_keys: list[tuple[int, int | None]]) -> list[int]:
    """One integer per distinct track key (an element without a track is its own)."""
    numbers: dict[Any, int] = {}
    out = []
    for position, key in enumerate(track_keys):
        distinct: Any = key if key[1] is not None else ("alone", position)
        out.append(numbers.setdefault(distinct, len(numbers)))
    return out
