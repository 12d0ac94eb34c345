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

Then the range hybridlens prints beside the adjusted ratio (``quantify.ratio_range``, 90 %):
how often it holds the true share, and how wide it is, with the rates (and their spreads)
from all calibration frames, on the same simulated films (a frame drawn more than once counts
as one shot of that length) and on films of one kind: ``--films`` films per share whose
hybrids are all of one composite style and whose homogeneous frames all come from one
source, as a film's would, where the rates' spread between kinds matters (and the same with
every frame its own shot: pessimistic, see ``coverage``). On the calibration sources that is
in-sample (the rates were measured on those frames); on validation it is a measurement.

``--real-hybrids`` adds what composites cannot say: the share of the real hybrid images of
``../shared/data/hybrid`` (no masks, so their drawn or photographed area is unknown and some
may lie under the class threshold) that the pipeline's decision calls hybrid, per source.
The classifier never trained on them; the segmenter trained on some with proxy masks.
Burned-in subtitles (``vsrm``) are left out by the pipeline on purpose, and are counted apart.
Of the images missed it says what the segmenter alone sees in them: a minority over
``min_area`` (the decision missed what a model drew), a smaller one (the frame may be P or NP
by the rule: lettering, small pastes) or none (neither model sees the other kind).

    nice .venv/bin/python bench/bench_ratio.py [--classifier DIR] [--segmenter DIR] \\
        [--skip-range | --real-hybrids]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_decision import HYBRID, Measured, add_arguments, measure, predict, truth

from app.core.domain import FrameClass
from app.pipeline.quantify import RANGE_LEVEL, HybridRates, measure_rates, ratio_range
from workers.ml.data import CALIBRATION_SOURCES, VALIDATION_SOURCES, list_images, source_of
from workers.ml.inference import decide_frames

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
    result = {}
    for share in SHARES:
        true = round(share * frames) / frames
        counted_err, adjusted_err = [], []
        for _ in range(films):
            chosen = draw_film(float(share), frames, true_hybrid, homogeneous, None, rng)
            counted = float(np.mean(called[chosen]))
            counted_err.append(abs(counted - true))
            adjusted_err.append(abs(rates.adjust(counted) - true))
        result[float(share)] = (float(np.mean(counted_err)), float(np.mean(adjusted_err)))
    return result


