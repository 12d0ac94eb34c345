"""Batched inference with the proxy classifier and the segmenter, on the CPU or a GPU.

Load each model once per process (``Classifier.load`` / ``Segmenter.load``) and feed it lists
of RGB uint8 frames of any size; batching, resizing, device placement and half precision on
CUDA happen here. Without a path, the default weights shipped in ``workers/ml/weights`` load;
nothing is ever downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from app.core.config import FRAME_HEAD_THRESHOLDS, ClassThresholds, FrameClass, ModelSettings
from app.pipeline.borders import PictureBox, picture_of
from app.pipeline.colour import balance
from app.pipeline.quantify import HybridRates
from workers.ml.calibration import Calibration, certainty, threshold_margin
from workers.ml.checkpoint import (
    DEFAULT_CLASSIFIER_DIR,
    DEFAULT_SEGMENTER_DIR,
    weights_version,
)
from workers.ml.efficientnet import EfficientNetLiteEncoder, fold_batchnorm
from workers.ml.models import (
    FRAME_CLASS_ORDER,
    IMAGE_MEAN,
    IMAGE_STD,
    CheckpointError,
    ClassifierOutput,
    LiteSegformer,
    PatchCentroidClassifier,
    fold_decode_head,
    lite_encoder_of,
    load_model,
    read_meta,
)
from workers.ml.models import (
    Segmenter as SegmenterModule,
)

T = TypeVar("T")


def select_device(preference: str = "auto") -> torch.device:
    """``auto`` takes CUDA when torch sees a GPU; asking for ``cuda`` without one falls back to the CPU."""
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def for_inference(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` in eval mode on ``device``, its EfficientNet-Lite encoders' batch norms
    folded into their convolutions, its SegFormer decode head's linear layers multiplied out
    (``FoldedDecodeHead``) and its weights laid out channels-last (the layout ``to_batch``
    gives): the same function, in about 0.5-0.6x the time on a CPU (docs/results.md). Not for
    training: a folded encoder or head has no batch norms left to train or save."""
    module.eval()
    for part in list(module.modules()):
        if isinstance(part, EfficientNetLiteEncoder):
            fold_batchnorm(part)
        elif isinstance(part, LiteSegformer):
            fold_decode_head(part)
    # (torch's stubs lack Module.to's memory_format keyword.)
    moved: torch.nn.Module = module.to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]
    return moved


def half_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU supports it, else fp16; None (fp32) on the CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def to_batch(
    frames: Sequence[np.ndarray],
    size: int,
    device: torch.device,
    mean: Sequence[float] = IMAGE_MEAN,
    std: Sequence[float] = IMAGE_STD,
) -> torch.Tensor:
    """Resize RGB uint8 frames to ``size`` x ``size`` and normalise by ``mean`` and ``std``:
    (B, 3, size, size) float32, laid out channels-last in memory (as the frames come)."""
    resized = []
    for frame in frames:
        h, w = frame.shape[:2]
        interp = cv2.INTER_AREA if min(h, w) > size else cv2.INTER_LINEAR
        resized.append(cv2.resize(np.ascontiguousarray(frame), (size, size), interpolation=interp))
    array = np.stack(resized).astype(np.float32) / 255.0
    tensor = torch.from_numpy(array).permute(0, 3, 1, 2)
    mean_t = torch.tensor(mean).view(1, 3, 1, 1)
    std_t = torch.tensor(std).view(1, 3, 1, 1)
    return ((tensor - mean_t) / std_t).to(device)


