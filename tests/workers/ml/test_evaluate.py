"""`hybridlens evaluate` end to end on a generated data folder, with the shipped models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.workers.ml.conftest import drawing_like, photo_like
from workers.ml.evaluate import evaluate_models, format_report


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
