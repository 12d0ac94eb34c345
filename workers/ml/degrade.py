"""Archival-transfer degradations applied to whole frames (after compositing).

Film scans are grainy, often black-and-white or sepia, soft, flickering, scratched, vignetted
and compressed. Applying the same degradation to both parts of a composite keeps the models
from separating P and NP by a difference in damage instead of by content.
"""

from __future__ import annotations

import cv2
import numpy as np


def _grayscale(img: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[:, :, None], 3, axis=2)


def _sepia(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    tint = np.array([1.0, 0.85, 0.62], np.float32) * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    return np.clip(gray[:, :, None] * tint * 255.0, 0, 255).astype(np.uint8)


def _grain(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    sigma = rng.uniform(3.0, 16.0)
    # Film grain is clumpy: noise drawn at a lower resolution and upsampled.
    scale = rng.uniform(1.0, 2.0)
    small = rng.normal(0.0, sigma, (max(1, int(h / scale)), max(1, int(w / scale)), 1)).astype(
        np.float32
    )
    noise = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _flicker(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain = rng.uniform(0.7, 1.3)
    contrast = rng.uniform(0.7, 1.2)
    mean = img.mean()
    out = (img.astype(np.float32) - mean) * contrast + mean * gain
    return np.clip(out, 0, 255).astype(np.uint8)


def _scratches(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = img.copy()
    h, w = img.shape[:2]
    for _ in range(rng.integers(1, 5)):
        x = int(rng.integers(0, w))
        value = int(rng.choice([rng.integers(0, 60), rng.integers(190, 256)]))
        thickness = int(rng.integers(1, 3))
        x2 = int(np.clip(x + rng.integers(-w // 40 - 1, w // 40 + 2), 0, w - 1))
        cv2.line(out, (x, 0), (x2, h - 1), (value, value, value), thickness)
    for _ in range(rng.integers(0, 12)):  # dust specks
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        v = int(rng.choice([10, 240]))
        cv2.circle(out, center, int(rng.integers(1, 3)), (v, v, v), -1)
    return out


def _vignette(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)
    strength = rng.uniform(0.2, 0.6)
    factor = np.clip(1.0 - strength * np.clip(r - 0.5, 0, None) ** 1.5, 0.2, 1.0)
    return np.clip(img.astype(np.float32) * factor[:, :, None], 0, 255).astype(np.uint8)


def _blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(0.4, 1.6)
    return cv2.GaussianBlur(img, (0, 0), sigma)


def _jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    quality = int(rng.integers(15, 70))
    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return img
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return img if decoded is None else decoded[:, :, ::-1].copy()


def tone_curve(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random transfer tone: darker or brighter (gamma 0.4-2.5), faded (contrast 0.45-0.8
    lifted off black), crushed (contrast 1.3-1.8 about mid-grey) or under/over-exposed
    (0.35-0.8x, 1.2-1.6x). Old prints and tapes come in every exposure; ``degrade``'s flicker
    only moves tone by up to a third."""
    x = np.arange(256, dtype=np.float32) / 255.0
    kind = int(rng.integers(4))
    if kind == 0:
        y = x ** float(np.exp(rng.uniform(np.log(0.4), np.log(2.5))))
    elif kind == 1:
        contrast = rng.uniform(0.45, 0.8)
        y = contrast * x + rng.uniform(0.1, 1.0 - contrast)
    elif kind == 2:
        y = (x - 0.5) * rng.uniform(1.3, 1.8) + 0.5 + rng.uniform(-0.1, 0.1)
    else:
        y = x * (rng.uniform(0.35, 0.8) if rng.random() < 0.6 else rng.uniform(1.2, 1.6))
    levels = np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)
    return levels[img]


def degrade(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A random archival degradation of an RGB uint8 image; ``strength`` scales the odds."""
    p = min(1.0, strength)
    out = img
    colour = rng.random()
    if colour < 0.35 * p:
        out = _grayscale(out)
    elif colour < 0.5 * p:
        out = _sepia(out, rng)
    if rng.random() < 0.3 * p:
        out = _blur(out, rng)
    if rng.random() < 0.5 * p:
        out = _flicker(out, rng)
    if rng.random() < 0.3 * p:
        out = _vignette(out, rng)
    if rng.random() < 0.3 * p:
        out = _scratches(out, rng)
    if rng.random() < 0.5 * p:
        out = _grain(out, rng)
    if rng.random() < 0.4 * p:
        out = _jpeg(out, rng)
    return np.ascontiguousarray(out)
