#!/usr/bin/env bash
# Create (or reuse) a project virtual environment with one of the two tested stacks.
#
#   bash tools/setup_env.sh     # newest -> .venv: torch 2.14.1 + torchvision 0.29.1, mmcv 2.1.0
#                               #    with ops, mmengine 0.10.7, mmdet 3.3.0, isonet_det (editable)
#                               #    with its extras: MMSegmentation 1.2.2 (ISO-UNet), MMPretrain
#                               #    1.2.0 and timm 1.0.31 (classification, the NF-ResNet baseline)
#   ISONET_STACK=oldest bash tools/setup_env.sh
#                               # oldest -> .venv-oldest: MMDetection's documented environment:
#                               #    Python 3.8, torch 2.1.2 + torchvision 0.16.2, numpy 1.24,
#                               #    mmcv 2.1.0 built with its own flags, mmengine 0.10.4, mmdet
#                               #    3.3.0, isonet_det (editable, tests extra only)
#
# Environment:
#   ISONET_STACK=newest|oldest which stack (default newest)
#   PYTHON=/path/to/python     the interpreter the environment is made from (default: python3
#                              for newest; for oldest the first Python 3.8 of python3.8 on PATH
#                              and pyenv's versions, $PYENV_ROOT or ~/.pyenv)
#   ISONET_VENV=/path          where the environment goes (default .venv / .venv-oldest)
#   ISONET_WHEEL_CACHE=/path   where the built mmcv wheel is kept (default ~/.cache/isonet-det)
#   TORCH_CUDA_ARCH_LIST="9.0" build mmcv's CUDA ops for these architectures (default: the
#                              visible GPU's); with a GPU (or FORCE_CUDA=1) mmcv gets CUDA ops
#   MAX_JOBS=N                 parallel compile jobs (default: all cores)
#   ISONET_PIP_CACHE=1         let pip keep what it downloads in its cache (default: no cache; a
#                              stack's torch with its CUDA libraries is ~3 GB of downloads, which
#                              the cache would hold a second time beside the ~6 GB environment)
#
# mmcv 2.1.0 (the last release mmdet 3.3.0 accepts) ships only as source here and must be
# compiled against the installed torch. torch 2.14's headers need C++20 while mmcv's setup.py asks
# for C++17, so on the newest stack the unpacked source gets that one flag raised (C++ and nvcc)
# before the build; the oldest stack builds it as it is. 10-20 min on 2 cores for the CPU ops,
# longer with CUDA ops. The wheel is kept in the cache, keyed by torch version, CUDA
# architectures and Python, so later environments install it in seconds; on a GPU cluster build
# it once on a GPU node and share ISONET_WHEEL_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/stack.sh
STACK=$ISONET_STACK VENV=$ISONET_VENV
case "$STACK" in
  newest)
    PY_VERSION=''  # python3, whichever it is (3.11 tested)
    TORCH_VERSION=2.14.1 TORCHVISION_VERSION=0.29.1 MMENGINE_VERSION=0.10.7
    EXTRA_PINS=() EXTRAS='tests,seg,cls' RAISE_CXX=1
    ENV_GB=6 DOWNLOAD_GB=3 ;;  # measured: 6.1 GB installed, 5.3 GB of it torch, triton and CUDA
  oldest)
    PY_VERSION=3.8  # MMDetection 3.x's get-started guide: conda create ... python=3.8
    TORCH_VERSION=2.1.2 TORCHVISION_VERSION=0.16.2 MMENGINE_VERSION=0.10.4
    EXTRA_PINS=('numpy==1.24.*')  # torch 2.1 was built against numpy 1; 1.24 is 3.8's last
    EXTRAS='tests' RAISE_CXX=0
    ENV_GB=5 DOWNLOAD_GB=3 ;;  # measured: 5.3 GB installed, 4.6 GB of it torch, triton and CUDA
