"""A still sent for look-alike search is checked and shrunk without torch."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.embeddings.stills import MAX_PIXELS, STILL_SIZE, BadStill, prepare_still


def _png(width: int, height: int, mode: str = "L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


def test_a_still_is_shrunk_to_the_still_size() -> None:
    shrunk = Image.open(io.BytesIO(prepare_still(_png(1000, 500, "RGB"))))
    assert shrunk.mode == "RGB" and max(shrunk.size) == STILL_SIZE


def test_a_small_file_of_too_many_pixels_is_refused_before_decoding() -> None:
    # A few kilobytes that would decode to more pixels than the limit (a decompression bomb).
    bomb = _png(8000, MAX_PIXELS // 8000 + 1, "1")
    assert len(bomb) < 100_000
    with pytest.raises(BadStill, match="pixels"):
        prepare_still(bomb)


@pytest.mark.parametrize("data", [b"", b"not a picture", _png(4, 4)[:20]])
def test_what_is_not_a_picture_is_refused(data: bytes) -> None:
    with pytest.raises(BadStill):
        prepare_still(data)
