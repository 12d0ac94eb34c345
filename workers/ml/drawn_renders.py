"""Drawn-looking renders of photographs, an optional extra source of NP training images.

The homogeneous errors of the shipped models are drawings called P: pencil portraits and
sketches, paintings and painted backgrounds, looks that the drawn training images rarely show
(paintings are 34 of 1,138). OpenCV's non-photorealistic filters turn a training photograph
into a pencil sketch, a flat-colour cartoon with inked edges, or a watercolour-like painting:
the content stays a photograph's, the rendering is drawn, which is what the classifier has to
tell apart. ``TrainConfig.drawn_renders`` sets the share of NP draws that are such renders
(0 by default; measured in docs/results.md).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

# The filters are slow on large images; renders are made at most this long side, then the
# training crop is taken from them like from any cached image.
RENDER_LONG_SIDE = 320


def _pencil(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grey, colour = cv2.pencilSketch(
        image,
        sigma_s=float(rng.uniform(20, 80)),
        sigma_r=float(rng.uniform(0.05, 0.12)),
        shade_factor=float(rng.uniform(0.02, 0.07)),
    )
    if rng.random() < 0.7:
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(colour)


def _cartoon(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    smooth = cv2.edgePreservingFilter(
        image, flags=cv2.RECURS_FILTER, sigma_s=float(rng.uniform(40, 120)), sigma_r=0.4
    )
    levels = int(rng.integers(3, 8))
    step = 256 // levels
    # In int16: the top level's middle lies above 255 for most level counts (uint8 would wrap
    # white to black).
    flat = np.minimum((smooth.astype(np.int16) // step) * step + step // 2, 255).astype(np.uint8)
    # Inked outlines where the smoothed luminance changes; a blurred guide and a margin keep
    # textures (grass, water) from turning into black blots.
    grey = cv2.medianBlur(cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY), 7)
    block = int(rng.choice([9, 11, 13]))
    edges = cv2.adaptiveThreshold(
        grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, float(rng.uniform(4, 9))
    )
    return np.asarray(np.minimum(flat, edges[..., None]).astype(np.uint8))


def _watercolour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(
        cv2.stylization(
            image, sigma_s=float(rng.uniform(30, 120)), sigma_r=float(rng.uniform(0.3, 0.6))
        )
    )


RENDERS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "pencil": _pencil,
    "cartoon": _cartoon,
    "watercolour": _watercolour,
}


def render_drawn(
    image: np.ndarray, rng: np.random.Generator, kind: str | None = None
) -> np.ndarray:
    """An (H', W', 3) uint8 drawn-looking render of an RGB photograph (``kind`` at random when
    None); images longer than ``RENDER_LONG_SIDE`` are shrunk first."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image, got shape {image.shape}")
    name = kind if kind is not None else str(rng.choice(sorted(RENDERS)))
    if name not in RENDERS:
        raise ValueError(f"unknown render {name!r}; choose from {sorted(RENDERS)}")
    height, width = image.shape[:2]
    scale = RENDER_LONG_SIDE / max(height, width)
    if scale < 1.0:
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return RENDERS[name](np.ascontiguousarray(image), rng)
