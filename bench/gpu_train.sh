#!/usr/bin/env bash
# One GPU lease, prepared here and run there: three trainings side by side on one GPU, their
# batches drawn by worker processes on the machine's CPU cores, each stopped by --time-limit.
#
# Here:  python bench/gpu_pack.py --out .gpu --quality 65 --proxy runs/lproxy_ship --init-segmenter lite2:320 \
#            [--shipped-at 41deb68]   (the models the 2026-12-04 round continued; else the shipped ones)
#        (and the wheels the GPU image lacks in .whl/: transformers 4.57.6 and its pins, pydantic 2)
# There: bash bench/gpu_train.sh SECONDS        (OUT=folder for the fp16 models and the log)
#
# - seg256: the shipped segmenter (lite0, 256 px) continued, batch 32 (the shipped recipe's mix);
# - seg320l2: lite2 at 320 px from ImageNet (the packed init), batch 32, same mix;
# - clf: the shipped classifier (lite0, 224 px) continued, batch 64 (the shipped recipe's mix).
# Runs with --workers are reproducible for the same worker count, not step for step.
set -uo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-360}
OUT=${OUT:-runs/gpu_out}
mkdir -p "$OUT" runs
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore TQDM_MININTERVAL=5
DEV=${DEV:-cuda}
# The GPU image has transformers 5 (other SegFormer head names) and no pydantic: use ours.
if ! python3 -c "import pydantic_settings, transformers as t; assert t.__version__[0] == '4'" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site:$PWD
fi
LOG="$OUT/log.txt"
{
    date -u
    nvidia-smi -L
    nproc
} >"$LOG" 2>&1
# Fail fast (seconds, not the lease) if the packages or the packed models do not load.
DEV=$DEV python3 - >>"$LOG" 2>&1 <<'EOF' || { cat "$LOG"; exit 4; }
import os
from pathlib import Path
import torch, transformers
from workers.ml.models import load_model
print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available())
for path, kind in (("workers/ml/weights/segmenter", "segmenter"), (".gpu/init_lite2_320", "segmenter"),
                   ("workers/ml/weights/classifier", "classifier")):
    device = os.environ["DEV"]
    model = load_model(Path(path), kind).to(device)
    size = model.config.image_size
    with torch.autocast(device, dtype=torch.bfloat16):
        out = model(torch.randn(2, 3, size, size, device=device))
    print(path, "ok")
EOF
HL="python3 -m hybridlens train"
INIT_SEG=workers/ml/weights/segmenter INIT_CLF=workers/ml/weights/classifier
[ -d .gpu/shipped_segmenter ] && INIT_SEG=.gpu/shipped_segmenter INIT_CLF=.gpu/shipped_classifier
DATA=.gpu/data
SEG_MIX="--composites 0.6 --proxy .gpu/proxy --proxy-ratio 0.05 --drawn-renders 0.25"
COMMON="--data $DATA --device $DEV --steps 1000000 --time-limit $LIMIT --no-resume"
$HL segmenter --out runs/gpu_seg256 --init "$INIT_SEG" $SEG_MIX --batch-size 32 \
    --lr 2e-4 --seed 11 --workers 5 --cache runs/cache_a $COMMON >runs/seg256.log 2>&1 &
$HL segmenter --out runs/gpu_seg320l2 --init .gpu/init_lite2_320 $SEG_MIX --batch-size 32 \
    --lr 6e-4 --seed 12 --workers 6 --cache runs/cache_b $COMMON >runs/seg320l2.log 2>&1 &
$HL classifier --out runs/gpu_clf --init "$INIT_CLF" --composites 0.5 \
    --batch-size 64 --lr 2e-4 --seed 13 --workers 2 --cache runs/cache_c $COMMON >runs/clf.log 2>&1 &
wait
for run in seg256 seg320l2 clf; do
    echo "== $run" >>"$LOG"
    tail -c 3000 "runs/$run.log" | tr '\r' '\n' | tail -n 8 >>"$LOG"
    python3 - "$run" "$OUT" >>"$LOG" 2>&1 <<'EOF'
import json, sys
from pathlib import Path
from workers.ml.models import load_model, read_meta, save_model
run, out = sys.argv[1], Path(sys.argv[2])
source = Path(f"runs/gpu_{run}/model")
kind = "classifier" if run == "clf" else "segmenter"
save_model(load_model(source, kind), out / run, half=True,
           extra={"training": read_meta(source).get("training", {}), "source_run": str(source)})
print(run, "steps", read_meta(source)["training"]["steps"], "wall", read_meta(source)["training"]["wall_s"])
EOF
done
# What the GPU changes at inference: frames/s of classifier + segmenter, 320x240 frames, batch 64.
DEV=$DEV timeout 120 python3 - "$OUT" >>"$LOG" 2>&1 <<'EOF'
import os, sys, time
from pathlib import Path
import numpy as np
from app.core.config import ModelSettings
from workers.ml.inference import Classifier, Segmenter
out = Path(sys.argv[1])
frames = [np.random.default_rng(i).integers(0, 256, (240, 320, 3), dtype=np.uint8) for i in range(64)]
for seg in ("workers/ml/weights/segmenter", str(out / "seg320l2")):
    if not Path(seg).is_dir():
        continue
    settings = ModelSettings(device=os.environ["DEV"], batch_size=64)
    clf, sg = Classifier.load(settings), Segmenter.load(settings, path=Path(seg))
    for batch in (1, 64):
        clf.classify(frames[:batch]); sg.segment(frames[:batch])
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < 5:
            clf.classify(frames[:batch]); sg.segment(frames[:batch]); done += batch
        print(f"inference {seg} batch {batch}: {done / (time.perf_counter() - start):.0f} frames/s")
EOF
date -u >>"$LOG"
cat "$LOG"
