#!/usr/bin/env bash
# The main job on a fresh machine: set up the environment, generate the demo dataset, train a
# Mask R-CNN with an R-ISONet-18 backbone on it (CPU), then evaluate box and mask mAP with
# pycocotools and save drawn predictions.
#   bash tools/run_demo.sh            (results in work_dirs/demo_<timestamp>/)
#   bash tools/run_demo.sh --quick    (16 training images, 1 epoch: checks the path, ~1 min)
# ISONET_STACK=oldest runs it on the oldest tested stack (tools/setup_env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  "") ;;
  *) echo "usage: bash tools/run_demo.sh [--quick]" >&2; exit 2 ;;
esac
source tools/stack.sh
bash tools/setup_env.sh
PY="$ISONET_VENV/bin/python"
CONFIG=configs/demo/mask-rcnn_risonet18_fpn_shapes.py
WORK="work_dirs/demo_$(date +%Y%m%d_%H%M%S)"

if [ "$QUICK" = 1 ]; then
  DATA=data/demo_shapes_quick
  "$PY" tools/misc/make_demo_data.py --out "$DATA" --num-train 16 --num-val 8
  WORK="${WORK}_quick"
  OPTIONS=(--cfg-options "train_dataloader.dataset.data_root=$DATA/"
           "val_dataloader.dataset.data_root=$DATA/" "test_dataloader.dataset.data_root=$DATA/"
           "val_evaluator.ann_file=$DATA/annotations/instances_val.json"
           "test_evaluator.ann_file=$DATA/annotations/instances_val.json"
           train_cfg.max_epochs=1 train_cfg.val_interval=1 default_hooks.checkpoint.interval=1
           default_hooks.logger.interval=1)
else
  "$PY" tools/misc/make_demo_data.py --out data/demo_shapes
  OPTIONS=()
fi
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" "${OPTIONS[@]}"
CKPT=$(cat "$WORK/last_checkpoint")
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK/test" --show-dir vis "${OPTIONS[@]}" \
  2>&1 | tee "$WORK/test.log"
echo
echo "== demo done in $(( $(date +%s) - start )) s (train + test): $WORK"
grep -o "coco/bbox_mAP: [0-9.]*  coco/bbox_mAP_50: [0-9.]*" "$WORK/test.log" | tail -1 \
  || echo "no box mAP line: the model detected nothing"
grep -o "coco/segm_mAP: [0-9.]*  coco/segm_mAP_50: [0-9.]*" "$WORK/test.log" | tail -1 \
  || echo "no mask mAP line: the model detected nothing"
echo "drawn predictions: $(find "$WORK/test" -path '*vis*' -name '*.png' | head -1 | xargs -r dirname)"