def _check_frame(frame: np.ndarray) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(
            f"frames must be HxWx3 uint8 RGB arrays, got shape {frame.shape} {frame.dtype}"
        )


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class MaskVerdict:
    """A frame judged from a per-pixel (or per-patch) P probability map."""

    p_fraction: float
    frame_class: FrameClass
    confidence: float
    p_mask: np.ndarray  # (H, W) bool; uniform when the frame is homogeneous
    # The calibrator's inputs: raw certainty and the P fraction's distance to a threshold.
    raw_certainty: float = 1.0
    margin: float = 0.5
    # The mask as the model drew it (``p_mask`` before a homogeneous verdict made it uniform).
    drawn_mask: np.ndarray | None = None
    # The picture inside the frame's black bars the verdict was made on (its figures measured
    # inside it, its masks laid over the whole frame); None: the whole frame.
    picture: PictureBox | None = None
    # The models took the picture's colour cast out before they looked (a faded or tinted
    # print: ``app.pipeline.colour``).
    colour_cast: bool = False


def _calibrated(calibration: Calibration | None, raw: float, margin: float, hybrid: bool) -> float:
    return calibration.confidence(raw, margin, hybrid) if calibration is not None else raw


def judge_map(
    p_map: np.ndarray, thresholds: ClassThresholds, calibration: Calibration | None
) -> MaskVerdict:
    """Class, calibrated confidence and clean mask of a frame from its P probability map.

    A frame called homogeneous gets a uniform mask: the stray pixels that fell under the
    class threshold are what it was judged to be, not content to report or draw.
    """
    drawn = p_map >= 0.5
    p_fraction = float(drawn.mean())
    frame_class = thresholds.classify(p_fraction)
    p_mask = drawn
    if frame_class is FrameClass.P:
        p_mask = np.ones_like(drawn)
    elif frame_class is FrameClass.NP:
        p_mask = np.zeros_like(drawn)
    raw = certainty(p_map)
    margin = threshold_margin(p_fraction, thresholds)
    return MaskVerdict(
        p_fraction,
        frame_class,
        _calibrated(calibration, raw, margin, frame_class is FrameClass.HYBRID),
        p_mask,
        raw,
        margin,
        drawn,
    )


def cascade(
    classifier_verdict: MaskVerdict,
    segmenter_verdict: MaskVerdict | None,
    thresholds: ClassThresholds,
    *,
    overrule: bool = False,
) -> MaskVerdict:
    """The pipeline's decision for one frame. A frame the classifier calls homogeneous keeps
    its verdict. One it calls hybrid is segmented: when the segmenter agrees, its verdict
    (mask, P fraction, confidence) is the frame's. When it calls the frame P or NP, with
    ``overrule`` its verdict stands; without it (the default: docs/results.md, the overruling
    segmenter missed small drawn or photographic areas the frame head found) the frame stays
    hybrid with the classifier's confidence, drawn by whichever mask shows the minority
    (the segmenter's where it covers at least half of ``min_area``, else the classifier's
    patches). When neither mask shows any, nothing supports "hybrid": the segmenter's
    verdict stands. Masks are measured inside the picture the segmenter judged (black bars)."""
    if classifier_verdict.frame_class is not FrameClass.HYBRID or segmenter_verdict is None:
        return classifier_verdict
    if overrule or segmenter_verdict.frame_class is FrameClass.HYBRID:
        return segmenter_verdict
    shape = segmenter_verdict.p_mask.shape
    least = thresholds.min_area / 2
    picture = segmenter_verdict.picture
    candidates = (segmenter_verdict.drawn_mask, full_size_mask(classifier_verdict.p_mask, *shape))
    for drawn in candidates:
        if drawn is None:
            continue
        share = float((picture.crop(drawn) if picture is not None else drawn).mean())
        if least <= share <= 1.0 - least:
            return replace(
                classifier_verdict,
                p_fraction=thresholds.within_hybrid(share),
                p_mask=drawn,
                drawn_mask=drawn,
            )
    return segmenter_verdict


@dataclass(frozen=True)
class FrameDecision:
    """One frame's verdict as the pipeline stores it, and whether the segmenter made it."""

    verdict: MaskVerdict
    segmented: bool


