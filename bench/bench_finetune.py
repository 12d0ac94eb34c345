"""Fine-tuning on an archive's corrections: the gain over the shipped segmenter on human
frames held out from the fine-tuning.

    python bench/bench_finetune.py                       # 24 training shots, 12 held out
    python bench/bench_finetune.py --steps 300 --train-clips 40

The "archive" is made of shots of known truth built like bench_propagation.py's (a drawn
layer moving over a panned, zoomed photograph, archival degradation on), from the
validation sources (never trained on). In the training shots a person annotated one frame
(its true mask) and the propagation (``workers.ml.propagation``, as the job runs it) gave
the others; the held-out shots are other clips of the same sources, all their frames
scored against the truth. Fine-tuning is what ``hybridlens train segmenter --init
<shipped> --annotations`` runs (``workers.ml.train.train_segmenter`` with the annotated
frames as its proxy share), mixing the training data's homogeneous frames and composites
so the model does not forget them; that mix is scored too (composites of the validation
sources, as bench_models.py does).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_propagation import Confusion, make_clips  # noqa: E402


def _score(segmenter: object, frames: list[np.ndarray], masks: list[np.ndarray]) -> float:
    score = Confusion()
    for p_map, truth in zip(segmenter.segment(frames), masks, strict=True):  # type: ignore[attr-defined]
        score.add(p_map >= 0.5, truth)
    return score.miou


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-clips", type=int, default=24)
    parser.add_argument("--held-out-clips", type=int, default=12)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--annotation-ratio", type=float, default=0.5)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=REPO / "runs" / "cache")
    args = parser.parse_args()

    from app.core.config import ModelSettings
    from workers.ml.checkpoint import DEFAULT_SEGMENTER_DIR
    from workers.ml.data import VALIDATION_SOURCES, load_splits
    from workers.ml.inference import Segmenter
    from workers.ml.propagation import PropagationConfig, propagate
    from workers.ml.train import ProxySet, TrainConfig, train_segmenter

    settings = ModelSettings(device="auto", cpu_threads=args.threads)
    shipped = Segmenter.load(settings)
    train_clips = make_clips(args.train_clips, VALIDATION_SOURCES, seed=31)
    held_clips = make_clips(args.held_out_clips, VALIDATION_SOURCES, seed=77)

    # The archive's corrections: one human frame per shot, the rest propagated.
    config = dataclasses.replace(PropagationConfig(), use_flow=True)
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    started = time.perf_counter()
    for clip in train_clips:
        middle = len(clip.frames) // 2
        maps = propagate(clip.frames, {middle: clip.truth[middle]}, shipped, config)
        for frame, p_map in zip(clip.frames, maps, strict=True):
            images.append(frame)
            labels.append((p_map >= 0.5).astype(np.uint8))
    human = len(train_clips)
    print(
        f"archive: {len(images)} annotated frames ({human} human, {len(images) - human} "
        f"propagated) from {len(train_clips)} shots; propagation {time.perf_counter() - started:.0f} s"
    )

    held_frames = [f for clip in held_clips for f in clip.frames]
    held_masks = [m for clip in held_clips for m in clip.truth]
    with tempfile.TemporaryDirectory() as scratch:
        splits = load_splits(args.data, args.cache)
        train_config = TrainConfig(
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=0.01,
            warmup_steps=min(20, args.steps // 5),
            composite_ratio=0.3,
            proxy_ratio=args.annotation_ratio,
            device="auto",
            threads=args.threads,
        )
        started = time.perf_counter()
        result = train_segmenter(
            (splits.train_p, splits.train_np),
            shipped.module.config,
            train_config,
            Path(scratch) / "run",
            proxy=ProxySet(images, labels),
            resume=False,
            progress=False,
            init_from=DEFAULT_SEGMENTER_DIR,
        )
        tuned = Segmenter.load(settings, path=result.out_dir / "model")
        print(f"fine-tuning: {args.steps} steps of {args.batch_size}, {result.wall_s:.0f} s")
        before = _score(shipped, held_frames, held_masks)
        after = _score(tuned, held_frames, held_masks)
        print(
            f"held-out human frames ({len(held_frames)} frames of {len(held_clips)} shots): "
            f"mIoU shipped {before:.3f}, fine-tuned {after:.3f} ({after - before:+.3f})"
        )
        from workers.ml.composites import make_composite

        rng = np.random.default_rng(5)
        comp_frames, comp_masks = [], []
        for _ in range(48):
            sample = make_composite(
                splits.val_p.images[int(rng.integers(len(splits.val_p)))],
                splits.val_np.images[int(rng.integers(len(splits.val_np)))],
                height=240,
                width=320,
                rng=rng,
            )
            comp_frames.append(sample.image)
            comp_masks.append(sample.p_mask)
        print(
            "validation composites (forgetting check, 48): mIoU shipped "
            f"{_score(shipped, comp_frames, comp_masks):.3f}, fine-tuned "
            f"{_score(tuned, comp_frames, comp_masks):.3f}"
        )


if __name__ == "__main__":
    main()
