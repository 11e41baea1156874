#!/usr/bin/env bash
# Create (or reuse) the project virtual environment and install the pinned stack.
#
#   bash tools/setup_env.sh            # -> .venv with torch, mmcv (with ops), mmengine, mmdet, isonet_det
#
# Versions follow ../shared/reference/stack.md: torch 2.13.0 (CPU wheel), mmcv 2.1.0 built from
# source with its C++ ops (~10 min on 2 cores the first time; pip caches the wheel afterwards),
# mmengine 0.10.7, mmdet 3.3.0.  Override the location with ISONET_VENV=/path.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ISONET_VENV:-.venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip wheel

# 1. torch first (pinned: an unpinned torch pulls a multi-GB CUDA build).
$PIP install -q torch==2.13.0

# 2. mmcv with its C++ ops, built against the torch above.
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  echo "[setup] installing mmcv 2.1.0 with ops: built from source the first time on a machine" \
       "(10-20 min on 2 cores), from pip's wheel cache afterwards"
  # mmcv's setup.py imports pkg_resources as setuptools < 70 had it. pip then notes that torch
  # wants setuptools >= 77.0.3: expected, step 3 moves it to >=77.0.3,<81.
  $PIP install -q 'setuptools<70'
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP install -q --no-build-isolation mmcv==2.1.0
  "$VENV/bin/python" -c "import mmcv.ops" \
    || { echo "[setup] ERROR: mmcv was installed without its C++ ops (mmcv._ext)" >&2; exit 1; }
fi

# 3. the rest of the stack and this package (editable, with test/analysis extras); this also
#    moves setuptools to >=77.0.3,<81 (torch's minimum, still with pkg_resources for mmengine).
$PIP install -q -e '.[tests]'
"$VENV/bin/python" - <<'PY'
import torch, mmcv, mmengine, mmdet, isonet_det
print(f'[setup] ok: torch {torch.__version__}, mmcv {mmcv.__version__}, '
      f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, isonet_det {isonet_det.__version__}')
PY