def decide_frames(
    classifier: Classifier,
    segmenter: Segmenter | Callable[[], Segmenter],
    images: Sequence[np.ndarray],
    thresholds: ClassThresholds,
    *,
    overrule: bool = False,
    segment_all: bool = False,
    verdicts: Sequence[MaskVerdict] | None = None,
    timings: dict[str, float] | None = None,
) -> list[FrameDecision]:
    """The pipeline's decision for a batch of frames: the classifier's verdicts (``verdicts``
    when it already ran on them), the frames it calls hybrid (every frame with
    ``segment_all``) segmented together and decided by :func:`cascade`; a frame segmented only
    because of ``segment_all`` takes the segmenter's verdict. ``segmenter`` may be a function
    that loads it, called only when a frame needs it. Given loaded, and running the
    classifier's encoder (one was trained on the other's frozen encoder), the encoder runs
    once per batch for both models (the pipeline loads such a pair together:
    ``ModelLoader``, ``Models.shared_encoder``). Adds its
    seconds to ``timings`` under ``classify_s``, ``segment_s`` and ``masks_s`` when given."""
    spent = timings if timings is not None else {}

    def loaded() -> Segmenter:
        nonlocal segmenter
        if not isinstance(segmenter, Segmenter):
            segmenter = segmenter()
        return segmenter

    def decide(
        verdicts: Sequence[MaskVerdict],
        frames: Sequence[np.ndarray],
        segment: Callable[[list[int], list[PictureBox]], list[np.ndarray]],
    ) -> list[FrameDecision]:
        decisions = [FrameDecision(verdict, segmented=False) for verdict in verdicts]
        chosen = [
            number
            for number, verdict in enumerate(verdicts)
            if segment_all or verdict.frame_class is FrameClass.HYBRID
        ]
        if not chosen:
            return decisions
        # The pictures the classifier found: the segmenter looks at the same ones.
        pictures = [
            verdicts[number].picture or PictureBox.of_whole(frames[number]) for number in chosen
        ]
        masks = _timed(spent, "segment_s", segment, chosen, pictures)
        mark = time.perf_counter()
        for number, mask, picture in zip(chosen, masks, pictures, strict=True):
            verdict = loaded().judge(mask, thresholds, picture)
            if verdicts[number].frame_class is FrameClass.HYBRID:
                verdict = cascade(verdicts[number], verdict, thresholds, overrule=overrule)
            decisions[number] = FrameDecision(verdict, segmented=True)
        _add(spent, "masks_s", mark)
        return decisions

    if (
        verdicts is None
        and isinstance(segmenter, Segmenter)
        and classifier.shares_encoder_with(segmenter)
    ):
        shared = segmenter
        decisions: list[FrameDecision] = []
        for chunk in _chunks(images, classifier.batch_size):
            mark = time.perf_counter()
            chunk_pictures = classifier.pictures(chunk)
            maps = classifier.encoder_maps(chunk, chunk_pictures)
            chunk_verdicts = classifier.classify_encoded(maps, chunk_pictures, thresholds)
            _add(spent, "classify_s", mark)

            def segment(
                chosen: list[int], pictures: list[PictureBox], maps: list[torch.Tensor] = maps
            ) -> list[np.ndarray]:
                rows = torch.tensor(chosen, device=maps[0].device)
                return shared.segment_encoded([m[rows] for m in maps], pictures)

            decisions.extend(decide(chunk_verdicts, chunk, segment))
        return decisions
    if verdicts is None:
        verdicts = _timed(spent, "classify_s", classifier.classify, images, thresholds)
    return decide(
        verdicts,
        images,
        lambda chosen, pictures: loaded().segment([images[i] for i in chosen], pictures),
    )


def _add(timings: dict[str, float], key: str, mark: float) -> None:
    timings[key] = timings.get(key, 0.0) + time.perf_counter() - mark


