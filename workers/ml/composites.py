"""Heterogeneous frames with exact masks, cut from homogeneous P and NP images.

Each style imitates a way hybrid compositions appear in film: drawn characters over live
action (cut-outs and free-form pastes), live action inside drawn worlds, lettering and title
cards over photographed scenes, picture-in-picture insets and split screens. Every composite
comes with its exact mask (True = photographic), which the proxy masks of the paper cannot give.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

STYLES: tuple[str, ...] = ("cutout", "blob_np_on_p", "blob_p_on_np", "lettering", "inset", "split")
_FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"))


@dataclass
class Sample:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    p_mask: np.ndarray  # (H, W) bool, True = photographic
    style: str
    # Where a homogeneous frame's image came from ("" for composites and training draws):
    # the hybrid rates' spread between sources is measured by it.
    source: str = ""

    @property
    def kind(self) -> str:
        """The group a frame's error rate is shared with: its source for a homogeneous
        frame, its style for a composite (a film's hybrids are mostly of one kind)."""
        return self.source or self.style


@lru_cache(maxsize=1)
def _font_files() -> tuple[str, ...]:
    for root in _FONT_DIRS:
        if root.is_dir():
            found = sorted(str(p) for p in root.rglob("*.ttf"))
            if found:
                return tuple(found)
    return ()


def _font(size: int, rng: np.random.Generator) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    files = _font_files()
    if files:
        return ImageFont.truetype(files[int(rng.integers(len(files)))], size)
    return ImageFont.load_default(size=size)


def random_crop(
    img: np.ndarray,
    height: int,
    width: int,
    rng: np.random.Generator,
    min_crop: float = 0.55,
) -> np.ndarray:
    """A random crop of ``img`` with the target aspect ratio, resized to ``height`` x ``width``;
    its side is between ``min_crop`` and all of the largest such crop's."""
    h, w = img.shape[:2]
    target_aspect = width / height
    scale = rng.uniform(min_crop, 1.0)
    crop_h = max(8, int(min(h, w / target_aspect) * scale))
    crop_w = max(8, min(w, int(crop_h * target_aspect * rng.uniform(0.85, 1.18))))
    y = int(rng.integers(0, h - crop_h + 1))
    x = int(rng.integers(0, w - crop_w + 1))
    out = img[y : y + crop_h, x : x + crop_w]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return cv2.resize(np.ascontiguousarray(out), (width, height), interpolation=cv2.INTER_AREA)


def _blob(
    height: int, width: int, rng: np.random.Generator, area: tuple[float, float]
) -> np.ndarray:
    """A smooth random shape covering a random share (within ``area``) of the frame."""
    cells = int(rng.integers(2, 6))
    noise = rng.random((cells, cells)).astype(np.float32)
    field = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    target = rng.uniform(*area)
    return np.asarray(field > np.quantile(field, 1.0 - target))


def _polygon(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    cx, cy = rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height
    n = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radius = rng.uniform(0.15, 0.45) * min(height, width) * rng.uniform(0.6, 1.4, n)
    pts = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def foreground_of(img: np.ndarray) -> np.ndarray | None:
    """The drawn figure of an NP image on a flat background (illustrations, cartoons), if any."""
    h, w = img.shape[:2]
    corners = np.concatenate([img[:4, :4], img[:4, -4:], img[-4:, :4], img[-4:, -4:]]).reshape(
        -1, 3
    )
    bg = np.median(corners, axis=0)
    if corners.astype(np.float32).std(axis=0).max() > 12:
        return None
    dist = np.abs(img.astype(np.int16) - bg.astype(np.int16)).max(axis=2)
    fg = (dist > 30).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg)
    if count <= 1:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    shape = labels == biggest
    # Fill holes so the figure is solid (a drawn character includes its interior).
    filled = shape.astype(np.uint8)
    flood = filled.copy()
    cv2.floodFill(flood, np.zeros((h + 2, w + 2), np.uint8), (0, 0), 1)
    filled = filled | (1 - flood)
    share = filled.mean()
    return filled.astype(bool) if 0.05 < share < 0.8 else None


def _cutout(
    p_img: np.ndarray, np_img: np.ndarray, h: int, w: int, rng: np.random.Generator
) -> Sample:
    base = random_crop(p_img, h, w, rng)
    figure = foreground_of(np_img)
    if figure is None:
        return _blob_paste(p_img, np_img, h, w, rng, np_on_p=True)
    ys, xs = np.nonzero(figure)
    crop = np_img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    fmask = figure[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = rng.uniform(0.35, 0.9) * min(h / crop.shape[0], w / crop.shape[1])
    fh, fw = max(8, int(crop.shape[0] * scale)), max(8, int(crop.shape[1] * scale))
    crop = cv2.resize(crop, (fw, fh), interpolation=cv2.INTER_AREA)
    fmask = cv2.resize(fmask.astype(np.uint8), (fw, fh), interpolation=cv2.INTER_NEAREST).astype(
        bool
    )
    y, x = int(rng.integers(0, h - fh + 1)), int(rng.integers(0, w - fw + 1))
    region = base[y : y + fh, x : x + fw]
    region[fmask] = crop[fmask]
    p_mask = np.ones((h, w), bool)
    p_mask[y : y + fh, x : x + fw] = ~fmask
    return Sample(base, p_mask, "cutout")


def _blob_paste(
    p_img: np.ndarray,
    np_img: np.ndarray,
    h: int,
    w: int,
    rng: np.random.Generator,
    *,
    np_on_p: bool,
) -> Sample:
    p_layer, np_layer = random_crop(p_img, h, w, rng), random_crop(np_img, h, w, rng)
    shape = _blob(h, w, rng, (0.12, 0.6)) if rng.random() < 0.6 else _polygon(h, w, rng)
    if np_on_p:
        p_mask = ~shape
        style = "blob_np_on_p"
    else:
        p_mask = shape
        style = "blob_p_on_np"
    image = np.where(p_mask[:, :, None], p_layer, np_layer)
    return Sample(image, p_mask, style)


def _words(rng: np.random.Generator) -> str:
    letters = string.ascii_letters if rng.random() < 0.5 else string.ascii_uppercase
    n_words = int(rng.integers(1, 4))
    return " ".join(
        "".join(rng.choice(list(letters), int(rng.integers(2, 9)))) for _ in range(n_words)
    )


def _lettering(
    p_img: np.ndarray, np_img: np.ndarray, h: int, w: int, rng: np.random.Generator
) -> Sample:
    base = Image.fromarray(random_crop(p_img, h, w, rng))
    ink = Image.new("L", (w, h), 0)
    draw_img, draw_ink = ImageDraw.Draw(base), ImageDraw.Draw(ink)
    if rng.random() < 0.35:
        # A title card panel (flat colour, with lettering) over part of the scene.
        bw, bh = int(w * rng.uniform(0.3, 0.9)), int(h * rng.uniform(0.15, 0.45))
        x0, y0 = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw_img.rectangle((x0, y0, x0 + bw, y0 + bh), fill=colour)
        draw_ink.rectangle((x0, y0, x0 + bw, y0 + bh), fill=255)
    for _ in range(int(rng.integers(1, 4))):
        size = int(min(h, w) * rng.uniform(0.1, 0.22))
        font = _font(size, rng)
        text = _words(rng)
        x, y = int(rng.integers(0, max(1, w // 2))), int(rng.integers(0, max(1, h - size)))
        fill = tuple(
            int(c)
            for c in (rng.integers(200, 256, 3) if rng.random() < 0.6 else rng.integers(0, 256, 3))
        )
        stroke = int(rng.integers(0, 4))
        stroke_fill = (0, 0, 0) if sum(fill) > 380 else (255, 255, 255)
        draw_img.text(
            (x, y), text, font=font, fill=fill, stroke_width=stroke, stroke_fill=stroke_fill
        )
        draw_ink.text((x, y), text, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    # Any ink, even an anti-aliased edge pixel, makes the pixel lettering: P pixels stay pure photo.
    p_mask = np.asarray(ink) == 0
    return Sample(np.asarray(base).copy(), p_mask, "lettering")


def _inset(
    p_img: np.ndarray, np_img: np.ndarray, h: int, w: int, rng: np.random.Generator
) -> Sample:
    outer_is_p = rng.random() < 0.5
    outer = random_crop(p_img if outer_is_p else np_img, h, w, rng)
    ih, iw = int(h * rng.uniform(0.25, 0.6)), int(w * rng.uniform(0.25, 0.6))
    inner = random_crop(np_img if outer_is_p else p_img, ih, iw, rng)
    y, x = int(rng.integers(0, h - ih + 1)), int(rng.integers(0, w - iw + 1))
    outer[y : y + ih, x : x + iw] = inner
    p_mask = np.full((h, w), outer_is_p)
    p_mask[y : y + ih, x : x + iw] = not outer_is_p
    return Sample(outer, p_mask, "inset")


def _split(
    p_img: np.ndarray, np_img: np.ndarray, h: int, w: int, rng: np.random.Generator
) -> Sample:
    p_layer, np_layer = random_crop(p_img, h, w, rng), random_crop(np_img, h, w, rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])
    offset = rng.uniform(0.3, 0.7)
    # Signed distance from a line through (offset*w, offset*h) at the chosen angle.
    side = (xx / w - offset) * np.cos(angle) + (yy / h - offset) * np.sin(angle)
    p_mask = side < 0 if rng.random() < 0.5 else side >= 0
    image = np.where(p_mask[:, :, None], p_layer, np_layer)
    return Sample(image, p_mask, "split")


def make_composite(
    p_img: np.ndarray,
    np_img: np.ndarray,
    *,
    height: int,
    width: int,
    rng: np.random.Generator,
    style: str | None = None,
) -> Sample:
    """One heterogeneous frame of the given (or a random) style, with its exact P mask."""
    style = style or str(rng.choice(STYLES))
    if style == "cutout":
        return _cutout(p_img, np_img, height, width, rng)
    if style in ("blob_np_on_p", "blob_p_on_np"):
        return _blob_paste(p_img, np_img, height, width, rng, np_on_p=style == "blob_np_on_p")
    if style == "lettering":
        return _lettering(p_img, np_img, height, width, rng)
    if style == "inset":
        return _inset(p_img, np_img, height, width, rng)
    if style == "split":
        return _split(p_img, np_img, height, width, rng)
    raise ValueError(f"unknown composite style {style!r}; expected one of {', '.join(STYLES)}")


def homogeneous(
    img: np.ndarray,
    is_photographic: bool,
    *,
    height: int,
    width: int,
    rng: np.random.Generator,
    min_crop: float = 0.55,
) -> Sample:
    crop = random_crop(img, height, width, rng, min_crop)
    return Sample(crop, np.full((height, width), is_photographic), "P" if is_photographic else "NP")


def pick(images: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    return images[int(rng.integers(len(images)))]
