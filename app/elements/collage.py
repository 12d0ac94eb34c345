"""Contact sheets: a cluster's member crops in a grid, as one JPEG."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from PIL import Image, ImageOps

TILE = 112
GAP = 4
BACKGROUND = (24, 24, 28)


def contact_sheet(crops: Sequence[bytes], *, columns: int = 6, tile: int = TILE) -> bytes:
    """A JPEG grid of the crops (JPEG/PNG bytes), each fitted into a square tile; crops that
    cannot be read are left as empty tiles. No crops: one empty tile."""
    count = max(1, len(crops))
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    sheet = Image.new("RGB", (columns * (tile + GAP) + GAP, rows * (tile + GAP) + GAP), BACKGROUND)
    for position, data in enumerate(crops):
        try:
            with Image.open(io.BytesIO(data)) as opened:
                picture = ImageOps.contain(opened.convert("RGB"), (tile, tile))
        except (OSError, ValueError):
            continue
        row, column = divmod(position, columns)
        left = GAP + column * (tile + GAP) + (tile - picture.width) // 2
        top = GAP + row * (tile + GAP) + (tile - picture.height) // 2
        sheet.paste(picture, (left, top))
    buffer = io.BytesIO()
    sheet.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
