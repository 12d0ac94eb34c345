"""The hybrid ratio adjusted for the cascade's measured error rates."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.core.domain import FrameClass
from app.pipeline.quantify import HybridRates, adjusted_ratio, measure_rates
from app.pipeline.shots import Shot
from app.pipeline.stats import FrameResult, film_stats, shot_stats

RATES = HybridRates(
    tpr=0.8,
    fpr=0.05,
    hybrid_frames=200,
    homogeneous_frames=100,
    segmenter_version="abc",
    min_area=0.08,
)


def test_adjust_inverts_the_expected_count() -> None:
    for true in (0.0, 0.1, 0.5, 0.9, 1.0):
        counted = RATES.fpr + (RATES.tpr - RATES.fpr) * true
        assert RATES.adjust(counted) == pytest.approx(true)


def test_adjust_clips_counts_outside_what_the_rates_can_give() -> None:
    assert RATES.adjust(0.01) == 0.0  # fewer hybrids than the false alarms alone
    assert RATES.adjust(0.95) == 1.0


def test_rates_apply_only_to_the_settings_they_were_measured_with() -> None:
    def applies(**changes: object) -> bool:
        given = {"segmenter_version": "abc", "min_area": 0.08, "overrules": False}
        given.update(changes)
        return RATES.applies_to(
            str(given["segmenter_version"]),
            float(given["min_area"]),  # type: ignore[arg-type]
            overrules=bool(given["overrules"]),
            segment_all=bool(given.get("segment_all", False)),
        )

    assert applies()
    assert not applies(segmenter_version="other")
    assert not applies(min_area=0.05)
    assert not applies(overrules=True)
    assert not applies(segment_all=True)
    # Rates that barely tell hybrid from homogeneous frames would amplify noise.
    weak = dataclasses.replace(RATES, tpr=0.3, fpr=0.1)
    assert not weak.usable
    assert not weak.applies_to("abc", 0.08, overrules=False, segment_all=False)


def test_rates_round_trip_and_unreadable_rates_are_none() -> None:
    assert HybridRates.from_meta(RATES.as_meta()) == RATES
    assert HybridRates.from_meta(None) is None
    assert HybridRates.from_meta({"tpr": 0.8}) is None  # fields missing
    assert HybridRates.from_meta({**RATES.as_meta(), "tpr": 1.5}) is None
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dataclasses.replace(RATES, fpr=-0.1)


def test_measure_rates_counts_hybrids_and_homogeneous_frames_apart() -> None:
    called = np.array([True, True, True, False, True, False, False, True])
    true_hybrid = np.array([True, True, True, True, False, False, False, False])
    # The last frame is a composite under the class threshold: neither hybrid nor homogeneous.
    homogeneous = np.array([False, False, False, False, True, True, True, False])

    rates = measure_rates(called, true_hybrid, homogeneous, segmenter_version="abc", min_area=0.08)

    assert (rates.tpr, rates.fpr) == pytest.approx((0.75, 1 / 3))
    assert (rates.hybrid_frames, rates.homogeneous_frames) == (4, 3)
    with pytest.raises(ValueError, match="both hybrid and homogeneous"):
        measure_rates(called, true_hybrid, np.zeros(8, bool), segmenter_version="", min_area=0.08)


def test_checked_time_counts_as_it_is_and_the_rest_is_adjusted() -> None:
    # 10 s classified: 4 s checked by a person (1 s of it hybrid), 6 s by the models of which
    # 2.3 s called hybrid (a share the rates turn into 0.4444...).
    model_share = (2.3 / 6 - RATES.fpr) / (RATES.tpr - RATES.fpr)
    expected = (1.0 + model_share * 6.0) / 10.0

    assert adjusted_ratio(3.3, 10.0, 1.0, 4.0, RATES) == pytest.approx(expected)
    assert adjusted_ratio(3.3, 10.0, 1.0, 4.0, None) is None
    assert adjusted_ratio(0.0, 0.0, 0.0, 0.0, RATES) is None
    # Everything checked: nothing left to adjust.
    assert adjusted_ratio(3.0, 10.0, 3.0, 10.0, RATES) == pytest.approx(0.3)


def test_film_stats_adjusts_the_hybrid_ratio_and_leaves_the_counted_one() -> None:
    shots = [Shot(index=0, start_frame=0, end_frame=99, start_time=0.0, end_time=10.0)]

    def frame(index: int, frame_class: FrameClass, checked: bool = False) -> FrameResult:
        return FrameResult(index * 10, float(index), frame_class, 0.5, 1.0, checked)

    frames = [frame(i, FrameClass.HYBRID if i < 4 else FrameClass.P) for i in range(10)]
    film = film_stats(frames, shot_stats(frames, shots), duration_s=10.0, rates=RATES)

    assert film.hybrid_ratio == pytest.approx(0.4)
    assert film.adjusted_hybrid_ratio == pytest.approx(RATES.adjust(0.4))
    assert (
        film_stats(frames, shot_stats(frames, shots), duration_s=10.0).adjusted_hybrid_ratio is None
    )

    # A person checked one of the P frames: it stays P, the other nine are adjusted.
    frames[9] = frame(9, FrameClass.P, checked=True)
    film = film_stats(frames, shot_stats(frames, shots), duration_s=10.0, rates=RATES)
    assert film.adjusted_hybrid_ratio == pytest.approx(RATES.adjust(4 / 9) * 9 / 10)
