"""Generated drawn figures pasted over photographic-looking backgrounds, with their masks:
the media of the element tests (no shared data needed)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

FIGURES = ("star", "face", "house", "fish")


def draw_figure(name: str, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(size, size, 3) uint8 RGB drawing and its (size, size) bool mask (True = figure)."""
    picture = Image.new("RGB", (size, size), (0, 0, 0))
    mask = Image.new("L", (size, size), 0)
    s = size
    for canvas, fill, ink in ((picture, None, (10, 10, 10)), (mask, 255, 255)):
        draw = ImageDraw.Draw(canvas)
        if name == "star":
            points = []
            for k in range(10):
                radius = s * (0.48 if k % 2 == 0 else 0.2)
                angle = np.pi / 2 + k * np.pi / 5
                points.append((s / 2 + radius * np.cos(angle), s / 2 - radius * np.sin(angle)))
            draw.polygon(points, fill=fill or (250, 200, 20), outline=ink, width=2)
        elif name == "face":
            draw.ellipse((2, 2, s - 3, s - 3), fill=fill or (70, 140, 250), outline=ink, width=3)
            if fill is None:
                draw.ellipse((s * 0.28, s * 0.3, s * 0.4, s * 0.45), fill=(255, 255, 255))
                draw.ellipse((s * 0.6, s * 0.3, s * 0.72, s * 0.45), fill=(255, 255, 255))
                draw.arc((s * 0.25, s * 0.4, s * 0.75, s * 0.8), 20, 160, fill=ink, width=3)
        elif name == "house":
            draw.rectangle(
                (s * 0.15, s * 0.45, s * 0.85, s - 2),
                fill=fill or (200, 40, 40),
                outline=ink,
                width=2,
            )
            draw.polygon(
                [(s * 0.05, s * 0.47), (s / 2, 2), (s * 0.95, s * 0.47)],
                fill=fill or (120, 60, 20),
                outline=ink,
            )
            if fill is None:
                draw.rectangle((s * 0.42, s * 0.65, s * 0.58, s - 2), fill=(250, 240, 200))
        elif name == "fish":
            draw.ellipse(
                (2, s * 0.25, s * 0.75, s * 0.75), fill=fill or (40, 200, 90), outline=ink, width=2
            )
            draw.polygon(
                [(s * 0.7, s / 2), (s - 2, s * 0.2), (s - 2, s * 0.8)],
                fill=fill or (20, 150, 60),
                outline=ink,
            )
            if fill is None:
                for x in (0.25, 0.38, 0.51):
                    draw.line((s * x, s * 0.3, s * x, s * 0.7), fill=ink, width=2)
        else:
            raise ValueError(name)
    return np.asarray(picture), np.asarray(mask) > 127


def photo_background(seed: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A smooth random texture with grain: reads as footage, not as a flat drawing."""
    rng = np.random.default_rng(seed)
    width, height = size
    coarse = rng.uniform(40, 200, (height // 16 + 1, width // 16 + 1, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 8, (height, width, 3))
    return np.clip(smooth + grain, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Pasted:
    image: np.ndarray  # (H, W, 3) uint8
    p_mask: np.ndarray  # (H, W) bool, True = photographic
    boxes: list[tuple[float, float, float, float]]  # per figure pasted, fractions


def paste(background: np.ndarray, figures: list[tuple[str, float, float, int]]) -> Pasted:
    """Paste figures ``(name, x, y, size)`` (top-left in pixels) onto a copy of background."""
    image = background.copy()
    height, width = image.shape[:2]
    p_mask = np.ones((height, width), bool)
    boxes = []
    for name, x, y, size in figures:
        drawing, mask = draw_figure(name, size)
        left, top = int(x), int(y)
        region = image[top : top + size, left : left + size]
        region[mask] = drawing[mask]
        p_mask[top : top + size, left : left + size][mask] = False
        boxes.append((left / width, top / height, (left + size) / width, (top + size) / height))
    return Pasted(image, p_mask, boxes)


def burn_subtitle(frame: np.ndarray, lines: list[str], style: str = "outline") -> np.ndarray:
    """``frame`` with centred subtitle ``lines`` at its bottom, as a print or a broadcast
    carries them: light lettering (6% of the height) with a dark ``outline`` or on a dark
    ``box``."""
    from PIL import ImageFont

    height, width = frame.shape[:2]
    size = max(8, round(height * 0.06))
    font = ImageFont.load_default(size=size)
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    step = round(size * 1.25)
    top = height - round(height * 0.06) - step * len(lines)
    for number, text in enumerate(lines):
        x, y = (width - draw.textlength(text, font=font)) / 2, top + number * step
        if style == "box":
            left, upper, right, lower = draw.textbbox((x, y), text, font=font)
            draw.rectangle((left - 3, upper - 3, right + 3, lower + 3), fill=(12, 12, 12))
        outline = 1 if style == "outline" else 0
        draw.text((x, y), text, font=font, fill=(240, 240, 240), stroke_width=outline,
                  stroke_fill=(10, 10, 10))  # fmt: skip
    return np.asarray(image)


# A faded colour print, per RGB channel (``bench/bench_transfers.py``'s ``faded_colour``): the
# cyan and yellow dyes gone first, a magenta cast left, the blacks lifted.
FADE_GAIN = np.array([0.62, 0.55, 0.58], np.float32)
FADE_LIFT = np.array([92.0, 31.0, 66.0], np.float32)


def faded_print(picture: np.ndarray) -> np.ndarray:
    """``picture`` (RGB uint8) as a faded colour print."""
    faded = picture.astype(np.float32) * FADE_GAIN + FADE_LIFT
    return np.clip(faded, 0, 255).astype(np.uint8)


def neutral_points(frame: np.ndarray, patch: tuple[int, int] = (30, 40)) -> np.ndarray:
    """``frame`` with a black patch at its top left and a white one at its bottom right
    (``patch``: rows, columns), as a well-kept print has black and white."""
    rows, cols = patch
    frame = frame.copy()
    frame[:rows, :cols] = 0
    frame[-rows:, -cols:] = 255
    return frame
