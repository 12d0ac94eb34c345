"""The repro-VAE: it trains on a handful of frames and its loss falls; its detector finds the
one change of picture."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from app.core.config import SceneSettings
from app.scenes.detectors import SceneMaterial
from app.scenes.rule import ShotSpan
from workers.ml.repro_vae import (
    ReproVAE,
    ReproVAEConfig,
    _small,
    _tensor,
    train_vae,
    vae_loss,
    vae_scenes,
)


def _frames(colour: tuple[int, int, int], count: int, seed: int) -> list[np.ndarray]:
    """Frames of one picture (a coloured square on a gradient), each slightly shifted."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, 96, dtype=np.float32)
    out = []
    for _ in range(count):
        image = np.empty((72, 96, 3), np.uint8)
        image[:] = (ramp[None, :, None] * np.array([0.3, 0.5, 0.7])).astype(np.uint8)
        top, left = rng.integers(10, 20), rng.integers(20, 40)
        image[top : top + 30, left : left + 30] = colour
        out.append(image)
    return out


def test_vae_loss_falls_within_a_few_steps() -> None:
    torch.set_num_threads(1)
    frames = _frames((250, 20, 20), 8, seed=0)
    config = ReproVAEConfig(steps=40, batch_size=8, seed=0)

    # Binary cross-entropy of grey levels never reaches 0: measure the loss above its floor,
    # the frames' own entropy.
    pixels = _tensor([_small(frame, config.image_size) for frame in frames])
    floor = float(F.binary_cross_entropy(pixels, pixels, reduction="sum")) / len(frames)

    _, losses = train_vae(frames, [0] * len(frames), config)

    assert np.mean(losses[-5:]) - floor < 0.67 * (np.mean(losses[:5]) - floor)


def test_vae_loss_has_a_reprojection_term_that_is_zero_for_identical_pairs() -> None:
    config = ReproVAEConfig()
    model = ReproVAE(config).eval()
    images = torch.rand(4, 3, 64, 64)

    _, same = vae_loss(model, images, images, config)
    _, other = vae_loss(model, images, torch.rand(4, 3, 64, 64), config)

    assert same["reprojection"] == 0.0 and other["reprojection"] > 0.0


def test_vae_scenes_starts_a_scene_where_the_picture_changes() -> None:
    torch.set_num_threads(1)
    frames = _frames((250, 20, 20), 6, seed=1) + _frames((20, 20, 250), 6, seed=2)
    frames = [np.ascontiguousarray(255 - f) if n >= 6 else f for n, f in enumerate(frames)]
    shots = [ShotSpan(n, n * 25, n * 25 + 24, n * 1.0, n + 1.0) for n in range(4)]
    material = SceneMaterial(
        shots=shots,
        frame_shots=[n // 3 for n in range(12)],
        embeddings=np.zeros((12, 4), np.float32),
        images=lambda: iter(frames),
    )

    finding = vae_scenes(SceneSettings(detector="repro_vae", vae_steps=60), material)

    assert finding.starts == [2]
