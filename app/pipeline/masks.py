"""Compact storage of per-frame P masks: a 1-bit PNG at a reduced resolution, the P fraction,
and a coarse grid of where in the frame the NP content is.

A mask is True (1, white in the PNG) where the picture is photographic (P) and False where it
is not (NP). Probability maps are accepted and cut at 0.5.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode_mask(p_mask: np.ndarray, mask_size: int) -> bytes:
    """A 1-bit PNG of ``p_mask`` (HxW bool, or float P probability in [0, 1]), shrunk so the
    longer side is at most ``mask_size`` (never enlarged)."""
    if p_mask.ndim != 2 or p_mask.size == 0:
        raise ValueError(f"a mask is a non-empty 2-D array, got shape {p_mask.shape}")
    probability = np.asarray(p_mask, dtype=np.float32)
    height, width = probability.shape
    scale = min(1.0, mask_size / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(probability, mode="F")
    if size != (width, height):
        # Averaging before the cut keeps thin regions' share honest better than nearest.
        image = image.resize(size, Image.Resampling.BOX)
    bits = np.asarray(image) >= 0.5
    buffer = io.BytesIO()
    Image.fromarray(bits).convert("1").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def decode_mask(data: bytes) -> np.ndarray:
    """The HxW bool P mask stored by ``encode_mask``."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("1"), dtype=bool)


def p_fraction(p_mask: np.ndarray) -> float:
    """Share of the frame's area that is photographic."""
    return float(np.asarray(p_mask, dtype=np.float32).mean())


def np_grid(p_mask: np.ndarray, rows: int, cols: int) -> list[list[float]]:
    """NP share (0-1) of each cell of a ``rows`` x ``cols`` grid over the frame, top row first.

    Cells split the pixels as evenly as possible; a mask smaller than the grid repeats pixels
    so that no cell is empty.
    """
    np_share = 1.0 - np.asarray(p_mask, dtype=np.float32)
    height, width = np_share.shape
    grid: list[list[float]] = []
    for row in range(rows):
        top, bottom = _cell_span(row, rows, height)
        grid.append(
            [
                float(np_share[top:bottom, left:right].mean())
                for left, right in (_cell_span(col, cols, width) for col in range(cols))
            ]
        )
    return grid


def _cell_span(cell: int, cells: int, pixels: int) -> tuple[int, int]:
    start = cell * pixels // cells
    end = (cell + 1) * pixels // cells
    return min(start, pixels - 1), max(end, min(start, pixels - 1) + 1)