def _timed(timings: dict[str, float], key: str, function: Callable[..., T], *args: Any) -> T:
    mark = time.perf_counter()
    try:
        return function(*args)
    finally:
        _add(timings, key, mark)


def full_size_mask(p_mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A verdict's bool mask at a frame's size (a classifier's patch-grid mask is smaller)."""
    if p_mask.shape == (height, width):
        return p_mask
    rows = (np.arange(height) * p_mask.shape[0] // height)[:, None]
    cols = (np.arange(width) * p_mask.shape[1] // width)[None, :]
    return p_mask[rows, cols]


class _Runner:
    def __init__(self, module: torch.nn.Module, directory: Path, settings: ModelSettings) -> None:
        if settings.cpu_threads:
            torch.set_num_threads(settings.cpu_threads)
        self.device = select_device(settings.device)
        self.dtype = half_dtype(self.device) if settings.half_precision else None
        self.module = for_inference(module, self.device)
        self.batch_size = settings.batch_size
        self.thresholds: ClassThresholds = settings.thresholds
        self.crop_borders = settings.crop_borders
        self.skip_subtitles = settings.skip_subtitles
        self.balance_colour = settings.balance_colour
        self.burn_in_regions = list(settings.burn_in_regions)
        self.directory = directory
        self.version = weights_version(directory)
        meta = read_meta(directory)
        self.calibration = Calibration.from_meta(meta.get("calibration"))
        # The cascade's measured hybrid rates (a classifier's, with the segmenter they were
        # measured with; ``hybridlens train calibrate``): a film's adjusted hybrid ratio.
        self.hybrid_rates = HybridRates.from_meta(meta.get("hybrid_rates"))
        # ``shares_encoder_with``'s last answer: ((id, version) of the other model, answer).
        self._shared_with: tuple[tuple[int, str], bool] | None = None

    def judge(
        self,
        p_map: np.ndarray,
        thresholds: ClassThresholds | None = None,
        picture: PictureBox | None = None,
    ) -> MaskVerdict:
        """This model's verdict on one P probability map (see :func:`judge_map`), by the given
        thresholds (an analysis keeps those it was started with) or the settings'. With
        ``picture`` (the frame's, from :meth:`pictures`), a map of the whole frame is judged
        by the picture inside its bars only, and its masks cover the whole frame."""
        thresholds = thresholds or self.thresholds
        if picture is None or picture.whole:
            return _seen(judge_map(p_map, thresholds, self.calibration), picture)
        verdict = judge_map(picture.crop(p_map), thresholds, self.calibration)
        return _seen(_framed(verdict, picture, picture.expand_map), picture)

    def _run(self, batch: object, function: Callable[[Any], Any] | None = None) -> Any:
        """``function`` (the module's forward by default) on ``batch``, in inference mode and
        the configured precision."""
        function = function or self.module
        with torch.inference_mode():
            if self.dtype is not None:
                with torch.autocast(device_type=self.device.type, dtype=self.dtype):
                    return function(batch)
            return function(batch)

    def encoder_maps(
        self, frames: Sequence[np.ndarray], pictures: Sequence[PictureBox] | None = None
    ) -> list[torch.Tensor]:
        """The EfficientNet-Lite encoder's four maps of ``frames`` (one batch) at this model's
        input size."""
        encoder = self.lite_encoder
        assert encoder is not None
        boxes = self.pictures(frames) if pictures is None else pictures
        maps: list[torch.Tensor] = self._run(self._batch(frames, boxes), encoder)
        return maps

    def pictures(self, frames: Sequence[np.ndarray]) -> list[PictureBox]:
        """Each frame's picture inside its black bars (the whole frame when it has none, or
        with ``crop_borders`` off), without the transfer's burned-in regions
        (``burn_in_regions``) and above its burned-in subtitles (``skip_subtitles``): what
        the models look at."""
        for frame in frames:
            _check_frame(frame)
        return [picture_of(frame, self) for frame in frames]

    def _batch(self, frames: Sequence[np.ndarray], boxes: Sequence[PictureBox]) -> torch.Tensor:
        """The pictures of ``frames`` (one batch) as the model's input."""
        crops = [box.crop(frame) for frame, box in zip(frames, boxes, strict=True)]
        return to_batch(self.prepared(crops), self.image_size, self.device)

    def prepared(self, pictures: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``pictures`` as this model sees them: with their colour casts taken out
        (``balance_colour``, :func:`app.pipeline.colour.balance`)."""
        if not self.balance_colour:
            return list(pictures)
        return [balance(picture) for picture in pictures]

    def shares_encoder_with(self, other: _Runner) -> bool:
        """Whether both models run the same EfficientNet-Lite encoder (the same weights, at the
        same input size): then one run of it serves both (:func:`decide_frames`)."""
        key = (id(other), other.version)
        if self._shared_with is None or self._shared_with[0] != key:
            mine, theirs = self.lite_encoder, other.lite_encoder
            same = (
                mine is not None
                and theirs is not None
                and mine.variant == theirs.variant
                and self.image_size == other.image_size
                and self.balance_colour == other.balance_colour
                and all(
                    torch.equal(a, b)
                    for a, b in zip(
                        mine.state_dict().values(), theirs.state_dict().values(), strict=True
                    )
                )
            )
            self._shared_with = (key, same)
        return self._shared_with[1]

    @property
    def image_size(self) -> int:
        return int(cast(Any, self.module).config.image_size)

    @property
    def lite_encoder(self) -> EfficientNetLiteEncoder | None:
        return lite_encoder_of(self.module)


def _resolve(path: Path | None, default: Path) -> Path:
    directory = path or default
    if not directory.is_dir():
        raise CheckpointError(f"model directory {directory} does not exist")
    return directory


class Classifier(_Runner):
    """The proxy classifier: P fraction, class and patch map for whole frames."""

    module: PatchCentroidClassifier

    @classmethod
    def load(cls, settings: ModelSettings | None = None, path: Path | None = None) -> Classifier:
        settings = settings or ModelSettings()
        directory = _resolve(path or settings.classifier_path, DEFAULT_CLASSIFIER_DIR)
        module = load_model(directory, "classifier")
        assert isinstance(module, PatchCentroidClassifier)
        return cls(module, directory, settings)

    def frame_head_note(self, thresholds: ClassThresholds) -> str | None:
        """What ``thresholds`` do to this classifier's verdicts when its frame head learned
        another ``min_area`` (None when it learned this one, or has no head)."""
        learned = FRAME_HEAD_THRESHOLDS.min_area
        if self.module.frame_head is None or thresholds.min_area == learned:
            return None
        return (
            f"min_area is {thresholds.min_area}, but the classifier's frame head learned "
            f"{learned}: it still decides the frames it calls P or NP; the setting moves only "
            "the frames a mask decides (those called hybrid, every frame with segment_all)"
        )

    def _forward(
        self, frames: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray | None, list[PictureBox]]:
        """(N, gh, gw) P probability per patch of each frame's picture; (N, 3) frame-class
        probabilities in FRAME_CLASS_ORDER when the model has a frame head; the pictures."""
        boxes = self.pictures(frames)
        results = (
            self._run(self._batch(chunk, chunk_boxes))
            for chunk, chunk_boxes in zip(
                _chunks(frames, self.batch_size), _chunks(boxes, self.batch_size), strict=True
            )
        )
        return *self._probabilities(results), boxes

    @staticmethod
    def _probabilities(
        results: Iterable[ClassifierOutput],
    ) -> tuple[np.ndarray, np.ndarray | None]:
        patches: list[np.ndarray] = []
        classes: list[np.ndarray] = []
        for result in results:
            logits = result.patch_logits.float()
            patches.append(torch.softmax(logits, dim=-1)[..., 1].cpu().numpy())
            if result.class_logits is not None:
                classes.append(torch.softmax(result.class_logits.float(), dim=-1).cpu().numpy())
        if not patches:
            return np.zeros((0, 0, 0), np.float32), None
        patch_p = np.concatenate(patches).astype(np.float32)
        return patch_p, (np.concatenate(classes).astype(np.float32) if classes else None)

    def patch_probabilities(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """(N, gh, gw) float32 P probability per patch, as cells of each whole frame."""
        patch_maps, _, boxes = self._forward(frames)
        return _framed_grids(patch_maps, boxes)

    def classify(
        self, frames: Sequence[np.ndarray], thresholds: ClassThresholds | None = None
    ) -> list[MaskVerdict]:
        """Each frame's verdict: by the frame head when the model has one, else by counting
        patches. Homogeneous verdicts carry uniform patch masks and P fractions of 1 or 0."""
        return self.classify_with_maps(frames, thresholds)[1]

    def classify_with_maps(
        self, frames: Sequence[np.ndarray], thresholds: ClassThresholds | None = None
    ) -> tuple[np.ndarray, list[MaskVerdict]]:
        """The (N, gh, gw) patch P probabilities (cells of each whole frame) and the verdicts,
        from one forward pass."""
        return self._verdicts(*self._forward(frames), thresholds)

    def classify_encoded(
        self,
        maps: list[torch.Tensor],
        pictures: Sequence[PictureBox],
        thresholds: ClassThresholds | None = None,
    ) -> list[MaskVerdict]:
        """:meth:`classify` from the encoder's maps of one batch's ``pictures`` (see
        ``shares_encoder_with``)."""
        result = self._run(maps, self.module.from_encoder_maps)
        patch_maps, class_probs = self._probabilities([result])
        return self._verdicts(patch_maps, class_probs, pictures, thresholds)[1]

    def _verdicts(
        self,
        patch_maps: np.ndarray,
        class_probs: np.ndarray | None,
        boxes: Sequence[PictureBox],
        thresholds: ClassThresholds | None,
    ) -> tuple[np.ndarray, list[MaskVerdict]]:
        """Each picture judged by its own patches, its masks then laid over the whole frame."""
        thresholds = thresholds or self.thresholds
        if class_probs is None:
            verdicts = [self.judge(patch_p, thresholds) for patch_p in patch_maps]
        else:
            verdicts = [
                self._judge_frame(patch_p, probs, thresholds)
                for patch_p, probs in zip(patch_maps, class_probs, strict=True)
            ]
        # A barred frame's masks become pixel masks of the whole frame: a grid of the frame's
        # cells would squeeze some of the picture's cells out.
        framed = [
            _seen(verdict if box.whole else _framed(verdict, box, box.grid_pixels), box)
            for verdict, box in zip(verdicts, boxes, strict=True)
        ]
        return _framed_grids(patch_maps, boxes), framed

    def _judge_frame(
        self, patch_p: np.ndarray, probs: np.ndarray, thresholds: ClassThresholds
    ) -> MaskVerdict:
        frame_class = FrameClass(FRAME_CLASS_ORDER[int(probs.argmax())])
        patch_mask = patch_p >= 0.5
        counted = float(patch_mask.mean())
        margin = threshold_margin(counted, thresholds)
        raw = float(probs.max())
        if frame_class is FrameClass.HYBRID:
            # Hybrid by the head: the patch count, kept inside the hybrid range.
            p_fraction = thresholds.within_hybrid(counted)
            p_mask = patch_mask
        else:
            p_fraction = 1.0 if frame_class is FrameClass.P else 0.0
            p_mask = np.full_like(patch_mask, frame_class is FrameClass.P)
        confidence = _calibrated(self.calibration, raw, margin, frame_class is FrameClass.HYBRID)
        return MaskVerdict(p_fraction, frame_class, confidence, p_mask, raw, margin)


class Segmenter(_Runner):
    """The SegFormer: a per-pixel P probability at each input frame's own size."""

    module: SegmenterModule

    @classmethod
    def load(cls, settings: ModelSettings | None = None, path: Path | None = None) -> Segmenter:
        settings = settings or ModelSettings()
        directory = _resolve(path or settings.segmenter_path, DEFAULT_SEGMENTER_DIR)
        module = load_model(directory, "segmenter")
        assert isinstance(module, SegmenterModule)
        return cls(module, directory, settings)

    def segment(
        self, frames: Sequence[np.ndarray], pictures: Sequence[PictureBox] | None = None
    ) -> list[np.ndarray]:
        """For each frame, an (H, W) float32 map of P probability at the frame's size, from its
        picture inside black bars (``pictures``, found here when not given)."""
        if pictures is not None:
            for frame in frames:
                _check_frame(frame)
        boxes = self.pictures(frames) if pictures is None else pictures
        masks: list[np.ndarray] = []
        for chunk, chunk_boxes in zip(
            _chunks(frames, self.batch_size), _chunks(boxes, self.batch_size), strict=True
        ):
            masks.extend(_p_maps(self._run(self._batch(chunk, chunk_boxes)), chunk_boxes))
        return masks

    def segment_and_judge(
        self, frames: Sequence[np.ndarray], thresholds: ClassThresholds | None = None
    ) -> tuple[list[np.ndarray], list[MaskVerdict]]:
        """:meth:`segment` and each frame's verdict on its map, judged inside its picture
        (see :meth:`judge`)."""
        pictures = self.pictures(frames)
        p_maps = self.segment(frames, pictures)
        verdicts = [
            self.judge(p_map, thresholds, picture)
            for p_map, picture in zip(p_maps, pictures, strict=True)
        ]
        return p_maps, verdicts

    def segment_encoded(
        self, maps: list[torch.Tensor], pictures: Sequence[PictureBox]
    ) -> list[np.ndarray]:
        """:meth:`segment` from the encoder's maps of one batch's ``pictures``."""
        return _p_maps(self._run(maps, self.module.from_encoder_maps), pictures)


def _framed_grids(patch_maps: np.ndarray, boxes: Sequence[PictureBox]) -> np.ndarray:
    """Patch grids of pictures as grids of their whole frames (each frame cell the mean of
    what it covers)."""
    if not len(patch_maps):
        return patch_maps
    return np.stack([box.expand_grid(grid) for grid, box in zip(patch_maps, boxes, strict=True)])


def _seen(verdict: MaskVerdict, picture: PictureBox | None) -> MaskVerdict:
    """``verdict``, saying whether the models took its picture's colour cast out."""
    return replace(verdict, colour_cast=True) if picture is not None and picture.cast else verdict


def _framed(
    verdict: MaskVerdict, picture: PictureBox, expand: Callable[[np.ndarray], np.ndarray]
) -> MaskVerdict:
    """A verdict on ``picture`` with its masks laid over the whole frame by ``expand``."""
    drawn = verdict.drawn_mask
    return replace(
        verdict,
        p_mask=expand(verdict.p_mask),
        drawn_mask=None if drawn is None else expand(drawn),
        picture=picture,
    )


def _p_maps(logits: torch.Tensor, boxes: Sequence[PictureBox]) -> list[np.ndarray]:
    """Each frame's P probability map at its own size, from the segmenter's logits on its
    picture (stretched over its bars)."""
    probs = torch.softmax(logits.float(), dim=1)[:, 1:2]  # (B, 1, h, w)
    maps = []
    for box, prob in zip(boxes, probs, strict=True):
        size = (box.bottom - box.top, box.right - box.left)
        picture = F.interpolate(prob[None], size=size, mode="bilinear", align_corners=False)
        maps.append(box.expand_map(picture[0, 0].cpu().numpy().astype(np.float32)))
    return maps
