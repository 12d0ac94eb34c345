"""A film's hybrid ratio adjusted for the cascade's known error rates (adjusted classify and
count: G. Forman, "Quantifying counts and costs via classification", 2008).

Counting the frames called hybrid is biased: a film whose true hybrid share is ``h`` comes
out, in expectation, at ``fpr + (tpr - fpr) * h``, where ``tpr`` is the share of hybrid
frames the cascade calls hybrid and ``fpr`` the share of homogeneous frames it calls hybrid.
Both are measured on frames of known truth from the calibration sources (``hybridlens train
calibrate``, stored with the classifier), and the count is inverted:
``(q - fpr) / (tpr - fpr)``, clipped to [0, 1]. The adjustment is right in expectation over
a film's frames, not per frame: the frame classes, the shots and the timeline stay as the
models called them.

It assumes every frame is the models' call. Once people have labelled or masked frames of a
film (or their labels were propagated), it is not applied: the frames they chose to correct
are not a random sample (the page lists the least sure first), so the rates no longer
describe the frames left, and the counted ratio with their corrections stands.

Beside the point figure, ``ratio_range`` gives the range the film's true hybrid share
plausibly lies in (90 % by default): how far the count can be off given the rates, how
precisely the rates were measured, how much they differ between kinds of hybrid and between
sources (``tpr_spread``, ``fpr_spread``), and that the frames of one shot err together.

Pure arithmetic; ``bench/bench_ratio.py`` measures both on held-out sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

# Below this gap between the two rates the inversion amplifies noise more than it removes
# bias (the error of the counted share is divided by the gap): no adjustment then.
MIN_RATE_GAP = 0.3


@dataclass(frozen=True)
class HybridRates:
    """How often the cascade calls a frame hybrid, per true kind of frame, and what it was
    measured with: rates hold only for the same models, decision rule and threshold."""

    tpr: float  # P(called hybrid | hybrid)
    fpr: float  # P(called hybrid | homogeneous)
    hybrid_frames: int
    homogeneous_frames: int
    classifier_version: str
    segmenter_version: str
    min_area: float
    segmenter_overrules: bool = False
    # Whether the models took colour casts out (``ModelSettings.balance_colour``); rates
    # stored before it was recorded were measured without.
    balance_colour: bool = False
    # How much the rates differ, beyond sampling, between kinds of hybrid (composite styles,
    # for ``tpr``) and between sources (for ``fpr``), as standard deviations: a film is one
    # kind and one source, not the calibration mix. None when not measured (rates stored
    # before spreads were): such rates adjust the ratio but give it no range.
    tpr_spread: float | None = None
    fpr_spread: float | None = None

    def __post_init__(self) -> None:
        if not (0.0 <= self.fpr <= 1.0 and 0.0 <= self.tpr <= 1.0):
            raise ValueError("hybrid rates must lie in [0, 1]")
        if self.hybrid_frames < 1 or self.homogeneous_frames < 1:
            raise ValueError("hybrid rates need frames of both kinds")
        for value in (self.tpr_spread, self.fpr_spread):
            if value is not None and not 0.0 <= value <= 0.5:
                raise ValueError("hybrid rate spreads must lie in [0, 0.5]")

    @property
    def ranged(self) -> bool:
        """Whether a film's ratio can be given a range by these rates (their spreads were
        measured)."""
        return self.usable and self.tpr_spread is not None and self.fpr_spread is not None

    @property
    def usable(self) -> bool:
        return self.tpr - self.fpr >= MIN_RATE_GAP

    def applies_to(
        self,
        classifier_version: str,
        segmenter_version: str,
        min_area: float,
        *,
        overrules: bool,
        segment_all: bool,
        balance_colour: bool,
    ) -> bool:
        """Whether an analysis made with these models and settings decides frames as the
        rates were measured (``segment_all`` lets the segmenter decide every frame: never)."""
        return (
            self.usable
            and not segment_all
            and classifier_version == self.classifier_version
            and segmenter_version == self.segmenter_version
            and overrules == self.segmenter_overrules
            and balance_colour == self.balance_colour
            and abs(min_area - self.min_area) < 1e-9
        )

    def adjust(self, counted: float) -> float:
        """The true hybrid share that, in expectation, gives the ``counted`` share."""
        if not self.usable:
            raise ValueError("these rates cannot separate hybrid from homogeneous frames")
        return float(min(1.0, max(0.0, (counted - self.fpr) / (self.tpr - self.fpr))))

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> HybridRates | None:
        """Rates as stored (a model's ``hybridlens.json``, an analysis summary); None when
        absent, not readable as rates or not usable (an older or hand-edited file adjusts
        nothing)."""
        if not meta:
            return None
        try:
            rates = cls(**meta)
        except (TypeError, ValueError):
            return None
        return rates if rates.usable else None

    def as_meta(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"hybrid called hybrid {self.tpr:.3f} ({self.hybrid_frames} frames), "
            f"homogeneous called hybrid {self.fpr:.3f} ({self.homogeneous_frames} frames); "
            f"spread between kinds {_figure(self.tpr_spread)}, "
            f"between sources {_figure(self.fpr_spread)}"
        )


def _figure(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.3f}"


def measure_rates(
    called_hybrid: Sequence[bool] | np.ndarray,
    true_hybrid: Sequence[bool] | np.ndarray,
    homogeneous: Sequence[bool] | np.ndarray,
    *,
    classifier_version: str,
    segmenter_version: str,
    min_area: float,
    segmenter_overrules: bool = False,
    balance_colour: bool = False,
    groups: Sequence[str] | None = None,
) -> HybridRates:
    """The rates from frames of known truth: ``tpr`` over the true hybrids, ``fpr`` over the
    homogeneous frames (composites whose drawn or photographed area is under the class
    threshold are neither, and are left out). With ``groups`` (each frame's kind of hybrid
    or source), also how much the rates differ between groups (``spread``); without, the
    spreads are not measured (None) and the rates give no range."""
    called = np.asarray(called_hybrid, bool)
    hybrids = np.asarray(true_hybrid, bool)
    homog = np.asarray(homogeneous, bool) & ~hybrids
    if not hybrids.any() or not homog.any():
        raise ValueError("hybrid rates need both hybrid and homogeneous frames of known truth")
    labels = np.asarray(groups if groups is not None else [""] * len(called))
    return HybridRates(
        tpr=float(called[hybrids].mean()),
        fpr=float(called[homog].mean()),
        hybrid_frames=int(hybrids.sum()),
        homogeneous_frames=int(homog.sum()),
        classifier_version=classifier_version,
        segmenter_version=segmenter_version,
        min_area=min_area,
        segmenter_overrules=segmenter_overrules,
        balance_colour=balance_colour,
        tpr_spread=spread(called[hybrids], labels[hybrids]) if groups is not None else None,
        fpr_spread=spread(called[homog], labels[homog]) if groups is not None else None,
    )


def spread(hits: np.ndarray, groups: np.ndarray) -> float:
    """How much a rate differs between groups beyond what their sizes explain: the standard
    deviation between the groups' rates less the binomial sampling variance within them
    (method of moments), 0 when sampling explains it all or there are fewer than two groups
    of two frames or more.
    Every group counts the same, whatever its size: a film is of one source or kind, any of
    them, not of the calibration set's mix."""
    names, counts = np.unique(groups, return_counts=True)
    names = names[counts >= 2]  # a group of one frame says nothing of its own spread
    if len(names) < 2:
        return 0.0
    sizes = np.array([np.sum(groups == name) for name in names], float)
    rates = np.array([hits[groups == name].mean() for name in names])
    between = float(np.var(rates, ddof=1))
    within = float(np.mean(rates * (1.0 - rates) / (sizes - 1.0)))
    return float(min(0.5, np.sqrt(max(0.0, between - within))))


# The range: chains of the Gibbs sampler (each ends in one draw of the film's share), the
# steps each runs, and how many chains' unit draws are made at once (memory: block x units).
RANGE_CHAINS = 2000
RANGE_STEPS = 40
RANGE_BLOCK = 100
RANGE_LEVEL = 0.9
# A drawn tpr stays at least this far above the drawn fpr (rates closer than this cannot
# separate hybrid frames from the others; ``usable`` keeps the measured ones 0.3 apart).
MIN_DRAWN_GAP = 0.05


def credible_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    """An interval holding at least ``level`` of ``draws``: the central one (``(1 - level) /
    2`` left out on each side), except where more than that lies at a bound of [0, 1] (the
    one holding more, when both do): the interval then starts (or ends) there, and its other
    end moves in from the central one's as the share at the bound grows, reaching the
    ``level`` quantile once twice the tail lies there (no jump as the share crosses the
    tail). A film of one shot called P is all hybrid (a miss) or not at all; with "not at
    all" 94 % of the draws the central interval would be 0 to 1, this one is 0 to 0."""
    tail = (1.0 - level) / 2.0
    at_0, at_1 = float(np.mean(draws <= 0.0)), float(np.mean(draws >= 1.0))
    if max(at_0, at_1) > tail:  # the bound holding more, when both do
        if at_0 >= at_1:
            return 0.0, float(np.quantile(draws, 1.0 - min(2.0 * tail, at_0)))
        return float(np.quantile(draws, min(2.0 * tail, at_1))), 1.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return float(low), float(high)


def _rate_draws(
    rate: float, frames: int, spread_sd: float, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Plausible rates for one film: Beta draws whose mean is the measured rate (with half a
    frame added each way, so 0 and 1 stay open) and whose variance is the measurement's
    (binomial, over ``frames``) plus the spread between groups. The centre is the rate over
    all frames, where large groups weigh more, while the spread weighs every group the same:
    where small groups err more often (the calibration's fpr: 0.05 over all frames, 0.077
    averaged over its sources), the draws lean to the large groups' rate. Measured groups
    cannot spread by more than ``sqrt(mean (1 - mean))`` (their rates lie in [0, 1]); a
    spread near that is capped at 90 % of it, where the Beta is nearly all at 0 and 1."""
    mean = (rate * frames + 0.5) / (frames + 1.0)
    variance = mean * (1.0 - mean) / (frames + 1.0) + spread_sd**2
    variance = min(variance, 0.9 * mean * (1.0 - mean))
    concentration = mean * (1.0 - mean) / variance - 1.0
    return rng.beta(mean * concentration, (1.0 - mean) * concentration, size)


def ratio_range(
    called_hybrid: Sequence[bool] | np.ndarray,
    weights: Sequence[float] | np.ndarray,
    rates: HybridRates,
    *,
    level: float = RANGE_LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """The range (holding ``level`` of the probability) the true hybrid share of a film
    plausibly lies in, given its units called hybrid or not and their running times.

    A unit is what errs together: the frames of one shot called the same class. Each chain
    draws the rates once (their measurement and spread, ``_rate_draws``), then alternates
    (Gibbs): how many of the units called hybrid, and of the others, are truly hybrid,
    given the rates and the share of hybrid units; that share given those counts (Jeffreys
    prior). Its last step draws each unit's kind, and the share of running time they give
    is the chain's draw. The range is the central ``level`` of the draws, or one that starts
    at 0 (ends at 1) when more than the tail lies there (``credible_interval``). It always
    holds the adjusted ratio (a share of running time, clipped at 0 or 1, which can lie just
    outside the draws when shots differ much in length). Seeded, so a film gets the same
    range each time it is computed; the last 256 films' draws are kept (the statistics pages
    ask again on every request).
    """
    if not 0.0 < level < 1.0:
        raise ValueError("the range's level lies between 0 and 1")
    draws = share_draws(called_hybrid, weights, rates, seed=seed)
    low, high = credible_interval(draws, level)
    called = np.asarray(called_hybrid, bool)
    weight = np.asarray(weights, float)
    adjusted = rates.adjust(float(np.average(called, weights=weight)))
    return float(min(low, adjusted)), float(max(high, adjusted))


def share_draws(
    called_hybrid: Sequence[bool] | np.ndarray,
    weights: Sequence[float] | np.ndarray,
    rates: HybridRates,
    *,
    seed: int = 0,
    stream: int | None = None,
) -> np.ndarray:
    """The film's true hybrid share as the sampler draws it (``ratio_range``): one draw per
    chain, read-only. Chain ``c`` of every film with the same rates and seed draws the same
    rates, so a collection's draws are its films' draws, chain by chain, weighted by their
    running times (``collection_range``); ``stream`` (a film's id) gives the rest of the
    film's draws a stream of its own, so that films err independently given the rates
    (None: the stream of ``seed`` goes on, as for one film's range)."""
    called = np.asarray(called_hybrid, bool)
    weight = np.asarray(weights, float)
    if called.shape != weight.shape or called.ndim != 1:
        raise ValueError("one weight per unit")
    if not rates.ranged:
        raise ValueError("these rates give no range (their spreads were not measured)")
    keep = weight > 0
    called, weight = called[keep], weight[keep]
    if not called.size:
        raise ValueError("a range needs at least one unit with running time")
    return _share_draws(called.tobytes(), weight.tobytes(), rates, seed, stream)


def collection_range(
    films: Sequence[tuple[int, np.ndarray, np.ndarray, float]],
    rates: HybridRates,
    *,
    holding: float | None = None,
    level: float = RANGE_LEVEL,
) -> tuple[float, float]:
    """The range of a collection's true hybrid share of running time, from its films' units
    (``films``: the film's id, its units called hybrid, their running times, and the film's
    weight in the collection, its duration): each chain's draw is the films' draws of that
    chain, weighted. The films' errors move together through the rates (one draw of them
    per chain, shared, spread between sources included: as if every film were of one source,
    which widens the range when they are not) and apart otherwise (each film's own stream).
    Widened to hold ``holding`` (the collection's adjusted figure) when given."""
    films = [film for film in films if film[3] > 0]
    if not films:
        raise ValueError("a collection's range needs films with running time")
    total = sum(duration for *_, duration in films)
    draws = sum(
        duration * share_draws(called, weights, rates, stream=film_id)
        for film_id, called, weights, duration in films
    )
    low, high = credible_interval(np.asarray(draws) / total, level)
    if holding is not None:
        low, high = min(low, holding), max(high, holding)
    return float(low), float(high)


@lru_cache(maxsize=256)
def _share_draws(
    called_bytes: bytes, weight_bytes: bytes, rates: HybridRates, seed: int, stream: int | None
) -> np.ndarray:
    called = np.frombuffer(called_bytes, bool)
    weight = np.frombuffer(weight_bytes, float)
    assert rates.tpr_spread is not None and rates.fpr_spread is not None  # ``ranged``
    rng = np.random.default_rng(seed)
    tpr = _rate_draws(rates.tpr, rates.hybrid_frames, rates.tpr_spread, RANGE_CHAINS, rng)
    fpr = _rate_draws(rates.fpr, rates.homogeneous_frames, rates.fpr_spread, RANGE_CHAINS, rng)
    fpr = np.minimum(fpr, 1.0 - MIN_DRAWN_GAP)
    tpr = np.maximum(tpr, fpr + MIN_DRAWN_GAP)
    if stream is not None:
        rng = np.random.default_rng([seed, stream])
    units, called_units = called.size, int(called.sum())
    share = np.clip((called_units / units - fpr) / (tpr - fpr), 0.02, 0.98)

    def posteriors(share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(truly hybrid) of a unit called hybrid, and of one called otherwise."""
        if_called = share * tpr / (share * tpr + (1.0 - share) * fpr)
        if_not = share * (1.0 - tpr) / (share * (1.0 - tpr) + (1.0 - share) * (1.0 - fpr))
        return if_called, if_not

    for _ in range(RANGE_STEPS):
        if_called, if_not = posteriors(share)
        truly = rng.binomial(called_units, if_called) + rng.binomial(units - called_units, if_not)
        share = rng.beta(0.5 + truly, 0.5 + units - truly)
    if_called, if_not = posteriors(share)
    shares = np.empty(RANGE_CHAINS)
    for first in range(0, RANGE_CHAINS, RANGE_BLOCK):
        block = slice(first, first + RANGE_BLOCK)
        probability = np.where(called[None, :], if_called[block, None], if_not[block, None])
        hits = rng.random(probability.shape) < probability
        # Exactly 0 or 1 when no unit or every unit is drawn hybrid (a sum of weights over
        # their total can land a hair under 1, and ``credible_interval`` looks for 1).
        shares[block] = np.where(hits.all(axis=1), 1.0, hits @ weight / weight.sum())
    shares.flags.writeable = False  # cached: shared by every caller
    return shares
