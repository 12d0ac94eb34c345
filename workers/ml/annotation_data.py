"""An archive's annotations as training data: the annotated frames re-extracted from their
films with their masks (a ``ProxySet``, which the segmenter's training mixes in) or labels
(images added to the classifier's P and NP pools), and the held-out human frames scored.

The database side (which frames, the split) is ``app.annotations.training``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.annotations.training import AnnotatedFrame
from app.core.config import get_settings
from app.core.domain import FrameClass
from app.pipeline.borders import PictureBox, picture_of
from app.pipeline.colour import balance
from app.pipeline.masks import decode_mask
from app.pipeline.video import extract_frame
from workers.ml.inference import Segmenter
from workers.ml.train import ProxySet

# Long side the frames are extracted at (the analysis's default working size).
FRAME_SIZE = 320


def picture(
    frame: AnnotatedFrame, *, size: int = FRAME_SIZE, timeout_s: float = 30.0
) -> np.ndarray:
    """The annotated frame, extracted again from its film."""
    image = extract_frame(Path(frame.film_path), frame.time_s, max_size=size, timeout_s=timeout_s)
    return np.asarray(image)


def _picture_box(image: np.ndarray) -> PictureBox:
    """The picture inside the frame's black bars, without burned-in regions and above its
    burned-in subtitles, as far as the models look at that only (``app.pipeline.borders``,
    ``crop_borders``, ``burn_in_regions``, ``skip_subtitles``): what they see is what they
    train on."""
    return picture_of(image, get_settings().model)


def _as_seen(picture: np.ndarray) -> np.ndarray:
    """A picture with its colour cast taken out, when the models take it out
    (``balance_colour``): what they see is what they train on."""
    return balance(picture) if get_settings().model.balance_colour else picture


def _inside_bars(image: np.ndarray) -> np.ndarray:
    return _as_seen(_picture_box(image).crop(image))


def _mask_at(frame: AnnotatedFrame, height: int, width: int) -> np.ndarray:
    import cv2

    assert frame.mask_png is not None
    mask = decode_mask(frame.mask_png).astype(np.uint8)
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


@dataclass(frozen=True)
class MaskedFrames:
    images: list[np.ndarray]
    masks: list[np.ndarray]  # uint8, 1 = P, 0 = NP, at each image's size

    def as_proxy_set(self) -> ProxySet:
        """The frames to train on, as the models see them (their colour casts taken out);
        ``images`` stay as extracted, for scoring by a model that takes casts out itself."""
        return ProxySet(images=[_as_seen(image) for image in self.images], labels=list(self.masks))


def masked_frames(frames: Sequence[AnnotatedFrame], *, size: int = FRAME_SIZE) -> MaskedFrames:
    images, masks = [], []
    for frame in frames:
        if frame.mask_png is None:
            continue
        image = picture(frame, size=size)
        box = _picture_box(image)
        images.append(box.crop(image))
        masks.append(box.crop(_mask_at(frame, *image.shape[:2])))
    return MaskedFrames(images, masks)


def labelled_images(
    frames: Sequence[AnnotatedFrame], *, size: int = FRAME_SIZE
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(P images, NP images) of the frames a person labelled P or NP (hybrids have no
    frame-level class to learn from here)."""
    p_images, np_images = [], []
    for frame in frames:
        if frame.label is FrameClass.P:
            p_images.append(_inside_bars(picture(frame, size=size)))
        elif frame.label is FrameClass.NP:
            np_images.append(_inside_bars(picture(frame, size=size)))
    return p_images, np_images


def pooled_miou(segmenter: Segmenter, data: MaskedFrames) -> float:
    """mIoU over P and NP of the segmenter's masks on ``data``, pixels pooled."""
    inter, union = np.zeros(2), np.zeros(2)
    for image, truth, p_map in zip(
        data.images, data.masks, segmenter.segment(data.images), strict=True
    ):
        predicted = p_map >= 0.5
        for cls, value in ((0, False), (1, True)):
            p, t = predicted == value, truth.astype(bool) == value
            inter[cls] += np.logical_and(p, t).sum()
            union[cls] += np.logical_or(p, t).sum()
        del image
    return float((inter / np.maximum(union, 1)).mean())
