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

from app.core.config import ClassThresholds, FrameClass, ModelSettings
from workers.ml.composites import STYLES, Sample, make_composite, pick
from workers.ml.data import DataSplits, list_images, load_rgb, load_splits
from workers.ml.degrade import degrade
from workers.ml.inference import Classifier, Segmenter
from workers.ml.proxy import UNSURE, Refinement, proxy_labels, proxy_probability
from workers.ml.train import IGNORE_LABEL, ProxySet

VAL_HEIGHT, VAL_WIDTH = 240, 320


def validation_composites(splits: DataSplits, per_style: int, seed: int = 1234) -> list[Sample]:
    rng = np.random.default_rng(seed)
    samples = []
    for style in STYLES:
        for _ in range(per_style):
            sample = make_composite(
                pick(splits.val_p.images, rng),
                pick(splits.val_np.images, rng),
                height=VAL_HEIGHT,
                width=VAL_WIDTH,
                rng=rng,
                style=style,
            )
            # A cut-out that fell back to a blob still counts under the style asked for.
            samples.append(Sample(degrade(sample.image, rng), sample.p_mask, style))
    return samples


def validation_homogeneous(splits: DataSplits, seed: int = 4321) -> list[Sample]:
    rng = np.random.default_rng(seed)
    samples = []
    for pool, is_p in ((splits.val_p, True), (splits.val_np, False)):
        for image in pool.images:
            degraded = degrade(image, rng)
            samples.append(Sample(degraded, np.full(image.shape[:2], is_p), "P" if is_p else "NP"))
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


def class_accuracy(
    p_fractions: Sequence[float], samples: Sequence[Sample], thresholds: ClassThresholds
) -> dict[str, Any]:
    """Frame-class accuracy (P / NP / hybrid) for samples whose true class comes from their masks."""
    correct, per_class = 0, {c.value: [0, 0] for c in FrameClass}
    for p_fraction, sample in zip(p_fractions, samples, strict=True):
        truth = thresholds.classify(float(sample.p_mask.mean()))
        predicted = thresholds.classify(p_fraction)
        per_class[truth.value][1] += 1
        if predicted == truth:
            correct += 1
            per_class[truth.value][0] += 1
    return {
        "accuracy": correct / max(1, len(samples)),
        "per_class": {k: v[0] / v[1] for k, v in per_class.items() if v[1]},
        "n": len(samples),
    }


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
) -> dict[str, Any]:
    splits = load_splits(data, cache)
    composites = validation_composites(splits, per_style)
    homogeneous = validation_homogeneous(splits)
    settings = ModelSettings(device=device)  # type: ignore[arg-type]
    thresholds = settings.thresholds
    report: dict[str, Any] = {
        "validation": {
            "composites": len(composites),
            "homogeneous": len(homogeneous),
            "thresholds": thresholds.model_dump(),
        },
        "classifiers": {},
        "segmenters": {},
    }
    # P fractions per set for the cascade: the first classifier's, then the first segmenter's.
    cascade_clf: dict[str, list[float]] = {}
    cascade_seg: dict[str, list[float]] = {}
    refinements: tuple[Refinement, ...] = ("bilinear", "guided")
    for path in classifiers:
        classifier = Classifier.load(settings, path)
        entry: dict[str, Any] = {
            "version": classifier.version,
            "head": classifier.module.config.head,
        }
        comp_results = classifier.classify([s.image for s in composites])
        homo_results = classifier.classify([s.image for s in homogeneous])
        comp_maps = [r.patch_p for r in comp_results]
        for refine in refinements:
            masks = _proxy_masks(composites, comp_maps, refine)
            entry[f"proxy_masks_{refine}"] = mask_metrics(masks, composites)
        fractions = {
            "homogeneous": [r.p_fraction for r in homo_results],
            "composites": [r.p_fraction for r in comp_results],
        }
        entry["homogeneous"] = class_accuracy(fractions["homogeneous"], homogeneous, thresholds)
        entry["composites_class"] = class_accuracy(fractions["composites"], composites, thresholds)
        report["classifiers"][str(path or "default")] = entry
        cascade_clf = cascade_clf or fractions
    for path in segmenters:
        segmenter = Segmenter.load(settings, path)
        masks = [p >= 0.5 for p in segmenter.segment([s.image for s in composites])]
        homo_masks = [p >= 0.5 for p in segmenter.segment([s.image for s in homogeneous])]
        fractions = {
            "composites": [float(m.mean()) for m in masks],
            "homogeneous": [float(m.mean()) for m in homo_masks],
        }
        report["segmenters"][str(path or "default")] = {
            "version": segmenter.version,
            "composites": mask_metrics(masks, composites),
            "homogeneous": class_accuracy(fractions["homogeneous"], homogeneous, thresholds),
            "composites_class": class_accuracy(fractions["composites"], composites, thresholds),
        }
        cascade_seg = cascade_seg or fractions
    if cascade_clf and cascade_seg:
        # The analysis pipeline's decision: the classifier sends a frame it calls hybrid to the
        # segmenter, whose mask then gives the frame's P fraction (and may overrule "hybrid").
        report["cascade"] = {
            "classifier": str(classifiers[0] or "default"),
            "segmenter": str(segmenters[0] or "default"),
        }
        for name, samples in (("homogeneous", homogeneous), ("composites", composites)):
            final = [
                seg if thresholds.classify(clf) == FrameClass.HYBRID else clf
                for clf, seg in zip(cascade_clf[name], cascade_seg[name], strict=True)
            ]
            report["cascade"][name] = class_accuracy(final, samples, thresholds)
    return report