def draw_film(
    share: float,
    frames: int,
    true_hybrid: np.ndarray,
    homogeneous: np.ndarray,
    kinds: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frame indices of one simulated film: ``share`` of them true hybrids; with ``kinds``,
    the hybrids all of one kind and the homogeneous frames all of one kind (source)."""
    hybrids, others = np.flatnonzero(true_hybrid), np.flatnonzero(homogeneous)
    if kinds is not None:
        hybrids = hybrids[kinds[hybrids] == rng.choice(np.unique(kinds[hybrids]))]
        others = others[kinds[others] == rng.choice(np.unique(kinds[others]))]
    n_hybrid = round(share * frames)
    return np.concatenate([rng.choice(hybrids, n_hybrid), rng.choice(others, frames - n_hybrid)])


def coverage(
    called: np.ndarray,
    true_hybrid: np.ndarray,
    homogeneous: np.ndarray,
    kinds: np.ndarray | None,
    rates: HybridRates,
    frames: int,
    films: int,
    rng: np.random.Generator,
    *,
    every_frame_a_shot: bool = False,
) -> dict[float, tuple[float, float, float, float]]:
    """Per true share: the share of films whose range holds the truth, the mean width, the
    share of films where the adjusted ratio is within 0.05 of the truth, and the mean number
    of units (shots) per film. A frame drawn more than once is one unit (one shot, sampled
    as often): its calls are one error. With ``every_frame_a_shot`` each draw is a unit of
    its own, as if the film had 120 shots of its few images (pessimistic: repeats of one
    image err alike, which the range then takes for independent shots)."""
    result = {}
    for share in SHARES:
        held, widths, close, counts = [], [], [], []
        for film in range(films):
            chosen = draw_film(float(share), frames, true_hybrid, homogeneous, kinds, rng)
            true = float(np.mean(true_hybrid[chosen]))
            if every_frame_a_shot:
                units, repeats = chosen, np.ones(len(chosen))
            else:
                units, repeats = np.unique(chosen, return_counts=True)
            low, high = ratio_range(called[units], repeats, rates, seed=film)
            held.append(low - 1e-9 <= true <= high + 1e-9)
            widths.append(high - low)
            close.append(abs(rates.adjust(float(np.mean(called[chosen]))) - true) <= 0.05)
            counts.append(len(units))
        result[float(share)] = (
            float(np.mean(held)),
            float(np.mean(widths)),
            float(np.mean(close)),
            float(np.mean(counts)),
        )
    return result


def report_coverage(name: str, figures: dict[float, tuple[float, float, float, float]]) -> None:
    print(
        f"\n{name}: true share -> {RANGE_LEVEL:.0%} range holds the truth / mean width / "
        "adjusted within 0.05 / shots per film"
    )
    for share, (held, width, close, units) in figures.items():
        print(f"  {share:.1f}  {held:.3f} / {width:.3f} / {close:.3f} / {units:.0f}")
    columns = np.array(list(figures.values()))
    print(
        f"  all  {columns[:, 0].mean():.3f} / {columns[:, 1].mean():.3f} / "
        f"{columns[:, 2].mean():.3f} / {columns[:, 3].mean():.0f}"
    )


def report(name: str, errors: dict[float, tuple[float, float]]) -> None:
    print(f"\n{name}: true share -> mean abs error counted / adjusted")
    for share, (counted, adjusted) in errors.items():
        print(f"  {share:.1f}  {counted:.3f} / {adjusted:.3f}")
    counted_all = np.mean([c for c, _ in errors.values()])
    adjusted_all = np.mean([a for _, a in errors.values()])
    print(f"  all  {counted_all:.3f} / {adjusted_all:.3f}")


def real_hybrids(measured: Measured, folder: Path) -> None:
    """Per source of ``folder``: how many of its real hybrid images the pipeline's decision
    calls hybrid; and of those it misses, what the segmenter alone sees in them (its minority
    share: over ``min_area``, where the decision is the models' miss; a smaller share,
    where the frame may be homogeneous by the rule; or none)."""
    from PIL import Image

    paths = list_images(folder)
    images = [np.asarray(Image.open(path).convert("RGB")) for path in paths]
    classifier, segmenter, thresholds = measured.classifier, measured.segmenter, measured.thresholds
    verdicts = classifier.classify(images, thresholds)
    decisions = decide_frames(classifier, segmenter, images, thresholds, verdicts=verdicts)
    # Every frame segmented: where the classifier called a frame P or NP, its verdict is the
    # segmenter's own.
    segmented = decide_frames(
        classifier, segmenter, images, thresholds, verdicts=verdicts, segment_all=True
    )
    found: dict[str, list[str]] = {}
    for path, decision, alone in zip(paths, decisions, segmented, strict=True):
        if decision.verdict.frame_class is FrameClass.HYBRID:
            outcome = "hybrid"
        else:
            outcome = missed_as(alone.verdict.p_fraction, thresholds.min_area)
        found.setdefault(source_of(path), []).append(outcome)
    print(f"\nreal hybrids of {folder}: called hybrid, per source; of those missed, what the")
    print(f"segmenter alone sees: a minority over {thresholds.min_area:.0%} / a smaller")
    print("one (1% or more) / none")
    for source, outcomes in sorted(found.items()):
        split = (
            "validation"
            if source in VALIDATION_SOURCES
            else "calibration"
            if source in CALIBRATION_SOURCES
            else "training"
        )
        print(f"  {source:10s} {split:12s} {_tally(outcomes)}")
    kept = [
        outcome for source, outcomes in found.items() if source != "vsrm" for outcome in outcomes
    ]
    print(f"  all but burned-in subtitles (vsrm): {_tally(kept)}")


MISSED = ("seen", "small", "none")


def missed_as(p_fraction: float, min_area: float) -> str:
    """What a segmenter's P fraction says of a hybrid the decision missed: its minority
    (the smaller of the P and NP shares) over ``min_area`` ("seen"), at least 1 %
    ("small") or less ("none")."""
    minority = min(p_fraction, 1.0 - p_fraction)
    if minority > min_area:  # as ClassThresholds.classify: at min_area itself, homogeneous
        return "seen"
    return "small" if minority >= 0.01 else "none"


def _tally(outcomes: list[str]) -> str:
    hits = outcomes.count("hybrid")
    misses = " / ".join(str(outcomes.count(kind)) for kind in MISSED)
    return f"{hits:3d} of {len(outcomes):3d}  {hits / len(outcomes):.2f}   missed: {misses}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--films", type=int, default=200)
    parser.add_argument(
        "--skip-range", action="store_true", help="Only the errors, not the range's coverage."
    )
    parser.add_argument(
        "--real-hybrids",
        action="store_true",
        help="Only the share of the real hybrid images (DATA/hybrid) called hybrid.",
    )
    args = parser.parse_args()
    measured = measure(args)
    if args.real_hybrids:
        real_hybrids(measured, args.data / "hybrid")
        return
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
        kinds = np.array([s.kind for s in samples])
        data[name] = (called, true_hybrid, homogeneous, kinds)
    context = {
        "classifier_version": classifier.version,
        "segmenter_version": segmenter.version,
        "min_area": thresholds.min_area,
        "balance_colour": classifier.balance_colour,
    }
    rng = np.random.default_rng(0)
    called, true_hybrid, homogeneous, kinds = data["calibration"]
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
    rates = measure_rates(called, true_hybrid, homogeneous, groups=kinds, **context)
    print(f"\nrates from all calibration frames: {rates}")
    print(f"rates stored with the classifier: {classifier.hybrid_rates}")
    called_v, true_v, homog_v, kinds_v = data["validation"]
    own = measure_rates(called_v, true_v, homog_v, groups=kinds_v, **context)
    print(f"validation's own rates (not used): {own}")
    report(
        "validation sources",
        simulate(called_v, true_v, homog_v, rates, args.frames, args.films, rng),
    )
    if args.skip_range:
        return
    for name, (called_s, true_s, homog_s, kinds_s) in data.items():
        for label, by_kind, each in (
            ("mixed films", None, False),
            ("films of one kind", kinds_s, False),
            ("films of one kind, every frame a shot", kinds_s, True),
        ):
            figures = coverage(
                called_s,
                true_s,
                homog_s,
                by_kind,
                rates,
                args.frames,
                args.films,
                rng,
                every_frame_a_shot=each,
            )
            report_coverage(f"{name} sources, {label} (rates from all calibration)", figures)


if __name__ == "__main__":
    main()
