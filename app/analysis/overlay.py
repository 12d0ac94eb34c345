"""A frame's mask drawn over the frame itself, for people checking results by eye.

Frames are not stored (only masks are), so the picture is re-extracted from the film at the
frame's presentation time (``app.pipeline.video.extract_frame``: one seek, one frame).
NP (drawn) regions are tinted, P (photographic) regions are left as they are, and the mask's
outline is drawn in the same colour.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from PIL import Image, ImageChops, ImageFilter
from sqlalchemy.orm import Session

from app.analysis import repository as analysis_repository
from app.analysis import service as analysis_service
from app.core.config import Settings
from app.core.errors import UnavailableError
from app.films import service as films_service
from app.pipeline.errors import FrameExtractionFailed, user_reason
from app.pipeline.video import extract_frame

log = logging.getLogger(__name__)

NP_TINT = (255, 0, 160)
TINT_ALPHA = 0.45


class FilmFileMissing(UnavailableError):
    def __init__(self, film_id: int) -> None:
        super().__init__(f"the file of film {film_id} is no longer where it was stored")


class FrameNotExtracted(UnavailableError):
    """ffmpeg could not cut the picture: its reason, with the film's file named as its
    uploader named it (the log keeps ffmpeg's own words)."""


def tinted(frame: Image.Image, mask_png: bytes) -> Image.Image:
    """``frame`` with the NP part of ``mask_png`` (1-bit, white = P, any size) tinted."""
    with Image.open(io.BytesIO(mask_png)) as stored:
        # Nearest keeps the mask's hard edges at the frame's size.
        p_mask = stored.convert("L").resize(frame.size, Image.Resampling.NEAREST)
    np_mask = ImageChops.invert(p_mask).point(lambda value: 255 if value >= 128 else 0)
    tint = Image.new("RGB", frame.size, NP_TINT)
    result = Image.composite(Image.blend(frame, tint, TINT_ALPHA), frame, np_mask)
    outline = ImageChops.difference(
        np_mask.filter(ImageFilter.MaxFilter(3)), np_mask.filter(ImageFilter.MinFilter(3))
    )
    result.paste(tint, mask=outline)
    return result


def draw_overlay(frame: Image.Image, mask_png: bytes) -> bytes:
    """PNG of ``frame`` with the NP part of ``mask_png`` tinted."""
    buffer = io.BytesIO()
    tinted(frame, mask_png).save(buffer, format="PNG")
    return buffer.getvalue()


def frame_overlay(
    session: Session,
    settings: Settings,
    film_id: int,
    frame_index: int,
    *,
    analysis_id: int | None = None,
    max_size: int | None = None,
) -> bytes:
    """The overlay PNG of one stored frame of a film (the analysis as ``resolve_analysis_id``
    picks unless given). Raises the service's not-found errors for a missing frame or mask."""
    from app.annotations import service as annotations_service  # it builds on analysis

    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    # The effective mask (human > propagated > model): what the frame stands as now.
    mask = annotations_service.get_mask(session, film_id, frame_index, analysis_id=chosen)
    frame = _stored_frame(session, settings, film_id, chosen, frame_index, max_size)
    return draw_overlay(frame, mask.png)


def frame_image(
    session: Session,
    settings: Settings,
    film_id: int,
    frame_index: int,
    *,
    analysis_id: int | None = None,
    max_size: int | None = None,
) -> bytes:
    """One stored frame of a film as a JPEG, with or without a mask (what a page shows the
    mask over, client-side)."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    frame = _stored_frame(session, settings, film_id, chosen, frame_index, max_size)
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def _stored_frame(
    session: Session,
    settings: Settings,
    film_id: int,
    analysis_id: int,
    frame_index: int,
    max_size: int | None,
) -> Image.Image:
    """The picture of a stored frame, re-extracted from the film at the frame's time."""
    time_s = analysis_repository.frame_time(session, analysis_id, frame_index)
    if time_s is None:
        raise analysis_service.FrameNotFound(analysis_id, frame_index, film_id=film_id)
    film = films_service.get_film(session, film_id)
    if film.fps:
        # A quarter frame early: a time rounded up by a hair must not seek past the frame.
        time_s -= 0.25 / film.fps
    # Release the connection before the (slow) subprocess.
    session.commit()
    path = Path(film.stored_path)
    if not path.is_file():
        raise FilmFileMissing(film_id)
    limit = min(max_size or settings.api.overlay_max_size, settings.api.overlay_max_size)
    try:
        return extract_frame(path, time_s, max_size=limit, timeout_s=settings.api.ffmpeg_timeout_s)
    except FrameExtractionFailed as exc:
        log.warning("film %s frame %s: %s", film_id, frame_index, exc)
        reason = user_reason(str(exc))
        raise FrameNotExtracted(
            films_service.name_the_file(reason, film.stored_path, film.original_filename)
        ) from exc
