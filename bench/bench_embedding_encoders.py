"""Which encoder gives the frame embeddings: precision@5 of look-alike search over pan/zoom
crops of archive stills, for the shipped classifier's fine-tuned Lite0 encoder and for the
ImageNet Lite0 encoder of the wheel, with several poolings.

    HYBRIDLENS_MODEL__CPU_THREADS=1 nice -n 10 python bench/bench_embedding_encoders.py \
        --sources 60 --seed 2 --scale 0.4 0.8

Each of ``--sources`` random stills of /work/shared/data gives 6 views (a crop of 40-80% of
each side, resized to 320x240, brightness +-15%); a view's 5 nearest others should be views of
the same still.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from workers.ml.efficientnet import (
    BN_EPS,
    LITE_MEAN,
    LITE_STD,
    EfficientNetLiteEncoder,
    imagenet_weights_path,
    load_imagenet_weights,
)
from workers.ml.inference import Classifier, to_batch

DATA = Path("/work/shared/data")


def views(image: Image.Image, count: int, scale: tuple[float, float], rng: random.Random):
    width, height = image.size
    out = []
    for _ in range(count):
        share = rng.uniform(*scale)
        crop_w, crop_h = int(width * share), int(height * share)
        left, top = rng.randint(0, width - crop_w), rng.randint(0, height - crop_h)
        crop = image.crop((left, top, left + crop_w, top + crop_h)).resize((320, 240))
        pixels = np.asarray(crop).astype(np.float32) * rng.uniform(0.85, 1.15)
        out.append(np.clip(pixels, 0, 255).astype(np.uint8))
    return out


def precision_at_5(vectors: np.ndarray, labels: np.ndarray) -> float:
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -9.0)
    top = np.argsort(-similarity, axis=1)[:, :5]
    return float((labels[top] == labels[:, None]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--scale", type=float, nargs=2, default=(0.4, 0.8))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    files = sorted(
        path
        for folder in ("photographic", "nonphotographic", "hybrid")
        for path in (DATA / folder).glob("*.jpg")
    )
    images, labels = [], []
    for label, path in enumerate(rng.sample(files, args.sources)):
        for view in views(Image.open(path).convert("RGB"), 6, tuple(args.scale), rng):
            images.append(view)
            labels.append(label)
    label_array = np.array(labels)
    batch = to_batch(images, 224, torch.device("cpu"))  # classifier normalisation
    results: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        model = Classifier.load().module
        mark = time.perf_counter()
        _, _, f16, f32 = model.backbone.encoder(batch)
        up = F.interpolate(f32, size=f16.shape[-2:], mode="bilinear", align_corners=False)
        grid = model.backbone.project(torch.cat([f16, up], 1))
        tokens = model.norm(grid.flatten(2).transpose(1, 2))
        results["classifier: pooled patch tokens (192)"] = tokens.mean(1).numpy()
        results["classifier: encoder stride-32 GAP (320)"] = f32.mean((2, 3)).numpy()
        results["classifier: encoder stride-16+32 GAP (432)"] = torch.cat(
            [f16.mean((2, 3)), f32.mean((2, 3))], 1
        ).numpy()
        classifier_s = time.perf_counter() - mark
        encoder = EfficientNetLiteEncoder("lite0", drop_path_rate=0.0)
        load_imagenet_weights(encoder)
        encoder.eval()
        state = torch.load(imagenet_weights_path("lite0"), weights_only=True)
        head = torch.nn.Conv2d(320, 1280, 1, bias=False)
        head.weight.data = state["_conv_head.weight"]
        norm = torch.nn.BatchNorm2d(1280, eps=BN_EPS)
        norm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("_bn1.")})
        norm.eval()
        lite = (batch * 0.5 + 0.5 - torch.tensor(LITE_MEAN).view(1, 3, 1, 1)) / torch.tensor(
            LITE_STD
        ).view(1, 3, 1, 1)
        mark = time.perf_counter()
        g32 = encoder(lite)[-1]
        results["imagenet: stride-32 GAP (320)  [FrameEmbedder]"] = g32.mean((2, 3)).numpy()
        results["imagenet: 1280-d head GAP"] = F.relu6(norm(head(g32))).mean((2, 3)).numpy()
        imagenet_s = time.perf_counter() - mark
    print(f"{args.sources} sources x 6 views, crop scale {args.scale}, seed {args.seed}")
    for name, vectors in results.items():
        print(f"  {name:48s} precision@5 {precision_at_5(vectors, label_array):.3f}")
    print(f"  encoder pass: classifier {classifier_s:.1f} s, imagenet {imagenet_s:.1f} s")


if __name__ == "__main__":
    main()
