"""Small JPEGs of every sampled frame (and of its mask overlay), written at analysis time
under the data directory, keyed by analysis: ``thumbnails/<analysis_id>/<frame>.jpg`` and
``<frame>.overlay.jpg``. A film page then shows its frames from disk instead of having
ffmpeg cut each one from the film on request.

A frame's picture is fixed by the film and the analysis settings, and a new model or new
settings make a new analysis id, so a picture's address never changes content: it is
served with a long ``Cache-Control`` and an ``ETag``. An overlay follows the mask in force,
which a person may correct, so it is revalidated by its ``ETag`` on every use.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from app.analysis.overlay import tinted

THUMBNAILS_DIR = "thumbnails"
# The long side of a thumbnail; the page's frame cards show 240 px.
THUMBNAIL_SIZE = 320
JPEG_QUALITY = 82
CACHE_CONTROL = "private, max-age=86400"
# An overlay changes when a person corrects the frame's mask: revalidated by ETag each time.
OVERLAY_CACHE_CONTROL = "private, no-cache"


@dataclass(frozen=True)
class StoredThumbnail:
    path: Path
    etag: str


def cache_control(*, overlay: bool) -> str:
    return OVERLAY_CACHE_CONTROL if overlay else CACHE_CONTROL


def analysis_dir(data_dir: Path, analysis_id: int) -> Path:
    return Path(data_dir) / THUMBNAILS_DIR / str(analysis_id)


def _name(frame_index: int, overlay: bool) -> str:
    return f"{frame_index}.overlay.jpg" if overlay else f"{frame_index}.jpg"


def write_all(
    data_dir: Path,
    analysis_id: int,
    frames: Iterable[tuple[int, np.ndarray, bytes | None]],
) -> int:
    """Write the thumbnails of ``(frame_index, (H, W, 3) uint8 RGB, mask PNG or None)``,
    replacing any earlier set of this analysis; returns how many frames were written."""
    target = analysis_dir(data_dir, analysis_id)
    remove(data_dir, analysis_id)
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for frame_index, image, mask_png in frames:
        picture = Image.fromarray(image)
        picture.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        picture.save(target / _name(frame_index, False), format="JPEG", quality=JPEG_QUALITY)
        if mask_png is not None:
            overlay = tinted(picture.convert("RGB"), mask_png)
            overlay.save(target / _name(frame_index, True), format="JPEG", quality=JPEG_QUALITY)
        count += 1
    return count


def find(
    data_dir: Path, analysis_id: int, frame_index: int, *, overlay: bool = False
) -> StoredThumbnail | None:
    """The stored thumbnail of a frame, or None (an analysis made before thumbnails were
    stored, or a frame without a mask asked for its overlay)."""
    path = analysis_dir(data_dir, analysis_id) / _name(frame_index, overlay)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    etag = f'"{analysis_id}-{frame_index}-{int(overlay)}-{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    return StoredThumbnail(path=path, etag=etag)


def remove(data_dir: Path, analysis_id: int) -> None:
    shutil.rmtree(analysis_dir(data_dir, analysis_id), ignore_errors=True)


def corrected_overlay_etag(analysis_id: int, frame_index: int, mask_key: str) -> str:
    """The ETag of a corrected overlay (``mask_key`` names the mask version in force)."""
    return f'"{analysis_id}-{frame_index}-1-{mask_key}"'


def corrected_overlay(
    data_dir: Path, analysis_id: int, frame_index: int, mask_png: bytes
) -> bytes | None:
    """The overlay thumbnail of a frame whose mask a person (or a propagation) changed: the
    stored picture tinted by ``mask_png``, as a JPEG; None when the picture is not stored."""
    path = analysis_dir(data_dir, analysis_id) / _name(frame_index, False)
    try:
        with Image.open(path) as stored:
            picture = stored.convert("RGB")
    except FileNotFoundError:
        return None
    buffer = io.BytesIO()
    tinted(picture, mask_png).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
