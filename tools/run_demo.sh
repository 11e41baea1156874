#!/usr/bin/env bash
# The main job on a fresh machine: set up the environment, generate the demo dataset, train a
# Mask R-CNN with an R-ISONet-18 backbone on it (CPU), then evaluate box and mask mAP with
# pycocotools and save drawn predictions.
#   bash tools/run_demo.sh            (results in work_dirs/demo_<timestamp>/)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
PY="${ISONET_VENV:-.venv}/bin/python"
CONFIG=configs/demo/mask-rcnn_risonet18_fpn_shapes.py
WORK="work_dirs/demo_$(date +%Y%m%d_%H%M%S)"

"$PY" tools/misc/make_demo_data.py --out data/demo_shapes
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK"
CKPT=$(cat "$WORK/last_checkpoint")
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK/test" --show-dir vis \
  2>&1 | tee "$WORK/test.log"
echo
echo "== demo done in $(( $(date +%s) - start )) s (train + test): $WORK"
grep -o "coco/bbox_mAP: [0-9.]*  coco/bbox_mAP_50: [0-9.]*" "$WORK/test.log" | tail -1
grep -o "coco/segm_mAP: [0-9.]*  coco/segm_mAP_50: [0-9.]*" "$WORK/test.log" | tail -1
echo "drawn predictions: $(find "$WORK/test" -path '*vis*' -name '*.png' | head -1 | xargs -r dirname)"
