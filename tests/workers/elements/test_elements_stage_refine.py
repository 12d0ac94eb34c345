"""Refining the encoder's last block with the head: the cached maps reproduce the embedder's
vectors, the untrained model is the pretrained space, and training lowers the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.core.config import ModelSettings
from workers.ml.element_refine import (
    ProjectionHead,
    RefineSettings,
    TripletSampler,
    blocked_candidates,
)
from workers.ml.element_stage_refine import (
    StageModel,
    StageRecorder,
    StageSettings,
    apply_stage,
    refine_stage,
    stage_info_nce,
)
from workers.ml.embedding import FrameEmbedder


@pytest.fixture(scope="module")
def embedder() -> FrameEmbedder:
    # The ImageNet weights: a random Lite0's 7x7 maps all but vanish (about 1e-7).
    return FrameEmbedder.load(ModelSettings(device="cpu", cpu_threads=1, batch_size=8))


def _sightings(seed: int = 0) -> tuple[list[np.ndarray], list[int], list[int]]:
    """Four elements (a coloured stripe pattern each), two tracks of three noisy sightings."""
    rng = np.random.default_rng(seed)
    images, tracks, shots = [], [], []
    for element in range(4):
        colour = rng.integers(0, 256, 3)
        period = 4 + 3 * element
        stripes = (np.arange(48) // period % 2).astype(float)[None, :, None]
        base = stripes * colour + (1 - stripes) * (255 - colour)
        for track in range(2):
            for _ in range(3):
                noisy = base + rng.normal(0, 25, (48, 48, 3))
                images.append(np.clip(noisy, 0, 255).astype(np.uint8))
                tracks.append(element * 2 + track)
                shots.append((element + track) % 2 * 10 + track)
    return images, tracks, shots


@pytest.fixture(scope="module")
def recorded(embedder: FrameEmbedder) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) float32 vectors and (N, C, 7, 7) maps of the sightings."""
    recorder = StageRecorder(embedder)
    vectors = recorder.embed(_sightings()[0]).astype(np.float32)
    return vectors, recorder.features[0]


def test_recorded_embeddings_match_the_embedder(embedder: FrameEmbedder) -> None:
    images = _sightings()[0][:4]
    recorder = StageRecorder(embedder)

    vectors = recorder.embed(images)

    np.testing.assert_array_equal(vectors, embedder.embed(images))
    assert recorder.features[0].shape == (len(images), 192, 7, 7)


def test_untrained_stage_model_gives_the_pretrained_vectors(
    embedder: FrameEmbedder, recorded: tuple[np.ndarray, np.ndarray]
) -> None:
    vectors, maps = recorded
    blocks = list(embedder.encoder._blocks)[-1:]  # type: ignore[union-attr, arg-type]
    model = StageModel(blocks, hidden=8, dimension=vectors.shape[1])

    refined = apply_stage(embedder.encoder, model, maps, trained=1)

    np.testing.assert_allclose(refined, vectors, atol=2e-2)


def test_one_stage_step_lowers_the_loss(
    embedder: FrameEmbedder, recorded: tuple[np.ndarray, np.ndarray]
) -> None:
    vectors, maps = recorded
    _, tracks, shots = _sightings()
    sampler = TripletSampler(tracks, shots, vectors, false_negative=1.1)
    triplets = sampler.sample(np.random.default_rng(0), 32)
    blocked = blocked_candidates(triplets, sampler.track_number, vectors, len(vectors), 0, 1.1)
    torch.manual_seed(0)
    blocks = list(embedder.encoder._blocks)[-1:]  # type: ignore[union-attr, arg-type]
    model = StageModel(blocks, hidden=8, dimension=vectors.shape[1])
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs = torch.as_tensor(maps.astype(np.float32))
    before = stage_info_nce(model, inputs, triplets, blocked, temperature=0.3)

    optimiser.zero_grad()
    before.backward()
    optimiser.step()
    after = stage_info_nce(model, inputs, triplets, blocked, temperature=0.3)

    assert after.item() < before.item()


def test_refine_stage_returns_a_model_and_its_losses(
    embedder: FrameEmbedder, recorded: tuple[np.ndarray, np.ndarray]
) -> None:
    vectors, maps = recorded
    _, tracks, shots = _sightings()

    result = refine_stage(
        embedder.encoder,
        maps,
        vectors,
        tracks,
        shots,
        settings=RefineSettings(hidden=8),
        stage=StageSettings(blocks=2, steps=2, batch_size=8),
    )

    assert result.model is not None and len(result.model.blocks) == 2
    assert result.loss_before is not None and result.loss_after is not None


def test_head_loads_what_it_exports() -> None:
    head = ProjectionHead(16, 4)
    other = ProjectionHead(16, 4)
    for parameter in head.parameters():
        parameter.data.normal_()

    other.load(head.export())

    for key, value in head.export().items():
        np.testing.assert_array_equal(other.export()[key], value)