esac
MMCV_VERSION=2.1.0
MMDET_VERSION=3.3.0
CACHE=${ISONET_WHEEL_CACHE:-$HOME/.cache/isonet-det}

# The interpreter: PYTHON if set, else python3 (newest) or the first Python $PY_VERSION that runs
# (oldest) among python$PY_VERSION on PATH and pyenv's installed versions. A pyenv shim on PATH
# fails unless that version is selected, hence each candidate is run, not just looked up.
py_minor() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
if [ -n "${PYTHON:-}" ] || [ -z "$PY_VERSION" ]; then
  PY=${PYTHON:-python3}
else
  PY=''
  for candidate in "python$PY_VERSION" \
      $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$PY_VERSION".*/bin 2>/dev/null | sort -rV); do
    [ -d "$candidate" ] && candidate="$candidate/python$PY_VERSION"
    if [ "$(py_minor "$candidate")" = "$PY_VERSION" ]; then
      PY=$candidate
      break
    fi
  done
  if [ -z "$PY" ]; then
    echo "[setup] ERROR: the $STACK stack runs on Python $PY_VERSION, found neither as" \
         "python$PY_VERSION on PATH nor under ${PYENV_ROOT:-$HOME/.pyenv}/versions: install it" \
         "(pyenv install $PY_VERSION) or name it with PYTHON=/path/to/python$PY_VERSION" >&2
    exit 1
  fi
fi
if [ -n "$PY_VERSION" ] && [ "$(py_minor "$PY")" != "$PY_VERSION" ]; then
  echo "[setup] ERROR: the $STACK stack runs on Python $PY_VERSION; $PY is not one" \
       "(it runs as Python '$(py_minor "$PY" || true)')" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment in $VENV with $PY (Python $(py_minor "$PY"))"
  "$PY" -m venv "$VENV"
elif [ -n "$PY_VERSION" ] && [ "$(py_minor "$VENV/bin/python")" != "$PY_VERSION" ]; then
  # an environment made before the stack moved to this Python: say so rather than remove it
  echo "[setup] ERROR: $VENV runs Python $(py_minor "$VENV/bin/python"), the $STACK stack" \
       "needs Python $PY_VERSION: remove it (rm -rf $VENV) and run again" >&2
  exit 1
fi
VPY="$(cd "$VENV" && pwd)/bin/python"
PIP="$VPY -m pip"
if [ "${ISONET_PIP_CACHE:-0}" != 1 ]; then
  export PIP_NO_CACHE_DIR=1   # also reaches the pip that builds mmcv
fi
$PIP install -q --upgrade pip wheel

# 0. room for it: a first install needs the environment's size plus its downloads, unpacked
#    under TMPDIR meanwhile; say so before pip stops half-way on 'No space left on device'.
if ! "$VPY" -c "import torch; assert torch.__version__.split('+')[0] == '$TORCH_VERSION'" \
     2>/dev/null; then
  free_gb() { df -Pk "$1" | awk 'NR == 2 { printf "%.1f", $4 / 1048576 }'; }
  TMP=${TMPDIR:-/tmp}
  VENV_FREE=$(free_gb "$VENV") TMP_FREE=$(free_gb "$TMP")
  if awk -v f="$VENV_FREE" -v n="$ENV_GB" 'BEGIN { exit !(f < n) }'; then
    echo "[setup] ERROR: not enough disk for the $STACK stack: $VENV needs about $ENV_GB GB" \
         "(torch with its CUDA libraries), its disk has $VENV_FREE GB free. Free some space," \
         "or put the environment on another disk with ISONET_VENV=/path" >&2
    exit 1
  fi
  if [ "$(stat -c %d "$VENV")" = "$(stat -c %d "$TMP")" ]; then  # one filesystem for both
    NEED=$((ENV_GB + DOWNLOAD_GB)) HAVE=$VENV_FREE WHAT='the environment and its downloads'
  else
    NEED=$DOWNLOAD_GB HAVE=$TMP_FREE WHAT='the downloads'
  fi
  if awk -v f="$HAVE" -v n="$NEED" 'BEGIN { exit !(f < n) }'; then
    echo "[setup] WARNING: the $STACK stack needs about $NEED GB for $WHAT while it installs;" \
         "$TMP's disk has $HAVE GB free (TMPDIR=/path moves the downloads)" >&2
  fi
