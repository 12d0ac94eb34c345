"""A still sent for look-alike search: checked and shrunk here (torch-free), then embedded by
whatever runs the models (the dispatcher: this process in inline mode, a gpu worker
otherwise)."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from app.core.errors import InvalidRequestError

# The embedder looks at 224x224: nothing larger needs to travel.
STILL_SIZE = 448
# Decompression bombs: refuse pictures with more pixels than this before decoding them. An 8K
# frame (7680x4320, 33 Mpx) fits; a 32 KB PNG of 100 Mpx took 400 MB of API memory to decode.
MAX_PIXELS = 40_000_000


class BadStill(InvalidRequestError):
    pass


def prepare_still(data: bytes) -> bytes:
    """The still as a PNG of at most ``STILL_SIZE`` px on its longer side; ``BadStill`` for
    anything that is not a readable picture."""
    if not data:
        raise BadStill("the still is empty")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise BadStill(f"the still has more than {MAX_PIXELS} pixels")
            image.draft("RGB", (STILL_SIZE, STILL_SIZE))
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BadStill("the upload is not a readable image (JPEG, PNG, ...)") from exc
    if min(picture.size) < 1:
        raise BadStill("the still is empty")
    picture.thumbnail((STILL_SIZE, STILL_SIZE))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()
