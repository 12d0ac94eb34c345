"""The on-disk hand-over between the analysis stages: sampled frames from ``prepare``, model
results from ``infer``, both read by ``finish``, under ``<data_dir>/spool/<analysis_id>/``.

Layout (every file is written to a temporary name and renamed, so a reader never sees half a
file, and a stage killed mid-way leaves nothing that looks finished)::

    frames-00000.npy     (n, H, W, 3) uint8 RGB sampled frames at working resolution,
    frames-00001.npy     FRAMES_PER_CHUNK per file, in film order
    manifest.json        written last by ``prepare``: probe, shots, detector, every sampled
                         frame's number / time / weight / shot, the decode error if any
    results-00000.json   written by ``infer``, one per frames chunk: class, P fraction,
                         confidence, mask (base64 1-bit PNG) and NP grid of each frame
    inference.json       written last by ``infer``: model versions, counts, timings
    embeddings.npy       written by ``embed``: (n, D) float16 unit vectors, one per sampled
    embeddings.json      frame in manifest order; then its version and timings
    scenes.json          written by ``scenes``: the scenes, the detector and its timings

The spool dir must be shared by the processes that run the stages (the same host, or a shared
volume for the cpu and gpu workers). Disk use is about 230 KB per sampled frame at the default
working size (one frame per second: ~1.2 GB for a 90-minute film), freed by ``finish``.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from app.core.domain import FrameClass

# Frames per spool file: ~15 MB at 320x240, a few model batches; bounds every stage's memory.
FRAMES_PER_CHUNK = 64

MANIFEST_NAME = "manifest.json"
INFERENCE_NAME = "inference.json"
EMBEDDINGS_NAME = "embeddings.npy"
EMBEDDINGS_DONE_NAME = "embeddings.json"
SCENES_NAME = "scenes.json"


class SpoolMissing(RuntimeError):
    """A stage found no output of the stage before it: run ``prepare`` (then ``infer``) first."""


class SpoolShot(BaseModel):
    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    transition: str | None = None
    transition_frames: int = 0


class SpoolFrame(BaseModel):
    """One sampled frame; its pixels are row ``position % FRAMES_PER_CHUNK`` of its chunk."""

    frame_index: int
    time_s: float
    weight_s: float
    shot_index: int | None = None


class DecodeDamage(BaseModel):
    """Where and why decoding stopped early (the analysis is then partial)."""

    reason: str
    last_frame: int | None
    last_time_s: float | None


class Manifest(BaseModel):
    """What ``prepare`` found: everything later stages need besides the pixels."""

    analysis_id: int
    film_path: str
    probe: dict[str, Any]
    fps: float
    duration_s: float
    working_width: int
    working_height: int
    frames_per_chunk: int
    chunk_count: int
    frames_decoded: int
    blank_frames: int
    detector: dict[str, Any]
    shots: list[SpoolShot]
    frames: list[SpoolFrame]
    damage: DecodeDamage | None = None
    timings: dict[str, float]


class FrameInference(BaseModel):
    """The models' verdict on one sampled frame."""

    frame_index: int
    frame_class: FrameClass
    p_fraction: float
    confidence: float
    segmented: bool
    mask_png_b64: str | None = None
    np_grid: list[list[float]] | None = None
    # The models looked at the picture inside the frame's black bars (app/pipeline/borders).
    in_bars: bool = False
    # ... and above burned-in subtitles at its bottom (app/pipeline/subtitles).
    subtitled: bool = False
    # ... with the picture's colour cast taken out (app/pipeline/colour).
    balanced: bool = False

    @property
    def mask_png(self) -> bytes | None:
        return base64.b64decode(self.mask_png_b64) if self.mask_png_b64 is not None else None


class InferenceChunk(BaseModel):
    frames: list[FrameInference]


class InferenceDone(BaseModel):
    classifier_version: str
    segmenter_version: str
    frames: int
    segmented: int
    timings: dict[str, float]
    # The classifier's hybrid rates when they hold for this analysis's segmenter and settings
    # (``HybridRates.as_meta``); ``finish`` adjusts the film's hybrid ratio by them.
    hybrid_rates: dict[str, Any] | None = None


class EmbeddingsDone(BaseModel):
    version: str
    frames: int
    dimension: int
    timings: dict[str, float]


class SpoolScene(BaseModel):
    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    shot_indices: list[int]


class ScenesDone(BaseModel):
    method: str
    scenes: list[SpoolScene]
    # The detector's figures: threshold, link distances at each shot boundary...
    detail: dict[str, Any]
    timings: dict[str, float]


