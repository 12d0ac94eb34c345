"""Composites, degradations, proxy masks and metrics on generated images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.config import ClassThresholds
from tests.workers.ml.conftest import drawing_like, photo_like
from workers.ml.composites import STYLES, foreground_of, make_composite
from workers.ml.data import LabelledImage, source_of, split_by_source
from workers.ml.degrade import degrade, tone_curve
from workers.ml.evaluate import IoUCounter, class_accuracy
from workers.ml.proxy import UNSURE, guided_filter, proxy_labels, proxy_probability


@pytest.mark.parametrize("style", STYLES)
def test_composite_mask_marks_pixels_taken_from_the_photo(style: str) -> None:
    rng = np.random.default_rng(7)
    # Solid images make the provenance of every pixel checkable.
    photo = np.full((60, 80, 3), (10, 200, 30), np.uint8)
    drawing = np.full((60, 80, 3), (250, 20, 240), np.uint8)
    sample = make_composite(photo, drawing, height=48, width=64, rng=rng, style=style)
    assert sample.image.shape == (48, 64, 3) and sample.p_mask.shape == (48, 64)
    assert sample.p_mask.dtype == bool
    assert 0.0 < sample.p_mask.mean() < 1.0
    if style != "lettering":  # text colours are random, so only the P side is checkable there
        assert np.all(sample.image[~sample.p_mask] == (250, 20, 240))
    assert np.all(sample.image[sample.p_mask] == (10, 200, 30))


def test_unknown_composite_style_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown composite style"):
        make_composite(
            np.zeros((8, 8, 3), np.uint8),
            np.zeros((8, 8, 3), np.uint8),
            height=8,
            width=8,
            rng=np.random.default_rng(),
            style="collage",
        )


def test_foreground_of_finds_a_drawn_figure_on_a_flat_background() -> None:
    image = np.full((60, 60, 3), 255, np.uint8)
    image[20:40, 15:45] = (200, 30, 30)
    figure = foreground_of(image)
    assert figure is not None
    assert figure[30, 30] and not figure[5, 5]
    assert figure.sum() == 20 * 30


def test_degrade_keeps_shape_and_dtype() -> None:
    rng = np.random.default_rng(0)
    image = photo_like(rng)
    for _ in range(20):
        out = degrade(image, rng)
        assert out.shape == image.shape and out.dtype == np.uint8


def test_tone_curves_keep_the_order_of_grey_levels_and_vary() -> None:
    rng = np.random.default_rng(2)
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)  # (1, 256, 3)
    means = []
    for _ in range(40):
        out = tone_curve(ramp, rng)
        assert out.shape == ramp.shape and out.dtype == np.uint8
        # A tone curve never swaps two grey levels (a drawing stays a drawing of the same thing).
        assert np.all(np.diff(out[0, :, 0].astype(int)) >= 0)
        means.append(float(out.mean()))
    # Darker and brighter transfers both occur.
    assert min(means) < 90 and max(means) > 165


def test_split_by_source_keeps_whole_sources_on_one_side() -> None:
    items = [
        LabelledImage(Path(f"{src}_{i:03d}.jpg"), src, True)
        for src in ("bsds", "urban100")
        for i in range(3)
    ]
    train, val = split_by_source(items, {"urban100"})
    assert {i.source for i in train} == {"bsds"} and {i.source for i in val} == {"urban100"}
    assert source_of(Path("deoldify_012.jpg")) == "deoldify"


def test_guided_filter_keeps_a_step_edge_that_the_guide_shares() -> None:
    guide = np.zeros((32, 32), np.float32)
    guide[:, 16:] = 1.0
    blurry = np.clip((np.arange(32, dtype=np.float32) - 8) / 16, 0, 1)[None, :].repeat(32, 0)
    refined = guided_filter(guide, blurry, radius=4, eps=1e-4)
    assert refined[:, 14].mean() < blurry[:, 14].mean()
    assert refined[:, 18].mean() > blurry[:, 18].mean()


def test_proxy_probability_upsamples_patch_map_to_the_image_size() -> None:
    rng = np.random.default_rng(1)
    image = np.concatenate([photo_like(rng, 64, 32), drawing_like(rng, 64, 32)], axis=1)
    patch_p = np.array([[1.0] * 4 + [0.0] * 4] * 8, np.float32)  # 8x8 patches of 8 pixels
    for refine in ("bilinear", "guided"):
        prob = proxy_probability(image, patch_p, refine)  # type: ignore[arg-type]
        assert prob.shape == (64, 64)
        assert prob[:, :8].mean() > 0.8 and prob[:, -8:].mean() < 0.2


def test_proxy_labels_mark_uncertain_pixels() -> None:
    labels = proxy_labels(np.array([[0.05, 0.45, 0.55, 0.95]], np.float32))
    assert labels.tolist() == [[0, UNSURE, UNSURE, 255]]


def test_iou_counter_accumulates_per_class() -> None:
    counter = IoUCounter.empty()
    truth = np.array([[True, True, False, False]])
    counter.add(np.array([[True, False, False, False]]), truth)
    result = counter.result()
    assert result["P_IoU"] == pytest.approx(0.5)
    assert result["NP_IoU"] == pytest.approx(2 / 3)
    assert result["mIoU"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_class_accuracy_uses_the_configured_thresholds() -> None:
    from workers.ml.composites import Sample

    thresholds = ClassThresholds(min_area=0.1)
    samples = [Sample(np.zeros((2, 2, 3), np.uint8), np.ones((2, 2), bool), "P")] * 2
    result = class_accuracy([0.95, 0.5], samples, thresholds)
    assert result["accuracy"] == 0.5
    assert thresholds.classify(0.95).value == "P" and thresholds.classify(0.5).value == "hybrid"


def test_class_accuracy_counts_which_way_the_errors_go() -> None:
    from workers.ml.composites import Sample

    thresholds = ClassThresholds(min_area=0.1)
    photo = Sample(np.zeros((2, 2, 3), np.uint8), np.ones((2, 2), bool), "P")
    drawing = Sample(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), bool), "NP")
    # Photographs called P, NP and hybrid; a drawing called P.
    result = class_accuracy([1.0, 0.0, 0.5, 1.0], [photo, photo, photo, drawing], thresholds)
    assert result["confusion"] == {
        "P": {"P": 1, "NP": 1, "hybrid": 1},
        "NP": {"P": 1, "NP": 0, "hybrid": 0},
    }
