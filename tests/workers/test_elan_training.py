"""Labels imported from ELAN feed fine-tuning: their frames are cut from the film as P and NP
training pictures, as `hybridlens train classifier --annotations` takes them."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from app.analysis import service as analysis_service
from app.analysis.schemas import FrameRecord, ShotRecord
from app.annotations import elan_service, training
from app.core.db import session_scope
from app.core.domain import FrameClass, RunStatus
from app.films import service as films_service
from app.films.schemas import FilmMetadata
from tests.app.conftest import _pg_database, _sqlite_template, db_url  # noqa: F401
from tests.app.eaf import eaf_document
from tests.workers.ml.conftest import drawing_like, photo_like
from workers.ml.annotation_data import labelled_images

WIDTH, HEIGHT = 160, 120


def _film(url: str, directory: Path) -> int:
    """A 1 fps film of four frames, two photograph-like then two drawn, analysed (the model
    calls them all hybrid), one shot each."""
    rng = np.random.default_rng(7)
    pictures = [photo_like(rng, HEIGHT, WIDTH) for _ in range(2)]
    pictures += [drawing_like(rng, HEIGHT, WIDTH) for _ in range(2)]
    for index, picture in enumerate(pictures):
        Image.fromarray(picture).save(directory / f"frame_{index:03d}.png")
    path = directory / "film.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-framerate", "1", "-i",
         str(directory / "frame_%03d.png"), "-c:v", "ffv1", "-pix_fmt", "bgr0", str(path)],
        check=True,
    )  # fmt: skip
    with session_scope(url) as session:
        film_id = films_service.register_film(
            session,
            path,
            hashlib.sha256(path.read_bytes()).hexdigest(),
            {"duration_s": 4.0, "fps": 1.0, "width": WIDTH, "height": HEIGHT,
             "frame_count": 4, "has_audio": False, "codec": "ffv1"},
            FilmMetadata(),
            size_bytes=path.stat().st_size,
        ).film_id  # fmt: skip
        analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})
        analysis_service.save_shots(
            session,
            analysis_id,
            [ShotRecord(i, i, i, float(i), float(i + 1), "hybrid", 1.0) for i in range(4)],
        )
        analysis_service.save_frames(
            session,
            analysis_id,
            [FrameRecord(i, float(i), "hybrid", 0.5, 1.0, shot_index=i) for i in range(4)],
        )
        analysis_service.finish_analysis(session, analysis_id, RunStatus.DONE, summary=None)
    return film_id


def test_elan_labels_become_p_and_np_training_pictures(
    db_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    film_id = _film(db_url, tmp_path)
    tier = [(0, 2000, "Live-Action"), (2000, 4000, "Animation")]
    with session_scope(db_url) as session:
        elan_service.import_eaf(
            session, film_id, eaf_document({"Image Type": tier}), tier="Image Type", author="t"
        )
        frames = training.labelled_frames(session, [film_id])

    assert [(f.frame_index, f.source, f.label) for f in frames] == [
        (0, "elan", FrameClass.P),
        (1, "elan", FrameClass.P),
        (2, "elan", FrameClass.NP),
        (3, "elan", FrameClass.NP),
    ]
    p_images, np_images = labelled_images(frames, size=64)
    assert len(p_images) == 2 and len(np_images) == 2
    # The pictures are the film's own: the drawn frames are flatter than the photographs.
    p_texture = np.mean([np.abs(np.diff(image.astype(float), axis=1)).mean() for image in p_images])
    np_texture = np.mean(
        [np.abs(np.diff(image.astype(float), axis=1)).mean() for image in np_images]
    )
    assert p_texture > np_texture
