"""Augmented views of element crops, positives for the refinement (SimCLR-style).

A track shows how an element changes within a shot (pose, line weight, light); what changes
between shots (a print's colour, a mirrored copy, a tighter box) no track shows. Views of
one crop under SimCLR's usual augmentations (Chen et al. 2020: a random crop, a flip, colour
jitter 0.4/0.4/0.4/0.1 with probability 0.8, greyscale with probability 0.2), plus a small
rotation and toning (a monochrome print tinted by a random colour, probability 0.3), give
positives for that. Plain numpy/OpenCV, seeded by the caller's generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class AugmentSettings:
    crop_scale: tuple[float, float] = (0.6, 1.0)  # share of the crop's area kept
    flip: float = 0.5
    jitter: float = 0.8  # probability of colour jitter
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1  # of the colour circle
    greyscale: float = 0.2
    rotation_deg: float = 10.0
    # Probability of toning: the view made monochrome and tinted by a random colour (a gain
    # per channel in ``tone_gain``), as archive prints are toned or tinted (sepia, blue,
    # amber) shot by shot; colour jitter never makes a monochrome print of a colour crop.
    # 0.3 raised the refined NMI on the bench's tinted collections (tune split, docs/elements.md).
    tone: float = 0.3
    tone_gain: tuple[float, float] = (0.45, 1.15)


def augment(
    image: np.ndarray, rng: np.random.Generator, settings: AugmentSettings | None = None
) -> np.ndarray:
    """One random view of an HxWx3 uint8 RGB crop, of the same size."""
    settings = settings or AugmentSettings()
    height, width = image.shape[:2]
    view = image
    # A random crop of 60-100 % of the area, aspect 3:4 to 4:3, resized back.
    share = rng.uniform(*settings.crop_scale)
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    crop_w = int(np.clip(round(width * np.sqrt(share * aspect)), 1, width))
    crop_h = int(np.clip(round(height * np.sqrt(share / aspect)), 1, height))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    view = cv2.resize(view[top : top + crop_h, left : left + crop_w], (width, height))
    if rng.random() < settings.flip:
        view = view[:, ::-1]
    if settings.rotation_deg:
        angle = rng.uniform(-settings.rotation_deg, settings.rotation_deg)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        view = cv2.warpAffine(
            np.ascontiguousarray(view), matrix, (width, height), borderMode=cv2.BORDER_REPLICATE
        )
    picture = view.astype(np.float32)
    if rng.random() < settings.jitter:
        picture = _jitter(picture, rng, settings)
    if rng.random() < settings.greyscale:
        picture = np.repeat(_luma(picture)[..., None], 3, axis=2)
    if settings.tone > 0 and rng.random() < settings.tone:
        picture = _tone(picture, rng, settings.tone_gain)
    return np.ascontiguousarray(np.clip(picture, 0, 255).astype(np.uint8))


def _tone(picture: np.ndarray, rng: np.random.Generator, gain: tuple[float, float]) -> np.ndarray:
    """The picture in grey, each channel scaled by its own random gain (a tinted print)."""
    colour = rng.uniform(*gain, size=3).astype(np.float32)
    return _luma(picture)[..., None] * colour


def _luma(picture: np.ndarray) -> np.ndarray:
    """(H, W) float32 grey of an (H, W, 3) RGB float picture (ITU-R BT.601 weights)."""
    return picture @ _LUMA


def _jitter(picture: np.ndarray, rng: np.random.Generator, settings: AugmentSettings) -> np.ndarray:
    """Brightness, contrast, saturation and hue, in a random order (as torchvision does)."""

    def brightness(x: np.ndarray) -> np.ndarray:
        return x * rng.uniform(1 - settings.brightness, 1 + settings.brightness)

    def contrast(x: np.ndarray) -> np.ndarray:
        mean = float(_luma(x).mean())
        factor = rng.uniform(1 - settings.contrast, 1 + settings.contrast)
        return (x - mean) * factor + mean

    def saturation(x: np.ndarray) -> np.ndarray:
        grey = _luma(x)[..., None]
        factor = rng.uniform(1 - settings.saturation, 1 + settings.saturation)
        return (x - grey) * factor + grey

    def hue(x: np.ndarray) -> np.ndarray:
        hsv = cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
        shift = rng.uniform(-settings.hue, settings.hue) * 180.0
        hsv[..., 0] = ((hsv[..., 0].astype(np.float32) + shift) % 180.0).astype(np.uint8)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)

    steps: list[Callable[[np.ndarray], np.ndarray]] = [brightness, contrast, saturation, hue]
    for index in rng.permutation(len(steps)):
        picture = np.clip(steps[int(index)](picture), 0, 255)
    return picture


def augmented_views(
    crops: Sequence[np.ndarray],
    embed: Callable[[list[np.ndarray]], np.ndarray],
    *,
    views: int,
    seed: int,
    settings: AugmentSettings | None = None,
) -> np.ndarray:
    """(N, views, D) float32 embeddings of ``views`` random views of each crop."""
    rng = np.random.default_rng(seed)
    pictures = [augment(crop, rng, settings) for crop in crops for _ in range(views)]
    vectors = np.asarray(embed(pictures), np.float32)  # (N * views, D)
    return vectors.reshape(len(crops), views, vectors.shape[1])
