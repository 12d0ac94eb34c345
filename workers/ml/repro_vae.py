"""The repro-VAE scene detector: a small β-VAE trained, unsupervised, on one film's own sampled
frames at 64x64, with a reprojection loss that keeps the latents of consecutive frames (and of
two camera-move crops of one frame) close; a scene change is a jump in latent space.

Training takes seconds on a CPU (``steps`` x ``batch_size`` 64x64 images through a 4-layer
conv encoder and decoder). Each shot is represented by the mean latent mean (μ) of its frames,
standardised per dimension over the film, and the scene rule of ``app.scenes.rule`` groups
the shots with ``SceneSettings.vae_threshold``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.core.config import SceneSettings
from app.scenes.detectors import SceneFinding, SceneMaterial
from app.scenes.rule import link_distances, rms_distance, shot_vectors


@dataclass
class ReproVAEConfig:
    image_size: int = 64
    latent_dim: int = 10
    beta: float = 4.0
    # Weight of the reprojection term: mean squared distance of paired latent means.
    reprojection_weight: float = 1.0
    steps: int = 300
    batch_size: int = 16
    learning_rate: float = 2e-3
    seed: int = 0
    # Share of each side a training crop keeps (a camera move within a shot).
    crop_range: tuple[float, float] = field(default=(0.75, 1.0))


@dataclass
class VAEOutput:
    reconstruction: torch.Tensor  # (B, 3, 64, 64) in [0, 1]
    mean: torch.Tensor  # (B, latent)
    log_variance: torch.Tensor  # (B, latent)


class ReproVAE(nn.Module):
    def __init__(self, config: ReproVAEConfig) -> None:
        super().__init__()
        self.config = config
        widths = (32, 32, 64, 64)
        layers: list[nn.Module] = []
        channels = 3
        for width in widths:  # 64 -> 32 -> 16 -> 8 -> 4
            layers += [nn.Conv2d(channels, width, 4, 2, 1), nn.ReLU()]
            channels = width
        self.encoder = nn.Sequential(*layers, nn.Flatten())
        cells = (config.image_size // 16) ** 2
        self.to_stats = nn.Linear(channels * cells, 2 * config.latent_dim)
        self.from_latent = nn.Linear(config.latent_dim, channels * cells)
        up: list[nn.Module] = []
        for width in (64, 32, 32):
            up += [nn.ConvTranspose2d(channels, width, 4, 2, 1), nn.ReLU()]
            channels = width
        up.append(nn.ConvTranspose2d(channels, 3, 4, 2, 1))
        self.decoder = nn.Sequential(*up)
        self._grid = config.image_size // 16

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # (B, 3, 64, 64) -> mean, log variance: (B, latent) each
        stats = self.to_stats(self.encoder(images))
        mean, log_variance = stats.chunk(2, dim=1)
        return mean, log_variance.clamp(-10.0, 10.0)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        # (B, latent) -> (B, 3, 64, 64) logits
        hidden = self.from_latent(latent).view(-1, 64, self._grid, self._grid)
        return self.decoder(F.relu(hidden))

    def forward(self, images: torch.Tensor) -> VAEOutput:
        mean, log_variance = self.encode(images)
        latent = mean + torch.randn_like(mean) * (0.5 * log_variance).exp()
        return VAEOutput(torch.sigmoid(self.decode(latent)), mean, log_variance)


def vae_loss(
    model: ReproVAE, first: torch.Tensor, second: torch.Tensor, config: ReproVAEConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """β-VAE loss on both images of each pair, plus the reprojection term on their means."""
    images = torch.cat([first, second])
    out = model(images)
    reconstruction = F.binary_cross_entropy(out.reconstruction, images, reduction="sum") / len(
        images
    )
    kl = -0.5 * torch.sum(1 + out.log_variance - out.mean**2 - out.log_variance.exp()) / len(images)
    mean_a, mean_b = out.mean.chunk(2)
    reprojection = ((mean_a - mean_b) ** 2).sum(dim=1).mean()
    total = reconstruction + config.beta * kl + config.reprojection_weight * reprojection
    return total, {
        "reconstruction": reconstruction.item(),
        "kl": kl.item(),
        "reprojection": reprojection.item(),
    }


def _small(image: np.ndarray, size: int) -> np.ndarray:
    interp = cv2.INTER_AREA if min(image.shape[:2]) > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=interp)


def _crop(image: np.ndarray, rng: np.random.Generator, share: tuple[float, float]) -> np.ndarray:
    height, width = image.shape[:2]
    keep = rng.uniform(*share)
    crop_h, crop_w = max(1, int(height * keep)), max(1, int(width * keep))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    return image[top : top + crop_h, left : left + crop_w]


def _tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images).astype(np.float32) / 255.0).permute(0, 3, 1, 2)


def train_vae(
    images: Sequence[np.ndarray],
    frame_shots: Sequence[int | None],
    config: ReproVAEConfig,
) -> tuple[ReproVAE, list[float]]:
    """Train on one film's frames (HxWx3 uint8, film order); the model and its loss per step.

    Each training pair is two camera-move crops of one frame, or, half the time where there
    is one, a crop of a frame and a crop of the next frame of the same shot.
    """
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = ReproVAE(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    size = config.image_size
    # Frames at twice the training size: crops are taken from these, then shrunk.
    sources = [_small(image, 2 * size) for image in images]
    following = [
        number + 1
        if number + 1 < len(images)
        and frame_shots[number] is not None
        and frame_shots[number] == frame_shots[number + 1]
        else number
        for number in range(len(images))
    ]
    losses: list[float] = []
    model.train()
    for _ in range(config.steps):
        picks = torch.randint(0, len(sources), (config.batch_size,), generator=generator).tolist()
        first, second = [], []
        for pick in picks:
            partner = following[pick] if rng.random() < 0.5 else pick
            first.append(_small(_crop(sources[pick], rng, config.crop_range), size))
            second.append(_small(_crop(sources[partner], rng, config.crop_range), size))
        loss, _ = vae_loss(model, _tensor(first), _tensor(second), config)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return model.eval(), losses


def latent_means(model: ReproVAE, images: Sequence[np.ndarray]) -> np.ndarray:
    """(N, latent) float32 latent means of whole frames."""
    size = model.config.image_size
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), 64):
            batch = _tensor([_small(image, size) for image in images[start : start + 64]])
            out.append(model.encode(batch)[0].numpy())
    if not out:
        return np.zeros((0, model.config.latent_dim), np.float32)
    return np.concatenate(out).astype(np.float32)


def vae_shot_vectors(
    settings: SceneSettings, material: SceneMaterial
) -> tuple[list[np.ndarray | None], dict[str, Any]]:
    """A repro-VAE trained on the film's frames; each shot's mean latent mean, standardised
    per dimension over the film (the scale of a latent is the film's own), and figures."""
    started = time.perf_counter()
    images = list(material.images())
    if not images:
        return [None] * len(material.shots), {}
    config = ReproVAEConfig(steps=settings.vae_steps, seed=settings.vae_seed)
    model, losses = train_vae(images, material.frame_shots, config)
    means = latent_means(model, images)
    spread = means.std(axis=0)
    standard = (means - means.mean(axis=0)) / np.where(spread > 1e-6, spread, 1.0)
    detail = {
        "steps": config.steps,
        "first_loss": round(losses[0], 2),
        "last_loss": round(float(np.mean(losses[-10:])), 2),
        "train_s": round(time.perf_counter() - started, 2),
    }
    return shot_vectors(material.frame_shots, standard, len(material.shots)), detail


def vae_scenes(settings: SceneSettings, material: SceneMaterial) -> SceneFinding:
    """The ``repro_vae`` scene detector (registered in ``app.scenes.detectors``)."""
    if len(material.shots) < 2:
        return SceneFinding([], {"threshold": settings.vae_threshold})
    vectors, detail = vae_shot_vectors(settings, material)
    starts, distances = link_distances(
        vectors, rms_distance, settings.vae_threshold, settings.window
    )
    return SceneFinding(
        starts,
        {
            "threshold": settings.vae_threshold,
            "window": settings.window,
            **detail,
            "distances": [None if d is None else round(d, 4) for d in distances],
        },
    )
