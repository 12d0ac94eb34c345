"""Contact sheets are JPEGs of the expected grid."""

from __future__ import annotations

import io

from PIL import Image

from app.elements.collage import GAP, TILE, contact_sheet


def _jpeg(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_collage_is_a_jpeg_grid_of_the_crops() -> None:
    crops = [_jpeg((200, 20, 20), (40, 80)) for _ in range(7)]

    data = contact_sheet(crops, columns=3)

    with Image.open(io.BytesIO(data)) as sheet:
        assert sheet.format == "JPEG"
        assert sheet.size == (3 * (TILE + GAP) + GAP, 3 * (TILE + GAP) + GAP)
        # The first tile's centre is the crop's red; the last row's empty tile is not.
        centre = GAP + TILE // 2
        assert sheet.getpixel((centre, centre))[0] > 150  # type: ignore[index]
        assert sheet.getpixel((sheet.width - centre, sheet.height - centre))[0] < 60  # type: ignore[index]


def test_unreadable_crop_leaves_an_empty_tile_instead_of_failing() -> None:
    data = contact_sheet([b"not an image", _jpeg((0, 200, 0), (10, 10))])

    with Image.open(io.BytesIO(data)) as sheet:
        assert sheet.format == "JPEG" and sheet.width == 2 * (TILE + GAP) + GAP
