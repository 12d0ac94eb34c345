"""An archive's annotated frames as training data, inside their black bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.annotations.training import AnnotatedFrame
from app.core.domain import FrameClass
from app.pipeline.masks import encode_mask
from tests.media import make_lossless_video
from workers.ml.annotation_data import labelled_images, masked_frames


def test_annotated_letterboxed_frames_train_on_the_picture_and_its_mask(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    picture = rng.integers(60, 256, (72, 128, 3), dtype=np.uint8)
    frame = np.pad(picture, ((12, 12), (0, 0), (0, 0)))  # letterboxed in 128x96
    film = make_lossless_video([frame, frame], tmp_path / "film.mkv")
    truth = np.zeros((96, 128), bool)
    truth[:, :64] = True  # the left half is P, over the bars too as a person drew it
    annotated = AnnotatedFrame(
        film_id=1,
        film_path=str(film),
        frame_index=0,
        time_s=0.0,
        shot_index=0,
        source="human",
        mask_png=encode_mask(truth, 128),
        label=FrameClass.P,
    )
    data = masked_frames([annotated], size=128)
    assert data.images[0].shape == (72, 128, 3)
    assert np.array_equal(data.images[0], picture)
    assert data.masks[0].shape == (72, 128)
    assert data.masks[0][:, :64].all() and not data.masks[0][:, 64:].any()
    p_images, np_images = labelled_images([annotated], size=128)
    assert np_images == [] and np.array_equal(p_images[0], picture)