def _ious(m: dict[str, float]) -> str:
    return f"mIoU {m['mIoU']:.3f}  P {m['P_IoU']:.3f}  NP {m['NP_IoU']:.3f}"


def _accuracy(entry: dict[str, Any]) -> str:
    return f"{entry['accuracy']:.3f} {entry['per_class']}"


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
        for style, sm in m["by_style"].items():
            lines.append(
                f"    {style:14s} mIoU {sm['mIoU']:.3f}  P {sm['P_IoU']:.3f}  NP {sm['NP_IoU']:.3f}"
            )
        lines.append(f"  homogeneous frame-class accuracy: {_accuracy(entry['homogeneous'])}")
        lines.append(
            f"  composite frame-class accuracy:   {entry['composites_class']['accuracy']:.3f}"
        )
    if "cascade" in report:
        c = report["cascade"]
        lines.append(
            f"\npipeline cascade ({c['classifier']} -> {c['segmenter']} on frames it calls hybrid)"
        )
        lines.append(f"  homogeneous frame-class accuracy: {_accuracy(c['homogeneous'])}")
        lines.append(f"  composite frame-class accuracy:   {_accuracy(c['composites'])}")
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


def read_proxy_set(folder: Path) -> ProxySet:
    """Images and proxy labels (mask 128 -> IGNORE_LABEL) written by :func:`make_proxy_set`."""
    images, labels = [], []
    for mask_path in sorted((folder / "masks").glob("*.png")):
        image_path = folder / "images" / mask_path.name
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
        "| classifier | head | proxy mIoU (bilinear) | proxy mIoU (guided) | P IoU | NP IoU "
        "| homogeneous class acc. | composite class acc. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path, e in report["classifiers"].items():
        b, g = e["proxy_masks_bilinear"]["overall"], e["proxy_masks_guided"]["overall"]
        out.append(
            f"| {label(path)} | {e['head']} | {b['mIoU']:.3f} | {g['mIoU']:.3f} | {b['P_IoU']:.3f} | {b['NP_IoU']:.3f} "
            f"| {e['homogeneous']['accuracy']:.3f} | {e['composites_class']['accuracy']:.3f} |"
        )
    out += [
        "",
        "### Segmenter (stage 3)",
        "",
        "| segmenter | mIoU | P IoU | NP IoU | homogeneous class acc. | composite class acc. |",
        "|---|---|---|---|---|---|",
    ]
    for path, e in report["segmenters"].items():
        m = e["composites"]["overall"]
        out.append(
            f"| {label(path)} | {m['mIoU']:.3f} | {m['P_IoU']:.3f} | {m['NP_IoU']:.3f} "
            f"| {e['homogeneous']['accuracy']:.3f} | {e['composites_class']['accuracy']:.3f} |"
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
    if "cascade" in report:
        c = report["cascade"]
        out += [
            "",
            "### The analysis pipeline's decision (classifier, then segmenter on frames called hybrid)",
            "",
            f"- homogeneous frame-class accuracy: {c['homogeneous']['accuracy']:.3f} "
            f"(P {c['homogeneous']['per_class'].get('P', 0):.3f}, NP {c['homogeneous']['per_class'].get('NP', 0):.3f})",
            f"- composite frame-class accuracy: {c['composites']['accuracy']:.3f}",
        ]
    return "\n".join(out) + "\n"
