"""`hybridlens evaluate` end to end on a generated data folder, with the shipped models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from app.pipeline.quantify import HybridRates
from hybridlens.cli import build_app
from tests.workers.ml.conftest import drawing_like, photo_like
from workers.ml import evaluate
from workers.ml.checkpoint import DEFAULT_CLASSIFIER_DIR, DEFAULT_SEGMENTER_DIR, weights_version
from workers.ml.evaluate import evaluate_models, format_report
from workers.ml.models import read_meta


def _data_folder(root: Path) -> Path:
    """Two validation and two calibration sources per class, three images each, plus a
    training source (never measured)."""
    rng = np.random.default_rng(5)
    for folder, sources, make in (
        ("photographic", ("urban100", "oldfilm", "dface", "remaster", "train"), photo_like),
        ("nonphotographic", ("famguy", "cartopy", "dph", "lvcd", "train2"), drawing_like),
    ):
        (root / folder).mkdir(parents=True)
        for source in sources:
            for index in range(3):
                image = make(rng, 96, 128)
                Image.fromarray(image).save(root / folder / f"{source}_{index:03d}.png")
    return root


def test_evaluation_reports_each_set_and_both_together(tmp_path: Path) -> None:
    data = _data_folder(tmp_path / "data")
    for sources in ("validation", "calibration"):
        report = evaluate_models(
            data, None, classifiers=[None], segmenters=[None], per_style=1, sources=sources
        )
        cascade = report["cascade"]
        homogeneous, composites = cascade["homogeneous"], cascade["composites"]
        assert homogeneous["n"] == 12 and composites["n"] == report["validation"]["composites"]
        pooled = cascade["pooled"]
        assert pooled["n"] == homogeneous["n"] + composites["n"]
        # Every frame is counted once in the confusion, under its true class; the pooled
        # counts are the two sets' added up, and its accuracy their diagonal.
        for entry in (homogeneous, composites, pooled):
            assert sum(sum(row.values()) for row in entry["confusion"].values()) == entry["n"]
        assert set(homogeneous["confusion"]) == {"P", "NP"}
        assert sum(homogeneous["confusion"]["P"].values()) == 6
        right = sum(pooled["confusion"][c].get(c, 0) for c in pooled["confusion"])
        assert np.isclose(pooled["accuracy"], right / pooled["n"])
        assert 0.0 <= pooled["ece"] <= 1.0
        text = format_report(report)
        assert "both sets together" in text and f"'sources': '{sources}'" in text


def test_train_rates_stores_the_cascades_hybrid_rates_with_the_classifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _data_folder(tmp_path / "data")
    classifier = tmp_path / "classifier"
    shutil.copytree(DEFAULT_CLASSIFIER_DIR, classifier)
    before = read_meta(classifier)
    before.pop("hybrid_rates", None)
    monkeypatch.setattr(evaluate, "RATES_PER_STYLE", 2)  # 12 composites, not 240

    result = CliRunner().invoke(
        build_app(),
        ["train", "rates", "--classifier", str(classifier), "--segmenter",
         str(DEFAULT_SEGMENTER_DIR), "--data", str(data), "--cache", str(tmp_path / "cache")],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    after = read_meta(classifier)
    rates = HybridRates.from_meta(after.pop("hybrid_rates"))
    assert after == before  # the calibration and everything else as they were
    assert rates is not None and rates.segmenter_version == weights_version(DEFAULT_SEGMENTER_DIR)
    # Two calibration sources per class, three images each; a composite whose drawn or
    # photographed area is under the class threshold is neither hybrid nor homogeneous.
    assert rates.homogeneous_frames == 12 and 0 < rates.hybrid_frames <= 12
    assert json.loads(result.output) == rates.as_meta()
    # Measured as analyses look at frames (colour casts taken out, the default), and said so.
    assert rates.balance_colour is True


def test_train_rates_says_when_the_data_has_no_calibration_sources(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for folder in ("photographic", "nonphotographic"):
        (data / folder).mkdir(parents=True)
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(data / folder / "train_000.png")

    result = CliRunner().invoke(
        build_app(),
        ["train", "rates", "--classifier", str(DEFAULT_CLASSIFIER_DIR), "--segmenter",
         str(DEFAULT_SEGMENTER_DIR), "--data", str(data), "--cache", str(tmp_path / "cache")],
    )  # fmt: skip

    assert result.exit_code == 2
    assert "no images from the calibration sources" in result.output


def test_proxy_sets_read_their_images_in_any_format(tmp_path: Path) -> None:
    from workers.ml.evaluate import read_proxy_set
    from workers.ml.train import IGNORE_LABEL

    (tmp_path / "masks").mkdir()
    (tmp_path / "images").mkdir()
    mask = np.zeros((8, 12), np.uint8)
    mask[:, 6:] = 255
    mask[0, 0] = 128
    for name, suffix in (("a", ".png"), ("b", ".jpg")):  # as made; as packed for a GPU run
        Image.fromarray(mask).save(tmp_path / "masks" / f"{name}.png")
        Image.fromarray(np.full((8, 12, 3), 90, np.uint8)).save(
            tmp_path / "images" / f"{name}{suffix}"
        )

    proxy = read_proxy_set(tmp_path)

    assert len(proxy.images) == 2 and all(i.shape == (8, 12, 3) for i in proxy.images)
    assert all(label[0, 0] == IGNORE_LABEL and label[0, 11] == 1 and label[1, 1] == 0
               for label in proxy.labels)  # fmt: skip


def test_proxy_sets_leave_out_the_sources_asked(tmp_path: Path) -> None:
    from workers.ml.evaluate import read_proxy_set

    for folder in ("masks", "images"):
        (tmp_path / folder).mkdir()
    for name in ("urban100_000", "train_000", "train_001"):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "masks" / f"{name}.png")
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "images" / f"{name}.png")

    assert len(read_proxy_set(tmp_path).images) == 3
    assert len(read_proxy_set(tmp_path, leave_out=frozenset({"urban100"})).images) == 2
