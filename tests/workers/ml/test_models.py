"""Model outputs, the centroid head and the checkpoint format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.workers.ml.conftest import tiny_classifier_config, tiny_segmenter_config
from workers.ml.models import (
    CheckpointError,
    build_classifier,
    build_segmenter,
    load_model,
    save_model,
)


def test_classifier_outputs_patch_and_frame_logits_of_expected_shape() -> None:
    model = build_classifier(tiny_classifier_config()).eval()
    out = model(torch.randn(3, 3, 32, 32))
    assert out.patch_logits.shape == (3, 4, 4, 2)
    assert out.frame_logits.shape == (3, 2)
    assert out.patch_embeddings.shape == (3, 16, 32)
    assert out.patch_logits.dtype == torch.float32


def test_centroid_head_scores_patches_by_scaled_cosine_to_centroids() -> None:
    model = build_classifier(tiny_classifier_config(head="centroid")).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
        expected = (
            model.logit_scale.exp()
            * F.normalize(out.patch_embeddings, dim=-1)
            @ F.normalize(model.centroids, dim=-1).T
        )
    torch.testing.assert_close(out.patch_logits.view(2, 16, 2), expected)
    torch.testing.assert_close(out.frame_logits, expected.mean(dim=1))


def test_cls_head_applies_the_same_linear_head_to_patches() -> None:
    model = build_classifier(tiny_classifier_config(head="cls")).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
        expected = model.cls_head(out.patch_embeddings)
    torch.testing.assert_close(out.patch_logits.view(2, 16, 2), expected)


def test_classifier_accepts_other_input_sizes_by_interpolating_positions() -> None:
    model = build_classifier(tiny_classifier_config()).eval()
    out = model(torch.randn(1, 3, 48, 64))
    assert out.patch_logits.shape == (1, 6, 8, 2)


def test_segmenter_returns_two_class_logits_at_quarter_resolution() -> None:
    model = build_segmenter(tiny_segmenter_config()).eval()
    logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 2, 8, 8)


@pytest.mark.parametrize("half", [False, True])
def test_checkpoint_round_trip_gives_same_outputs(tmp_path: Path, half: bool) -> None:
    model = build_segmenter(tiny_segmenter_config()).eval()
    if half:  # fp16 storage: compare against the model with fp16-rounded weights
        model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    save_model(model, tmp_path / "seg", half=half)
    loaded = load_model(tmp_path / "seg", "segmenter")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_load_model_refuses_the_wrong_kind(tmp_path: Path) -> None:
    save_model(build_classifier(tiny_classifier_config()), tmp_path / "clf")
    with pytest.raises(CheckpointError, match="not a 'segmenter'"):
        load_model(tmp_path / "clf", "segmenter")


def test_load_model_explains_a_directory_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a hybridlens checkpoint"):
        load_model(tmp_path, "classifier")


def test_classifier_loads_pretrained_backbone_from_local_directory(tmp_path: Path) -> None:
    from transformers import ViTConfig, ViTModel

    backbone = ViTModel(
        ViTConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    )
    backbone.save_pretrained(tmp_path / "vit")
    model = build_classifier(tiny_classifier_config(backbone_dir=str(tmp_path / "vit"))).eval()
    for name, param in backbone.state_dict().items():
        if not name.startswith("pooler"):
            torch.testing.assert_close(model.backbone.state_dict()[name], param)
    assert model(torch.randn(1, 3, 32, 32)).patch_logits.shape == (1, 4, 4, 2)
    save_model(
        model, tmp_path / "clf"
    )  # a checkpoint built on it loads without the backbone directory
    (tmp_path / "vit" / "model.safetensors").unlink()
    reloaded = load_model(tmp_path / "clf", "classifier")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x).patch_logits, model(x).patch_logits)


def test_segmenter_loads_pretrained_encoder_from_local_directory(tmp_path: Path) -> None:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    config = SegformerConfig(
        hidden_sizes=[8, 16, 24, 32],
        depths=[1, 1, 1, 1],
        num_attention_heads=[1, 1, 1, 1],
        decoder_hidden_size=16,
        num_labels=5,
    )
    SegformerForSemanticSegmentation(config).save_pretrained(tmp_path / "mit")
    model = build_segmenter(tiny_segmenter_config(backbone_dir=str(tmp_path / "mit"))).eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 2, 8, 8)
