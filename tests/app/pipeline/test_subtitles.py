"""Burned-in subtitles at the bottom of a picture."""

from __future__ import annotations

import numpy as np
import pytest

from app.pipeline.borders import find_picture_box
from app.pipeline.subtitles import subtitle_top
from tests.figures import burn_subtitle, photo_background

SPEECH = ["where were you last night", "I waited at the station"]


def _text_rows(plain: np.ndarray, subtitled: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(np.any(plain != subtitled, axis=(1, 2)))
    return int(rows[0]), int(rows[-1])


@pytest.mark.parametrize(("lines", "style"), [(1, "outline"), (2, "outline"), (2, "box")])
def test_finds_where_subtitles_begin(lines: int, style: str) -> None:
    plain = photo_background(3, (320, 240))
    frame = burn_subtitle(plain, SPEECH[:lines], style)
    first, _ = _text_rows(plain, frame)
    top = subtitle_top(frame)
    # Just above the lettering: everything above the cut is free of it.
    assert top is not None
    assert first - 0.03 * 240 <= top <= first


@pytest.mark.parametrize(
    "frame",
    [
        photo_background(4, (320, 240)),
        # Light lettering with an outline, but at the left: a sign in the picture.
        np.roll(burn_subtitle(photo_background(5, (320, 240)), ["Hotel"]), -120, axis=1),
        # A light line with dark on both sides: a horizon, a railing.
        np.where(
            (np.arange(240) % 120 == 100)[:, None, None], 250, photo_background(6, (320, 240)) // 4
        ).astype(np.uint8),
        # Subtitle-like lettering high in the picture: a title, not a subtitle.
        np.roll(burn_subtitle(photo_background(7, (320, 240)), SPEECH[:1]), -120, axis=0),
    ],
)
def test_leaves_pictures_without_subtitles_whole(frame: np.ndarray) -> None:
    assert subtitle_top(frame) is None
    assert find_picture_box(frame, subtitles=True).whole


def test_a_picture_box_above_subtitles_is_not_barred_and_with_bars_it_is() -> None:
    plain = photo_background(8, (320, 240))
    frame = burn_subtitle(plain, SPEECH)
    box = find_picture_box(frame, subtitles=True)
    assert box.subtitles and not box.barred
    assert (box.top, box.left, box.right) == (0, 0, 320) and box.bottom < 240 * 0.85
    assert find_picture_box(frame).whole  # without asking, subtitles stay in the picture
    letterboxed = np.pad(frame, ((40, 40), (0, 0), (0, 0)), constant_values=8)
    box = find_picture_box(letterboxed, subtitles=True)
    assert box.subtitles and box.barred
    assert box.top == 40 and box.bottom < 40 + 240 * 0.85
