"""The hybrid ratio adjusted for the cascade's measured error rates."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.core.domain import FrameClass
from app.pipeline.quantify import (
    HybridRates,
    collection_range,
    credible_interval,
    measure_rates,
    ratio_range,
    share_draws,
    spread,
)
from app.pipeline.shots import Shot
from app.pipeline.stats import FrameResult, _range_units, film_stats, shot_stats
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
            "balance_colour": RATES.balance_colour,
        }
        given.update(changes)
        return rates.applies_to(
            str(given["classifier_version"]),
            str(given["segmenter_version"]),
            float(given["min_area"]),  # type: ignore[arg-type]
            overrules=bool(given["overrules"]),
            segment_all=bool(given["segment_all"]),
            balance_colour=bool(given["balance_colour"]),
        )

    assert applies()
    assert not applies(classifier_version="other")
    assert not applies(segmenter_version="other")
    assert not applies(min_area=0.05)
    assert not applies(overrules=True)
    assert not applies(segment_all=True)
    # Rates measured on frames with their colour casts taken out hold only for such analyses.
    assert not applies(balance_colour=not RATES.balance_colour)
    # Rates stored before that was recorded were measured without it.
    older = {k: v for k, v in RATES.as_meta().items() if k != "balance_colour"}
    assert HybridRates.from_meta(older) == dataclasses.replace(RATES, balance_colour=False)
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
    assert unadjusted.hybrid_ratio_range is None
    assert film_stats([], [], duration_s=10.0, rates=RATES).hybrid_ratio_range is None
    assert film.hybrid_ratio_range is not None
    low, high = film.hybrid_ratio_range
    assert low <= film.adjusted_hybrid_ratio <= high


def _called(units: int, share: float) -> np.ndarray:
    return np.arange(units) < round(units * share)


def test_ratio_range_holds_the_adjusted_share_and_narrows_with_more_units() -> None:
    widths = []
    for units in (10, 100, 1000):
        called = _called(units, 0.4)
        low, high = ratio_range(called, np.ones(units), RATES)
        assert 0.0 <= low <= RATES.adjust(0.4) <= high <= 1.0
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0.0
    # What the count cannot tell apart stays open: a film called 40 % hybrid over ten shots
    # could be 20 % or 60 % hybrid; over a thousand, not.
    assert widths[0] > 0.25 and widths[2] < 0.2


def test_ratio_range_is_the_same_each_time_and_weighs_units_by_running_time() -> None:
    called = _called(50, 0.3)
    assert ratio_range(called, np.ones(50), RATES) == ratio_range(called, np.ones(50), RATES)
    # Long shots called hybrid among short ones: the share is one of running time (0.81
    # counted), not of shots (0.3).
    weights = np.where(called, 10.0, 1.0)
    low, high = ratio_range(called, weights, RATES)
    counted = float(np.average(called, weights=weights))
    assert counted > 0.8 and low <= RATES.adjust(counted) <= high and low > 0.45


def test_frames_of_one_shot_err_together_so_a_film_of_few_shots_is_less_certain() -> None:
    frames = [
        FrameResult(i, float(i), FrameClass.HYBRID if i % 10 < 4 else FrameClass.P, 0.5, 1.0)
        for i in range(100)
    ]
    # Ten shots, each with its frames called hybrid and P: twenty units ...
    few = [
        Shot(
            index=n,
            start_frame=n * 10,
            end_frame=n * 10 + 9,
            start_time=n * 10.0,
            end_time=n * 10.0 + 10.0,
        )
        for n in range(10)
    ]
    # ... against a hundred shots of one frame each: a hundred units.
    many = [
        Shot(index=n, start_frame=n, end_frame=n, start_time=float(n), end_time=n + 1.0)
        for n in range(100)
    ]
    ranges = []
    for shots in (few, many):
        film = film_stats(frames, shot_stats(frames, shots), duration_s=100.0, rates=RATES)
        assert film.hybrid_ratio == pytest.approx(0.4)
        assert film.hybrid_ratio_range is not None
        ranges.append(film.hybrid_ratio_range[1] - film.hybrid_ratio_range[0])
    assert ranges[0] > ranges[1]


def test_a_range_at_0_or_1_starts_there_so_one_shot_called_p_is_not_0_to_1() -> None:
    # One shot called P: all hybrid (missed, about 1 - tpr of the time) or not at all. The
    # central 90 % would run from 0 to 1 whenever the miss is likelier than 5 %.
    rates = dataclasses.replace(RATES, tpr=0.93)
    assert ratio_range(np.array([False]), np.ones(1), rates) == (0.0, 0.0)
    assert credible_interval(np.array([0.0] * 94 + [1.0] * 6), 0.9) == (0.0, 0.0)
    assert credible_interval(np.array([0.0] * 6 + [1.0] * 94), 0.9) == (1.0, 1.0)
    # Away from the bounds: the central interval.
    inner = np.linspace(0.1, 0.5, 1001)
    assert credible_interval(inner, 0.9) == pytest.approx((0.12, 0.48))
    # Ten draws in a hundred at 0: the interval starts there and ends at the 90th percentile;
    # with six, at the 94th: its end moves in smoothly as the share at 0 grows past 5 %.
    for at_0, end in ((10, 0.9), (6, 0.94), (4, None)):
        draws = np.concatenate([np.zeros(at_0), np.linspace(0.1, 0.3, 100 - at_0)])
        if end is None:  # 4 %: less than the tail, the central interval
            assert credible_interval(draws, 0.9) == pytest.approx(
                tuple(np.quantile(draws, [0.05, 0.95]))
            )
        else:
            assert credible_interval(draws, 0.9) == (0.0, pytest.approx(np.quantile(draws, end)))


def test_a_film_drawn_all_hybrid_is_exactly_1_so_its_range_ends_there() -> None:
    # Uneven shots, most called hybrid: many chains draw every shot hybrid, and their share
    # must be 1.0, not a hair under it, for the range to end at 1.
    weights = np.array([0.3, 1.7, 2.9, 0.7, 1.1])
    low, high = ratio_range(np.array([True, True, True, True, False]), weights, RATES)
    assert high == 1.0 and low > 0.5


def test_the_range_holds_the_truth_about_as_often_as_it_says_on_films_made_by_its_model() -> None:
    # Films whose own rates differ from the measured ones by the spreads: each film's hybrid
    # share, its units' truth, and the calls its rates give them.
    rates = dataclasses.replace(RATES, tpr_spread=0.05, fpr_spread=0.04)
    rng = np.random.default_rng(7)
    held = []
    for film in range(200):
        units = int(rng.integers(5, 80))
        truly = rng.random(units) < rng.random()
        tpr = np.clip(rng.normal(rates.tpr, 0.05), 0.0, 1.0)
        fpr = np.clip(rng.normal(rates.fpr, 0.04), 0.0, 1.0)
        called = rng.random(units) < np.where(truly, tpr, fpr)
        low, high = ratio_range(called, np.ones(units), rates, seed=film)
        held.append(low - 1e-9 <= truly.mean() <= high + 1e-9)
    # 0.90 here; 0.84 for a range that leaves out how uncertain the rates are.
    assert 0.86 <= np.mean(held) <= 0.97


def test_range_units_are_a_shots_frames_called_alike() -> None:
    shots = [
        Shot(index=0, start_frame=0, end_frame=9, start_time=0.0, end_time=1.0),
        Shot(index=1, start_frame=20, end_frame=29, start_time=2.0, end_time=3.0),
    ]
    frames = [
        FrameResult(0, 0.0, FrameClass.P, 1.0, 0.5),
        FrameResult(5, 0.5, FrameClass.NP, 0.0, 0.5),  # P and NP: one unit not hybrid
        FrameResult(8, 0.8, FrameClass.HYBRID, 0.5, 0.25),
        FrameResult(15, 1.5, FrameClass.HYBRID, 0.5, 1.0),  # between the shots: its own
        FrameResult(16, 1.6, FrameClass.HYBRID, 0.5, 1.0),  # and so is this one
        FrameResult(25, 2.5, FrameClass.HYBRID, 0.5, 2.0),
    ]
    called, weights = _range_units(frames, shot_stats(frames, shots))
    assert sorted(zip(called, weights, strict=True)) == [
        (False, 1.0),
        (True, 0.25),
        (True, 1.0),
        (True, 1.0),
        (True, 2.0),
    ]


def test_rates_stored_without_spreads_adjust_but_give_no_range() -> None:
    old = {k: v for k, v in RATES.as_meta().items() if not k.endswith("_spread")}
    rates = HybridRates.from_meta(old)
    assert rates is not None and not rates.ranged
    frames = [
        FrameResult(i, float(i), FrameClass.HYBRID if i < 3 else FrameClass.P, 0.5, 1.0)
        for i in range(10)
    ]
    shots = [Shot(index=0, start_frame=0, end_frame=9, start_time=0.0, end_time=10.0)]
    film = film_stats(frames, shot_stats(frames, shots), duration_s=10.0, rates=rates)
    assert film.adjusted_hybrid_ratio is not None and film.hybrid_ratio_range is None
    with pytest.raises(ValueError, match="no range"):
        ratio_range(np.array([True]), np.ones(1), rates)
    with pytest.raises(ValueError, match="level"):
        ratio_range(np.array([True]), np.ones(1), RATES, level=1.0)
    with pytest.raises(ValueError, match="frames of both kinds"):
        dataclasses.replace(RATES, homogeneous_frames=0)


def test_a_collections_films_share_the_rates_and_err_apart_otherwise() -> None:
    called, weights = _called(40, 0.3), np.ones(40)
    one = share_draws(called, weights, RATES)
    first = share_draws(called, weights, RATES, stream=1)
    second = share_draws(called, weights, RATES, stream=2)
    # The same rates chain by chain (the draws agree in their drift), the rest apart.
    assert not np.array_equal(first, second)
    assert 0.2 < np.corrcoef(first, second)[0, 1] < 0.99
    assert share_draws(called, weights, RATES, stream=1) is first  # kept
    low, high = collection_range([(1, called, weights, 60.0), (2, called, weights, 60.0)], RATES)
    alone_low, alone_high = credible_interval(one, 0.9)
    assert high - low < alone_high - alone_low
    # Films of no running time weigh nothing; none at all is refused.
    assert collection_range(
        [(1, called, weights, 60.0), (2, ~called, weights, 0.0)], RATES
    ) == collection_range([(1, called, weights, 60.0)], RATES)
    with pytest.raises(ValueError, match="running time"):
        collection_range([(1, called, weights, 0.0)], RATES)


def test_ratio_range_refuses_units_without_running_time() -> None:
    with pytest.raises(ValueError, match="one weight per unit"):
        ratio_range(np.array([True, False]), np.ones(3), RATES)
    with pytest.raises(ValueError, match="at least one unit"):
        ratio_range(np.array([True]), np.zeros(1), RATES)


def test_spread_is_what_the_groups_differ_by_beyond_their_sizes() -> None:
    groups = np.repeat(["a", "b", "c", "d"], 50)
    # Every group 10 % hybrid: sampling explains it all.
    same = np.tile(np.arange(50) < 5, 4)
    assert spread(same, groups) == 0.0
    # 0 %, 0 %, 20 % and 40 %: they differ. Between the four: variance 0.11 / 3 (about
    # 0.0367); sampling within: (0.2 x 0.8 + 0.4 x 0.6) / 4 / 49 (about 0.0020).
    apart = np.concatenate([np.zeros(100, bool), np.arange(50) < 10, np.arange(50) < 20])
    assert spread(apart, groups) == pytest.approx(0.18608, abs=1e-4)
    # Groups of one frame say nothing of the spread: left out, not taken as exact.
    single = np.concatenate([same[:150], [True, False, True, False]])
    labels = np.concatenate([groups[:150], ["e", "f", "g", "h"]])
    assert spread(single, labels) == 0.0
    assert spread(apart, np.full(200, "a")) == 0.0  # one group: nothing to compare


def test_a_spread_between_sources_widens_the_range() -> None:
    called = _called(200, 0.1)
    low, high = ratio_range(called, np.ones(200), RATES)
    wide_low, wide_high = ratio_range(
        called, np.ones(200), dataclasses.replace(RATES, fpr_spread=0.08)
    )
    assert wide_high - wide_low > high - low
    with pytest.raises(ValueError, match="spreads"):
        dataclasses.replace(RATES, tpr_spread=0.6)


def test_measure_rates_with_groups_measures_their_spread() -> None:
    true_hybrid = np.repeat([True, False], 100)
    homogeneous = ~true_hybrid
    # Hybrids of two kinds found at 100 % and 60 %; homogeneous frames of two sources at 0 %.
    called = np.concatenate([np.ones(50, bool), np.arange(50) < 30, np.zeros(100, bool)])
    groups = np.repeat(["cutout", "lettering", "photos", "drawings"], 50)
    rates = measure_rates(
        called, true_hybrid, homogeneous, groups=groups,
        classifier_version="clf", segmenter_version="abc", min_area=0.08,
    )  # fmt: skip
    assert rates.tpr == pytest.approx(0.8) and rates.tpr_spread > 0.2
    assert rates.fpr == 0.0 and rates.fpr_spread == 0.0
    assert HybridRates.from_meta(rates.as_meta()) == rates
