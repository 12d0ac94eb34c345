"""Candidate regions of drawn content in one sampled frame.

Two sources, both plain numpy/OpenCV:

- a hybrid frame: the connected NP regions of its stored P/NP mask (``regions_from_mask``);
- a homogeneous NP frame (all drawn): salient regions (``salient_regions``) where line work
  is dense (Canny edges, dilated and closed into blobs). Chosen by measurement over the
  other method here, colour contrast with the frame's border (``SALIENT_METHODS``):
  ``bench/bench_elements.py --proposals``, figures pasted over paper and faded
  illustrations, recall of figures at IoU >= 0.5, 60 figures: edge density 0.517 and 0.617,
  border contrast 0.317 and 0.583 (tune split seed 10, report split seed 1), with fewer stray
  regions (0.82 and 0.65 a frame against 1.27 and 1.22).

Boxes are fractions of the frame, ``(x0, y0, x1, y1)``, so they hold at any resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from app.pipeline.borders import PictureBox, find_picture_box

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Region:
    box: Box
    # Share of the frame's area the region's own pixels cover.
    area: float
    source: str  # "mask" or "salient"


@dataclass(frozen=True)
class ProposalSettings:
    # Regions smaller than this share of the frame are specks, not elements.
    min_area: float = 0.01
    # Regions larger than this share are the frame itself (a background), not an element.
    max_area: float = 0.9
    max_regions: int = 4


def _components(foreground: np.ndarray, source: str, settings: ProposalSettings) -> list[Region]:
    """Connected components of a HxW bool map, largest first, as regions."""
    height, width = foreground.shape
    # Opening drops specks and thin bridges between two figures; closing fills small holes.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    opened = cv2.morphologyEx(foreground.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    closed = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, kernel)
    count, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    total = float(height * width)
    regions: list[Region] = []
    for label in range(1, count):
        x, y, w, h, pixels = (int(v) for v in stats[label])
        share = pixels / total
        if share < settings.min_area or share > settings.max_area:
            continue
        box = (x / width, y / height, (x + w) / width, (y + h) / height)
        regions.append(Region(box=box, area=share, source=source))
    regions.sort(key=lambda region: region.area, reverse=True)
    return regions[: settings.max_regions]


def regions_from_mask(p_mask: np.ndarray, settings: ProposalSettings | None = None) -> list[Region]:
    """Connected NP regions of a P mask (HxW bool, True = photographic)."""
    if p_mask.ndim != 2 or p_mask.size == 0:
        raise ValueError(f"a mask is a non-empty 2-D array, got shape {p_mask.shape}")
    return _components(~p_mask.astype(bool), "mask", settings or ProposalSettings())


def _border_contrast(image: np.ndarray) -> np.ndarray:
    """Pixels whose colour is far (Otsu's cut) from the median colour of the frame's border."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    border = max(2, min(image.shape[:2]) // 20)
    ring = np.concatenate(
        [
            lab[:border].reshape(-1, 3),
            lab[-border:].reshape(-1, 3),
            lab[:, :border].reshape(-1, 3),
            lab[:, -border:].reshape(-1, 3),
        ]
    )
    background = np.median(ring, axis=0)
    distance = np.linalg.norm(lab - background, axis=2)
    distance = cv2.GaussianBlur(distance, (5, 5), 0)
    scaled = np.clip(distance * (255.0 / max(float(distance.max()), 1e-6)), 0, 255)
    scaled = scaled.astype(np.uint8)
    cut, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # A flat frame has no figure: Otsu would split noise.
    if float(distance.max()) < 12.0:
        return np.zeros(image.shape[:2], bool)
    return scaled > max(cut, 1)


def _edge_density(image: np.ndarray) -> np.ndarray:
    """Where line work is dense: Canny edges, dilated and closed into blobs."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 60, 160)
    size = max(3, (min(image.shape[:2]) // 40) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    blobs = cv2.dilate(edges, kernel, iterations=2)
    blobs = cv2.morphologyEx(blobs, cv2.MORPH_CLOSE, kernel, iterations=2)
    return blobs > 0


SALIENT_METHODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "border-contrast": _border_contrast,
    "edge-density": _edge_density,
}
DEFAULT_SALIENT_METHOD = "edge-density"


def salient_regions(
    image: np.ndarray,
    settings: ProposalSettings | None = None,
    *,
    method: str = DEFAULT_SALIENT_METHOD,
) -> list[Region]:
    """Salient drawn regions of an NP frame (HxWx3 uint8 RGB)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"an image is a HxWx3 uint8 array, got {image.shape} {image.dtype}")
    if method not in SALIENT_METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(SALIENT_METHODS)}")
    return _components(SALIENT_METHODS[method](image), "salient", settings or ProposalSettings())


def frame_regions(
    image: np.ndarray,
    p_mask: np.ndarray | None = None,
    settings: ProposalSettings | None = None,
    *,
    picture: PictureBox | None = None,
) -> list[Region]:
    """The candidate regions of one frame, inside its black bars (``picture``, found when not
    given: ``app.pipeline.borders``): the NP regions of its mask (``p_mask``, any size) when
    it has one, else its salient regions. Bars are neither drawn nor part of a figure: a
    mask's NP area does not run into them, and the salient methods do not take the picture's
    edge against a bar for line work or contrast."""
    picture = picture or find_picture_box(image)
    if p_mask is not None:
        return regions_from_mask(p_mask | ~picture.inside(p_mask.shape), settings)
    return [_in_frame(region, picture) for region in salient_regions(picture.crop(image), settings)]


def _in_frame(region: Region, picture: PictureBox) -> Region:
    """A region found in a picture, in fractions of its whole frame."""
    if picture.whole:
        return region
    x0, y0, x1, y1 = region.box
    left, top = picture.left / picture.width, picture.top / picture.height
    wide = (picture.right - picture.left) / picture.width
    tall = (picture.bottom - picture.top) / picture.height
    return Region(
        box=(left + x0 * wide, top + y0 * tall, left + x1 * wide, top + y1 * tall),
        area=region.area * wide * tall,
        source=region.source,
    )


def crop(image: np.ndarray, box: Box, *, pad: float = 0.05) -> np.ndarray:
    """The box (padded by ``pad`` of its size on each side, within the frame) of an image."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    pad_x, pad_y = (x1 - x0) * pad, (y1 - y0) * pad
    left = max(0, int(np.floor((x0 - pad_x) * width)))
    top = max(0, int(np.floor((y0 - pad_y) * height)))
    right = min(width, max(left + 1, int(np.ceil((x1 + pad_x) * width))))
    bottom = min(height, max(top + 1, int(np.ceil((y1 + pad_y) * height))))
    return np.ascontiguousarray(image[top:bottom, left:right])


def masked_crop(
    image: np.ndarray, box: Box, drawn: np.ndarray, *, pad: float = 0.05, fill: int = 128
) -> np.ndarray:
    """``crop``, with the pixels outside the drawn part (``drawn``: HxW bool at any size,
    True = NP) set to grey: the photographic background around a drawn figure changes from
    shot to shot and would otherwise weigh in its embedding as much as the figure."""
    height, width = image.shape[:2]
    if drawn.shape != (height, width):
        drawn = (
            cv2.resize(drawn.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
        )
    piece = crop(image, box, pad=pad).copy()
    keep = crop(np.ascontiguousarray(drawn[..., None]), box, pad=pad)[..., 0]
    piece[~keep] = fill
    return piece


def box_iou(a: Box, b: Box) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
