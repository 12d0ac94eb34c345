"""A film's hybrid ratio: counting frames called hybrid against adjusting the count for the
models' known error rates (adjusted classify-and-count, Forman 2008).

Counting frames called hybrid is biased whenever the cascade misses hybrids or calls
homogeneous frames hybrid: a film's true share ``h`` comes out as ``fpr + (tpr - fpr) h``.
With the two rates measured on frames of known truth, ``(q - fpr) / (tpr - fpr)`` (clipped to
[0, 1]) undoes the bias in expectation. Whether that holds on sources the rates were not
measured on is what this bench asks.

Films are simulated from frames of known truth: for each true hybrid share 0, 0.1 ... 1.0,
``--films`` films of ``--frames`` frames drawn (with replacement) from the set's composites
that are hybrid and its homogeneous frames. Printed per share and overall: mean absolute
error of the counted and the adjusted ratio.

- calibration sources, 5-fold: the rates from four folds, films drawn from the fifth (the
  choice between counting and adjusting is made here);
- validation sources: the rates from all calibration frames, films drawn from validation
  (measured, never chosen on).

    nice .venv/bin/python bench/bench_ratio.py [--classifier DIR] [--segmenter DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_decision import HYBRID, add_arguments, measure, predict, truth

from app.pipeline.quantify import HybridRates, measure_rates

SHARES = np.round(np.linspace(0.0, 1.0, 11), 2)


def simulate(
    called: np.ndarray,
    true_hybrid: np.ndarray,
    homogeneous: np.ndarray,
    rates: HybridRates,
    frames: int,
    films: int,
    rng: np.random.Generator,
) -> dict[float, tuple[float, float]]:
    """Mean absolute error (counted, adjusted) per true hybrid share."""
    hybrids = np.flatnonzero(true_hybrid)
    others = np.flatnonzero(homogeneous)
    result = {}
    for share in SHARES:
        n_hybrid = round(share * frames)
        counted_err, adjusted_err = [], []
        for _ in range(films):
            chosen = np.concatenate(
                [rng.choice(hybrids, n_hybrid), rng.choice(others, frames - n_hybrid)]
            )
            true = n_hybrid / frames
            counted = float(np.mean(called[chosen]))
            counted_err.append(abs(counted - true))
            adjusted_err.append(abs(rates.adjust(counted) - true))
        result[float(share)] = (float(np.mean(counted_err)), float(np.mean(adjusted_err)))
    return result


def report(name: str, errors: dict[float, tuple[float, float]]) -> None:
    print(f"\n{name}: true share -> mean abs error counted / adjusted")
    for share, (counted, adjusted) in errors.items():
        print(f"  {share:.1f}  {counted:.3f} / {adjusted:.3f}")
    counted_all = np.mean([c for c, _ in errors.values()])
    adjusted_all = np.mean([a for _, a in errors.values()])
    print(f"  all  {counted_all:.3f} / {adjusted_all:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--films", type=int, default=200)
    args = parser.parse_args()
    measured = measure(args)
    classifier, segmenter, thresholds = (
        measured.classifier,
        measured.segmenter,
        measured.thresholds,
    )
    data = {}
    for name, (x, samples) in measured.sets.items():
        called = predict("keep", x, thresholds) == HYBRID
        true_hybrid = truth(samples, thresholds) == HYBRID
        homogeneous = np.array([s.style in ("P", "NP") for s in samples])
        data[name] = (called, true_hybrid, homogeneous)
    context = {
        "classifier_version": classifier.version,
        "segmenter_version": segmenter.version,
        "min_area": thresholds.min_area,
    }
    rng = np.random.default_rng(0)
    called, true_hybrid, homogeneous = data["calibration"]
    folds = rng.permutation(len(called)) % 5
    pooled: dict[float, list[tuple[float, float]]] = {float(s): [] for s in SHARES}
    for k in range(5):
        fit = folds != k
        rates = measure_rates(called[fit], true_hybrid[fit], homogeneous[fit], **context)
        test = folds == k
        errors = simulate(
            called[test], true_hybrid[test], homogeneous[test], rates, args.frames, args.films, rng
        )
        for share, pair in errors.items():
            pooled[share].append(pair)
    report(
        "calibration sources, 5-fold",
        {
            s: (float(np.mean([c for c, _ in v])), float(np.mean([a for _, a in v])))
            for s, v in pooled.items()
        },
    )
    rates = measure_rates(called, true_hybrid, homogeneous, **context)
    print(f"\nrates from all calibration frames: {rates}")
    print(f"rates stored with the classifier: {classifier.hybrid_rates}")
    called_v, true_v, homog_v = data["validation"]
    print(
        f"validation's own rates (not used): {measure_rates(called_v, true_v, homog_v, **context)}"
    )
    report(
        "validation sources",
        simulate(called_v, true_v, homog_v, rates, args.frames, args.films, rng),
    )


if __name__ == "__main__":
    main()
