"""Refinement of the encoder's last block(s) with the projection head (CAST fine-tunes the
encoder; ``element_refine`` trains only a head on the frozen 320-d vectors).

The input of the trained blocks (the 7x7 map before the stride-32 pooling, 192 channels in
Lite0) is computed once per crop and per augmented view (``StageRecorder``), so each step
runs only the trained blocks, the pooling and the head. The sampler, the positives (another
sighting of the track, an augmented view) and the InfoNCE loss are ``element_refine``'s.
A bench option (``bench/bench_elements.py --stage-blocks``), run after the head alone and
starting from it. It did not beat the head alone on the tune split (NMI +0.007 plain,
-0.004 ``--hard``: purer but over-split clusters; docs/elements.md), so the elements job
does not use it.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from workers.ml.efficientnet import LITE_MEAN, LITE_STD
from workers.ml.element_refine import (
    ProjectionHead,
    RefineSettings,
    Triplets,
    TripletSampler,
    blocked_candidates,
    with_views,
)
from workers.ml.embedding import IMAGE_SIZE, FrameEmbedder
from workers.ml.inference import to_batch

# Blocks whose input is cached: the last two (stage 6's last block and stage 7), both at 7x7.
CACHED_BLOCKS = 2


class StageRecorder:
    """``embed`` as ``FrameEmbedder.embed`` (same vectors), keeping each call's input of the
    last ``CACHED_BLOCKS`` blocks: ``features[i]`` is (N_i, C, 7, 7) float16 of call i."""

    def __init__(self, embedder: FrameEmbedder) -> None:
        self.embedder = embedder
        self.features: list[np.ndarray] = []

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        encoder = self.embedder.encoder
        blocks = list(encoder._blocks)  # type: ignore[arg-type]
        vectors, maps = [], []
        size = self.embedder.batch_size
        for start in range(0, len(images), size):
            batch = to_batch(
                images[start : start + size], IMAGE_SIZE, self.embedder.device, LITE_MEAN, LITE_STD
            )
            with torch.inference_mode():
                x = functional.relu6(encoder._bn0(encoder._conv_stem(batch)))  # type: ignore[operator]
                for block in blocks[:-CACHED_BLOCKS]:
                    x = block(x)
                maps.append(x.float().cpu().numpy().astype(np.float16))  # (B, 192, 7, 7)
                for block in blocks[-CACHED_BLOCKS:]:
                    x = block(x)
                pooled = functional.normalize(x.float().mean(dim=(2, 3)), dim=1)  # (B, 320)
            vectors.append(pooled.cpu().numpy().astype(np.float16))
        self.features.append(np.concatenate(maps) if maps else np.zeros((0, 192, 7, 7)))
        if not vectors:
            return np.zeros((0, self.embedder.dimension), np.float16)
        return np.concatenate(vectors)


class StageModel(nn.Module):
    """The last ``trained`` blocks (copies, batch norms folded), average pooling, the head;
    the frozen cached blocks before them run once, at the start."""

    def __init__(self, blocks: Sequence[nn.Module], hidden: int, dimension: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[copy.deepcopy(block) for block in blocks])
        self.head = ProjectionHead(dimension, hidden)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:  # (B, C, 7, 7) -> (B, D)
        pooled = self.blocks(maps).mean(dim=(2, 3))
        return self.head(pooled)


@dataclass(frozen=True)
class StageSettings:
    blocks: int = 1  # trained blocks, at most CACHED_BLOCKS
    block_learning_rate: float = 1e-4
    steps: int = 50
    batch_size: int = 64


@dataclass(frozen=True)
class StageRefineResult:
    model: StageModel | None
    loss_before: float | None
    loss_after: float | None


def _prepare(encoder: nn.Module, maps: np.ndarray, trained: int) -> torch.Tensor:
    """Cached maps through the frozen blocks between the cache and the trained ones."""
    tensor = torch.as_tensor(np.asarray(maps, np.float32))
    frozen = list(encoder._blocks)[-CACHED_BLOCKS : len(encoder._blocks) - trained]  # type: ignore[arg-type]
    with torch.no_grad():
        for block in frozen:
            tensor = block(tensor)
    return tensor


def stage_info_nce(
    model: StageModel,
    inputs: torch.Tensor,
    triplets: Triplets,
    blocked: np.ndarray,
    temperature: float,
) -> torch.Tensor:
    """``element_refine.info_nce_loss`` through the blocks: ``inputs`` (rows, C, 7, 7), each
    row of the batch run once however often it is drawn."""
    rows = np.concatenate([triplets.anchor, triplets.positive, triplets.negative])
    unique, inverse = np.unique(rows, return_inverse=True)
    projected = model(inputs[torch.as_tensor(unique)])[torch.as_tensor(inverse)]  # (3B, D)
    size = len(triplets)
    anchor, candidates = projected[:size], projected[size:]
    logits = anchor @ candidates.T / temperature  # (B, 2B): positives, then negatives
    logits = logits.masked_fill(torch.as_tensor(blocked), float("-inf"))
    return functional.cross_entropy(logits, torch.arange(size))


def refine_stage(
    encoder: nn.Module,
    maps: np.ndarray,
    embeddings: np.ndarray,
    track_keys: Sequence[Hashable],
    shot_keys: Sequence[Hashable],
    *,
    view_maps: np.ndarray | None = None,
    settings: RefineSettings | None = None,
    stage: StageSettings | None = None,
    head: Mapping[str, np.ndarray] | None = None,
    seed: int = 0,
) -> StageRefineResult:
    """Train the last ``stage.blocks`` blocks of ``encoder`` (folded, as the embedder holds
    it) and a head on (N, C, 7, 7) cached ``maps``, their (N, D) pretrained ``embeddings``
    and their tracks; ``view_maps``: (N, V, C, 7, 7) maps of augmented views, or None.
    ``head``: a head trained first on the frozen vectors (``element_refine``) to start from
    (the blocks then adapt what the head alone could not: a probe, then a fine-tune)."""
    settings = settings or RefineSettings()
    stage = stage or StageSettings()
    if not 1 <= stage.blocks <= CACHED_BLOCKS:
        raise ValueError(f"stage.blocks must be 1 to {CACHED_BLOCKS}")
    sampler = TripletSampler(
        track_keys, shot_keys, embeddings, false_negative=settings.false_negative_similarity
    )
    if not sampler or len(embeddings) == 0:
        return StageRefineResult(None, None, None)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    count = len(embeddings)
    table = np.asarray(maps)
    views = 0
    if view_maps is not None and view_maps.size:
        views = view_maps.shape[1]
        table = np.concatenate([table, view_maps.reshape(count * views, *view_maps.shape[2:])])
    inputs = _prepare(encoder, table, stage.blocks)  # (N + N V, C, 7, 7)
    pretrained = np.asarray(embeddings, np.float32)
    pretrained /= np.maximum(np.linalg.norm(pretrained, axis=1, keepdims=True), 1e-8)

    blocks = list(encoder._blocks)[-stage.blocks :]  # type: ignore[arg-type]
    model = StageModel(blocks, settings.hidden, pretrained.shape[1])
    if head is not None:
        model.head.load(head)
    model.train()
    optimiser = torch.optim.AdamW(
        [
            {"params": model.blocks.parameters(), "lr": stage.block_learning_rate},
            {"params": model.head.parameters(), "lr": settings.learning_rate},
        ],
        weight_decay=settings.weight_decay,
    )

    def draw(size: int) -> Triplets:
        triplets = sampler.sample(rng, size, settings.same_shot_negatives)
        return with_views(
            triplets, rng, count, views, settings.augment_positives, settings.augment_anchors
        )

    def loss_of(triplets: Triplets) -> torch.Tensor:
        blocked = blocked_candidates(
            triplets,
            sampler.track_number,
            pretrained,
            count,
            views,
            settings.false_negative_similarity,
        )
        return stage_info_nce(model, inputs, triplets, blocked, settings.temperature)

    held_out = draw(min(settings.eval_triplets, 512))
    with torch.no_grad():
        before = float(loss_of(held_out))
    for _ in range(stage.steps):
        loss = loss_of(draw(stage.batch_size))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        after = float(loss_of(held_out))
    return StageRefineResult(model, before, after)


def apply_stage(
    encoder: nn.Module, model: StageModel, maps: np.ndarray, trained: int, batch: int = 256
) -> np.ndarray:
    """(N, C, 7, 7) cached maps -> (N, D) refined, L2-normalised float32 vectors."""
    out = []
    with torch.no_grad():
        for start in range(0, len(maps), batch):
            inputs = _prepare(encoder, maps[start : start + batch], trained)
            out.append(model(inputs).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.head.w2.out_features), np.float32)
