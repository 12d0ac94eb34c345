"""Clusters through tracks, the number found automatically; the nearest-centroid labels."""

from __future__ import annotations

import numpy as np
import pytest

from app.elements import head
from app.elements.clustering import (
    ClusterSettings,
    cannot_link_pairs,
    choose_labels,
    cluster_elements,
    nearest_centroid,
)


def _blobs(groups: int, per_group: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, 32))
    vectors = np.concatenate([c + 0.15 * rng.normal(size=(per_group, 32)) for c in centres])
    return head.normalise(vectors), np.repeat(np.arange(groups), per_group)


def test_count_of_clusters_is_found_when_groups_are_clear() -> None:
    vectors, truth = _blobs(5, 6)

    labels, silhouette = choose_labels(vectors)

    assert len(set(labels)) == 5 and silhouette is not None
    for group in range(5):
        assert len(set(labels[truth == group])) == 1


def _families(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Six groups of five in two families of three: the silhouette alone sees two."""
    rng = np.random.default_rng(seed)
    families = rng.normal(size=(2, 32))
    centres = np.concatenate([f + 0.15 * rng.normal(size=(3, 32)) for f in families])
    vectors = np.concatenate([c + 0.05 * rng.normal(size=(5, 32)) for c in centres])
    return head.normalise(vectors), np.repeat(np.arange(6), 5)


def test_cannot_link_pairs_set_the_count_when_groups_come_in_families() -> None:
    vectors, truth = _families()
    # Groups seen together in some shot: within each family, and across one pair of them.
    pairs = np.array([[0, 5], [5, 10], [0, 10], [15, 20], [20, 25], [0, 15]])

    alone, _ = choose_labels(vectors)
    labels, _ = choose_labels(vectors, cannot_link=pairs)

    assert len(set(alone)) == 2
    assert len(set(labels)) == 6
    for group in range(6):
        assert len(set(labels[truth == group])) == 1


def test_tracks_seen_together_twice_cannot_link_and_a_one_frame_fragment_does_not() -> None:
    track_rows = np.array([0, 1, 0, 1, 0, 2])
    moments = [("a", 1), ("a", 1), ("a", 2), ("a", 2), ("a", 3), ("a", 3)]

    pairs = cannot_link_pairs(track_rows, moments)

    assert pairs.tolist() == [[0, 1]]


def test_tracks_are_never_split_and_clusters_come_largest_first() -> None:
    vectors, truth = _blobs(3, 4)
    tracks = truth * 2 + np.arange(len(truth)) % 2  # two tracks per group
    vectors[0] = -vectors[0]  # one odd sighting: its track's mean keeps it in place

    result = cluster_elements(vectors, tracks.tolist())

    for track in set(tracks):
        assert len(set(result.labels[tracks == track])) == 1
    sizes = np.bincount(result.labels)
    assert list(sizes) == sorted(sizes, reverse=True)
    assert all(result.labels[e] == c for c, e in enumerate(result.exemplars))


def test_one_cluster_when_there_is_no_structure() -> None:
    vectors = head.normalise(np.ones((6, 4)) + 1e-3 * np.arange(24).reshape(6, 4))

    labels, _ = choose_labels(vectors)

    assert set(labels) == {0}


def test_nearest_centroid_leaves_far_vectors_unlabelled() -> None:
    centroids = np.eye(3, dtype=np.float32)
    vectors = np.array([[0.9, 0.1, 0.0], [0.0, 0.0, -1.0]], np.float32)

    best, score = nearest_centroid(vectors, centroids, min_similarity=0.5)

    assert best.tolist() == [0, -1] and score[0] > 0.9


def test_head_round_trips_and_is_identity_when_second_layer_is_zero() -> None:
    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.normal(size=(8, 4)),
        "b1": rng.normal(size=8),
        "w2": np.zeros((4, 8)),
        "b2": np.zeros(4),
    }
    vectors = head.normalise(rng.normal(size=(5, 4)))

    restored = head.from_bytes(head.to_bytes(weights))

    np.testing.assert_allclose(head.project(vectors, restored), vectors, atol=1e-6)


def test_two_tracks_seen_together_are_two_clusters_however_alike() -> None:
    vectors = head.normalise(np.ones((2, 8), np.float32))
    labels, _ = choose_labels(vectors, cannot_link=np.array([[0, 1]]))
    assert labels.tolist() == [0, 1]
    alone, _ = choose_labels(vectors)
    assert alone.tolist() == [0, 0]


def test_every_track_stands_alone_when_every_pair_is_seen_together() -> None:
    rng = np.random.default_rng(3)
    vectors = head.normalise(rng.normal(size=(3, 8)).astype(np.float32) * 0.01 + 1.0)
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    labels, silhouette = choose_labels(vectors, cannot_link=pairs)
    assert sorted(labels.tolist()) == [0, 1, 2] and silhouette is None


def test_a_collection_over_max_tracks_is_clustered_on_a_sample_and_every_track_joins() -> None:
    vectors, truth = _blobs(4, 30)
    track_ids = list(range(len(truth)))

    sampled = cluster_elements(vectors, track_ids, ClusterSettings(max_tracks=40))
    whole = cluster_elements(vectors, track_ids, ClusterSettings())

    assert (sampled.sampled_tracks, whole.sampled_tracks) == (40, None)
    for clustering in (sampled, whole):
        assert len(set(clustering.labels)) == 4 and (clustering.labels >= 0).all()
        for group in range(4):
            assert len(set(clustering.labels[truth == group])) == 1


def test_a_sample_keeps_the_cannot_link_pairs_it_is_given() -> None:
    # Two tracks of one group seen together in two frames: only the pair can split them,
    # and at a sample of 40 tracks of 120 a random draw would keep it one time in nine.
    vectors, truth = _blobs(4, 30)
    track_ids = [*range(len(truth)), 0, 1]
    vectors = np.concatenate([vectors, vectors[[0, 1]]])
    moments = [("film", index) for index in range(len(truth))] + [("film", 500)] * 2
    moments[1] = moments[0]

    for seed in range(3):
        settings = ClusterSettings(max_tracks=40, seed=seed)
        clustering = cluster_elements(vectors, track_ids, settings, moments=moments)
        assert clustering.labels[0] != clustering.labels[1]


def test_cluster_settings_refuse_a_sample_too_small_to_cluster() -> None:
    with pytest.raises(ValueError, match="max_tracks"):
        ClusterSettings(max_tracks=1)
