#!/usr/bin/env bash
# Every GPU check of the project in one run, on a bare GPU machine that has torch (with Triton)
# but no mmengine / mmcv / mmdet and no package index: installs the wheels prepared beforehand,
# runs the GPU correctness checks and the benchmark's GPU sections, and writes their tables to
# a folder. About 5-8 minutes on one H200.
#
#   bash tools/benchmarks/gpu_check.sh [OUT_DIR [STEP ...]]  # default: $OUT, else work_dirs/gpu_check
#
# Steps (default: checks bench compile): checks (tools/benchmarks/gpu_checks.py), bench and
# compile (the benchmark's GPU sections), ablation and trainability (the experiments of
# docs/experiments/isonet_ablation.md and depth_trainability.md at their reported settings, on the
# GPU: they need matplotlib among the wheels, see below).
#
# The wheels: `bash tools/misc/prepare_gpu_wheels.sh` (on a machine with the package index) fills
# .gpu_wheels/ (git-ignored): plugin/ (mmengine, mmcv without ops, ...), plots/ (matplotlib: the
# experiment steps), detector/ (mmdet and its imports), extra/ (numpy, pillow, fonttools, for a
# machine without them); tools/misc/build_mmcv_cuda.sh adds cuda/ (mmcv with its CUDA ops, used
# instead of plugin/'s mmcv_lite). A run carries only the folders it needs (64 MiB with the tree):
# plugin/ for checks, bench, compile; + plots/ for ablation, trainability; + plots/, detector/
# and cuda/ for the benchmark's Mask R-CNN row (its section is skipped without them).
# Environment: ISONET_GPU_WHEELS (default .gpu_wheels), REPEATS (default 10), IMAGE (800x1344).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR=${1:-${OUT:-work_dirs/gpu_check}}
[ $# -gt 0 ] && shift
STEPS=("$@")
[ $# -gt 0 ] || STEPS=(checks bench compile)
for name in "${STEPS[@]}"; do
  case $name in
    checks | bench | compile | ablation | trainability) ;;
    *) echo "[gpu] ERROR: unknown step '$name' (checks, bench, compile, ablation, trainability)" >&2
       exit 2 ;;
  esac
done
WHEELS=${ISONET_GPU_WHEELS:-.gpu_wheels}
REPEATS=${REPEATS:-10}
IMAGE=${IMAGE:-800x1344}
mkdir -p "$OUT_DIR"
SITE=$(mktemp -d)
# what the machine has, for the record (and to know which wheels the next run needs to carry)
python3 -m pip list --format=freeze > "$OUT_DIR/pip_list.txt" 2>/dev/null || true
CUDA_MMCV=$(ls "$WHEELS"/cuda/mmcv-*.whl 2>/dev/null | head -1)
# the wheels of the folders that travelled that the machine lacks (select_gpu_wheels.py)
NEEDED=$(python3 tools/benchmarks/select_gpu_wheels.py "$WHEELS" "$CUDA_MMCV") \
  || { echo "[gpu] ERROR: could not list the wheels of $WHEELS" >&2; exit 1; }
if [ -n "$NEEDED" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
    $NEEDED || { echo "[gpu] ERROR: installing the wheels of $WHEELS failed" >&2; exit 1; }
fi
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c 'import torch, mmengine, mmcv, isonet_det; assert torch.cuda.is_available()' \
  || { echo "[gpu] ERROR: needs a CUDA GPU, and mmengine + mmcv (see the header)" >&2; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT_DIR/machine.txt"
python3 -c 'import torch, triton, sys; print(sys.version.split()[0], torch.__version__, triton.__version__)' \
  >> "$OUT_DIR/machine.txt"
status=0
step() {  # name, timeout in s, command...
  local name=$1 limit=$2
  shift 2
  echo "[gpu] $name" >&2
  timeout "$limit" "$@" 2>&1 | tee "$OUT_DIR/$name.txt"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || { echo "[gpu] $name exited $rc" >&2; status=1; }
}
B=(python3 tools/benchmarks/benchmark.py --device cuda --repeats "$REPEATS" --image-size "$IMAGE")
E=(--device cuda --out-dir)
for name in "${STEPS[@]}"; do
  case $name in
    checks) step checks 120 python3 tools/benchmarks/gpu_checks.py ;;
    bench) step bench 240 "${B[@]}" --only penalty,backbone,srelu,inference,shard,detector ;;
    compile) step compile 200 "${B[@]}" --only compile ;;
    ablation) step ablation 540 python3 tools/analysis/isonet_ablation.py "${E[@]}" \
      "$OUT_DIR/ablation" ;;
    trainability) step trainability 540 python3 tools/analysis/depth_trainability.py "${E[@]}" \
      "$OUT_DIR/trainability" ;;
  esac
done
exit $status
