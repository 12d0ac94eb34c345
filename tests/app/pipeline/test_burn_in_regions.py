"""Regions burned into every frame of a transfer (a timecode window, a logo), left out."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from pydantic import ValidationError

from app.core.config import ModelSettings
from app.pipeline.borders import PictureBox, find_picture_box
from tests.figures import burn_subtitle, photo_background

CORNER = (0.6, 0.85, 0.95, 0.95)


def _timecoded(frame: np.ndarray, window: tuple[float, float, float, float]) -> np.ndarray:
    height, width = frame.shape[:2]
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    box = (window[0] * width, window[1] * height, window[2] * width, window[3] * height)
    draw.rectangle(box, fill=(0, 0, 0))
    draw.text((box[0] + 4, box[1] + 2), "01:02:03:04", fill=(255, 255, 255))
    return np.asarray(image)


@pytest.mark.parametrize(
    ("region", "kept"),
    [
        (CORNER, (0, 0, 160, 100)),  # a window at the bottom: the picture above it
        ((0.4, 0.02, 0.6, 0.1), (0, 14, 160, 120)),  # at the top: the picture below it
        ((0.9, 0.1, 0.97, 0.9), (0, 0, 142, 120)),  # a tall logo at the side: left of it
        ((0.2, 0.2, 0.3, 0.3), (50, 0, 160, 120)),  # inside: the largest side of it kept
    ],
)
def test_a_region_is_cut_at_the_side_that_keeps_the_most_picture(
    region: tuple[float, float, float, float], kept: tuple[int, int, int, int]
) -> None:
    box = PictureBox.of_whole(np.zeros((120, 160, 3), np.uint8)).without(region)
    assert (box.left, box.top, box.right, box.bottom) == kept
    assert not box.barred


def test_regions_are_fractions_of_the_frame_bars_included() -> None:
    picture = photo_background(1, (160, 120))
    frame = np.pad(_timecoded(picture, CORNER), ((0, 0), (20, 20), (0, 0)))  # pillarboxed
    box = find_picture_box(frame, regions=[(0.6, 0.85, 0.9, 0.95)])
    assert (box.left, box.right) == (20, 180) and box.bottom < 120 * 0.85
    assert box.barred
    assert find_picture_box(frame, bars=False, regions=[(0.6, 0.85, 0.9, 0.95)]).barred is False


def test_subtitles_are_still_found_beside_a_region_at_the_side() -> None:
    # A tall logo at the right: the picture kept is left of it, and the subtitles, centred
    # on the whole picture, are still found (and a centred timecode window is not one).
    frame = burn_subtitle(photo_background(2, (320, 240)), ["where were you last night"])
    box = find_picture_box(frame, subtitles=True, regions=[(0.85, 0.05, 0.97, 0.95)])
    assert box.right < 320 * 0.85 and box.subtitles and box.bottom < 240 * 0.9
    windowed = _timecoded(photo_background(3, (320, 240)), (0.35, 0.82, 0.65, 0.9))
    box = find_picture_box(windowed, subtitles=True, regions=[(0.35, 0.82, 0.65, 0.9)])
    assert not box.subtitles and box.bottom < 240 * 0.82


def test_regions_that_leave_too_little_picture_are_not_left_out_and_bars_stay() -> None:
    frame = np.pad(photo_background(4, (160, 80)), ((20, 20), (0, 0), (0, 0)))  # letterboxed
    box = find_picture_box(frame, regions=[(0.0, 0.1, 1.0, 0.9)])
    assert (box.top, box.bottom) == (20, 100) and box.barred


def test_regions_outside_the_frame_or_inside_out_are_refused() -> None:
    for region in ([0.5, 0.8, 0.4, 0.9], [0.1, 0.8, 1.2, 0.9], [0.1, 0.9, 0.4, 0.9]):
        with pytest.raises(ValidationError, match="left < right and top < bottom"):
            ModelSettings(burn_in_regions=[region])
    # One region alone, without the outer list, is one region.
    assert ModelSettings(burn_in_regions=[0.6, 0.85, 0.95, 0.95]).burn_in_regions == [
        (0.6, 0.85, 0.95, 0.95)
    ]


def test_the_models_judge_a_timecoded_frame_by_its_picture_without_the_window() -> None:
    from workers.ml.inference import Classifier

    frames = [_timecoded(photo_background(seed, (240, 180)), CORNER) for seed in (1, 2, 3)]
    named = Classifier.load(ModelSettings(device="cpu", burn_in_regions=[CORNER]))
    verdicts = named.classify(frames)
    plain = Classifier.load(ModelSettings(device="cpu", skip_subtitles=False))
    above = plain.classify([frame[: verdict.picture.bottom] for frame, verdict in
                            zip(frames, verdicts, strict=True) if verdict.picture])  # fmt: skip
    assert len(above) == 3
    for verdict, alone in zip(verdicts, above, strict=True):
        assert verdict.picture is not None and verdict.picture.bottom < 180 * 0.85
        assert verdict.frame_class is alone.frame_class
        assert verdict.p_fraction == pytest.approx(alone.p_fraction, abs=1e-6)
