#!/usr/bin/env bash
# The wheels tools/benchmarks/gpu_check.sh installs on the project's GPU machine (Python 3.12,
# torch 2.11.0+cu130 with torchvision, numpy, pillow and OpenCV, no mmengine / mmcv / mmdet and no
# package index), downloaded here into folders that travel separately: what a run carries to the
# machine, with the working tree, must stay under 64 MiB.
#
#   bash tools/misc/prepare_gpu_wheels.sh [WHEELS_DIR]    # default .gpu_wheels (git-ignored)
#
#   WHEELS_DIR/plugin/    the plugin's needs: mmengine 0.10.7 (+ addict, termcolor, yapf, pyyaml,
#                         platformdirs), pycocotools, and mmcv_lite (mmcv 2.1.0 without its
#                         compiled ops, a pure-Python wheel built here from the sdist)
#   WHEELS_DIR/plots/     matplotlib and its small dependencies: the experiment steps draw with
#                         it, and mmdet imports it (mmdet.utils)
#   WHEELS_DIR/detector/  mmdet 3.3.0 and what importing its models needs: scipy (repacked
#                         without its test suites: 35 -> about 30 MB), shapely, terminaltables,
#                         tqdm, rich (+ markdown-it-py, mdurl, pygments)
#   WHEELS_DIR/extra/     numpy, pillow, fonttools: only for a machine that lacks them (the GPU
#                         machine had numpy and pillow; gpu_check.sh skips what a machine has)
#   WHEELS_DIR/cuda/      mmcv 2.1.0 WITH its CUDA ops: tools/misc/build_mmcv_cuda.sh (not here)
#
# A run carries the folders it needs (the device tool's `carry`): the checks and backbone
# benchmark .gpu_wheels/plugin; the experiment steps + plots; the Mask R-CNN row + plots, detector
# and cuda (the sizes are printed at the end), and extra only where the machine lacks its packages
# (gpu_check.sh writes the machine's `pip list` to OUT_DIR/pip_list.txt).
# Environment: PYTHON (the interpreter that downloads and builds mmcv_lite; default python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WHEELS=${1:-$ROOT/.gpu_wheels}
PYTHON=${PYTHON:-python3}
say() { echo "[gpu-wheels] $*"; }
TARGET=(--no-deps --only-binary=:all: --python-version 3.12 --implementation cp
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
        --platform manylinux_2_28_x86_64)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/python" -m pip)
"${PIP[@]}" install -q --disable-pip-version-check 'setuptools<70' wheel
mkdir -p "$WHEELS"/{plugin,plots,detector,extra,cuda}
download() {  # folder, requirement...
  local dir=$1
  shift
  "${PIP[@]}" download -q --disable-pip-version-check "${TARGET[@]}" -d "$dir" "$@"
}

say "the plugin's wheels -> $WHEELS/plugin"
download "$WHEELS/plugin" mmengine==0.10.7 addict termcolor yapf platformdirs pycocotools pyyaml
if ! ls "$WHEELS"/plugin/mmcv_lite-2.1.0-*.whl >/dev/null 2>&1; then
  say "building mmcv_lite 2.1.0 (mmcv without its ops) from the sdist"
  "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation mmcv==2.1.0 -d "$WORK"
  tar -xzf "$WORK"/mmcv-2.1.0.tar.gz -C "$WORK"
  (cd "$WORK/mmcv-2.1.0" && MMCV_WITH_OPS=0 "${PIP[@]}" wheel -q --no-deps --no-build-isolation \
    . -w "$WHEELS/plugin")
fi
say "matplotlib and its small dependencies -> $WHEELS/plots"
download "$WHEELS/plots" matplotlib contourpy cycler kiwisolver packaging pyparsing \
  python-dateutil six
say "mmdet 3.3.0 and its imports -> $WHEELS/detector"
download "$WHEELS/detector" mmdet==3.3.0 shapely terminaltables tqdm rich markdown-it-py mdurl \
  pygments
if ! ls "$WHEELS"/detector/scipy-*.whl >/dev/null 2>&1; then
  download "$WORK/scipy" scipy
  # the test suites (tests/ folders, about 18 of its 111 MB) are not needed to run it; `wheel pack`
  # writes a RECORD without them
  "$WORK/venv/bin/python" -m wheel unpack -d "$WORK/scipy/unpacked" "$WORK"/scipy/scipy-*.whl
  find "$WORK/scipy/unpacked" -type d -name tests -prune -exec rm -rf {} +
  "$WORK/venv/bin/python" -m wheel pack -d "$WHEELS/detector" "$WORK"/scipy/unpacked/scipy-*
fi
say "numpy, pillow, fonttools (for a machine without them) -> $WHEELS/extra"
download "$WHEELS/extra" numpy pillow fonttools

bytes() { find "$@" -maxdepth 1 -name '*.whl' -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
TREE=$(cd "$ROOT" && git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s}')
BASE=$(bytes "$WHEELS/plugin")
say "sizes: tree $(mib "$TREE"), plugin $(mib "$BASE"), plots/ $(mib "$(bytes "$WHEELS/plots")")," \
    "detector/ $(mib "$(bytes "$WHEELS/detector")"), extra/ $(mib "$(bytes "$WHEELS/extra")")," \
    "cuda/ $(mib "$(bytes "$WHEELS/cuda")")"
DETECTOR=$((TREE + BASE + $(bytes "$WHEELS/plots") + $(bytes "$WHEELS/detector") \
  + $(bytes "$WHEELS/cuda")))
say "a detector run (the tree, plugin/, plots/, detector/, cuda/): $(mib "$DETECTOR") of 64 MiB"
