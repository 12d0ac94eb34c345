"""Copy trained runs into the package as the default weights (fp16), with their training facts.

python bench/ship_weights.py --classifier runs/lclf_main/model --segmenter runs/lseg_long/model

The calibration fitted by ``hybridlens train calibrate`` travels with the weights. The
classifier's hybrid rates do not (they hold for one segmenter's exact weights, and shipping
turns weights to fp16): measure them again on the shipped pair, as printed at the end.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.pipeline.quantify import HybridRates
from workers.ml.checkpoint import weights_version
from workers.ml.inference import DEFAULT_CLASSIFIER_DIR, DEFAULT_SEGMENTER_DIR
from workers.ml.models import ModelKind, load_model, read_meta, save_model

LIMIT_BYTES = 25 * 1024 * 1024


def ship(source: Path, target: Path, kind: ModelKind) -> int:
    meta = read_meta(source)
    model = load_model(source, kind)
    save_model(
        model,
        target,
        half=True,
        extra={
            "training": meta.get("training", {}),
            "source_run": str(source),
            **({"calibration": meta["calibration"]} if "calibration" in meta else {}),
        },
    )
    size = sum(p.stat().st_size for p in target.iterdir())
    print(f"{kind}: {source} -> {target} ({size / 1e6:.2f} MB)")
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--classifier", type=Path)
    parser.add_argument("--segmenter", type=Path)
    args = parser.parse_args()
    total = 0
    if args.classifier:
        total += ship(args.classifier, DEFAULT_CLASSIFIER_DIR, "classifier")
    if args.segmenter:
        total += ship(args.segmenter, DEFAULT_SEGMENTER_DIR, "segmenter")
    sizes = {
        d.name: sum(p.stat().st_size for p in d.iterdir())
        for d in (DEFAULT_CLASSIFIER_DIR, DEFAULT_SEGMENTER_DIR)
        if d.is_dir()
    }
    print(json.dumps({"shipped_bytes": sizes, "total_mb": round(sum(sizes.values()) / 1e6, 2)}))
    if sum(sizes.values()) > LIMIT_BYTES:
        raise SystemExit("shipped weights exceed 25 MB")
    rates = HybridRates.from_meta(read_meta(DEFAULT_CLASSIFIER_DIR).get("hybrid_rates"))
    if rates is None or (rates.classifier_version, rates.segmenter_version) != (
        weights_version(DEFAULT_CLASSIFIER_DIR),
        weights_version(DEFAULT_SEGMENTER_DIR),
    ):
        print(
            "the shipped classifier has no hybrid rates for the shipped segmenter: films get no "
            "adjusted hybrid ratio until you run\n  hybridlens train rates --classifier "
            f"{DEFAULT_CLASSIFIER_DIR} --segmenter {DEFAULT_SEGMENTER_DIR}"
        )


if __name__ == "__main__":
    main()
