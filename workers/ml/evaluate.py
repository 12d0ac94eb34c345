"""Measuring the models on held-out sources, and building proxy-mask sets.

The validation set is fixed by a seed: composites of every style cut from validation-split
images only, 320x240 like a 4:3 transfer, each degraded as an archival scan; plus every
validation homogeneous image, degraded the same way. IoU is accumulated over all pixels of a
set (dataset-level), per class; mIoU is the mean of the P and NP IoUs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from app.core.config import ClassThresholds, FrameClass, ModelSettings, configured_models
from app.pipeline.quantify import HybridRates, measure_rates
from workers.ml.calibration import (
    Calibration,
    expected_calibration_error,
    fit_calibration,
)
from workers.ml.composites import STYLES, Sample, make_composite, pick
from workers.ml.data import (
    DataSplits,
    ImagePool,
    list_images,
    load_rgb,
    load_splits,
    source_of,
)
from workers.ml.degrade import degrade
from workers.ml.inference import (
    Classifier,
    MaskVerdict,
    Segmenter,
    cascade,
    decide_frames,
    full_size_mask,
)
from workers.ml.models import CONFIG_NAME, read_meta
from workers.ml.proxy import UNSURE, Refinement, proxy_labels, proxy_probability
from workers.ml.train import IGNORE_LABEL, ProxySet

VAL_HEIGHT, VAL_WIDTH = 240, 320
# The strict frame-class rule: P above 95 % photographic pixels, NP below 5 %, hybrid between.
STRICT_THRESHOLDS = ClassThresholds(min_area=0.05)
CALIBRATION_SEED = 777
# Composites per style of the calibration frames the cascade's hybrid rates are measured on.
RATES_PER_STYLE = 40


def validation_composites(
    splits: DataSplits, per_style: int, seed: int = 1234, *, clean: bool = False
) -> list[Sample]:
    return _composites(splits.val_p, splits.val_np, per_style, seed, clean=clean)


def _composites(
    p_pool: ImagePool, np_pool: ImagePool, per_style: int, seed: int, *, clean: bool = False
) -> list[Sample]:
    """``per_style`` composites of every style, degraded; with ``clean`` the same composites
    before their degradation (the random draws are the same either way)."""
    rng = np.random.default_rng(seed)
    samples = []
    for style in STYLES:
        for _ in range(per_style):
            sample = make_composite(
                pick(p_pool.images, rng),
                pick(np_pool.images, rng),
                height=VAL_HEIGHT,
                width=VAL_WIDTH,
                rng=rng,
                style=style,
            )
            # A cut-out that fell back to a blob still counts under the style asked for.
            degraded = degrade(sample.image, rng)
            samples.append(Sample(sample.image if clean else degraded, sample.p_mask, style))
    return samples


def validation_homogeneous(
    splits: DataSplits, seed: int = 4321, *, clean: bool = False
) -> list[Sample]:
    return _homogeneous(splits.val_p, splits.val_np, seed, clean=clean)


def _homogeneous(
    p_pool: ImagePool, np_pool: ImagePool, seed: int, *, clean: bool = False
) -> list[Sample]:
    """Every image of the pools, degraded (``clean``: as it is, the same draws made)."""
    rng = np.random.default_rng(seed)
    samples = []
    for pool, is_p in ((p_pool, True), (np_pool, False)):
        for image, source in zip(pool.images, pool.sources, strict=True):
            degraded = degrade(image, rng)
            samples.append(
                Sample(
                    image if clean else degraded,
                    np.full(image.shape[:2], is_p),
                    "P" if is_p else "NP",
                    source,
                )
            )
    return samples


@dataclass
class IoUCounter:
    inter: np.ndarray  # per class [NP, P]
    union: np.ndarray

    @classmethod
    def empty(cls) -> IoUCounter:
        return cls(np.zeros(2), np.zeros(2))

    def add(self, pred_p: np.ndarray, true_p: np.ndarray) -> None:
        for cls_index, (pred, true) in enumerate(((~pred_p, ~true_p), (pred_p, true_p))):
            self.inter[cls_index] += np.logical_and(pred, true).sum()
            self.union[cls_index] += np.logical_or(pred, true).sum()

    def result(self) -> dict[str, float]:
        iou = self.inter / np.maximum(self.union, 1)
        return {"mIoU": float(iou.mean()), "P_IoU": float(iou[1]), "NP_IoU": float(iou[0])}


def mask_metrics(pred_masks: Sequence[np.ndarray], samples: Sequence[Sample]) -> dict[str, Any]:
    """mIoU overall and per style from boolean P masks."""
    overall, by_style = IoUCounter.empty(), {s: IoUCounter.empty() for s in STYLES}
    for pred, sample in zip(pred_masks, samples, strict=True):
        overall.add(pred, sample.p_mask)
        by_style[sample.style].add(pred, sample.p_mask)
    return {
        "overall": overall.result(),
        "by_style": {s: c.result() for s, c in by_style.items() if c.union.any()},
    }


def class_hits(
    p_fractions: Sequence[float], samples: Sequence[Sample], thresholds: ClassThresholds
) -> list[bool]:
    """Whether each frame's class from its P fraction is its true class (from its mask)."""
    return [
        thresholds.classify(p_fraction) == thresholds.classify(float(sample.p_mask.mean()))
        for p_fraction, sample in zip(p_fractions, samples, strict=True)
    ]


