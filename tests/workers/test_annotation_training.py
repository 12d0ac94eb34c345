"""Learning from corrections: the annotated frames chosen and split by shot, fine-tuning the
segmenter on them from the CLI (scored on held-out human frames), and a collection's own
weights keying its films' analyses."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from app.analysis import service as analysis_service
from app.analysis.schemas import ShotRecord
from app.annotations import service as annotations_service
from app.annotations import training
from app.collections import service as collections_service
from app.collections.schemas import CollectionCreate
from app.core.config import Settings
from app.core.db import session_scope
from app.films import service as films_service
from app.films.schemas import FilmMetadata
from app.jobs import service as jobs_service
from hybridlens.cli import build_app
from tests.app.conftest import _pg_database, _sqlite_template, db_url  # noqa: F401
from tests.app.factories import register_all_p_film
from tests.media import make_lossless_video
from tests.workers.ml.conftest import drawing_like, photo_like
from workers.ml.checkpoint import DEFAULT_SEGMENTER_DIR, WEIGHTS_NAME, weights_version
from workers.orchestrator import claim

WIDTH, HEIGHT, SHOTS = 160, 120, 4


def _frames() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One frame per shot: a photograph-like picture with a drawn box on its left part."""
    rng = np.random.default_rng(3)
    frames, masks = [], []
    for shot in range(SHOTS):
        frame = photo_like(rng, HEIGHT, WIDTH)
        left = 20 + 10 * shot
        frame[20:100, left : left + 60] = drawing_like(rng, 80, 60)
        mask = np.ones((HEIGHT, WIDTH), bool)
        mask[20:100, left : left + 60] = False
        frames.append(frame)
        masks.append(mask)
    return frames, masks


def _annotated_film(url: str, directory: Path) -> int:
    """A 1 fps film of SHOTS one-frame shots, analysed, with a human mask on every frame and
    a propagated one on none."""
    frames, masks = _frames()
    path = make_lossless_video(frames, directory / "film.mkv")
    with session_scope(url) as session:
        film_id, _ = register_all_p_film(
            session,
            path,
            size=(WIDTH, HEIGHT),
            seconds=SHOTS,
            shots=[ShotRecord(i, i, i, float(i), float(i + 1), "P", 0.0) for i in range(SHOTS)],
        )
        for index, mask in enumerate(masks):
            image = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8))
            image.save(directory / "mask.png")
            annotations_service.put_mask(
                session, film_id, index, (directory / "mask.png").read_bytes(), author="t"
            )
        annotations_service.set_shot_label(session, film_id, 1, "NP", author="t")
    return film_id


def _holdout_between(film_id: int) -> float:
    """A holdout share that puts some of the film's shots on each side."""
    keys = sorted(
        int(hashlib.sha256(f"{film_id}:{shot}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        for shot in range(SHOTS)
    )
    return (keys[0] + keys[1]) / 2


def test_annotated_frames_are_chosen_and_split_by_shot(
    db_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    film_id = _annotated_film(db_url, tmp_path)
    with session_scope(db_url) as session:
        collection = collections_service.create_collection(session, CollectionCreate(name="c"))
        collections_service.add_films(session, collection.id, [film_id])
        assert training.film_ids_for(session, [], [collection.id]) == [film_id]
        frames = training.annotated_masks(session, [film_id])
        labelled = training.labelled_frames(session, [film_id])
    assert [(f.frame_index, f.source) for f in frames] == [(i, "human") for i in range(SHOTS)]
    assert {f.label for f in labelled if f.shot_index == 0} == {"hybrid"}  # its human mask
    parts = training.split(frames, _holdout_between(film_id))
    assert len(parts.held_out) == 1 and len(parts.train) == SHOTS - 1
    assert not {f.shot_index for f in parts.train} & {f.shot_index for f in parts.held_out}


def _data_dir(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for kind, make in (("photographic", photo_like), ("nonphotographic", drawing_like)):
        (root / kind).mkdir(parents=True)
        for index in range(4):
            Image.fromarray(make(rng, 96, 128)).save(root / kind / f"gen{kind[:3]}_{index:03d}.jpg")
    return root


def test_train_segmenter_on_annotations_scores_held_out_human_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    from app.core.db import upgrade_database

    upgrade_database(url)
    film_id = _annotated_film(url, tmp_path)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        build_app(),
        [
            "train",
            "segmenter",
            "--out",
            str(out),
            "--data",
            str(_data_dir(tmp_path / "data")),
            "--cache",
            str(tmp_path / "cache"),
            "--init",
            str(DEFAULT_SEGMENTER_DIR),
            "--annotations",
            "--db",
            url,
            "--film",
            str(film_id),
            "--holdout",
            str(_holdout_between(film_id)),
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--no-resume",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "held-out human frames (1)" in result.output
    scores = json.loads((out / "model" / "annotations_eval.json").read_text())
    assert scores["held_out_frames"] == 1
    assert 0.0 <= scores["miou_before"] <= 1.0 and 0.0 <= scores["miou_after"] <= 1.0


def test_a_collections_own_segmenter_keys_its_films_analyses(
    db_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    own = tmp_path / "segmenter"
    shutil.copytree(DEFAULT_SEGMENTER_DIR, own)
    with (own / WEIGHTS_NAME).open("ab") as handle:
        handle.write(b"\0")  # other bytes, another version (never loaded here)
    with session_scope(db_url) as session:
        film_id = films_service.register_film(
            session,
            tmp_path / "f.mkv",
            "ab" * 32,
            {"width": 8, "height": 8},
            FilmMetadata(),
            size_bytes=1,
        ).film_id
        collection = collections_service.create_collection(session, CollectionCreate(name="own"))
        collections_service.add_films(session, collection.id, [film_id])
        collections_service.set_models(
            session, collection.id, classifier_path=None, segmenter_path=str(own)
        )
        job_id = jobs_service.create_job(session, film_id)
    ticket = claim(Settings(database_url=db_url), job_id)
    assert ticket is not None
    with session_scope(db_url) as session:
        analysis = analysis_service.get_analysis(session, ticket.analysis_id, with_timeline=False)
    assert analysis.segmenter_version == weights_version(own)
    assert analysis.segmenter_version != weights_version(DEFAULT_SEGMENTER_DIR)
