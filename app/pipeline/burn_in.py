"""Regions burned into every frame of a transfer that are not the film: a viewing copy's
timecode window, a station logo, an archive's watermark.

They are lettering or graphics over the picture, so the models call a photograph carrying one
hybrid (docs/results.md, "Burned-in subtitles"). Their place is fixed for a whole transfer, so
an archivist names it once (``ModelSettings.burn_in_regions``: fractions of the frame) and
the models see the picture there filled in from around it (OpenCV's inpainting).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Region = tuple[float, float, float, float]  # left, top, right, bottom, as fractions of the frame

# Pixels round a region filled in too (its box's anti-aliased edge), and how far the fill
# looks for the picture round it.
EDGE = 2
RADIUS = 3


def region_pixels(region: Region, height: int, width: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) in pixels of a frame of ``height`` x ``width``."""
    left, top, right, bottom = region
    return (
        max(0, int(left * width) - EDGE),
        max(0, int(top * height) - EDGE),
        min(width, int(np.ceil(right * width)) + EDGE),
        min(height, int(np.ceil(bottom * height)) + EDGE),
    )


def cover(frame: np.ndarray, regions: Sequence[Region]) -> np.ndarray:
    """An RGB uint8 frame with ``regions`` filled in from the picture round them (the frame
    itself when there are none)."""
    if not regions:
        return frame
    height, width = frame.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    for region in regions:
        left, top, right, bottom = region_pixels(region, height, width)
        mask[top:bottom, left:right] = 255
    if not mask.any():
        return frame
    return cv2.inpaint(np.ascontiguousarray(frame), mask, RADIUS, cv2.INPAINT_TELEA)