class Spool:
    """The spool directory of one analysis."""

    def __init__(self, data_dir: Path, analysis_id: int) -> None:
        self.analysis_id = analysis_id
        self.path = data_dir / "spool" / str(analysis_id)

    # -- stage A -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Start over: a re-run of ``prepare`` replaces everything."""
        self.remove()
        self.path.mkdir(parents=True, exist_ok=True)

    def write_frames(self, chunk: int, images: list[np.ndarray]) -> None:
        _atomic_write(self.path / _frames_name(chunk), lambda fh: np.save(fh, np.stack(images)))

    def write_manifest(self, manifest: Manifest) -> None:
        _atomic_write_text(self.path / MANIFEST_NAME, manifest.model_dump_json())

    def read_manifest(self) -> Manifest:
        path = self.path / MANIFEST_NAME
        if not path.is_file():
            raise SpoolMissing(f"analysis {self.analysis_id}: no prepared frames in {self.path}")
        return Manifest.model_validate_json(path.read_bytes())

    def read_frames(self, chunk: int) -> np.ndarray:
        """(n, H, W, 3) uint8 frames of one chunk."""
        path = self.path / _frames_name(chunk)
        if not path.is_file():
            raise SpoolMissing(f"analysis {self.analysis_id}: frames chunk {path} is missing")
        return np.load(path)

    # -- stage B -------------------------------------------------------------------------------

    def clear_inference(self) -> None:
        """Forget earlier results: a re-run of ``infer`` replaces them."""
        (self.path / INFERENCE_NAME).unlink(missing_ok=True)
        for old in self.path.glob("results-*.json"):
            old.unlink(missing_ok=True)

    def write_results(self, chunk: int, results: InferenceChunk) -> None:
        _atomic_write_text(self.path / _results_name(chunk), results.model_dump_json())

    def write_inference_done(self, done: InferenceDone) -> None:
        _atomic_write_text(self.path / INFERENCE_NAME, done.model_dump_json())

    def read_inference_done(self) -> InferenceDone:
        path = self.path / INFERENCE_NAME
        if not path.is_file():
            raise SpoolMissing(f"analysis {self.analysis_id}: no model results in {self.path}")
        return InferenceDone.model_validate_json(path.read_bytes())

    def iter_results(self, chunk_count: int) -> Iterator[FrameInference]:
        """Every frame's results in film order, one chunk in memory at a time."""
        for chunk in range(chunk_count):
            path = self.path / _results_name(chunk)
            if not path.is_file():
                raise SpoolMissing(f"analysis {self.analysis_id}: results chunk {path} is missing")
            yield from InferenceChunk.model_validate_json(path.read_bytes()).frames

    # -- embed and scenes ----------------------------------------------------------------------

    def write_embeddings(self, vectors: np.ndarray, done: EmbeddingsDone) -> None:
        _atomic_write(self.path / EMBEDDINGS_NAME, lambda fh: np.save(fh, vectors))
        _atomic_write_text(self.path / EMBEDDINGS_DONE_NAME, done.model_dump_json())

    def read_embeddings(self) -> tuple[np.ndarray, EmbeddingsDone]:
        """(n, D) float16 vectors in manifest order, and how they were made."""
        done_path = self.path / EMBEDDINGS_DONE_NAME
        if not done_path.is_file():
            raise SpoolMissing(f"analysis {self.analysis_id}: no embeddings in {self.path}")
        done = EmbeddingsDone.model_validate_json(done_path.read_bytes())
        return np.load(self.path / EMBEDDINGS_NAME), done

    def write_scenes(self, done: ScenesDone) -> None:
        _atomic_write_text(self.path / SCENES_NAME, done.model_dump_json())

    def read_scenes(self) -> ScenesDone:
        path = self.path / SCENES_NAME
        if not path.is_file():
            raise SpoolMissing(f"analysis {self.analysis_id}: no scenes in {self.path}")
        return ScenesDone.model_validate_json(path.read_bytes())

    # -- stage C -------------------------------------------------------------------------------

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def exists(self) -> bool:
        return self.path.is_dir()


def encode_png(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _frames_name(chunk: int) -> str:
    return f"frames-{chunk:05d}.npy"


def _results_name(chunk: int) -> str:
    return f"results-{chunk:05d}.json"


def _atomic_write(path: Path, write: Any) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as fh:
        write(fh)
    os.replace(temporary, path)


def _atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda fh: fh.write(text.encode()))
