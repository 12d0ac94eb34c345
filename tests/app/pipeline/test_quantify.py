"""The hybrid ratio adjusted for the cascade's measured error rates."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.core.domain import FrameClass
from app.pipeline.quantify import HybridRates, measure_rates
from app.pipeline.shots import Shot
from app.pipeline.stats import FrameResult, film_stats, shot_stats
from tests.app.factories import hybrid_rates

RATES = hybrid_rates(classifier_version="clf", segmenter_version="abc")


def test_adjust_inverts_the_expected_count() -> None:
    for true in (0.0, 0.1, 0.5, 0.9, 1.0):
        counted = RATES.fpr + (RATES.tpr - RATES.fpr) * true
        assert RATES.adjust(counted) == pytest.approx(true)


def test_adjust_clips_counts_outside_what_the_rates_can_give() -> None:
    assert RATES.adjust(0.01) == 0.0  # fewer hybrids than the false alarms alone
    assert RATES.adjust(0.95) == 1.0


def test_rates_apply_only_to_the_models_and_settings_they_were_measured_with() -> None:
    def applies(rates: HybridRates = RATES, **changes: object) -> bool:
        given: dict[str, object] = {
            "classifier_version": "clf",
            "segmenter_version": "abc",
            "min_area": 0.08,
            "overrules": False,
            "segment_all": False,
        }
        given.update(changes)
        return rates.applies_to(
            str(given["classifier_version"]),
            str(given["segmenter_version"]),
            float(given["min_area"]),  # type: ignore[arg-type]
            overrules=bool(given["overrules"]),
            segment_all=bool(given["segment_all"]),
        )

    assert applies()
    assert not applies(classifier_version="other")
    assert not applies(segmenter_version="other")
    assert not applies(min_area=0.05)
    assert not applies(overrules=True)
    assert not applies(segment_all=True)
    # Rates that barely tell hybrid from homogeneous frames would amplify noise: never used.
    weak = dataclasses.replace(RATES, tpr=0.3, fpr=0.1)
    assert not weak.usable and not applies(weak)
    with pytest.raises(ValueError, match="cannot separate"):
        weak.adjust(0.2)
    assert HybridRates.from_meta(weak.as_meta()) is None


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

    rates = measure_rates(
        called,
        true_hybrid,
        homogeneous,
        classifier_version="clf",
        segmenter_version="abc",
        min_area=0.08,
    )

    assert (rates.tpr, rates.fpr) == pytest.approx((0.75, 1 / 3))
    assert (rates.hybrid_frames, rates.homogeneous_frames) == (4, 3)
    with pytest.raises(ValueError, match="both hybrid and homogeneous"):
        measure_rates(
            called,
            true_hybrid,
            np.zeros(8, bool),
            classifier_version="",
            segmenter_version="",
            min_area=0.08,
        )


def test_film_stats_adjusts_the_hybrid_ratio_and_leaves_the_counted_one() -> None:
    shots = [Shot(index=0, start_frame=0, end_frame=99, start_time=0.0, end_time=10.0)]
    frames = [
        FrameResult(i * 10, float(i), FrameClass.HYBRID if i < 4 else FrameClass.P, 0.5, 1.0)
        for i in range(10)
    ]

    film = film_stats(frames, shot_stats(frames, shots), duration_s=10.0, rates=RATES)

    assert film.hybrid_ratio == pytest.approx(0.4)
    assert film.adjusted_hybrid_ratio == pytest.approx((0.4 - 0.05) / 0.75)
    unadjusted = film_stats(frames, shot_stats(frames, shots), duration_s=10.0)
    assert unadjusted.adjusted_hybrid_ratio is None
    assert film_stats([], [], duration_s=10.0, rates=RATES).adjusted_hybrid_ratio is None
