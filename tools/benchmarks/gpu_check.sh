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
# GPU: they need numpy and matplotlib among the wheels, see below).
#
# Prepare the wheels on any machine with pip and the package index (Python 3.12 here; for
# another Python, change --python-version), into .gpu_wheels/ (git-ignored):
#
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 -d .gpu_wheels \
#       mmengine==0.10.7 addict termcolor yapf platformdirs pycocotools
#   # mmcv without its compiled ops (a pure-Python wheel, built in seconds):
#   pip download --no-deps --no-binary :all: mmcv==2.1.0 -d /tmp/mmcv && cd /tmp/mmcv \
#       && tar xzf mmcv-2.1.0.tar.gz && cd mmcv-2.1.0 && pip install 'setuptools<70' wheel \
#       && MMCV_WITH_OPS=0 pip wheel --no-deps --no-build-isolation . -w "$OLDPWD/.gpu_wheels"
#
# With mmcv's CUDA ops (tools/misc/build_mmcv_cuda.sh writes its wheel to .gpu_wheels/cuda/, used
# instead of the mmcv_lite wheel) and mmdet (+ shapely, terminaltables, scipy) among the wheels,
# the benchmark's detector section runs too. For
# the experiment steps, numpy and matplotlib (and their dependencies) go into .gpu_wheels/plots/
# (git-ignored too) the same way:
#
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d .gpu_wheels/plots \
#       numpy matplotlib contourpy cycler fonttools kiwisolver packaging pillow pyparsing \
#       python-dateutil six
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
# the wheels of every folder that travelled ($WHEELS, cuda/, detector/, plots/), less those the
# machine already has (its own numpy / scipy / matplotlib are kept: they match its other packages)
# but for the OpenMMLab packages, whose tested versions are always installed; mmcv with CUDA ops,
# where built, in place of mmcv_lite (both install the package mmcv)
NEEDED=$(python3 - "$WHEELS" "$CUDA_MMCV" <<'PY'
import glob, importlib.metadata as md, os, re, sys
wheels, cuda_mmcv = sys.argv[1], sys.argv[2]
found = [w for d in ('', 'cuda', 'detector', 'plots')
         for w in sorted(glob.glob(os.path.join(wheels, d, '*.whl')))]
for wheel in found:
    dist = re.split(r'-\d', os.path.basename(wheel), maxsplit=1)[0]
    if cuda_mmcv and dist == 'mmcv_lite':
        continue
    if dist in ('mmcv', 'mmcv_lite', 'mmengine', 'mmdet'):  # the versions the project tests
        print(wheel)
        continue
    try:
        md.version(dist)
        print(f'[gpu] the machine has {dist}: {os.path.basename(wheel)} not installed',
              file=sys.stderr)
    except md.PackageNotFoundError:
        print(wheel)
PY
)
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