def class_accuracy(
    p_fractions: Sequence[float],
    samples: Sequence[Sample],
    thresholds: ClassThresholds,
    confidences: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Frame-class accuracy (P / NP / hybrid) for samples whose true class comes from their masks,
    under the configured rule and the strict 95 %/5 % rule; ECE when confidences are given."""
    hits = class_hits(p_fractions, samples, thresholds)
    per_class = {c.value: [0, 0] for c in FrameClass}
    # truth -> called -> frames: which way the errors go (a P/NP swap leaves the hybrid ratio
    # alone; a homogeneous frame called hybrid raises it).
    confusion = {c.value: {d.value: 0 for d in FrameClass} for c in FrameClass}
    for hit, sample, p_fraction in zip(hits, samples, p_fractions, strict=True):
        truth = thresholds.classify(float(sample.p_mask.mean()))
        per_class[truth.value][1] += 1
        per_class[truth.value][0] += int(hit)
        confusion[truth.value][thresholds.classify(p_fraction).value] += 1
    strict = class_hits(p_fractions, samples, STRICT_THRESHOLDS)
    result: dict[str, Any] = {
        "accuracy": sum(hits) / max(1, len(samples)),
        "strict_accuracy": sum(strict) / max(1, len(samples)),
        "per_class": {k: v[0] / v[1] for k, v in per_class.items() if v[1]},
        "confusion": {k: v for k, v in confusion.items() if per_class[k][1]},
        "n": len(samples),
    }
    if confidences is not None:
        result["ece"] = expected_calibration_error(confidences, hits)
        result["mean_confidence"] = float(np.mean(confidences)) if len(confidences) else None
    return result


def _proxy_masks(
    samples: Sequence[Sample], patch_maps: Sequence[np.ndarray], refine: Refinement
) -> list[np.ndarray]:
    return [
        proxy_probability(s.image, pm, refine) >= 0.5
        for s, pm in zip(samples, patch_maps, strict=True)
    ]


def evaluate_models(
    data: Path,
    cache: Path | None,
    *,
    classifiers: Sequence[Path | None],
    segmenters: Sequence[Path | None],
    per_style: int = 60,
    device: str = "auto",
    sources: str = "validation",
) -> dict[str, Any]:
    """The models measured on the validation sources, or on the calibration sources (where
    runs are compared and chosen, so that validation stays a measurement only)."""
    splits = load_splits(data, cache)
    if sources == "validation":
        composites = validation_composites(splits, per_style)
        homogeneous = validation_homogeneous(splits)
    elif sources == "calibration":
        composites, homogeneous = calibration_sets(splits, per_style)
    else:
        raise ValueError(f"unknown sources {sources!r}: validation or calibration")
    settings = ModelSettings(device=device)  # type: ignore[arg-type]
    thresholds = settings.thresholds
    report: dict[str, Any] = {
        "validation": {
            "sources": sources,
            "composites": len(composites),
            "homogeneous": len(homogeneous),
            "thresholds": thresholds.model_dump(),
        },
        "classifiers": {},
        "segmenters": {},
    }
    # Verdicts per set for the cascade: the first classifier's, then the first segmenter's.
    cascade_clf: dict[str, list[MaskVerdict]] = {}
    cascade_seg: dict[str, list[MaskVerdict]] = {}
    sets = {"homogeneous": homogeneous, "composites": composites}
    refinements: tuple[Refinement, ...] = ("bilinear", "guided")
    for path in classifiers:
        classifier = Classifier.load(settings, path)
        entry: dict[str, Any] = {
            "version": classifier.version,
            "head": classifier.module.config.head,
            "encoder": getattr(classifier.module.config, "encoder", "vit"),
            "calibrated": classifier.calibration is not None,
        }
        maps, verdicts = {}, {}
        for name, sm in sets.items():
            maps[name], verdicts[name] = classifier.classify_with_maps([s.image for s in sm])
        for refine in refinements:
            masks = _proxy_masks(composites, list(maps["composites"]), refine)
            entry[f"proxy_masks_{refine}"] = mask_metrics(masks, composites)
        entry["homogeneous"] = _verdict_accuracy(verdicts["homogeneous"], homogeneous, thresholds)
        entry["composites_class"] = _verdict_accuracy(
            verdicts["composites"], composites, thresholds
        )
        report["classifiers"][str(path or "default")] = entry
        cascade_clf = cascade_clf or verdicts
    for path in segmenters:
        segmenter = Segmenter.load(settings, path)
        probs, verdicts = {}, {}
        for name, sm in sets.items():
            probs[name], verdicts[name] = segmenter.segment_and_judge([s.image for s in sm])
        report["segmenters"][str(path or "default")] = {
            "version": segmenter.version,
            "encoder": getattr(segmenter.module.config, "encoder", "mit"),
            "calibrated": segmenter.calibration is not None,
            "composites": mask_metrics([p >= 0.5 for p in probs["composites"]], composites),
            # What the pipeline stores with segment_all: uniform masks for homogeneous verdicts.
            "composites_clean": mask_metrics(
                [v.p_mask for v in verdicts["composites"]], composites
            ),
            "homogeneous": _verdict_accuracy(verdicts["homogeneous"], homogeneous, thresholds),
            "composites_class": _verdict_accuracy(verdicts["composites"], composites, thresholds),
        }
        cascade_seg = cascade_seg or verdicts
    if cascade_clf and cascade_seg:
        # The analysis pipeline's decision (``cascade``): the classifier sends a frame it calls
        # hybrid to the segmenter for its mask; a frame it calls homogeneous keeps its verdict
        # and a uniform mask. Measured both ways: the segmenter overruling "hybrid" or not.
        for key, overrule in (("cascade", False), ("cascade_overrule", True)):
            entry = {
                "classifier": str(classifiers[0] or "default"),
                "segmenter": str(segmenters[0] or "default"),
                "overrule": overrule,
            }
            pooled: tuple[list[MaskVerdict], list[Sample]] = ([], [])
            for name, samples in sets.items():
                final = [
                    cascade(clf, seg, thresholds, overrule=overrule)
                    for clf, seg in zip(cascade_clf[name], cascade_seg[name], strict=True)
                ]
                entry[name] = _verdict_accuracy(final, samples, thresholds)
                pooled[0].extend(final)
                pooled[1].extend(samples)
                if name == "composites":
                    entry["composites_masks"] = mask_metrics(
                        [
                            full_size_mask(v.p_mask, *s.p_mask.shape)
                            for v, s in zip(final, samples, strict=True)
                        ],
                        samples,
                    )
            # Both sets together: a calibrator fitted on one mix of frames is over- or
            # under-confident on each set alone when their accuracies differ (the base rates).
            entry["pooled"] = _verdict_accuracy(*pooled, thresholds)
            report[key] = entry
    return report


def _verdict_accuracy(
    verdicts: Sequence[MaskVerdict], samples: Sequence[Sample], thresholds: ClassThresholds
) -> dict[str, Any]:
    result = class_accuracy(
        [v.p_fraction for v in verdicts], samples, thresholds, [v.confidence for v in verdicts]
    )
    # The same frames' ECE before calibration (raw certainty or the frame head's top probability).
    result["ece_raw"] = expected_calibration_error(
        [v.raw_certainty for v in verdicts],
        class_hits([v.p_fraction for v in verdicts], samples, thresholds),
    )
    return result


def calibration_sets(
    splits: DataSplits, per_style: int, *, clean: bool = False
) -> tuple[list[Sample], list[Sample]]:
    """(degraded composites, degraded homogeneous frames) from the calibration sources only
    (``clean``: the same frames undegraded)."""
    return (
        _composites(splits.calib_p, splits.calib_np, per_style, CALIBRATION_SEED, clean=clean),
        _homogeneous(splits.calib_p, splits.calib_np, CALIBRATION_SEED + 1, clean=clean),
    )


def calibration_samples(splits: DataSplits, per_style: int = 25) -> list[Sample]:
    """Degraded composites and homogeneous frames from the calibration sources only."""
    composites, homogeneous = calibration_sets(splits, per_style)
    return composites + homogeneous


def _fit(
    verdicts: Sequence[MaskVerdict], samples: Sequence[Sample], thresholds: ClassThresholds
) -> Calibration:
    return fit_calibration(
        [v.raw_certainty for v in verdicts],
        [v.margin for v in verdicts],
        class_hits([v.p_fraction for v in verdicts], samples, thresholds),
        [v.frame_class is FrameClass.HYBRID for v in verdicts],
    )


def calibrate_models(
    data: Path,
    cache: Path | None,
    *,
    classifier: Path | None,
    segmenter: Path | None,
    device: str = "auto",
) -> dict[str, Any]:
    """Fit each model's confidence calibration on the calibration sources; write it into the
    model's ``hybridlens.json``. Validation sources are never used here."""
    splits = load_splits(data, cache)
    samples = calibration_samples(splits)
    # The default class threshold and rule; what of each frame the models look at as
    # configured (bars, subtitles, burned-in regions, colour casts).
    settings = configured_models(device=device, thresholds=ClassThresholds())
    images = [s.image for s in samples]
    fitted: dict[str, Any] = {"frames": len(samples)}
    if classifier is not None:
        model = Classifier.load(settings, classifier)
        model.calibration = None  # fit on the raw features
        calibration = _fit(model.classify(images), samples, settings.thresholds)
        _write_calibration(classifier, calibration)
        fitted["classifier"] = calibration.as_meta()
    if segmenter is not None:
        seg = Segmenter.load(settings, segmenter)
        seg.calibration = None
        calibration = _fit(seg.segment_and_judge(images)[1], samples, settings.thresholds)
        _write_calibration(segmenter, calibration)
        fitted["segmenter"] = calibration.as_meta()
    if classifier is not None and segmenter is not None:
        fitted["hybrid_rates"] = store_hybrid_rates(
            splits, settings, classifier=classifier, segmenter=segmenter
        ).as_meta()
    return fitted


def store_hybrid_rates(
    splits: DataSplits,
    settings: ModelSettings,
    *,
    classifier: Path,
    segmenter: Path,
    overrules: bool = False,
) -> HybridRates:
    """The cascade's hybrid rates on the calibration sources, by ``settings.thresholds`` and
    the ``overrules`` rule, written into the classifier's ``hybridlens.json`` (they hold with
    this segmenter, threshold and rule only). Measured on more composites than the
    calibrators need (``RATES_PER_STYLE``: ``bench/bench_ratio.py``'s frames)."""
    rates = measure_hybrid_rates(
        Classifier.load(settings, classifier),
        Segmenter.load(settings, segmenter),
        calibration_samples(splits, per_style=RATES_PER_STYLE),
        settings.thresholds,
        overrules=overrules,
    )
    _write_meta(classifier, "hybrid_rates", rates.as_meta())
    return rates


def measure_hybrid_rates(
    classifier: Classifier,
    segmenter: Segmenter,
    samples: Sequence[Sample],
    thresholds: ClassThresholds,
    *,
    overrules: bool = False,
) -> HybridRates:
    """How often the pipeline's decision (``cascade``: the classifier's verdict, the
    segmenter on the frames it calls hybrid) calls hybrid and homogeneous frames hybrid."""
    decisions = decide_frames(
        classifier, segmenter, [s.image for s in samples], thresholds, overrule=overrules
    )
    return measure_rates(
        [d.verdict.frame_class is FrameClass.HYBRID for d in decisions],
        [thresholds.classify(float(s.p_mask.mean())) is FrameClass.HYBRID for s in samples],
        [s.style in ("P", "NP") for s in samples],
        classifier_version=classifier.version,
        segmenter_version=segmenter.version,
        min_area=thresholds.min_area,
        segmenter_overrules=overrules,
        balance_colour=classifier.balance_colour,
        groups=[s.kind for s in samples],
    )


def _write_calibration(directory: Path, calibration: Calibration) -> None:
    _write_meta(directory, "calibration", calibration.as_meta())


def _write_meta(directory: Path, key: str, value: dict[str, Any]) -> None:
    meta = read_meta(directory)
    meta[key] = value
    (directory / CONFIG_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True))


