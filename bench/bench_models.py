"""Model benchmark: inference speed and memory on this machine, and validation quality.

    python bench/bench_models.py                    # speed of the shipped models
    python bench/bench_models.py --quality          # + mIoU / accuracy on held-out sources
    python bench/bench_models.py --quality --classifier runs/clf_cls_homog/model ...

Speed is printed in images/s at batch 1 and batched, with each model's peak RSS (and for
"both": the classifier and the segmenter each run on every frame; "decide": the same through
the pipeline's decision, ``decide_frames`` with ``segment_all``, which runs the encoder once for
both models when the classifier was trained on the segmenter's encoder), and as a
ratio against a stock SegFormer-B0 at 512x512 (the size SegFormer-B0 is usually run at), timed
in the same run so machine noise cancels. Each model is measured in its own subprocess so
peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _measure(
    kind: str, batch: int, threads: int, seconds: float, classifier: str, segmenter: str
) -> dict[str, float]:
    import torch

    torch.set_num_threads(threads)
    from app.core.config import ClassThresholds, ModelSettings

    settings = ModelSettings(
        device="cpu",
        batch_size=batch,
        classifier_path=Path(classifier) if classifier != "-" else None,
        segmenter_path=Path(segmenter) if segmenter != "-" else None,
    )
    frames = [
        np.random.default_rng(i).integers(0, 256, (240, 320, 3), dtype=np.uint8)
        for i in range(batch)
    ]
    if kind == "reference":
        from transformers import SegformerConfig, SegformerForSemanticSegmentation

        model = SegformerForSemanticSegmentation(SegformerConfig(num_labels=2)).eval()
        tensor = torch.randn(batch, 3, 512, 512)

        def run() -> None:
            with torch.inference_mode():
                model(pixel_values=tensor)
    elif kind == "classifier":
        from workers.ml.inference import Classifier

        classifier = Classifier.load(settings)

        def run() -> None:
            classifier.classify(frames)
    elif kind == "both":
        # The worst case of an analysis: every frame classified and segmented.
        from workers.ml.inference import Classifier, Segmenter

        both = (Classifier.load(settings), Segmenter.load(settings))

        def run() -> None:
            both[0].classify(frames)
            both[1].segment(frames)
    elif kind == "decide":
        # The same through the pipeline's decision (judging and cascade included).
        from workers.ml.inference import Classifier, Segmenter, decide_frames

        pair = (Classifier.load(settings), Segmenter.load(settings))
        thresholds = ClassThresholds()

        def run() -> None:
            decide_frames(pair[0], pair[1], frames, thresholds, segment_all=True)
    else:
        from workers.ml.inference import Segmenter

        segmenter = Segmenter.load(settings)

        def run() -> None:
            segmenter.segment(frames)

    run()  # warm-up
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or count < 3:
        run()
        count += 1
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"images_per_s": count * batch / elapsed, "peak_rss_mb": peak_mb}


def speed(
    threads: int, seconds: float, batch: int, classifier: Path | None, segmenter: Path | None
) -> dict[str, dict[str, float]]:
    results = {}
    models = [str(classifier or "-"), str(segmenter or "-")]
    for kind in ("reference", "classifier", "segmenter", "both", "decide"):
        for size in (1, batch):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--_child",
                    kind,
                    str(size),
                    str(threads),
                    str(seconds),
                    *models,
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=REPO,
            )
            results[f"{kind}@{size}"] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument(
        "--quality", action="store_true", help="also evaluate on the validation split"
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--classifier", type=Path, action="append", help="classifier dirs (default: shipped)"
    )
    parser.add_argument(
        "--segmenter", type=Path, action="append", help="segmenter dirs (default: shipped)"
    )
    parser.add_argument("--per-style", type=int, default=60)
    parser.add_argument("--markdown", type=Path, help="also write the quality tables to this file")
    parser.add_argument("--json-out", type=Path, help="also write the quality report as JSON")
    parser.add_argument("--_child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        kind, batch, threads, seconds, classifier, segmenter = args._child
        print(
            json.dumps(
                _measure(kind, int(batch), int(threads), float(seconds), classifier, segmenter)
            )
        )
        return

    # Speed of the first classifier and segmenter given (the shipped ones by default).
    results = (
        speed(
            args.threads,
            args.seconds,
            args.batch,
            (args.classifier or [None])[0],
            (args.segmenter or [None])[0],
        )
        if args.seconds > 0
        else {}
    )
    if results:
        print(f"inference speed on this CPU ({args.threads} threads), 320x240 inputs")
        print(f"{'model':28s} {'images/s':>10s} {'vs B0@512':>10s} {'peak RSS MB':>12s}")
    for key, value in results.items():
        kind, size = key.split("@")
        ratio = value["images_per_s"] / results[f"reference@{size}"]["images_per_s"]
        print(f"{key:28s} {value['images_per_s']:10.1f} {ratio:10.2f} {value['peak_rss_mb']:12.0f}")
    if args.quality:
        from workers.ml.evaluate import evaluate_models, format_report

        report = evaluate_models(
            args.data,
            REPO / "runs" / "cache",
            classifiers=args.classifier or [None],
            segmenters=args.segmenter or [None],
            per_style=args.per_style,
            device="cpu",
        )
        print(format_report(report))
        if args.markdown:
            from workers.ml.evaluate import markdown_report

            args.markdown.write_text(markdown_report(report))
        if args.json_out:
            args.json_out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
