"""Frame confidence you can act on: the probability that a frame's class (P / NP / hybrid) is right.

A model's raw certainty (mean |2p - 1| over its patches or pixels, or a frame head's top
probability) is not a probability; a frame whose P fraction sits next to a class threshold is
less likely right than its pixels suggest; and a "hybrid" verdict is wrong more often than a
homogeneous one at the same certainty. A logistic calibrator (Platt scaling on certainty, the
distance of the P fraction to the nearest threshold and whether the verdict is hybrid) maps
them to P(class correct). It is fitted on the
calibration sources (held out of training and of validation, ``workers.ml.data``) and stored in
the model's ``hybridlens.json``; expected calibration error (ECE) is measured on validation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from app.core.config import ClassThresholds


def certainty(p_map: np.ndarray) -> float:
    """Mean |2p - 1| of a map of P probabilities: 1 when every cell is certain, 0 at chance."""
    return float(np.abs(2.0 * p_map.astype(np.float32) - 1.0).mean())


def threshold_margin(p_fraction: float, thresholds: ClassThresholds) -> float:
    """Distance of a P fraction to the nearest class boundary (min_area or 1 - min_area)."""
    low, high = thresholds.min_area, 1.0 - thresholds.min_area
    return float(min(abs(p_fraction - low), abs(p_fraction - high)))


def _features(certainties: np.ndarray, margins: np.ndarray, hybrid: np.ndarray) -> np.ndarray:
    # (N, 4): bias, certainty, sqrt(margin) (margins matter most near zero), hybrid verdict
    return np.stack(
        [np.ones_like(certainties), certainties, np.sqrt(margins), hybrid.astype(np.float64)],
        axis=1,
    )


@dataclass(frozen=True)
class Calibration:
    """Logistic map from (certainty, threshold margin, hybrid verdict) to P(class correct)."""

    bias: float
    certainty_weight: float
    margin_weight: float
    hybrid_weight: float = 0.0
    fitted_on: int = 0  # frames it was fitted on

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> Calibration | None:
        return cls(**meta) if meta else None

    def as_meta(self) -> dict[str, Any]:
        return asdict(self)

    def confidence(self, certainty_value: float, margin: float, hybrid: bool = False) -> float:
        z = (
            self.bias
            + self.certainty_weight * certainty_value
            + self.margin_weight * math.sqrt(max(margin, 0.0))
            + self.hybrid_weight * float(hybrid)
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fit_calibration(
    certainties: Sequence[float],
    margins: Sequence[float],
    correct: Sequence[bool],
    hybrid: Sequence[bool] | None = None,
) -> Calibration:
    """Maximum-likelihood logistic regression (Newton steps, a small ridge for stability)."""
    x = _features(
        np.asarray(certainties, np.float64),
        np.asarray(margins, np.float64),
        np.asarray(hybrid if hybrid is not None else [False] * len(certainties), bool),
    )
    y = np.asarray(correct, np.float64)
    if len(y) < 10 or y.min() == y.max():
        raise ValueError("calibration needs at least 10 frames with both right and wrong classes")
    weights = np.zeros(4)
    ridge = 1e-3 * np.eye(4)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ weights, -30, 30)))
        gradient = x.T @ (p - y) + ridge @ weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return Calibration(
        float(weights[0]), float(weights[1]), float(weights[2]), float(weights[3]), len(y)
    )


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """ECE over equal-width confidence bins: sum_b |acc_b - conf_b| * n_b / n."""
    conf = np.asarray(confidences, np.float64)
    hits = np.asarray(correct, np.float64)
    if len(conf) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            error += abs(hits[chosen].mean() - conf[chosen].mean()) * chosen.sum() / len(conf)
    return float(error)
