"""`hybridlens segment` and the shipped default weights."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from app.core.config import ModelSettings
from hybridlens.cli import build_app
from tests.figures import burn_subtitle, photo_background
from workers.ml.inference import (
    DEFAULT_CLASSIFIER_DIR,
    DEFAULT_SEGMENTER_DIR,
    Classifier,
    Segmenter,
)

runner = CliRunner()


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares a size but holds almost no data: cheap stand-in for a huge image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def _photo_with_title(path: Path, width: int = 123, height: int = 77) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.clip(
        (np.sin(xx / 9) + np.cos(yy / 7))[:, :, None] * 60
        + 120
        + rng.normal(0, 15, (height, width, 3)),
        0,
        255,
    )
    image[5:25, 10:110] = (250, 240, 20)
    Image.fromarray(image.astype(np.uint8)).save(path)


def test_segment_writes_a_binary_mask_of_the_input_size(tmp_path: Path) -> None:
    _photo_with_title(tmp_path / "still.jpg")
    result = runner.invoke(
        build_app(),
        ["segment", str(tmp_path / "still.jpg"), "--out", str(tmp_path / "masks"), "--json"],
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    mask = Image.open(tmp_path / "masks" / "still.png")
    assert mask.mode == "L" and mask.size == (123, 77)
    values = set(np.unique(np.asarray(mask)).tolist())
    assert values <= {0, 255}
    assert record["class"] in {"P", "NP", "hybrid"}
    assert record["p_fraction"] == pytest.approx((np.asarray(mask) == 255).mean(), abs=1e-3)


def test_segment_accepts_a_folder_and_skips_non_image_suffixes(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    _photo_with_title(tmp_path / "in" / "a.png", 64, 64)
    _photo_with_title(tmp_path / "in" / "b.jpg", 40, 90)
    (tmp_path / "in" / "notes.txt").write_text("not a frame")
    result = runner.invoke(
        build_app(), ["segment", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "b.png").size == (40, 90)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("text.png", lambda p: p.write_text("hello, I am not a picture"), "not an image"),
        ("empty.png", lambda p: p.write_bytes(b""), "empty"),
        ("dot.png", lambda p: Image.new("RGB", (1, 1)).save(p), "too small"),
        ("huge.png", lambda p: _png_header_only(p, 30000, 30000), "too large"),
        ("big.png", lambda p: _png_header_only(p, 12000, 9000), "too large"),
    ],
)
def test_segment_reports_a_bad_image_and_still_does_the_others(
    tmp_path: Path, name: str, make, reason: str
) -> None:  # type: ignore[no-untyped-def]
    make(tmp_path / name)
    _photo_with_title(tmp_path / "good.png")
    result = runner.invoke(
        build_app(),
        [
            "segment",
            str(tmp_path / name),
            str(tmp_path / "good.png"),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 1
    assert reason in result.stderr and name in result.stderr
    assert (tmp_path / "out" / "good.png").exists()
    assert not (tmp_path / "out" / name).exists()


def test_segment_with_nothing_to_read_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(
        build_app(), ["segment", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "no images" in result.stderr


def test_segment_runs_as_an_installed_command(tmp_path: Path) -> None:
    _photo_with_title(tmp_path / "frame.png", 50, 30)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hybridlens",
            "segment",
            str(tmp_path / "frame.png"),
            "--out",
            str(tmp_path / "o"),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert Image.open(tmp_path / "o" / "frame.png").size == (50, 30)


def test_shipped_weights_are_small_and_load() -> None:
    total = sum(
        p.stat().st_size
        for d in (DEFAULT_CLASSIFIER_DIR, DEFAULT_SEGMENTER_DIR)
        for p in d.iterdir()
    )
    assert total <= 25 * 1024 * 1024
    assert Classifier.load().version != Segmenter.load().version


def test_shipped_models_give_deterministic_outputs() -> None:
    frame = np.random.default_rng(3).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    classifier, segmenter = Classifier.load(), Segmenter.load()
    first = classifier.patch_probabilities([frame, frame])
    second = Classifier.load().patch_probabilities([frame])
    assert np.array_equal(first[0], first[1]) and np.array_equal(first[0], second[0])
    assert first[0].shape == (14, 14) and first[0].dtype == np.float32
    verdicts = classifier.classify([frame]) + Classifier.load().classify([frame])
    assert verdicts[0].frame_class == verdicts[1].frame_class
    assert verdicts[0].confidence == verdicts[1].confidence
    masks = segmenter.segment([frame]) + Segmenter.load().segment([frame])
    assert masks[0].shape == (90, 120) and masks[0].dtype == np.float32
    assert np.array_equal(masks[0], masks[1])
    assert masks[0].min() >= 0.0 and masks[0].max() <= 1.0


def test_a_letterboxed_frame_is_judged_by_its_picture() -> None:
    """Black bars are neither P nor NP: the models see the picture, and their maps stretch
    over the bars (the bars take the picture's edge values)."""
    rng = np.random.default_rng(5)
    picture = rng.integers(50, 256, (60, 120, 3), dtype=np.uint8)
    frame = np.pad(picture, ((20, 20), (16, 16), (0, 0)))  # windowboxed in 100x152
    classifier, segmenter = Classifier.load(), Segmenter.load()
    barred, alone = classifier.classify([frame, picture])
    assert barred.frame_class is alone.frame_class
    assert barred.confidence == pytest.approx(alone.confidence, abs=1e-6)
    assert barred.p_fraction == pytest.approx(alone.p_fraction, abs=1e-6)
    barred_map, alone_map = segmenter.segment([frame, picture])
    assert barred_map.shape == (100, 152)
    assert np.allclose(barred_map[20:80, 16:136], alone_map, atol=1e-5)
    assert np.allclose(barred_map[:20, 16:136], alone_map[0], atol=1e-5)  # the top bar
    # Without the crop the models see the bars, and judge something else.
    whole = ModelSettings(crop_borders=False)
    uncropped = Segmenter.load(whole).segment([frame])[0]
    assert not np.allclose(uncropped[20:80, 16:136], alone_map, atol=1e-3)
    maps = Classifier.load(whole).patch_probabilities([frame, picture])
    assert not np.allclose(maps[0], classifier.patch_probabilities([frame])[0], atol=1e-3)


def test_segment_says_where_the_picture_inside_black_bars_is(tmp_path: Path) -> None:
    _photo_with_title(tmp_path / "plain.png", 96, 64)
    plain = np.asarray(Image.open(tmp_path / "plain.png"))
    Image.fromarray(np.pad(plain, ((0, 0), (16, 16), (0, 0)))).save(tmp_path / "boxed.png")
    result = runner.invoke(
        build_app(),
        ["segment", str(tmp_path / "plain.png"), str(tmp_path / "boxed.png"), "--out",
         str(tmp_path / "masks"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    plain_record, boxed_record = (json.loads(line) for line in result.stdout.strip().splitlines())
    assert plain_record["picture"] is None and plain_record["subtitles"] is False
    assert boxed_record["picture"] == [16, 0, 112, 64]  # left, top, right, bottom
    assert boxed_record["class"] == plain_record["class"]
    assert boxed_record["p_fraction"] == pytest.approx(plain_record["p_fraction"], abs=1e-6)
    assert Image.open(tmp_path / "masks" / "boxed.png").size == (128, 64)
    result = runner.invoke(
        build_app(), ["segment", str(tmp_path / "boxed.png"), "--out", str(tmp_path / "masks")]
    )
    assert "\tpicture 16,0,112,64\t" in result.stdout


def test_segment_says_when_it_left_subtitles_out(tmp_path: Path) -> None:
    frame = burn_subtitle(photo_background(2, (240, 180)), ["the train leaves at nine"])
    Image.fromarray(frame).save(tmp_path / "subtitled.png")
    result = runner.invoke(
        build_app(),
        ["segment", str(tmp_path / "subtitled.png"), "--out", str(tmp_path / "masks"), "--json"],
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["subtitles"] is True
    left, top, right, bottom = record["picture"]
    assert (left, top, right) == (0, 0, 240) and 120 < bottom < 160
    assert Image.open(tmp_path / "masks" / "subtitled.png").size == (240, 180)
