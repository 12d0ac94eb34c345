"""Tracks link the same element across the sampled frames of a shot, and only there."""

from __future__ import annotations

import numpy as np

from app.elements.tracking import TrackItem, link_tracks


def _unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=16)
    return vector / np.linalg.norm(vector)


def _moving(shot: int, frames: range, vector: np.ndarray, *, x0: float) -> list[TrackItem]:
    return [
        TrackItem(shot, frame, (x0 + 0.05 * step, 0.2, x0 + 0.05 * step + 0.3, 0.6), vector)
        for step, frame in enumerate(frames)
    ]


def test_same_moving_figure_is_one_track_when_it_stays_in_its_shot() -> None:
    star, face = _unit(1), _unit(2)
    frames = range(0, 100, 25)
    items = _moving(0, frames, star, x0=0.0) + _moving(0, frames, face, x0=0.5)

    tracks = link_tracks(items)

    assert len(set(tracks[:4])) == 1 and len(set(tracks[4:])) == 1
    assert tracks[0] != tracks[4]


def test_figure_is_not_linked_across_shots() -> None:
    star = _unit(1)
    items = _moving(0, range(0, 50, 25), star, x0=0.1) + _moving(
        1, range(50, 100, 25), star, x0=0.1
    )

    tracks = link_tracks(items)

    assert tracks[0] == tracks[1] and tracks[2] == tracks[3] and tracks[0] != tracks[2]


def test_far_jump_links_only_when_embeddings_agree_strongly() -> None:
    star, other = _unit(1), _unit(3)
    jump = [
        TrackItem(0, 0, (0.0, 0.0, 0.2, 0.2), star),
        TrackItem(0, 25, (0.7, 0.7, 0.9, 0.9), star),
        TrackItem(0, 50, (0.0, 0.0, 0.2, 0.2), other),
    ]

    tracks = link_tracks(jump)

    assert tracks[0] == tracks[1] and tracks[2] != tracks[1]