def _ious(m: dict[str, float]) -> str:
    return f"mIoU {m['mIoU']:.3f}  P {m['P_IoU']:.3f}  NP {m['NP_IoU']:.3f}"


def _accuracy(entry: dict[str, Any]) -> str:
    per_class = {k: round(v, 3) for k, v in entry["per_class"].items()}
    text = f"{entry['accuracy']:.3f} (strict 95/5 rule {entry['strict_accuracy']:.3f}) {per_class}"
    if "ece" in entry:
        text += f"  ECE {entry['ece']:.3f}"
    errors = [
        f"{truth}->{called} {count}"
        for truth, row in entry.get("confusion", {}).items()
        for called, count in row.items()
        if called != truth and count
    ]
    if errors:
        text += f"  errors: {', '.join(errors)}"
    return text


def format_report(report: dict[str, Any]) -> str:
    lines = [f"validation: {report['validation']}"]
    for name, entry in report["classifiers"].items():
        lines.append(f"\nclassifier {name} (head {entry['head']}, {entry['version']})")
        for refine in ("bilinear", "guided"):
            m = entry[f"proxy_masks_{refine}"]
            lines.append(f"  proxy masks ({refine}): {_ious(m['overall'])}")
        lines.append(f"  homogeneous frame-class accuracy: {_accuracy(entry['homogeneous'])}")
        lines.append(
            f"  composite frame-class accuracy:   {entry['composites_class']['accuracy']:.3f}"
        )
    for name, entry in report["segmenters"].items():
        m = entry["composites"]
        lines.append(f"\nsegmenter {name} ({entry['version']})")
        lines.append(f"  composites: {_ious(m['overall'])}")
        lines.append(f"  composites, clean masks: {_ious(entry['composites_clean']['overall'])}")
        for style, sm in m["by_style"].items():
            lines.append(
                f"    {style:14s} mIoU {sm['mIoU']:.3f}  P {sm['P_IoU']:.3f}  NP {sm['NP_IoU']:.3f}"
            )
        lines.append(f"  homogeneous frame-class accuracy: {_accuracy(entry['homogeneous'])}")
        lines.append(
            f"  composite frame-class accuracy:   {entry['composites_class']['accuracy']:.3f}"
        )
    for key in ("cascade", "cascade_overrule"):
        if key not in report:
            continue
        c = report[key]
        lines.append(
            f"\npipeline cascade ({c['classifier']} -> {c['segmenter']} on frames it calls hybrid"
            f"{', the segmenter may overrule hybrid' if c['overrule'] else ''})"
        )
        lines.append(f"  homogeneous frame-class accuracy: {_accuracy(c['homogeneous'])}")
        lines.append(f"  composite frame-class accuracy:   {_accuracy(c['composites'])}")
        if "pooled" in c:
            lines.append(f"  both sets together:               {_accuracy(c['pooled'])}")
        lines.append(
            f"  composite masks as stored:        {_ious(c['composites_masks']['overall'])}"
        )
        for style, sm in c["composites_masks"]["by_style"].items():
            lines.append(f"    {style:14s} {_ious(sm)}")
    return "\n".join(lines)


