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

Pure arithmetic; ``bench/bench_ratio.py`` measures it on held-out sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
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

    def __post_init__(self) -> None:
        if not (0.0 <= self.fpr <= 1.0 and 0.0 <= self.tpr <= 1.0):
            raise ValueError("hybrid rates must lie in [0, 1]")

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
    ) -> bool:
        """Whether an analysis made with these models and settings decides frames as the
        rates were measured (``segment_all`` lets the segmenter decide every frame: never)."""
        return (
            self.usable
            and not segment_all
            and classifier_version == self.classifier_version
            and segmenter_version == self.segmenter_version
            and overrules == self.segmenter_overrules
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
            f"homogeneous called hybrid {self.fpr:.3f} ({self.homogeneous_frames} frames)"
        )


def measure_rates(
    called_hybrid: Sequence[bool] | np.ndarray,
    true_hybrid: Sequence[bool] | np.ndarray,
    homogeneous: Sequence[bool] | np.ndarray,
    *,
    classifier_version: str,
    segmenter_version: str,
    min_area: float,
    segmenter_overrules: bool = False,
) -> HybridRates:
    """The rates from frames of known truth: ``tpr`` over the true hybrids, ``fpr`` over the
    homogeneous frames (composites whose drawn or photographed area is under the class
    threshold are neither, and are left out)."""
    called = np.asarray(called_hybrid, bool)
    hybrids = np.asarray(true_hybrid, bool)
    homog = np.asarray(homogeneous, bool) & ~hybrids
    if not hybrids.any() or not homog.any():
        raise ValueError("hybrid rates need both hybrid and homogeneous frames of known truth")
    return HybridRates(
        tpr=float(called[hybrids].mean()),
        fpr=float(called[homog].mean()),
        hybrid_frames=int(hybrids.sum()),
        homogeneous_frames=int(homog.sum()),
        classifier_version=classifier_version,
        segmenter_version=segmenter_version,
        min_area=min_area,
        segmenter_overrules=segmenter_overrules,
    )
