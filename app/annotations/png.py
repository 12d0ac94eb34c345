"""Reading the mask PNGs people upload: checked before they are decoded (size, kind, mode),
so a wrong or hostile file is a clear 4xx, never a crash or a decompression bomb."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

from app.core.errors import InvalidRequestError, PayloadTooLargeError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Single-channel modes: 1-bit, 8-bit grey, and palette images (read through their palette).
ACCEPTED_MODES = ("1", "L", "P")
MAX_BYTES = 32 * 1024 * 1024
MAX_SIDE = 16_384
MAX_PIXELS = 64 * 1024 * 1024


class BadMaskImage(InvalidRequestError):
    """The uploaded mask is not a usable single-channel PNG (HTTP 422)."""


def read_mask_png(data: bytes) -> np.ndarray:
    """The HxW bool P mask of an uploaded PNG: white (>= 128) is P, black is NP."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLargeError(f"a mask PNG may have at most {MAX_BYTES} bytes")
    if not data.startswith(PNG_SIGNATURE):
        raise BadMaskImage("the body is not a PNG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG"])
            width, height = image.size
            if width < 1 or height < 1 or max(width, height) > MAX_SIDE:
                raise BadMaskImage(
                    f"a mask PNG is 1 to {MAX_SIDE} pixels a side, this one is {width}x{height}"
                )
            if width * height > MAX_PIXELS:
                raise BadMaskImage(f"a mask PNG has at most {MAX_PIXELS} pixels")
            if image.mode not in ACCEPTED_MODES:
                raise BadMaskImage(
                    "a mask PNG has a single channel (mode 1, L or P; 255 = P, 0 = NP), "
                    f"this one is {image.mode}"
                )
            image.load()
            grey = image.convert("L")
    except BadMaskImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadMaskImage(f"a mask PNG has at most {MAX_PIXELS} pixels") from exc
    except (OSError, ValueError, SyntaxError, Warning) as exc:
        raise BadMaskImage(f"the PNG cannot be read: {type(exc).__name__}") from exc
    return np.asarray(grey) >= 128


def resize_mask(p_mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """``p_mask`` (HxW bool) at ``width`` x ``height`` (nearest neighbour: edges stay hard)."""
    if p_mask.shape == (height, width):
        return p_mask
    image = Image.fromarray(p_mask.astype(np.uint8) * 255, mode="L")
    return np.asarray(image.resize((width, height), Image.Resampling.NEAREST)) >= 128


def encode_full(p_mask: np.ndarray) -> bytes:
    """A 1-bit PNG of ``p_mask`` at its own size."""
    buffer = io.BytesIO()
    Image.fromarray(p_mask.astype(bool)).convert("1").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