def make_proxy_set(
    classifier_dir: Path,
    out: Path,
    inputs: Sequence[Path],
    *,
    composites: int,
    data: Path,
    cache: Path | None,
    refine: Refinement = "guided",
    seed: int = 0,
    device: str = "auto",
) -> dict[str, Any]:
    """Write images/, masks/ (and truth/ for composites) and return proxy-mask quality figures."""
    classifier = Classifier.load(ModelSettings(device=device), classifier_dir)  # type: ignore[arg-type]
    paths: list[Path] = []
    for item in inputs:
        paths += list_images(item) if item.is_dir() else [item]
    images = [load_rgb(p, 320) for p in paths]
    names = [p.stem for p in paths]
    truths: list[np.ndarray | None] = [None] * len(images)
    if composites:
        splits = load_splits(data, cache)
        rng = np.random.default_rng(seed)
        for index in range(composites):
            sample = make_composite(
                pick(splits.train_p.images, rng),
                pick(splits.train_np.images, rng),
                height=VAL_HEIGHT,
                width=VAL_WIDTH,
                rng=rng,
            )
            images.append(degrade(sample.image, rng))
            truths.append(sample.p_mask)
            names.append(f"composite_{index:05d}")
    for sub in ("images", "masks", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    counter = IoUCounter.empty()
    unsure = 0.0
    patch_maps = classifier.patch_probabilities(images)
    for name, image, truth, patch_p in tqdm(
        list(zip(names, images, truths, patch_maps, strict=True)), desc="proxy masks"
    ):
        prob = proxy_probability(image, patch_p, refine)
        labels = proxy_labels(prob)
        unsure += float((labels == UNSURE).mean())
        Image.fromarray(image).save(out / "images" / f"{name}.png")
        Image.fromarray(labels).save(out / "masks" / f"{name}.png")
        if truth is not None:
            counter.add(prob >= 0.5, truth)
            Image.fromarray((truth * 255).astype(np.uint8)).save(out / "truth" / f"{name}.png")
    stats = {
        "images": len(images),
        "unsure_share": unsure / max(1, len(images)),
        "classifier": classifier.version,
        "refine": refine,
    }
    if composites:
        stats["composite_proxy_quality"] = counter.result()
    (out / "proxy.json").write_text(json.dumps(stats, indent=2))
    return stats


def read_proxy_set(folder: Path, leave_out: frozenset[str] = frozenset()) -> ProxySet:
    """Images and proxy labels (mask 128 -> IGNORE_LABEL) written by :func:`make_proxy_set`,
    without the images of the sources in ``leave_out`` (file-name prefix, as in the data)."""
    images, labels = [], []
    for mask_path in sorted((folder / "masks").glob("*.png")):
        if source_of(mask_path) in leave_out:
            continue
        image_path = folder / "images" / mask_path.name
        if not image_path.exists():  # the image in another format (e.g. packed as JPEG)
            others = (p for p in (folder / "images").iterdir() if p.stem == mask_path.stem)
            image_path = next(others, image_path)
        mask = np.asarray(Image.open(mask_path).convert("L"))
        label = np.where(mask >= 192, 1, 0).astype(np.uint8)
        label[(mask > 64) & (mask < 192)] = IGNORE_LABEL
        images.append(load_rgb(image_path))
        labels.append(label)
    return ProxySet(images, labels)


def markdown_report(report: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """The evaluation as markdown tables (docs/results.md is made from this)."""
    names = names or {}

    def label(path: str) -> str:
        return names.get(path, path)

    out = [
        f"Validation: {report['validation']['composites']} composites, "
        f"{report['validation']['homogeneous']} homogeneous frames, held-out sources, archival degradations; "
        f"frame classes with min_area = {report['validation']['thresholds']['min_area']}.",
        "",
        "### Proxy classifier (stage 1) and proxy masks (stage 2)",
        "",
        "| classifier | encoder | head | proxy mIoU (bilinear) | proxy mIoU (guided) | P IoU | NP IoU "
        "| homogeneous class acc. (strict) | composite class acc. | ECE (homog.) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path, e in report["classifiers"].items():
        b, g = e["proxy_masks_bilinear"]["overall"], e["proxy_masks_guided"]["overall"]
        h = e["homogeneous"]
        out.append(
            f"| {label(path)} | {e.get('encoder', 'vit')} | {e['head']} | {b['mIoU']:.3f} | {g['mIoU']:.3f} "
            f"| {b['P_IoU']:.3f} | {b['NP_IoU']:.3f} "
            f"| {h['accuracy']:.3f} ({h['strict_accuracy']:.3f}) | {e['composites_class']['accuracy']:.3f} "
            f"| {h.get('ece', float('nan')):.3f} |"
        )
    out += [
        "",
        "### Segmenter (stage 3)",
        "",
        "| segmenter | encoder | mIoU | P IoU | NP IoU | lettering NP IoU "
        "| homogeneous class acc. (strict) | composite class acc. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path, e in report["segmenters"].items():
        m = e["composites"]["overall"]
        h = e["homogeneous"]
        lettering = e["composites"]["by_style"].get("lettering", {}).get("NP_IoU", float("nan"))
        out.append(
            f"| {label(path)} | {e.get('encoder', 'mit')} | {m['mIoU']:.3f} | {m['P_IoU']:.3f} | {m['NP_IoU']:.3f} "
            f"| {lettering:.3f} | {h['accuracy']:.3f} ({h['strict_accuracy']:.3f}) "
            f"| {e['composites_class']['accuracy']:.3f} |"
        )
    if report["segmenters"]:
        first_path, first = next(iter(report["segmenters"].items()))
        out += [
            "",
            f"### Per composite style: {label(first_path)}",
            "",
            "| style | mIoU | P IoU | NP IoU |",
            "|---|---|---|---|",
        ]
        for style, m in first["composites"]["by_style"].items():
            out.append(f"| {style} | {m['mIoU']:.3f} | {m['P_IoU']:.3f} | {m['NP_IoU']:.3f} |")
    for key in ("cascade", "cascade_overrule"):
        if key not in report:
            continue
        c = report[key]
        h, cm = c["homogeneous"], c["composites_masks"]["overall"]
        overrule = ", the segmenter may overrule hybrid" if c["overrule"] else ""
        out += [
            "",
            "### The analysis pipeline's decision "
            f"(classifier, then segmenter on frames called hybrid{overrule})",
            "",
            f"- homogeneous frame-class accuracy: {h['accuracy']:.3f} "
            f"(P {h['per_class'].get('P', 0):.3f}, NP {h['per_class'].get('NP', 0):.3f}); "
            f"strict 95 %/5 % rule {h['strict_accuracy']:.3f}",
            f"- composite frame-class accuracy: {c['composites']['accuracy']:.3f} "
            f"(strict {c['composites']['strict_accuracy']:.3f})",
            f"- heterogeneous masks as stored (uniform for frames called homogeneous): "
            f"mIoU {cm['mIoU']:.3f}, P IoU {cm['P_IoU']:.3f}, NP IoU {cm['NP_IoU']:.3f}",
            f"- confidence: ECE {h['ece']:.3f} on homogeneous frames, "
            f"{c['composites']['ece']:.3f} on composites",
        ]
    return "\n".join(out) + "\n"
