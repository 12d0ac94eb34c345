"""Transition finding without the network: the wipe test, classification, the candidate scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.core.config import ShotSettings
from app.pipeline.shots import ShotDetector
from app.pipeline.transitions import (
    STEP_FRAMES,
    Transition,
    TransitionDetector,
    TransitionKind,
    find_wipe,
)
from app.pipeline.video import DecodedFrame, decode, probe
from tests.media import Segment, make_video

HEIGHT, WIDTH = 27, 48


def _picture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(3, 4)).astype(np.float32)
    return np.kron(coarse, np.ones((9, 12), np.float32))  # (27, 48) blocks


def _wipe(before: np.ndarray, after: np.ndarray, frames: int) -> list[np.ndarray]:
    columns = np.arange(WIDTH)[None, :]
    return [
        np.where(columns < WIDTH * (index + 1) / (frames + 1), after, before)
        for index in range(frames)
    ]


def _dissolve(before: np.ndarray, after: np.ndarray, frames: int) -> list[np.ndarray]:
    return [before + (after - before) * (index + 1) / (frames + 1) for index in range(frames)]


def test_find_wipe_finds_a_left_to_right_wipe_between_two_pictures() -> None:
    before, after = _picture(1), _picture(2)
    greys = [before] * 4 + _wipe(before, after, 16) + [after]
    found = find_wipe(greys)
    assert found is not None
    assert abs(found[0] - 4) <= 2 and abs(found[1] - 19) <= 2


def test_find_wipe_rejects_a_dissolve_and_a_cut() -> None:
    before, after = _picture(1), _picture(2)
    assert find_wipe([before] * 4 + _dissolve(before, after, 16) + [after]) is None
    assert find_wipe([before] * 20 + [after]) is None


def test_find_wipe_rejects_held_drawings_that_change_area_by_area() -> None:
    # Cel animation on threes: a part of the picture changes, then holds for two frames.
    before, after = _picture(1), _picture(2)
    greys = [before] * 4
    for part in range(1, 6):
        frame = before.copy()
        frame[:, : WIDTH * part // 5] = after[:, : WIDTH * part // 5]
        greys += [frame] * 3
    assert find_wipe([*greys, after]) is None


def test_find_wipe_rejects_an_object_moving_inside_one_shot() -> None:
    background = _picture(3)
    greys = []
    for position in range(22):
        frame = background.copy()
        frame[9:18, position : position + 8] = 255.0
        greys.append(frame)
    assert find_wipe(greys) is None


class FakeScorer:
    """Finds nothing; counts what it is asked."""

    def score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        transition = np.zeros((len(windows), STEP_FRAMES), np.float32)
        within = np.zeros_like(transition)
        return transition, within

    def describe(self) -> dict[str, Any]:
        return {"model": "fake"}


def _frames(greys: list[np.ndarray]) -> list[DecodedFrame]:
    return [
        DecodedFrame(
            index=index,
            pts_s=index / 25,
            image=np.repeat(grey.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2),
        )
        for index, grey in enumerate(greys)
    ]


def test_detector_reports_a_wipe_as_one_boundary_with_its_span() -> None:
    before, after = _picture(4), _picture(5)
    greys = [before] * 60 + _wipe(before, after, 20) + [after] * 60
    detector = TransitionDetector(ShotDetector(ShotSettings(), fps=25.0), scorer=None, fps=25.0)
    for frame in _frames(greys):
        detector.process(frame)
    shots = detector.finish()
    assert [shot.transition for shot in shots] == [None, "wipe"]
    assert abs(shots[1].start_frame - 70) <= 3
    assert 16 <= shots[1].transition_frames <= 24


def test_candidate_scope_runs_the_network_only_near_gradual_changes() -> None:
    still = _picture(6)
    greys = [still] * 300 + _dissolve(still, _picture(7), 20) + [_picture(7)] * 280
    detector = TransitionDetector(None, scorer=FakeScorer(), scope="candidates", fps=25.0)
    for frame in _frames(greys):
        detector.process(frame)
    detector.finish()
    assert 1 <= detector.windows_run <= 3  # of 12


def test_a_cut_inside_a_short_black_stretch_is_a_fade(tmp_path: Path) -> None:
    film = make_video(
        tmp_path / "fade.mkv",
        size=(160, 90),
        segments=[
            Segment(source="testsrc2", frames=40, fade_out_frames=10),
            Segment(source="smptebars", frames=40, fade_in_frames=10),
        ],
    )
    info = probe(film.path)
    detector = TransitionDetector(
        ShotDetector(ShotSettings(), fps=info.fps), scorer=None, fps=info.fps
    )
    for frame in decode(film.path, info, working_size=160):
        detector.process(frame)
    [transition] = detector.transitions()
    assert transition.kind is TransitionKind.FADE
    assert transition.start_frame < 40 <= transition.end_frame + 1


def test_a_dark_shot_is_not_a_black_hold() -> None:
    bright, dark = _picture(8), np.full((HEIGHT, WIDTH), 6.0, np.float32)
    greys = [bright] * 40 + [dark] * 80 + [bright] * 40
    detector = TransitionDetector(ShotDetector(ShotSettings(), fps=25.0), scorer=None, fps=25.0)
    for frame in _frames(greys):
        detector.process(frame)
    kinds = {t.kind for t in detector.transitions()}
    assert kinds == {TransitionKind.CUT}


def test_cut_frame_is_the_middle_of_a_gradual_transition() -> None:
    assert Transition(TransitionKind.DISSOLVE, 100, 119).cut_frame == 110
    assert Transition(TransitionKind.CUT, 100, 100).cut_frame == 100
    assert Transition(TransitionKind.DISSOLVE, 100, 119).frame_count == 20
