"""Training of the proxy classifier and the segmenter: seeded, resumable, CPU or CUDA.

Batches are drawn on the fly from in-memory image pools: homogeneous crops (every pixel and
patch shares the frame label), exact-mask composites (when enabled) and proxy-masked
heterogeneous images. A checkpoint with model, optimiser and random state is written every
``checkpoint_every`` steps; ``resume=True`` continues from it and gives the same result as an
uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from app.core.config import FRAME_HEAD_THRESHOLDS, ClassThresholds
from workers.ml.checkpoint import weights_version
from workers.ml.composites import STYLES, Sample, homogeneous, make_composite, pick
from workers.ml.data import ImagePool
from workers.ml.degrade import degrade, tone_curve
from workers.ml.drawn_renders import render_drawn
from workers.ml.inference import half_dtype, select_device
from workers.ml.models import (
    FRAME_CLASS_ORDER,
    IMAGE_MEAN,
    IMAGE_STD,
    ClassifierConfig,
    ModelKind,
    PatchCentroidClassifier,
    Segmenter,
    SegmenterConfig,
    build_classifier,
    build_segmenter,
    lite_encoder_of,
    load_model,
    read_meta,
    save_model,
)

log = logging.getLogger(__name__)
IGNORE_LABEL = 255
# Frame aspect ratios seen in archives (1.33 academy, 1.37, 1.66, 1.78, 2.35 scope, square).
ASPECTS = (1.0, 1.33, 1.37, 1.66, 1.78, 2.35)


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_steps: int = 100
    seed: int = 0
    # Share of each batch that is an exact-mask composite (0 = the paper's homogeneous-only setting).
    composite_ratio: float = 0.0
    # Share drawn from proxy-masked heterogeneous images (segmenter only).
    proxy_ratio: float = 0.0
    degrade: bool = True
    checkpoint_every: int = 200
    device: str = "auto"
    threads: int | None = None
    # Train the heads only: the pretrained encoder's weights and batch-norm statistics stay fixed.
    freeze_encoder: bool = False
    styles: list[str] = field(default_factory=lambda: list(STYLES))
    # How much rarer sources are favoured: each image drawn with weight n ** -source_balance,
    # n the number of images of its source (0 = every image alike, the big sources dominate;
    # 1 = every source alike). Training sources differ by two orders of magnitude in size.
    source_balance: float = 0.0
    # Share of NP draws that are drawn-looking renders of training photographs (pencil,
    # cartoon, watercolour: ``drawn_renders``); 0 = the labelled drawings only.
    drawn_renders: float = 0.0
    # Smallest crop of a homogeneous training image, as a share of its side (close-ups below
    # the default 0.55 show textures such as facades that whole photographs rarely do).
    min_crop: float = 0.55
    # Share of training draws whose tone is remapped before the archival degradations
    # (``degrade.tone_curve``: gamma, fading, crushed contrast, exposure); 0 = flicker only.
    tone: float = 0.0
    # Processes that draw batches beside the training loop (a GPU step outruns one CPU core's
    # composites many times over). 0 = the loop draws them itself: reproducible and resumable
    # step for step. With workers, each draws its own stream, seeded by (seed, worker, the step
    # it started at): reproducible for the same worker count, not step for step across a resume.
    workers: int = 0
    # Stop after this many seconds of training (a GPU lease, a night): the learning rate then
    # anneals by elapsed time or by steps, whichever is further along. None = run every step.
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"workers must be 0 or more, not {self.workers}")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be above 0, not {self.time_limit_s}")
        name = out_of_bounds({k: getattr(self, k) for k in SAMPLING_BOUNDS})
        if name is not None:
            low, high = SAMPLING_BOUNDS[name]
            raise ValueError(
                f"{name} must be between {low:g} and {high:g}, not {getattr(self, name)}"
            )


# The allowed ranges of the sampling settings, for TrainConfig and the train commands' options.
SAMPLING_BOUNDS: dict[str, tuple[float, float]] = {
    "source_balance": (0.0, 1.0),
    "drawn_renders": (0.0, 1.0),
    "min_crop": (0.1, 1.0),
    "tone": (0.0, 1.0),
}


def out_of_bounds(values: dict[str, float]) -> str | None:
    """The first of these sampling settings outside its range in ``SAMPLING_BOUNDS``."""
    for name, value in values.items():
        low, high = SAMPLING_BOUNDS[name]
        if not low <= value <= high:
            return name
    return None


@dataclass
class ProxySet:
    """Heterogeneous images with proxy masks: 255 = P, 0 = NP, IGNORE_LABEL (128 on disk) = unsure."""

    images: list[np.ndarray]
    labels: list[np.ndarray]  # (H, W) uint8 in {0, 1, IGNORE_LABEL}


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """A (B, S, S, 3) uint8 batch as the normalised (B, 3, S, S) float tensor the models take."""
    array = images.astype(np.float32) / 255.0
    tensor = torch.from_numpy(array).permute(0, 3, 1, 2)
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (tensor - mean) / std


def source_weights(sources: Sequence[str], balance: float) -> np.ndarray | None:
    """Per-image drawing probabilities, n_source ** -balance normalised; None for uniform."""
    if balance == 0.0 or not sources:
        return None
    _, index, counts = np.unique(np.asarray(sources), return_inverse=True, return_counts=True)
    weights = counts[index].astype(np.float64) ** -balance
    return weights / weights.sum()


class BatchMaker:
    """Random training batches of images with P labels, square at ``size``."""

    def __init__(
        self,
        pools: tuple[ImagePool, ImagePool],
        size: int,
        config: TrainConfig,
        proxy: ProxySet | None = None,
    ) -> None:
        self.p_pool, self.np_pool = pools
        self.size = size
        self.config = config
        self.proxy = proxy
        self.rng = np.random.default_rng(config.seed)
        self.p_weights = source_weights(self.p_pool.sources, config.source_balance)
        self.np_weights = source_weights(self.np_pool.sources, config.source_balance)

    def _pick(self, photographic: bool) -> np.ndarray:
        share = self.config.drawn_renders
        # The extra draw only when renders are asked for: share 0 keeps batches as before.
        if not photographic and share and self.p_pool.images and self.rng.random() < share:
            return render_drawn(self._pick(True), self.rng)
        pool, weights = (
            (self.p_pool, self.p_weights) if photographic else (self.np_pool, self.np_weights)
        )
        if weights is None:
            return pick(pool.images, self.rng)
        return pool.images[int(self.rng.choice(len(pool.images), p=weights))]

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """One (image (S,S,3) uint8, label (S,S) uint8 in {0,1,IGNORE}) pair."""
        rng, size = self.rng, self.size
        draw = rng.random()
        if self.proxy is not None and self.proxy.images and draw < self.config.proxy_ratio:
            index = int(rng.integers(len(self.proxy.images)))
            image, label = self.proxy.images[index], self.proxy.labels[index]
            if rng.random() < 0.5:
                image, label = image[:, ::-1], label[:, ::-1]
            image = cv2.resize(
                np.ascontiguousarray(image), (size, size), interpolation=cv2.INTER_AREA
            )
            label = cv2.resize(
                np.ascontiguousarray(label), (size, size), interpolation=cv2.INTER_NEAREST
            )
        else:
            height = size
            width = max(8, round(size * float(rng.choice(ASPECTS))))
            sample: Sample
            if draw < self.config.proxy_ratio + self.config.composite_ratio:
                style = str(rng.choice(self.config.styles))
                sample = make_composite(
                    self._pick(True),
                    self._pick(False),
                    height=height,
                    width=width,
                    rng=rng,
                    style=style,
                )
            else:
                is_p = rng.random() < 0.5
                sample = homogeneous(
                    self._pick(is_p),
                    is_p,
                    height=height,
                    width=width,
                    rng=rng,
                    min_crop=self.config.min_crop,
                )
            image = cv2.resize(sample.image, (size, size), interpolation=cv2.INTER_AREA)
            label = cv2.resize(
                sample.p_mask.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST
            )
        # The extra draw only when tone curves are asked for: 0 keeps batches as before.
        if self.config.tone and rng.random() < self.config.tone:
            image = tone_curve(image, rng)
        if self.config.degrade:
            image = degrade(image, rng)
        return np.ascontiguousarray(image), np.ascontiguousarray(label)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """One batch as uint8 arrays: images (B,S,S,3), labels (B,S,S). No torch here: a
        forked worker process must not enter torch's thread pool (it can hang there)."""
        pairs = [self.sample() for _ in range(self.config.batch_size)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return _batch_tensors(self.arrays())


def _batch_tensors(arrays: tuple[np.ndarray, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = arrays
    return _to_tensor(images), torch.from_numpy(labels.astype(np.int64))


def patch_targets(labels: torch.Tensor, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft P share per patch (B, gh, gw) and a weight that drops patches that are mostly 'unsure'."""
    known = (labels != IGNORE_LABEL).float()
    p = (labels == 1).float()
    p_sum = F.avg_pool2d(p[:, None], patch_size)[:, 0]
    known_share = F.avg_pool2d(known[:, None], patch_size)[:, 0]
    share = p_sum / known_share.clamp(min=1e-6)
    return share, (known_share > 0.5).float()


def frame_class_targets(labels: torch.Tensor, thresholds: ClassThresholds) -> torch.Tensor:
    """(B,) index in FRAME_CLASS_ORDER (NP 0, hybrid 1, P 2) of each label mask's class, by
    the one classification rule (``ClassThresholds.classify``) on its P share of known pixels."""
    known = (labels != IGNORE_LABEL).float().sum(dim=(1, 2)).clamp(min=1.0)
    shares = ((labels == 1).float().sum(dim=(1, 2)) / known).tolist()
    indices = [FRAME_CLASS_ORDER.index(thresholds.classify(share).value) for share in shares]
    return torch.tensor(indices, dtype=torch.long, device=labels.device)


def classifier_loss(
    model: PatchCentroidClassifier, images: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    out = model(images)
    frame_loss = torch.zeros((), device=images.device)
    if out.class_logits is not None:
        frame_loss = F.cross_entropy(
            out.class_logits.float(), frame_class_targets(labels, FRAME_HEAD_THRESHOLDS)
        )
    target, weight = patch_targets(labels, model.patch_size)
    if model.config.head == "cls":
        # The CLS baseline learns from the frame label (majority class of the frame) only.
        frame_target = (target.mean(dim=(1, 2)) > 0.5).long()
        return F.cross_entropy(out.frame_logits.float(), frame_target) + frame_loss
    log_probs = torch.log_softmax(out.patch_logits.float(), dim=-1)  # (B, gh, gw, 2)
    patch_ce = -(target * log_probs[..., 1] + (1 - target) * log_probs[..., 0])
    return (patch_ce * weight).sum() / weight.sum().clamp(min=1.0) + frame_loss


def segmenter_loss(model: Segmenter, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    logits = model(images)  # (B, 2, S/4, S/4)
    logits = F.interpolate(
        logits.float(), size=labels.shape[-2:], mode="bilinear", align_corners=False
    )
    ce = F.cross_entropy(logits, labels, ignore_index=IGNORE_LABEL)
    # A soft Dice term on both classes keeps the minority class (usually NP) from being ignored.
    valid = (labels != IGNORE_LABEL).float()[:, None]
    probs = torch.softmax(logits, dim=1) * valid
    onehot = F.one_hot(labels.clamp(max=1), 2).permute(0, 3, 1, 2).float() * valid
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    dice = 1 - ((2 * inter + 1) / (denom + 1)).mean()
    return ce + 0.5 * dice


def _lr_at(step: int, config: TrainConfig, elapsed_s: float = 0.0) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    if config.time_limit_s is not None:
        progress = max(progress, elapsed_s / config.time_limit_s)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class _BatchStream(torch.utils.data.IterableDataset[tuple[np.ndarray, np.ndarray]]):
    """Endless batches from one ``BatchMaker`` per worker process (forked, so the image pools
    are shared, not copied), each worker on its own seeded stream."""

    def __init__(self, maker: BatchMaker, start_step: int) -> None:
        self.maker, self.start_step = maker, start_step

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        self.maker.rng = np.random.default_rng([self.maker.config.seed, worker, self.start_step])
        # No cv2.setNumThreads here: after a fork from a process that used OpenCV's thread
        # pool, that call hangs (measured); OpenCV's own calls do not.
        while True:
            yield self.maker.arrays()  # uint8: a quarter of the bytes between processes


# A worker that sends no batch for this long has hung: the run fails instead of waiting on.
WORKER_TIMEOUT_S = 300.0


@contextmanager
def _batch_source(
    batches: BatchMaker, config: TrainConfig, start_step: int
) -> Iterator[Callable[[], tuple[torch.Tensor, torch.Tensor]]]:
    """Where the loop takes its batches: the maker itself, or ``config.workers`` processes,
    forked (they share the image pools instead of copying them; fork is Linux's, where the
    service runs), started at the first batch asked for and shut down on leaving."""
    if not config.workers:
        yield batches.batch
        return
    loader = torch.utils.data.DataLoader(
        _BatchStream(batches, start_step),
        batch_size=None,
        num_workers=config.workers,
        collate_fn=_as_they_are,  # kept as numpy: made into tensors here, not there
        prefetch_factor=4,
        multiprocessing_context="fork",
        timeout=WORKER_TIMEOUT_S,
    )
    streams: list[Iterator[tuple[np.ndarray, np.ndarray]]] = []

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        if not streams:
            streams.append(iter(loader))
        return _batch_tensors(next(streams[0]))

    try:
        yield next_batch
    finally:
        streams.clear()  # the iterator's end shuts the worker processes down


def _as_they_are(arrays: Any) -> Any:
    """The collate step for whole batches (``batch_size=None`` hands over one item)."""
    return arrays


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    final_loss: float
    wall_s: float
    losses: list[float]


# Settings that change where a run goes; device, threads and checkpointing do not.
_NOT_RECIPE = ("device", "threads", "checkpoint_every")


class ResumeMismatch(ValueError):
    """A checkpoint made with other training settings than the run asked to resume it."""


def _recipe(config: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(config).items() if k not in _NOT_RECIPE}


def _check_same_recipe(saved: dict[str, Any] | None, asked: dict[str, Any], path: Path) -> None:
    """Resuming with other settings would silently mix two runs (a schedule, sampling or
    loss that changes half way); checkpoints from before settings were saved pass."""
    if saved is None:
        return
    # A setting added since the checkpoint was made ran at its default then.
    before = {**_recipe(TrainConfig()), **saved}
    changed = sorted(k for k in asked if k in before and before[k] != asked[k])
    if changed:
        details = ", ".join(f"{k}: {before[k]!r} -> {asked[k]!r}" for k in changed)
        raise ResumeMismatch(
            f"the checkpoint in {path.parent.name}/ was made with other settings ({details}); "
            "start over with --no-resume, or use another --out"
        )


def run_training(
    model: torch.nn.Module,
    loss_fn: Callable[[Any, torch.Tensor, torch.Tensor], torch.Tensor],
    batches: BatchMaker,
    config: TrainConfig,
    out_dir: Path,
    *,
    resume: bool = True,
    meta: dict[str, Any] | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult:
    """The shared loop: AdamW, warmup + cosine, mixed precision on CUDA, checkpoints, resume."""
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = select_device(config.device)
    amp_dtype = half_dtype(device)
    model.to(device).train()
    encoder = lite_encoder_of(model)
    if config.freeze_encoder:
        if encoder is None:
            raise ValueError("--freeze-encoder needs an EfficientNet-Lite encoder")
        encoder.requires_grad_(False)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trainable if p.ndim >= 2 and "centroids" not in n]
    no_decay = [p for n, p in trainable if p.ndim < 2 or "centroids" in n]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
    )
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out_dir / "checkpoint.pt"
    start_step, losses, wall_before = 0, [], 0.0
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        _check_same_recipe(state.get("recipe"), _recipe(config), checkpoint_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        batches.rng = pickle.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        start_step, losses, wall_before = state["step"], state["losses"], state["wall_s"]
        log.info("resumed from %s at step %d", checkpoint_path, start_step)
    started = time.monotonic()
    steps = range(start_step, config.steps)
    if config.time_limit_s is not None and wall_before >= config.time_limit_s:
        log.warning("%s: its time limit was reached at step %d; nothing left", out_dir, start_step)
        steps = range(start_step, start_step)
    bar = tqdm(
        steps,
        initial=start_step,
        total=config.steps,
        disable=not progress,
        desc=out_dir.name,
    )
    done = start_step
    with _batch_source(batches, config, start_step) as next_batch:
        for step in bar:
            elapsed = wall_before + time.monotonic() - started
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(step, config, elapsed)
            images, labels = next_batch()
            images, labels = images.to(device), labels.to(device)
            if config.freeze_encoder and encoder is not None:
                encoder.eval()  # frozen batch-norm statistics too
            if amp_dtype is not None:
                with torch.autocast(device_type="cuda", dtype=amp_dtype):
                    loss = loss_fn(model, images, labels)
            else:
                loss = loss_fn(model, images, labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            done = step + 1
            interrupted = stop_after is not None and done >= stop_after and done < config.steps
            wall = wall_before + time.monotonic() - started
            # Out of time: this step's checkpoint is the last, and the model is saved below.
            out_of_time = config.time_limit_s is not None and wall >= config.time_limit_s
            if (
                done % config.checkpoint_every == 0
                or done == config.steps
                or interrupted
                or out_of_time
            ):
                torch.save(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "rng": pickle.dumps(batches.rng),
                        "torch_rng": torch.get_rng_state(),
                        "step": done,
                        "losses": losses,
                        "wall_s": wall,
                        "recipe": _recipe(config),
                    },
                    checkpoint_path,
                )
            if interrupted:
                # A deliberate pause (session time limits): the checkpoint is written, the model is not.
                bar.close()
                return TrainResult(out_dir, done, float(np.mean(losses[-50:])), wall, losses)
            if out_of_time:
                break
    bar.close()
    wall = wall_before + time.monotonic() - started
    model.eval().cpu()
    info = {
        "train": asdict(config),
        "steps": done,
        "wall_s": round(wall, 1),
        "final_loss": float(np.mean(losses[-50:])) if losses else None,
        **(meta or {}),
    }
    save_model(model, out_dir / "model", extra={"training": info})  # type: ignore[arg-type]
    (out_dir / "training.json").write_text(json.dumps(info, indent=2, default=str))
    return TrainResult(out_dir, done, info["final_loss"] or float("nan"), wall, losses)


def _initial(init_from: Path | None, kind: ModelKind) -> PatchCentroidClassifier | Segmenter | None:
    if init_from is None:
        return None
    model = load_model(init_from, kind)
    model.train()
    return model


def train_classifier(
    pools: tuple[ImagePool, ImagePool],
    model_config: ClassifierConfig,
    config: TrainConfig,
    out_dir: Path,
    *,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
    init_from: Path | None = None,
    encoder_from: Path | None = None,
) -> TrainResult:
    """Train a classifier; ``init_from`` continues from saved weights (fine-tuning) instead of
    scratch; ``encoder_from`` starts the encoder from a segmenter's (to share one encoder)."""
    torch.manual_seed(config.seed)  # before init, so the initial weights are reproducible too
    model = _initial(init_from, "classifier") or build_classifier(model_config)
    assert isinstance(model, PatchCentroidClassifier)
    meta = _encoder_record(model, encoder_from, config)
    batches = BatchMaker(pools, model.config.image_size, config)
    return run_training(
        model,
        classifier_loss,
        batches,
        config,
        out_dir,
        resume=resume,
        meta=meta,
        progress=progress,
        stop_after=stop_after,
    )


def _encoder_record(
    model: PatchCentroidClassifier | Segmenter, encoder_from: Path | None, config: TrainConfig
) -> dict[str, Any] | None:
    """``--encoder-from``: the other model's encoder copied into ``model``, and its training
    record: ``encoder_from`` (the pair may share one encoder run) only when the encoder stays
    frozen, else just where it started. None without it."""
    if encoder_from is None:
        return None
    copied = copy_encoder(model, encoder_from)
    return {"encoder_from" if config.freeze_encoder else "encoder_started_from": copied}


class EncoderMismatch(ValueError):
    """``--encoder-from`` names a model whose encoder cannot be this one's."""


def copy_encoder(model: PatchCentroidClassifier | Segmenter, source_dir: Path) -> dict[str, Any]:
    """Load another model's EfficientNet-Lite encoder weights (a segmenter's into a classifier,
    or a classifier's into a segmenter) into ``model``'s encoder; with ``--freeze-encoder`` the
    two models then compute the same features and the pipeline runs the encoder once for both.
    Returns what was copied, for the training record."""
    kind = read_meta(source_dir).get("kind")
    if kind not in ("classifier", "segmenter"):
        raise EncoderMismatch(f"{source_dir} holds no classifier or segmenter")
    source = lite_encoder_of(load_model(source_dir, kind))
    target = lite_encoder_of(model)
    if source is None or target is None:
        raise EncoderMismatch("--encoder-from needs EfficientNet-Lite encoders in both models")
    if source.variant != target.variant:
        raise EncoderMismatch(
            f"the {kind}'s encoder is {source.variant}, this one's {target.variant}"
        )
    target.load_state_dict(source.state_dict())
    return {"kind": kind, "version": weights_version(source_dir), "variant": source.variant}


def train_segmenter(
    pools: tuple[ImagePool, ImagePool],
    model_config: SegmenterConfig,
    config: TrainConfig,
    out_dir: Path,
    *,
    proxy: ProxySet | None = None,
    resume: bool = True,
    progress: bool = True,
    init_from: Path | None = None,
    encoder_from: Path | None = None,
) -> TrainResult:
    """Train a segmenter; ``init_from`` continues from saved weights (fine-tuning) instead of
    scratch; ``encoder_from`` starts the encoder from a classifier's (to share one encoder)."""
    torch.manual_seed(config.seed)
    model = _initial(init_from, "segmenter") or build_segmenter(model_config)
    assert isinstance(model, Segmenter)
    meta = _encoder_record(model, encoder_from, config)
    batches = BatchMaker(pools, model.config.image_size, config, proxy=proxy)
    return run_training(
        model,
        segmenter_loss,
        batches,
        config,
        out_dir,
        resume=resume,
        meta=meta,
        progress=progress,
    )
