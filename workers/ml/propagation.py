"""Mask propagation through a shot: a few frames carry human masks, the others get soft
P/NP labels from them.

The method is label propagation in the segmenter's own feature space, as in memory-based
semi-supervised video object segmentation (STM, MAMP): the annotated frames' feature maps
and their mask labels form a memory; each cell of a target frame attends to its top-k most
similar memory cells, and takes the affinity-weighted mean of their labels. The features
are the segmenter's decoder features (what it separates P from NP with) joined with colour
and position, so that the same drawn element is recognised where it moved. The soft labels
are then refined with the segmenter's own logits, and optionally fused with optical flow
(OpenCV DIS) warping the nearest annotated mask through the neighbouring frames.

``propagate`` takes RGB uint8 frames in shot order and returns, for every frame, a float
P-probability map at its size; ``copy_nearest`` and ``flow_only`` are the baselines the
bench compares it with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from app.pipeline.borders import PictureBox, find_picture_box, is_dark
from app.pipeline.colour import is_flat
from workers.ml.inference import Segmenter, to_batch

# (done, total) frames propagated.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PropagationConfig:
    """How labels spread. Chosen on tuning clips (bench/bench_propagation.py --tune), whose
    seeds and sources are not those reported."""

    # Affinity: each target cell attends to its top_k memory cells, softmax at temperature.
    top_k: int = 8
    temperature: float = 0.02
    # Relative weights of the feature groups (each L2-normalised before weighting).
    decoder_weight: float = 1.0
    colour_weight: float = 0.3
    position_weight: float = 0.3
    # Cells per side of the affinity grid (the decoder runs at image_size / 4).
    grid: int = 32
    # The previous propagated frame joins the memory (as in STM/XMem), with its confident
    # cells only, so that content drifting away from the annotated frames is followed.
    recurrent: bool = True
    confident: float = 0.3  # |p - 0.5| a recurrent cell must exceed
    # Refinement: logit(p) = logit(propagated) + model_weight * logit(model); flow fused
    # with flow_weight when used.
    model_weight: float = 0.1
    flow_weight: float = 0.5
    use_flow: bool = True


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, 1e-4, 1.0 - 1e-4)
    return np.log(clipped / (1.0 - clipped))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _resize(map_: np.ndarray, width: int, height: int, *, linear: bool = True) -> np.ndarray:
    interpolation = cv2.INTER_LINEAR if linear else cv2.INTER_AREA
    return cv2.resize(map_.astype(np.float32), (width, height), interpolation=interpolation)


def _grid_labels(mask: np.ndarray, grid: int) -> np.ndarray:
    """A mask (HxW bool or float) as the P share of each cell of a grid x grid map."""
    return _resize(mask.astype(np.float32), grid, grid, linear=False)


@dataclass(frozen=True)
class FrameFeatures:
    cells: torch.Tensor  # (grid*grid, D), weighted and normalised per group
    model_p: np.ndarray  # (h, w) the segmenter's P probability at the frame's size


class FeatureExtractor:
    """The segmenter's decoder features (captured at its classifier's input), its P
    probability, and colour and position features, on one grid per frame."""

    def __init__(self, segmenter: Segmenter, config: PropagationConfig) -> None:
        self.segmenter = segmenter
        self.config = config
        head = getattr(segmenter.module.model, "decode_head", None)
        classifier = getattr(head, "classifier", None)
        if classifier is None:
            raise TypeError("the segmenter has no SegFormer decode head to take features from")
        self._classifier: torch.nn.Module = classifier
        self._captured: list[torch.Tensor] = []

    def _hook(
        self, _module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], _out: object
    ) -> None:
        self._captured.append(inputs[0].detach())

    def __call__(self, frames: Sequence[np.ndarray]) -> list[FrameFeatures]:
        config = self.config
        size = self.segmenter.image_size
        grid = config.grid
        results: list[FrameFeatures] = []
        handle = self._classifier.register_forward_hook(self._hook)
        try:
            for start in range(0, len(frames), self.segmenter.batch_size):
                chunk = frames[start : start + self.segmenter.batch_size]
                self._captured.clear()
                batch = to_batch(self.segmenter.prepared(chunk), size, self.segmenter.device)
                logits = self.segmenter._run(batch)
                assert isinstance(logits, torch.Tensor)
                hidden = self._captured[-1].float()  # (B, C, size/4, size/4)
                probs = torch.softmax(logits.float(), dim=1)[:, 1]  # (B, size/4, size/4)
                decoder = F.adaptive_avg_pool2d(hidden, grid)  # (B, C, grid, grid)
                decoder = F.normalize(decoder.flatten(2).transpose(1, 2), dim=-1)  # (B, N, C)
                for offset, frame in enumerate(chunk):
                    height, width = frame.shape[:2]
                    model_p = _resize(probs[offset].cpu().numpy(), width, height)
                    results.append(
                        FrameFeatures(
                            cells=self._cells(decoder[offset].cpu(), frame),
                            model_p=model_p,
                        )
                    )
        finally:
            handle.remove()
        return results

    def _cells(self, decoder: torch.Tensor, frame: np.ndarray) -> torch.Tensor:
        config = self.config
        grid = config.grid
        lab = cv2.cvtColor(
            cv2.resize(frame, (grid, grid), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2LAB
        )
        colour = torch.from_numpy(lab.reshape(-1, 3).astype(np.float32) / 255.0 - 0.5)
        ys, xs = torch.meshgrid(
            torch.linspace(-1.0, 1.0, grid), torch.linspace(-1.0, 1.0, grid), indexing="ij"
        )
        position = torch.stack([ys.flatten(), xs.flatten()], dim=1)
        # Position and colour are not unit vectors: scaled so their weight means the same.
        return torch.cat(
            [
                decoder * config.decoder_weight,
                colour * (config.colour_weight / 0.5),
                position * (config.position_weight / 1.0),
            ],
            dim=1,
        )


def _attend(
    target: torch.Tensor, memory: torch.Tensor, labels: torch.Tensor, config: PropagationConfig
) -> torch.Tensor:
    """Soft P labels (N,) of target cells (N, D) from memory cells (M, D) and labels (M,)."""
    similarity = target @ memory.T  # (N, M)
    k = min(config.top_k, memory.shape[0])
    values, indices = similarity.topk(k, dim=1)  # (N, k)
    weights = torch.softmax(values / config.temperature, dim=1)
    return (weights * labels[indices]).sum(dim=1)


def flow_warp(previous: np.ndarray, following: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask`` (float, at ``previous``'s size) carried to ``following`` by DIS optical flow."""
    height, width = following.shape[:2]
    grey_prev = cv2.cvtColor(cv2.resize(previous, (width, height)), cv2.COLOR_RGB2GRAY)
    grey_next = cv2.cvtColor(following, cv2.COLOR_RGB2GRAY)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]
    # Backward flow: for each pixel of the following frame, where it was in the previous.
    flow = dis.calc(grey_next, grey_prev, None)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    source = _resize(mask, width, height)
    return cv2.remap(
        source,
        xs + flow[..., 0],
        ys + flow[..., 1],
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _outward_order(count: int, annotated: Sequence[int]) -> list[tuple[int, int]]:
    """(frame, neighbour it is reached from) for every unannotated frame, nearest first."""
    distance = {i: min(abs(i - a) for a in annotated) for i in range(count)}
    order = sorted((i for i in range(count) if i not in annotated), key=lambda i: (distance[i], i))
    steps = []
    for i in order:
        nearest = min(annotated, key=lambda a: (abs(i - a), a))
        steps.append((i, i - 1 if nearest < i else i + 1))
    return steps


def flow_only(
    frames: Sequence[np.ndarray], annotated: Mapping[int, np.ndarray]
) -> list[np.ndarray]:
    """Baseline: each frame's mask is the nearest annotated mask warped frame by frame."""
    result: dict[int, np.ndarray] = {
        i: _resize(mask.astype(np.float32), frames[i].shape[1], frames[i].shape[0])
        for i, mask in annotated.items()
    }
    for i, neighbour in _outward_order(len(frames), list(annotated)):
        result[i] = flow_warp(frames[neighbour], frames[i], result[neighbour])
    return [result[i] for i in range(len(frames))]


def copy_nearest(
    frames: Sequence[np.ndarray], annotated: Mapping[int, np.ndarray]
) -> list[np.ndarray]:
    """Baseline: each frame takes the nearest annotated mask as it is."""
    out = []
    for i, frame in enumerate(frames):
        nearest = min(annotated, key=lambda a: (abs(i - a), a))
        out.append(_resize(annotated[nearest].astype(np.float32), frame.shape[1], frame.shape[0]))
    return out


def propagate(
    frames: Sequence[np.ndarray],
    annotated: Mapping[int, np.ndarray],
    segmenter: Segmenter,
    config: PropagationConfig | None = None,
    *,
    progress: Progress | None = None,
    refine: bool = True,
) -> list[np.ndarray]:
    """P probability maps for every frame (in ``frames``' order) from the masks of the
    annotated ones (position in ``frames`` -> HxW bool mask, any size). Annotated frames
    keep their masks (inside the picture, for a shot in bars). ``refine`` False: the feature
    propagation alone. A shot inside black bars is propagated inside them, as the segmenter
    sees frames (``crop_borders``), and the maps are stretched back over the bars (each bar
    takes the picture's edge beside it)."""
    config = config or PropagationConfig()
    if not annotated:
        raise ValueError("propagation needs at least one annotated frame")
    for frame in frames:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frames must be HxWx3 uint8 RGB arrays, got {frame.shape}")
    box = _shot_picture(frames, segmenter)
    if box is not None:
        # The shot inside its black bars, as the segmenter sees frames; the maps stretched back.
        pictures = [box.crop(frame) for frame in frames]
        masks = {
            i: box.crop(_resize(mask, box.width, box.height, linear=False) >= 0.5)
            for i, mask in annotated.items()
        }
        maps = _propagate(pictures, masks, segmenter, config, progress, refine)
        return [box.expand_map(map_) for map_ in maps]
    return _propagate(frames, annotated, segmenter, config, progress, refine)


def _propagate(
    frames: Sequence[np.ndarray],
    annotated: Mapping[int, np.ndarray],
    segmenter: Segmenter,
    config: PropagationConfig,
    progress: Progress | None,
    refine: bool,
) -> list[np.ndarray]:
    features = FeatureExtractor(segmenter, config)(frames)
    grid = config.grid
    memory = torch.cat([features[i].cells for i in annotated])
    labels = torch.cat(
        [torch.from_numpy(_grid_labels(mask, grid).reshape(-1)) for mask in annotated.values()]
    )
    result: dict[int, np.ndarray] = {
        i: _resize(mask.astype(np.float32), frames[i].shape[1], frames[i].shape[0])
        for i, mask in annotated.items()
    }
    grids: dict[int, torch.Tensor] = {
        i: torch.from_numpy(_grid_labels(mask, grid).reshape(-1)) for i, mask in annotated.items()
    }
    steps = _outward_order(len(frames), list(annotated))
    for done, (i, neighbour) in enumerate(steps, start=1):
        keys, values = memory, labels
        if config.recurrent and neighbour not in annotated:
            previous = grids[neighbour]
            sure = (previous - 0.5).abs() > config.confident
            keys = torch.cat([memory, features[neighbour].cells[sure]])
            values = torch.cat([labels, (previous[sure] > 0.5).float()])
        soft = _attend(features[i].cells, keys, values, config)  # (grid*grid,)
        grids[i] = soft
        height, width = frames[i].shape[:2]
        propagated = _resize(soft.reshape(grid, grid).numpy(), width, height)
        logit = _logit(propagated)
        if config.use_flow:
            warped = flow_warp(frames[neighbour], frames[i], result[neighbour])
            logit = (1.0 - config.flow_weight) * logit + config.flow_weight * _logit(warped)
        if refine:
            logit = logit + config.model_weight * _logit(features[i].model_p)
        result[i] = _sigmoid(logit).astype(np.float32)
        grids[i] = torch.from_numpy(_grid_labels(result[i], grid).reshape(-1))
        if progress is not None:
            progress(done, len(steps))
    return [result[i] for i in range(len(frames))]


def _shot_picture(frames: Sequence[np.ndarray], segmenter: Segmenter) -> PictureBox | None:
    """The box holding every frame's picture inside black bars (frames of one size; frames
    black all over, such as a fade, have no say, nor, when the segmenter takes colour casts
    out, frames of one flat colour: a faded print's fade is dark magenta), or None when that
    is the whole frame."""
    if not frames or len({frame.shape for frame in frames}) > 1:
        return None
    # Inside the bars only: a person's mask over subtitles is propagated as drawn.
    boxes = [
        find_picture_box(
            frame, bars=segmenter.crop_borders, balance_colour=segmenter.balance_colour
        )
        for frame in frames
        if not is_dark(frame) and not (segmenter.balance_colour and is_flat(frame))
    ]
    if not boxes:
        return None
    box = PictureBox.union(boxes)
    return None if box.whole else box


def model_only(frames: Sequence[np.ndarray], segmenter: Segmenter) -> list[np.ndarray]:
    """Baseline: the segmenter alone."""
    return segmenter.segment(list(frames))
