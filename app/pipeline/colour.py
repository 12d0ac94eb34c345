"""Colour casts of faded and tinted prints, taken out before the models look.

A colour print fades unevenly: its cyan and yellow dyes go first, and what is left is a
magenta-red picture with lifted blacks. Silent-era black-and-white prints were often tinted
(blue night scenes, green landscapes, amber interiors). The models learned P and NP from
frames whose black and white points are neutral or sepia, and a strong cast moves their
answers: on held-out photographs a faded print swapped P and NP on 21% of the frames against
6% untouched (``bench/bench_transfers.py``).

:func:`balance` stretches each channel's 1st-99th percentile to 0-255 ("auto colour") when
the frame's black or white point is coloured: the channels' 1st or 99th percentiles lie more
than ``CAST_LEVELS`` apart. That maps a faded or tinted print back to neutral, and a sepia
one to grey (the models know both). Frames with neutral black and white points, black and
white ones included, pass unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

# How far apart (of 255 levels) the channels' black or white points must lie for a cast.
CAST_LEVELS = 40.0
# A channel spanning fewer levels than this is flat (a card of one colour): left as it is.
FLAT_LEVELS = 16.0
# A channel is stretched at most this much (a dim tinted night scene's weakest channel would
# otherwise come out posterised, its grain amplified tenfold); past it, every channel's
# stretch is scaled down alike.
MAX_GAIN = 4.0
# Percentiles are taken on every STEP-th pixel of every STEP-th row.
STEP = 4


def channel_levels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's (1st, 99th) percentile of an RGB uint8 image, as float arrays of 3."""
    pixels = image[::STEP, ::STEP].reshape(-1, 3)
    low, high = np.percentile(pixels, (1, 99), axis=0)
    return low.astype(np.float32), high.astype(np.float32)


def has_cast(low: np.ndarray, high: np.ndarray, levels: float = CAST_LEVELS) -> bool:
    """Whether the black point (``low``) or the white point (``high``) is coloured: its
    channels more than ``levels`` apart."""
    return bool(np.ptp(low) > levels or np.ptp(high) > levels)


def is_flat(image: np.ndarray) -> bool:
    """Whether every channel of ``image`` spans fewer than ``FLAT_LEVELS`` levels: a card of
    one colour, or a faded print's fade to black (flat dark magenta)."""
    if image.size == 0:
        return True
    low, high = channel_levels(image)
    return bool((high - low < FLAT_LEVELS).all())


def colour_cast(image: np.ndarray) -> bool:
    """Whether :func:`balance` takes a cast out of ``image`` (a card of one colour has none
    to take out)."""
    if image.size == 0:
        return False
    low, high = channel_levels(image)
    return has_cast(low, high) and not bool((high - low < FLAT_LEVELS).all())


def balance(image: np.ndarray, cast_levels: float = CAST_LEVELS) -> np.ndarray:
    """``image`` (RGB uint8) with its colour cast taken out; the same array when it has
    none (``cast_levels`` below 0: every frame stretched, as the bench measures)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"an RGB uint8 image is needed, got shape {image.shape} {image.dtype}")
    if image.size == 0:
        return image
    low, high = channel_levels(image)
    if not has_cast(low, high, cast_levels):
        return image
    span = high - low
    flat = span < FLAT_LEVELS
    if flat.all():
        return image
    stretch = 255.0 / np.maximum(span, 1.0)
    # Capped by one factor for all channels, so that a dim tint still comes out neutral.
    stretch *= min(1.0, MAX_GAIN / float(stretch[~flat].max()))
    scale = np.where(flat, 1.0, stretch).astype(np.float32)
    offset = np.where(flat, 0.0, low).astype(np.float32)
    # One lookup table per channel: 256 entries instead of arithmetic on every pixel.
    levels = np.arange(256, dtype=np.float32)[:, None]
    tables = np.clip(np.round((levels - offset) * scale), 0, 255).astype(np.uint8)  # (256, 3)
    return cv2.LUT(image, tables.reshape(256, 1, 3))
