"""Regions burned into every frame of a transfer (a timecode window), filled in."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from pydantic import ValidationError

from app.core.config import ModelSettings
from app.pipeline.burn_in import cover
from tests.figures import photo_background

WINDOW = (0.6, 0.85, 0.95, 0.95)


def _timecoded(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    box = (WINDOW[0] * width, WINDOW[1] * height, WINDOW[2] * width, WINDOW[3] * height)
    draw.rectangle(box, fill=(0, 0, 0))
    draw.text((box[0] + 4, box[1] + 2), "01:02:03:04", fill=(255, 255, 255))
    return np.asarray(image)


def test_a_named_region_is_filled_in_from_the_picture_round_it() -> None:
    grey = np.full((120, 160, 3), 128, np.uint8)
    covered = cover(_timecoded(grey), [WINDOW])
    assert np.abs(covered.astype(int) - 128).max() <= 2  # no box, no digits left
    assert cover(grey, []) is grey


def test_regions_outside_the_frame_or_inside_out_are_refused() -> None:
    for region in ([0.5, 0.8, 0.4, 0.9], [0.1, 0.8, 1.2, 0.9], [0.1, 0.9, 0.4, 0.9]):
        with pytest.raises(ValidationError, match="left < right and top < bottom"):
            ModelSettings(burn_in_regions=[region])


def test_the_models_judge_a_timecoded_frame_as_the_frame_without_its_window() -> None:
    from workers.ml.inference import Classifier

    frames = [photo_background(seed, (240, 180)) for seed in (1, 2, 3)]
    named = Classifier.load(ModelSettings(device="cpu", burn_in_regions=[WINDOW]))
    plain = Classifier.load(ModelSettings(device="cpu"))
    windowed = named.classify([_timecoded(frame) for frame in frames])
    alone = plain.classify([cover(frame, [WINDOW]) for frame in frames])
    for a, b in zip(windowed, alone, strict=True):
        assert a.frame_class is b.frame_class
        assert a.p_fraction == pytest.approx(b.p_fraction, abs=1e-6)
