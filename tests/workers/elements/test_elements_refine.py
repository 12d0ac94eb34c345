"""The projection head learns from tracks and augmented views: one step lowers the triplet
loss; seeded runs agree; views are positives of their own element."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from app.elements import head as head_codec
from workers.ml.element_augment import AugmentSettings, augment, augmented_views
from workers.ml.element_refine import (
    ProjectionHead,
    RefineSettings,
    TripletSampler,
    refine,
    triplet_loss,
    with_views,
)


def _tracks(seed: int = 0) -> tuple[np.ndarray, list[int], list[int]]:
    """Four elements, two tracks each of three sightings, with a strong nuisance direction
    (a background) shared across elements of one shot."""
    rng = np.random.default_rng(seed)
    identity = rng.normal(size=(4, 32))
    background = rng.normal(size=(2, 32)) * 2
    vectors, tracks, shots = [], [], []
    for element in range(4):
        for track in range(2):
            shot = (element + track) % 2
            for _ in range(3):
                vectors.append(identity[element] + background[shot] + 0.3 * rng.normal(size=32))
                tracks.append(element * 2 + track)
                shots.append(shot * 10 + track)
    return head_codec.normalise(np.array(vectors)), tracks, shots


def test_one_refinement_step_lowers_the_triplet_loss() -> None:
    vectors, tracks, shots = _tracks()
    sampler = TripletSampler(tracks, shots, vectors, false_negative=1.1)
    triplets = sampler.sample(np.random.default_rng(0), 64)
    torch.manual_seed(0)
    head = ProjectionHead(32, 16)
    optimiser = torch.optim.SGD(head.parameters(), lr=0.5)
    data = torch.as_tensor(vectors)
    before = triplet_loss(head, data, triplets, margin=0.4)

    optimiser.zero_grad()
    before.backward()
    optimiser.step()
    after = triplet_loss(head, data, triplets, margin=0.4)

    assert before.item() > 0.0
    assert after.item() < before.item()


def test_sampled_triplets_respect_tracks() -> None:
    vectors, tracks, shots = _tracks()
    sampler = TripletSampler(tracks, shots, vectors)
    track = np.array(tracks)

    triplets = sampler.sample(np.random.default_rng(1), 200)

    assert np.all(track[triplets.anchor] == track[triplets.positive])
    assert np.all(triplets.anchor != triplets.positive)
    assert np.all(track[triplets.anchor] != track[triplets.negative])


def test_refine_is_seeded_and_lowers_held_out_loss() -> None:
    vectors, tracks, shots = _tracks()
    settings = RefineSettings(steps=40, batch_size=64, eval_triplets=256)

    first = refine(vectors, tracks, shots, settings=settings, seed=5, device="cpu")
    second = refine(vectors, tracks, shots, settings=settings, seed=5, device="cpu")

    assert first.weights is not None and second.weights is not None
    assert first.loss_after is not None and first.loss_before is not None
    assert first.loss_after < first.loss_before
    np.testing.assert_allclose(first.weights["w1"], second.weights["w1"])


def test_refine_learns_nothing_when_no_track_is_seen_twice() -> None:
    vectors = head_codec.normalise(np.eye(4))

    result = refine(vectors, [0, 1, 2, 3], [0, 0, 1, 1], device="cpu")

    assert result.weights is None and result.steps == 0


def test_views_become_positives_of_their_own_anchor() -> None:
    vectors, tracks, shots = _tracks()
    sampler = TripletSampler(tracks, shots, vectors)
    count, views = len(vectors), 2
    triplets = sampler.sample(np.random.default_rng(2), 300)

    mixed = with_views(triplets, np.random.default_rng(3), count, views, 1.0, 0.0)

    assert np.all(mixed.positive >= count)
    np.testing.assert_array_equal((mixed.positive - count) // views, triplets.anchor)
    np.testing.assert_array_equal(mixed.negative, triplets.negative)


def test_refine_with_views_and_infonce_lowers_held_out_loss() -> None:
    vectors, tracks, shots = _tracks()
    rng = np.random.default_rng(4)
    # Two views of each element: the element under a strong colour-like shift.
    shift = rng.normal(size=(2, vectors.shape[1]))
    views = np.stack([vectors + 0.5 * shift[0], vectors + 0.5 * shift[1]], axis=1)
    settings = RefineSettings(
        steps=40, batch_size=64, eval_triplets=128, augment_views=2, loss="infonce"
    )

    result = refine(
        vectors, tracks, shots, augmented=views, settings=settings, seed=1, device="cpu"
    )

    assert result.weights is not None
    assert result.loss_before is not None and result.loss_after is not None
    assert result.loss_after < result.loss_before
    assert head_codec.project(vectors, result.weights).shape == vectors.shape


def test_augmented_views_are_seeded_and_keep_the_crop_size() -> None:
    crop = np.zeros((40, 30, 3), np.uint8)
    crop[10:30, 5:25] = (200, 40, 40)

    first = augment(crop, np.random.default_rng(7))
    second = augment(crop, np.random.default_rng(7))
    embedded = augmented_views(
        [crop, crop, crop],
        lambda pictures: np.ones((len(pictures), 8), np.float32),
        views=2,
        seed=0,
    )

    assert first.shape == crop.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, second)
    assert embedded.shape == (3, 2, 8)


def _chain() -> tuple[np.ndarray, list[int], list[int]]:
    """Three tracks of two sightings, each in its own shot, along a line: A's nearest is B,
    B's and C's are each other (so only B and C are mutual nearest neighbours)."""
    points = {0: 0.0, 1: 0.5, 2: 0.8}
    vectors, tracks, shots = [], [], []
    for track, angle in points.items():
        for wobble in (-0.01, 0.01):
            vectors.append([np.cos(angle + wobble), np.sin(angle + wobble)])
            tracks.append(track)
            shots.append(track)
    return np.array(vectors), tracks, shots


def test_partners_are_mutual_nearest_tracks_unless_asked_otherwise() -> None:
    vectors, tracks, shots = _chain()

    mutual = TripletSampler(tracks, shots, vectors, partner_similarity=0.0)
    nearest = TripletSampler(tracks, shots, vectors, partner_similarity=0.0, partner_mutual=False)

    # Only B and C join when partners must be mutual; A joins them through B otherwise.
    assert mutual.group_number.tolist() == [0, 0, 1, 1, 1, 1]
    assert nearest.group_number.tolist() == [0] * 6
    assert len(mutual.partners[0]) == 4 and len(nearest.partners[0]) == 6


def test_second_round_partners_run_a_second_round() -> None:
    vectors, tracks, shots = _tracks()
    settings = RefineSettings(steps=20, batch_size=64, eval_triplets=128, second_round_partners=0.0)

    result = refine(vectors, tracks, shots, settings=settings, seed=2, device="cpu")

    assert result.weights is not None and result.steps == 40
    assert result.loss_before is not None and result.loss_after is not None
    assert result.loss_after < result.loss_before


def test_toned_views_are_tinted_monochrome_prints() -> None:
    crop = np.zeros((20, 20, 3), np.uint8)
    crop[:, :10] = (200, 40, 40)
    crop[:, 10:] = (40, 40, 200)
    plain = AugmentSettings(
        crop_scale=(1.0, 1.0), flip=0.0, jitter=0.0, rotation_deg=0.0, greyscale=0.0, tone=0.0
    )

    toned = augment(crop, np.random.default_rng(3), replace(plain, tone=1.0)).astype(float)
    kept = augment(crop, np.random.default_rng(3), plain).astype(float)

    # One tint over one grey image: the channels keep the same ratio on every pixel (the
    # untoned view keeps its red and its blue half).
    def ratio(view: np.ndarray) -> np.ndarray:
        return view[..., 0] / np.maximum(view[..., 2], 1.0)

    assert np.ptp(ratio(kept)) > 1.0
    assert np.ptp(ratio(toned)) < 0.05
    assert not np.allclose(toned[..., 0], toned[..., 2], atol=2.0)


def test_default_views_include_toned_prints() -> None:
    crop = np.zeros((24, 24, 3), np.uint8)
    crop[:, :12] = (200, 40, 40)
    crop[:, 12:] = (40, 40, 200)
    rng = np.random.default_rng(0)

    views = [augment(crop, rng).astype(float) for _ in range(60)]

    # Tinted monochrome: one channel ratio over the whole view, but not a grey one.
    toned = [
        view
        for view in views
        if np.ptp(view[4:-4, 4:-4, 0] / np.maximum(view[4:-4, 4:-4, 2], 1.0)) < 0.05
        and not np.allclose(view[..., 0], view[..., 2], atol=2.0)
    ]
    assert 5 <= len(toned) <= 35
