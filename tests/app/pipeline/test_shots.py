"""Shot detection on the frames of the one decode."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from app.core.config import ShotSettings
from app.core.registry import UnknownName
from app.pipeline.detectors import DETECTORS, create_detector
from app.pipeline.shots import Shot, ShotDetector
from app.pipeline.video import DecodedFrame, decode, probe
from tests.media import GeneratedVideo, Segment, make_video

HARD_CUTS = [
    Segment(source="testsrc2", frames=30),
    Segment(source="smptebars", frames=20),
    Segment(source="mandelbrot", frames=25),
    Segment(source="color", color="navy", noise=20, frames=15),
    Segment(source="rgbtestsrc", frames=20),
    Segment(source="testsrc2", extra="hue=h=120,vflip", frames=30),
    Segment(source="color", color="orange", noise=20, frames=12),
    Segment(source="smptebars", extra="negate", frames=25),
]


def detect(film: GeneratedVideo, settings: ShotSettings | None = None) -> list[Shot]:
    info = probe(film.path)
    detector = create_detector(settings or ShotSettings(), fps=info.fps)
    for frame in decode(film.path, info, working_size=320):
        detector.process(frame)
    return detector.finish()


def f1_within(found: list[int], truth: list[int], tolerance: int) -> float:
    unmatched = list(truth)
    hits = 0
    for cut in found:
        match = next((t for t in unmatched if abs(t - cut) <= tolerance), None)
        if match is not None:
            unmatched.remove(match)
            hits += 1
    if not found or not truth:
        return 1.0 if found == truth else 0.0
    precision, recall = hits / len(found), hits / len(truth)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def synthetic_shot_frames(shot_lengths: list[int], *, fps: float = 25.0) -> list[DecodedFrame]:
    """Each shot a different still picture with a little noise: cuts between them are plain."""
    rng = np.random.default_rng(7)
    frames: list[DecodedFrame] = []
    for length in shot_lengths:
        picture = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
        for _ in range(length):
            jitter = rng.integers(-3, 4, size=picture.shape)
            image = np.clip(picture.astype(np.int16) + jitter, 0, 255).astype(np.uint8)
            frames.append(DecodedFrame(index=len(frames), pts_s=len(frames) / fps, image=image))
    return frames


def test_shot_detector_finds_cuts_where_made_when_cuts_are_hard(tmp_path: Path) -> None:
    film = make_video(tmp_path / "cuts.mkv", segments=HARD_CUTS)

    shots = detect(film)

    found = [shot.start_frame for shot in shots[1:]]
    assert f1_within(found, film.cut_frames, tolerance=2) >= 0.98


def test_shot_detector_finds_cut_when_shots_fade_through_black(tmp_path: Path) -> None:
    film = make_video(
        tmp_path / "fade.mkv",
        segments=[
            Segment(source="testsrc2", frames=40, fade_out_frames=12),
            Segment(source="testsrc2", frames=40, fade_in_frames=12),
        ],
    )

    shots = detect(film)

    assert [shot.start_frame for shot in shots[1:]] == pytest.approx(film.cut_frames, abs=2)


def test_shots_cover_every_frame_once_when_film_has_cuts() -> None:
    frames = synthetic_shot_frames([20, 15, 30])
    detector = ShotDetector(ShotSettings(), fps=25.0)
    for frame in frames:
        detector.process(frame)

    shots = detector.finish()

    covered = [i for shot in shots for i in range(shot.start_frame, shot.end_frame + 1)]
    assert covered == list(range(len(frames)))
    assert [shot.index for shot in shots] == list(range(len(shots)))


def test_shot_detector_returns_one_shot_when_there_is_no_cut() -> None:
    detector = ShotDetector(ShotSettings(), fps=25.0)
    for frame in synthetic_shot_frames([40]):
        detector.process(frame)

    assert [(s.start_frame, s.end_frame) for s in detector.finish()] == [(0, 39)]


def test_shot_times_follow_frame_pts_when_rate_is_variable() -> None:
    frames = [
        DecodedFrame(index=f.index, pts_s=f.index * 0.1, image=f.image)
        for f in synthetic_shot_frames([20, 20])
    ]
    detector = ShotDetector(ShotSettings(), fps=25.0)
    for frame in frames:
        detector.process(frame)

    shots = detector.finish()

    times = [t for shot in shots for t in (shot.start_time, shot.end_time)]
    assert times == pytest.approx([0.0, 2.0, 2.0, 4.0])


def test_shot_detector_reports_content_cuts_when_content_detector_is_chosen() -> None:
    detector = ShotDetector(ShotSettings(detector="content", detect_fades=False), fps=25.0)
    for frame in synthetic_shot_frames([20, 20]):
        detector.process(frame)

    assert [s.start_frame for s in detector.finish()] == [0, 20]


def test_describe_records_detector_and_thresholds() -> None:
    detector = ShotDetector(ShotSettings(adaptive_threshold=2.5, fade_threshold=10.0), fps=25.0)

    description = detector.describe()

    assert description["detector"] == "adaptive"
    assert description["adaptive_threshold"] == 2.5
    assert description["fade_threshold"] == 10.0
    assert description["library"].startswith("scenedetect")
    assert description["monochrome_luma_cuts"] is True


def test_shot_detector_rejects_frames_when_out_of_order() -> None:
    detector = ShotDetector(ShotSettings(), fps=25.0)
    frames = synthetic_shot_frames([3])

    with pytest.raises(ValueError, match="in order"):
        detector.process(frames[1])


def test_finish_returns_no_shots_when_no_frame_was_processed() -> None:
    assert ShotDetector(ShotSettings(), fps=25.0).finish() == []


def test_shot_detector_accepts_frame_rate_when_given_as_int() -> None:
    detector = ShotDetector(ShotSettings(), fps=25)
    for frame in synthetic_shot_frames([20, 20]):
        detector.process(frame)

    assert [s.start_frame for s in detector.finish()] == [0, 20]


# ----------------------------------------------------------------------------------------------
# The detector registry


@pytest.mark.parametrize("name", ["adaptive", "content", "threshold"])
def test_create_detector_makes_the_registered_detector_when_named(name: str) -> None:
    detector = create_detector(ShotSettings(detector=name), fps=25.0)

    assert detector.describe()["detector"] == name
    assert DETECTORS.get(name).queue == "cpu"


def test_detector_registry_rejects_an_unknown_name_with_the_known_ones() -> None:
    with pytest.raises(UnknownName, match=r"unknown shot detector 'transnet'; known: adaptive"):
        DETECTORS.get("transnet")
    with pytest.raises(ValidationError, match=r"unknown shot detector 'transnet'"):
        ShotSettings(detector="transnet")


def _grey_picture(rng: np.random.Generator, height: int = 90, width: int = 160) -> np.ndarray:
    """A smooth grey picture of mid brightness, like a frame of black-and-white film."""
    noise = rng.normal(size=(height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 4)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (30 + 200 * smooth).astype(np.uint8)


def _footage(
    pictures: list[tuple[np.ndarray, int]], tint: tuple[float, float, float]
) -> list[DecodedFrame]:
    """Each picture held for its frames with a little grain, toned by ``tint`` (RGB)."""
    rng = np.random.default_rng(11)
    frames: list[DecodedFrame] = []
    for grey, length in pictures:
        for _ in range(length):
            grain = grey.astype(np.float32) + rng.normal(0, 2, grey.shape)
            image = np.clip(grain[:, :, None] * np.array(tint), 0, 255).astype(np.uint8)
            frames.append(DecodedFrame(index=len(frames), pts_s=len(frames) / 24, image=image))
    return frames


def _cuts(frames: list[DecodedFrame], settings: ShotSettings) -> list[int]:
    detector = ShotDetector(settings, fps=24.0)
    for frame in frames:
        detector.process(frame)
    return [shot.start_frame for shot in detector.finish()[1:]]


@pytest.mark.parametrize("detector", ["adaptive", "content"])
@pytest.mark.parametrize("tint", [(1.0, 1.0, 1.0), (1.0, 0.8, 0.6)], ids=["grey", "sepia"])
def test_cuts_between_black_and_white_shots_of_like_brightness_are_found(
    detector: str, tint: tuple[float, float, float]
) -> None:
    # Colour says nothing in such a film: a cut changes the luma alone, which the detectors'
    # score (hue, saturation and luma changes averaged) would count a third of.
    rng = np.random.default_rng(5)
    pictures = [(_grey_picture(rng), 30) for _ in range(3)]

    assert _cuts(_footage(pictures, tint), ShotSettings(detector=detector)) == [30, 60]


def _card(top: int, left: int) -> np.ndarray:
    """White lettering (a block, 4% of the picture) on black: a dark intertitle."""
    card = np.zeros((90, 160), np.uint8)
    card[top : top + 6, left : left + 100] = 200
    return card


def _hints_and_cuts(frames: list[DecodedFrame]) -> tuple[list[int], list[int]]:
    detector = ShotDetector(ShotSettings(), fps=24.0)
    hints = [cut for frame in frames for cut in detector.process(frame)]
    return hints, [shot.start_frame for shot in detector.finish()[1:]]


def test_the_flicker_of_a_black_and_white_print_is_no_cut() -> None:
    # Brightness wavering by 6% from frame to frame, the picture panning slowly (a luma-only
    # detector of raw luma changes found 7 cuts in this shot).
    rng = np.random.default_rng(10)
    picture = _grey_picture(rng).astype(np.float32)
    frames = []
    for index in range(300):
        image = np.roll(picture * rng.normal(1.0, 0.06), index // 6, axis=1)
        grey = np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
        rgb = np.repeat(grey[:, :, None], 3, axis=2)
        frames.append(DecodedFrame(index=index, pts_s=index / 24, image=rgb))

    assert _cuts(frames, ShotSettings(detector="adaptive")) == []


def test_a_dark_title_card_between_cuts_stays_one_shot() -> None:
    # White lettering on black between two live shots: dark all through (under the fade
    # threshold), but not a fade, so no cut in its middle; nor a hint of one to the sampler.
    rng = np.random.default_rng(6)
    pictures = [(_grey_picture(rng), 30), (_card(42, 30), 40), (_grey_picture(rng), 30)]
    frames = _footage(pictures, (1.0, 1.0, 1.0))
    assert float(np.mean(frames[40].image)) < ShotSettings().fade_threshold

    hints, cuts = _hints_and_cuts(frames)

    assert cuts == [30, 70]
    assert sorted(hints) == [30, 70]  # each once


def test_a_film_that_opens_on_a_dark_title_card_keeps_it_whole() -> None:
    rng = np.random.default_rng(7)
    frames = _footage([(_card(42, 30), 40), (_grey_picture(rng), 30)], (1.0, 1.0, 1.0))

    assert _hints_and_cuts(frames)[1] == [40]


def test_two_dark_title_cards_back_to_back_are_two_shots() -> None:
    # Only the lettering changes: too little for the cut detectors, seen inside the stretch.
    rng = np.random.default_rng(8)
    pictures = [
        (_grey_picture(rng), 30),
        (_card(42, 30), 40),
        (_card(42, 80), 50),  # a luma change of about 7 levels
        (_grey_picture(rng), 30),
    ]

    assert _hints_and_cuts(_footage(pictures, (1.0, 1.0, 1.0)))[1] == [30, 70, 120]


def test_a_lamp_switched_on_in_a_night_shot_is_no_cut() -> None:
    # Dark all through and bounded by cuts like a card, but the change only brightens.
    rng = np.random.default_rng(10)
    night = (_grey_picture(rng) * 0.02).astype(np.uint8)
    lit = night.copy()
    lit[20:32, 60:108] = 200  # a lamp, 4% of the picture: a luma change of about 8 levels
    pictures = [(_grey_picture(rng), 30), (night, 30), (lit, 30), (_grey_picture(rng), 30)]
    frames = _footage(pictures, (1.0, 1.0, 1.0))
    assert float(np.mean(frames[70].image)) < ShotSettings().fade_threshold

    assert _hints_and_cuts(frames)[1] == [30, 90]


def test_a_fade_through_black_keeps_its_cut_in_the_dark() -> None:
    rng = np.random.default_rng(9)
    first, second = _grey_picture(rng), _grey_picture(rng)
    ramp = [(first * (1 - step / 12)).astype(np.uint8) for step in range(1, 13)]
    rise = [(second * (step / 12)).astype(np.uint8) for step in range(1, 13)]
    pictures = [(first, 30), *[(f, 1) for f in ramp], (np.zeros_like(first), 10)]
    pictures += [*[(f, 1) for f in rise], (second, 30)]

    cuts = _hints_and_cuts(_footage(pictures, (1.0, 1.0, 1.0)))[1]

    assert len(cuts) == 1 and 40 <= cuts[0] <= 56