fi

# 1. torch + torchvision first, pinned (an unpinned torch pulls whatever build the index has).
$PIP install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" "${EXTRA_PINS[@]}"

# 2. mmcv with its C++ (and, with a GPU, CUDA) ops, built against that torch.
read -r CUDA_OK ARCHS < <("$VPY" - <<'PY'
import os, torch
cuda = torch.cuda.is_available() or os.environ.get('FORCE_CUDA') == '1'
archs = os.environ.get('TORCH_CUDA_ARCH_LIST', '')
if cuda and not archs and torch.cuda.is_available():
    archs = ';'.join(sorted({'%d.%d' % torch.cuda.get_device_capability(i)
                             for i in range(torch.cuda.device_count())}))
print(int(cuda), archs.replace(' ', ';') or '-')
PY
)
if [ "$CUDA_OK" = 1 ]; then
  if [ "$ARCHS" = - ]; then
    echo "[setup] ERROR: FORCE_CUDA=1 without a visible GPU: set TORCH_CUDA_ARCH_LIST (e.g. 8.0;9.0)" >&2
    exit 1
  fi
  VARIANT="cuda-${ARCHS//;/_}"
else
  VARIANT=cpu
fi
WHEEL_DIR="$CACHE/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$VARIANT"
# one wheel per Python in that folder (torch 2.1.2 has had a 3.11 and a 3.8 lane): the one whose
# tag is this interpreter's, e.g. mmcv-2.1.0-cp38-cp38-linux_x86_64.whl
PY_TAG=$("$VPY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')

mmcv_ready() {
  "$VPY" - "$CUDA_OK" <<'PY' 2>/dev/null
import sys, mmcv, mmcv.ops
assert mmcv.__version__ == '2.1.0'
if sys.argv[1] == '1':   # a GPU build: its ops must have been compiled with CUDA
    assert mmcv.ops.get_compiling_cuda_version() not in ('not available', '')
PY
}

if ! mmcv_ready; then
  if ! ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION-$PY_TAG"-*.whl >/dev/null 2>&1; then
    echo "[setup] building mmcv $MMCV_VERSION ($VARIANT) against torch $TORCH_VERSION:" \
         "13-20 min on 2 cores the first time, cached in $WHEEL_DIR afterwards"
    SRC=$(mktemp -d)
    trap 'rm -rf "$SRC"' EXIT
    # mmcv's setup.py imports pkg_resources as setuptools < 70 had it. torch 2.14 wants
    # setuptools >= 77.0.3, so pip would report the (expected, transient) conflict: step 3 moves
    # it back to what torch and mmengine need.
    $PIP install -q --no-warn-conflicts 'setuptools<70'
    $PIP download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$SRC"
    tar -xzf "$SRC/mmcv-$MMCV_VERSION.tar.gz" -C "$SRC"
    if [ "$RAISE_CXX" = 1 ]; then
      sed -i "s/'-std=c++17'/'-std=c++20'/g" "$SRC/mmcv-$MMCV_VERSION/setup.py"
      grep -q "'-std=c++20'" "$SRC/mmcv-$MMCV_VERSION/setup.py" \
        || { echo "[setup] ERROR: could not raise mmcv's C++ standard flag" >&2; exit 1; }
    fi
    BUILD_ENV=(MMCV_WITH_OPS=1 "MAX_JOBS=${MAX_JOBS:-$(nproc)}")
    if [ "$CUDA_OK" = 1 ]; then
      BUILD_ENV+=(FORCE_CUDA=1 "TORCH_CUDA_ARCH_LIST=${ARCHS//_/;}")
      # ATen's CUDA headers include cusparse.h, cublas_v2.h, ...: torch's nvidia-* wheels carry
      # them (site-packages/nvidia/*/include), a toolkit need not (tools/misc/build_mmcv_cuda.sh)
      NV_INCLUDE=$("$VPY" -c 'import glob, os, sysconfig; print(os.pathsep.join(sorted(glob.glob(
          os.path.join(sysconfig.get_paths()["purelib"], "nvidia", "*", "include")))))')
      [ -z "$NV_INCLUDE" ] || BUILD_ENV+=("CPATH=$NV_INCLUDE${CPATH:+:$CPATH}")
      # torch guesses CUDA_HOME from the nvcc on PATH, which may be a wrapper outside the toolkit
      if [ -z "${CUDA_HOME:-}" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
        BUILD_ENV+=(CUDA_HOME=/usr/local/cuda)
      fi
    fi
    (cd "$SRC/mmcv-$MMCV_VERSION" && env "${BUILD_ENV[@]}" \
       "$VPY" -m pip wheel -q --no-build-isolation --no-deps . -w "$SRC/wheel") 2>&1 \
       | grep -v -e '^\s*$' -e 'warning' | tail -20 || true
    ls "$SRC"/wheel/mmcv-*.whl >/dev/null 2>&1 \
      || { echo "[setup] ERROR: the mmcv build failed (see above)" >&2; exit 1; }
    mkdir -p "$WHEEL_DIR"
    cp "$SRC"/wheel/mmcv-*.whl "$WHEEL_DIR/"
    rm -rf "$SRC"   # the unpacked source and its build tree (hundreds of MB)
  fi
  $PIP install -q --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-"$MMCV_VERSION-$PY_TAG"-*.whl
fi

# 3. the rest of the stack, pinned, then this package (editable, with the stack's extras: tests,
#    and on the newest segmentation and classification); on the newest this also moves setuptools
#    to >=77.0.3,<81 (torch's minimum, still with pkg_resources for mmengine).
$PIP install -q "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" "${EXTRA_PINS[@]}"
$PIP install -q -e ".[$EXTRAS]" "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" \
  "${EXTRA_PINS[@]}"
"$VPY" - "$CUDA_OK" <<'PY'
import sys
import torch, torchvision, mmcv, mmengine, mmdet, isonet_det
from mmcv.ops import RoIAlign, nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
scores = torch.tensor([0.9, 0.8, 0.7])
feats = torch.randn(1, 4, 16, 16)
rois = torch.tensor([[0., 1., 1., 8., 8.]])
devices = ['cpu'] + (['cuda'] if sys.argv[1] == '1' and torch.cuda.is_available() else [])
for device in devices:   # mmdet's RoIAlign and NMS run from mmcv's compiled ops
    kept = nms(boxes.to(device), scores.to(device), 0.5)[1]
    assert kept.tolist() == [0, 2], (device, kept)
    out = RoIAlign((2, 2), 1.0, 0)(feats.to(device), rois.to(device))
    assert out.shape == (1, 4, 2, 2) and out.device.type == device
extras = ''
try:  # the newest stack's extras: both register their modules with this mmcv
    import mmpretrain, mmpretrain.models, mmseg, mmseg.models, timm
    extras = (f', mmseg {mmseg.__version__}, mmpretrain {mmpretrain.__version__}, '
              f'timm {timm.__version__}')
except ImportError:
    pass
print(f'[setup] ok: torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'mmcv {mmcv.__version__} (ops on {"/".join(devices)}), mmengine {mmengine.__version__}, '
      f'mmdet {mmdet.__version__}{extras}, isonet_det {isonet_det.__version__}')
PY
if [ "$STACK" = newest ]; then  # the extras must import on the newest stack
  "$VPY" -c "import mmseg.models, mmpretrain.models, timm"
fi
