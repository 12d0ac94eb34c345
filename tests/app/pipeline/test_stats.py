"""Time-weighted statistics arithmetic."""

from __future__ import annotations

import pytest

from app.core.domain import FrameClass
from app.pipeline.shots import Shot
from app.pipeline.stats import FrameResult, film_stats, shot_stats, timeline

P, NP, HYBRID = FrameClass.P, FrameClass.NP, FrameClass.HYBRID


def result(
    index: int, time_s: float, frame_class: FrameClass, p: float, weight_s: float
) -> FrameResult:
    return FrameResult(
        frame_index=index, time_s=time_s, frame_class=frame_class, p_fraction=p, weight_s=weight_s
    )


# Two shots of 4 s at 10 fps: the first all P, the second 3 s hybrid then 1 s NP.
SHOTS = [
    Shot(index=0, start_frame=0, end_frame=39, start_time=0.0, end_time=4.0),
    Shot(index=1, start_frame=40, end_frame=79, start_time=4.0, end_time=8.0),
]
FRAMES = [
    result(0, 0.0, P, 1.0, 4.0),
    result(40, 4.0, HYBRID, 0.5, 1.0),
    result(50, 5.0, HYBRID, 0.3, 2.0),
    result(70, 7.0, NP, 0.0, 1.0),
]


def test_film_shares_are_time_weighted_and_sum_to_one() -> None:
    film = film_stats(FRAMES, shot_stats(FRAMES, SHOTS), duration_s=8.0)

    assert (film.p_time_share, film.np_time_share, film.hybrid_time_share) == pytest.approx(
        (4 / 8, 1 / 8, 3 / 8)
    )
    assert film.hybrid_ratio == pytest.approx(3 / 8)
    assert film.classified_s == pytest.approx(8.0)


def test_film_mean_p_fraction_is_time_weighted() -> None:
    film = film_stats(FRAMES, shot_stats(FRAMES, SHOTS), duration_s=8.0)

    assert film.mean_p_fraction == pytest.approx((4 * 1.0 + 1 * 0.5 + 2 * 0.3 + 0) / 8)


def test_shot_class_goes_by_majority_of_time_not_of_frames() -> None:
    frames = [
        result(0, 0.0, P, 1.0, 3.0),
        result(10, 3.0, NP, 0.0, 0.5),
        result(12, 3.5, NP, 0.0, 0.5),
    ]
    shot = Shot(index=0, start_frame=0, end_frame=39, start_time=0.0, end_time=4.0)

    assert shot_stats(frames, [shot])[0].frame_class == P


def test_shot_class_is_hybrid_when_classes_tie() -> None:
    frames = [result(0, 0.0, P, 1.0, 2.0), result(20, 2.0, HYBRID, 0.5, 2.0)]
    shot = Shot(index=0, start_frame=0, end_frame=39, start_time=0.0, end_time=4.0)

    assert shot_stats(frames, [shot])[0].frame_class == HYBRID


def test_shot_stats_give_hybrid_ratio_and_mean_p_per_shot() -> None:
    first, second = shot_stats(FRAMES, SHOTS)

    assert (first.frame_class, first.hybrid_ratio, first.sampled_frames) == (P, 0.0, 1)
    assert (second.frame_class, second.hybrid_ratio) == (HYBRID, pytest.approx(0.75))
    assert second.mean_p_fraction == pytest.approx((0.5 + 0.6) / 4)


def test_shot_stats_leave_class_empty_when_shot_has_no_sample() -> None:
    stats = shot_stats([], SHOTS[:1])[0]

    assert (stats.frame_class, stats.mean_p_fraction, stats.classified_s) == (None, None, 0.0)


def test_film_counts_hybrid_shots_and_longest_hybrid_run() -> None:
    film = film_stats(FRAMES, shot_stats(FRAMES, SHOTS), duration_s=8.0)

    assert (film.shot_count, film.hybrid_shot_count) == (2, 1)
    assert film.longest_hybrid_run_s == pytest.approx(3.0)


def test_longest_hybrid_run_breaks_when_a_non_hybrid_frame_intervenes() -> None:
    frames = [
        result(0, 0.0, HYBRID, 0.5, 2.0),
        result(20, 2.0, P, 1.0, 1.0),
        result(30, 3.0, HYBRID, 0.5, 1.5),
    ]

    assert film_stats(frames, [], duration_s=4.5).longest_hybrid_run_s == pytest.approx(2.0)


def test_film_shares_are_none_when_nothing_was_classified() -> None:
    film = film_stats([], [], duration_s=10.0)

    shares = (film.hybrid_ratio, film.p_time_share, film.np_time_share, film.hybrid_time_share)
    assert shares == (None, None, None, None)
    assert film.mean_p_fraction is None


def test_timeline_splits_frame_weight_across_bins() -> None:
    bins = timeline(FRAMES, duration_s=8.0, bins=4)

    assert [b.p_share for b in bins] == pytest.approx([1.0, 1.0, 0.0, 0.0])
    assert [b.hybrid_share for b in bins] == pytest.approx([0.0, 0.0, 1.0, 0.5])
    assert [b.np_share for b in bins] == pytest.approx([0.0, 0.0, 0.0, 0.5])
    assert bins[2].mean_p_fraction == pytest.approx((0.5 + 0.3) / 2)
    assert (bins[0].start_s, bins[-1].end_s) == (0.0, 8.0)


def test_timeline_bin_is_empty_when_no_frame_covers_it() -> None:
    bins = timeline([result(0, 0.0, P, 1.0, 1.0)], duration_s=4.0, bins=2)

    assert (bins[1].classified_s, bins[1].mean_p_fraction) == (0.0, None)
