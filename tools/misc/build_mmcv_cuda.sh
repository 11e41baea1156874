#!/usr/bin/env bash
# Build mmcv 2.1.0 WITH its CUDA ops as a wheel for the project's GPU machine (Python 3.12,
# torch 2.11.0+cu130, NVIDIA H200 = sm_90), on a CPU-only machine: that machine has no package
# registry, so the wheel is made here and carried there (pip install --no-index --no-deps).
#
#   bash tools/misc/build_mmcv_cuda.sh [OUT_DIR]
#
# Output: OUT_DIR/mmcv-2.1.0-cp312-cp312-linux_x86_64.whl (OUT_DIR default: .gpu_wheels/cuda/ in
# the repository root, which git ignores). The build log is $WORK_DIR/build.log.
#
# Environment (all optional):
#   PYTHON=/path/python3.12   interpreter the build venv is made from (default: python3.12 on
#                             PATH, else the newest of pyenv's 3.12.x)
#   WORK_DIR=/path            venv (~4.7 GB), sdist, unpacked source and build tree (default
#                             ~/.cache/isonet-det/mmcv-cuda). Kept between runs: a rerun reuses
#                             the venv and the compiled objects (ninja only rebuilds what is
#                             missing); CLEAN=1 unpacks the source afresh
#   MAX_JOBS=N                parallel compile jobs (default: nproc; mmcv's setup.py would
#                             otherwise pick max(4, cores - 1)). One nvcc job peaks at ~1.3 GB
#   TORCH_CUDA_ARCH_LIST      CUDA architectures (default 9.0: sm_90 code only, no PTX)
#   TORCH_SPEC                the torch to build against (default torch==2.11.0; the registry's
#                             2.11.0 for cp312 is 2.11.0+cu130, as on the GPU machine)
#   CUDA_HOME=/path           CUDA 13.0 toolkit with bin/nvcc (default: /usr/local/cuda when it
#                             has bin/nvcc, else the nvidia-cuda-nvcc/crt/cccl/nvvm 13.0 wheels are
#                             installed into the venv and a small CUDA_HOME of links is made)
#   ISONET_PIP_CACHE=1        let pip keep its downloads in its cache (default: no cache)
#   BUILD_NICE=N              run the compile at nice N in its own scheduler autogroup (default
#                             0). With kernel autogroups on (/proc/sys/kernel/sched_autogroup_enabled
#                             = 1) plain `nice` only ranks processes within one session, so the
#                             autogroup's own nice is set too; that is what keeps a background
#                             build from taking CPU from other sessions' jobs
#
# What it does: venv from PYTHON; torch (its nvidia-* CUDA 13 wheels bring the cuBLAS/cuSPARSE/
# cuSOLVER headers that ATen/cuda/CUDAContext.h includes, e.g. cusparse.h, which /usr/local/cuda
# here lacks: they are put on CPATH), setuptools<70 (mmcv's setup.py imports pkg_resources),
# wheel, ninja; the mmcv 2.1.0 sdist (checked against its sha256); mmcv's '-std=c++17' raised to
# what torch's own cpp_extension uses (C++17 for torch 2.11: no change; C++20 for torch 2.14.1);
# then MMCV_WITH_OPS=1 FORCE_CUDA=1 pip wheel --no-deps --no-build-isolation, with CFLAGS=-g0
# (Python's own CFLAGS carry -g: the CPU-only _ext.so is 82 MB with debug info, 2 MB without).
# Afterwards it checks the wheel holds mmcv/_ext*.so, that the .so has sm_90 code (cuobjdump
# --list-elf: /usr/local/cuda's, the nvidia-cuda-nvcc wheel's or triton's; else `strings`), and
# that it loads with every symbol resolved against this torch (RTLD_NOW, no GPU needed).
# Measured on a 2-core machine (2026-12-04): 136 objects (78 .cpp with g++, 58 .cu with nvcc);
# nms_cuda.cu and roi_align_cuda.cu took ~25-27 s of CPU each for sm_90. Expect the whole build
# to take roughly 25-45 min on 2 idle cores (an estimate, not a measured run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT_DIR=${1:-$ROOT/.gpu_wheels/cuda}
WORK_DIR=${WORK_DIR:-$HOME/.cache/isonet-det/mmcv-cuda}
MAX_JOBS=${MAX_JOBS:-$(nproc)}
TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
TORCH_SPEC=${TORCH_SPEC:-torch==2.11.0}
BUILD_NICE=${BUILD_NICE:-0}
MMCV_VERSION=2.1.0
MMCV_SHA256=d387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f
EXPECT_PY=3.12
say() { echo "[mmcv-cuda] $*"; }
die() { echo "[mmcv-cuda] ERROR: $*" >&2; exit 1; }
py_minor() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

# 1. the interpreter and the venv
if [ -z "${PYTHON:-}" ]; then
  for candidate in python$EXPECT_PY \
      $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$EXPECT_PY".*/bin/python 2>/dev/null | sort -rV); do
    if [ "$(py_minor "$candidate")" = "$EXPECT_PY" ]; then PYTHON=$candidate; break; fi
  done
fi
[ -n "${PYTHON:-}" ] || die "no Python $EXPECT_PY found: name one with PYTHON=/path/python$EXPECT_PY"
[ "$(py_minor "$PYTHON")" = "$EXPECT_PY" ] \
  || die "$PYTHON is not Python $EXPECT_PY (the GPU machine's torch runs on cp312)"
mkdir -p "$WORK_DIR" "$OUT_DIR"
WORK_DIR=$(cd "$WORK_DIR" && pwd) OUT_DIR=$(cd "$OUT_DIR" && pwd)
VENV=$WORK_DIR/venv
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the build venv $VENV from $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
[ "$(py_minor "$VENV/bin/python")" = "$EXPECT_PY" ] \
  || die "$VENV is not a Python $EXPECT_PY venv: remove it and run again"
VPY=$VENV/bin/python
PIP=("$VPY" -m pip)
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ "${ISONET_PIP_CACHE:-0}" != 1 ]; then
  export PIP_NO_CACHE_DIR=1   # as tools/setup_env.sh: no second copy of torch's ~2.7 GB in pip's cache
fi

# 2. torch (+ its CUDA 13 wheels, which carry the library headers) and the build tools
say "installing $TORCH_SPEC (about 2.7 GB of downloads the first time), setuptools<70, wheel, ninja"
"${PIP[@]}" install -q --no-warn-conflicts "$TORCH_SPEC" 'setuptools<70' wheel ninja
INFO=$("$VPY" -W ignore - <<'PY'
import importlib.util, re, sysconfig, torch
# read, not import: importing cpp_extension before CUDA_HOME is set logs a misleading guess
ce = importlib.util.find_spec('torch.utils.cpp_extension').origin
m = re.search(r"common_cflags \+= \['-std=c\+\+(\d+)'", open(ce).read())
print(torch.__version__, torch.version.cuda, sysconfig.get_paths()['purelib'], m.group(1) if m else 17)
PY
) || die "torch does not import in $VENV"
read -r TORCH_VER TORCH_CUDA SITE CXX_STD <<< "$INFO"
say "torch $TORCH_VER, torch.version.cuda $TORCH_CUDA, C++$CXX_STD extensions"
[ "$TORCH_CUDA" != None ] || die "$TORCH_SPEC installed a CPU-only torch"
CU_MAJOR=${TORCH_CUDA%%.*}
NV=$SITE/nvidia/cu$CU_MAJOR
for h in cublas_v2.h cusparse.h cusolverDn.h; do
  [ -f "$NV/include/$h" ] || die "$NV/include/$h missing: the torch wheel's nvidia-* CUDA wheels did not install"
done

# 3. the CUDA toolkit (nvcc, cuda_runtime.h, libcudart.so)
if [ -z "${CUDA_HOME:-}" ]; then
  if [ -x /usr/local/cuda/bin/nvcc ]; then
    CUDA_HOME=/usr/local/cuda
  else
    say "no /usr/local/cuda/bin/nvcc: installing nvcc $TORCH_CUDA from the nvidia-cuda-nvcc wheels"
    "${PIP[@]}" install -q "nvidia-cuda-nvcc==$TORCH_CUDA.*" "nvidia-cuda-crt==$TORCH_CUDA.*" \
      "nvidia-cuda-cccl==$TORCH_CUDA.*" "nvidia-nvvm==$TORCH_CUDA.*"
    # torch looks for CUDA_HOME/lib64 and links -lcudart: the wheels have lib/ and only
    # libcudart.so.13, hence a CUDA_HOME made of links
    CUDA_HOME=$WORK_DIR/cuda-home
    rm -rf "$CUDA_HOME" && mkdir -p "$CUDA_HOME/lib64"
    for d in bin include nvvm; do ln -s "$NV/$d" "$CUDA_HOME/$d"; done
    for f in "$NV"/lib/*; do ln -s "$f" "$CUDA_HOME/lib64/"; done
    ln -sf "libcudart.so.$CU_MAJOR" "$CUDA_HOME/lib64/libcudart.so"
  fi
fi
[ -x "$CUDA_HOME/bin/nvcc" ] || die "no nvcc at $CUDA_HOME/bin/nvcc"
NVCC_VER=$("$CUDA_HOME/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')
say "nvcc $NVCC_VER at $CUDA_HOME"
[ "${NVCC_VER%%.*}" = "$CU_MAJOR" ] || die "nvcc $NVCC_VER does not match torch's CUDA $TORCH_CUDA"
[ "$NVCC_VER" = "$TORCH_CUDA" ] || say "WARNING: nvcc $NVCC_VER, torch built with CUDA $TORCH_CUDA"

# 4. the mmcv sdist, unpacked (and kept for reruns unless CLEAN=1), its C++ standard patched
SDIST=$WORK_DIR/sdist/mmcv-$MMCV_VERSION.tar.gz
if [ ! -f "$SDIST" ]; then
  # --no-build-isolation: an isolated build gets setuptools>=70, which has no pkg_resources
  "${PIP[@]}" download -q --no-deps --no-build-isolation --no-binary :all: \
    "mmcv==$MMCV_VERSION" -d "$WORK_DIR/sdist"
fi
echo "$MMCV_SHA256  $SDIST" | sha256sum -c --quiet - || die "$SDIST: unexpected sha256"
SRC=$WORK_DIR/src/mmcv-$MMCV_VERSION
if [ "${CLEAN:-0}" = 1 ] || [ ! -f "$SRC/setup.py" ]; then
  rm -rf "$WORK_DIR/src" && mkdir -p "$WORK_DIR/src"
  tar -xzf "$SDIST" -C "$WORK_DIR/src"
  cp "$SRC/setup.py" "$SRC/setup.py.orig"
fi
cp "$SRC/setup.py.orig" "$SRC/setup.py"
if [ "$CXX_STD" != 17 ]; then
  # setup.py passes -std=c++17 to g++ (line 207) and nvcc (line 432); torch's headers need more
  sed -i "s/'-std=c++17'/'-std=c++$CXX_STD'/g" "$SRC/setup.py"
  grep -q "'-std=c++$CXX_STD'" "$SRC/setup.py" || die "could not raise mmcv's C++ standard flag"
fi
diff -u "$SRC/setup.py.orig" "$SRC/setup.py" || true   # prints the patch, if any

# 5. the build
export CUDA_HOME MAX_JOBS TORCH_CUDA_ARCH_LIST FORCE_CUDA=1 MMCV_WITH_OPS=1
export PATH="$VENV/bin:$CUDA_HOME/bin:$PATH"   # ninja on PATH, else a serial distutils build
export CPATH="$NV/include${CPATH:+:$CPATH}"    # cusparse.h & co. for ATen/cuda/CUDAContext.h
export CFLAGS="${CFLAGS:+$CFLAGS }-g0"          # after Python's -g: no debug info
LOG=$WORK_DIR/build.log
WHEEL=mmcv-$MMCV_VERSION-cp312-cp312-linux_x86_64.whl
rm -f "$WORK_DIR/dist/$WHEEL"
BUILD=("$VPY" -m pip wheel -v --no-deps --no-build-isolation -w "$WORK_DIR/dist" .)
if [ "$BUILD_NICE" != 0 ]; then
  BUILD=(setsid -w bash -c 'echo "$0" > /proc/self/autogroup 2>/dev/null || true
                            exec nice -n "$0" "$@"' "$BUILD_NICE" "${BUILD[@]}")
fi
say "building with MAX_JOBS=$MAX_JOBS TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST" \
    "CUDA_HOME=$CUDA_HOME (log: $LOG; progress: grep -cE '^ *\[[0-9]+/' it, of 136 objects)"
START=$SECONDS
if ! (cd "$SRC" && "${BUILD[@]}") > "$LOG" 2>&1; then
  grep -E -m 20 'error|Error' "$LOG" >&2 || true
  tail -20 "$LOG" >&2
  die "the build failed after $(( (SECONDS - START) / 60 )) min $(( (SECONDS - START) % 60 )) s: see $LOG"
fi
ELAPSED=$((SECONDS - START))
[ -f "$WORK_DIR/dist/$WHEEL" ] || die "no $WHEEL in $WORK_DIR/dist (see $LOG)"
cp "$WORK_DIR/dist/$WHEEL" "$OUT_DIR/"
say "build time: $((ELAPSED / 60)) min $((ELAPSED % 60)) s; wheel: $OUT_DIR/$WHEEL," \
    "$(du -h "$OUT_DIR/$WHEEL" | cut -f1) ($(stat -c %s "$OUT_DIR/$WHEEL") bytes)," \
    "sha256 $(sha256sum "$OUT_DIR/$WHEEL" | cut -c1-64)"

# 6. checks on the wheel
FAIL=0
CHECK=$(mktemp -d)
trap 'rm -rf "$CHECK"' EXIT
SO=$("$VPY" - "$OUT_DIR/$WHEEL" "$CHECK" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sos = [n for n in z.namelist() if n.startswith('mmcv/_ext') and n.endswith('.so')]
print(z.extract(sos[0], sys.argv[2]) if sos else '')
PY
)
if [ -n "$SO" ]; then
  say "OK: the wheel holds ${SO#"$CHECK"/} ($(du -h "$SO" | cut -f1) unpacked)"
else
  say "FAIL: no mmcv/_ext*.so in the wheel"; FAIL=1
fi
if [ -n "$SO" ]; then
  CUOBJDUMP=''
  for c in "$CUDA_HOME/bin/cuobjdump" "$(command -v cuobjdump || true)" "$NV/bin/cuobjdump" \
      "$SITE/triton/backends/nvidia/bin/cuobjdump"; do
    if [ -n "$c" ] && [ -x "$c" ]; then CUOBJDUMP=$c; break; fi
  done
  for arch in ${TORCH_CUDA_ARCH_LIST//;/ }; do
    sm=sm_${arch//[.+A-Za-z]/}
    if [ -n "$CUOBJDUMP" ]; then
      n=$("$CUOBJDUMP" --list-elf "$SO" | grep -c "\.$sm\.cubin" || true)
      other=$("$CUOBJDUMP" --list-elf "$SO" | grep -o 'sm_[0-9a-z]*' | sort -u | tr '\n' ' ')
      if [ "$n" -gt 0 ]; then say "OK: $n $sm cubins ($CUOBJDUMP --list-elf; archs: $other)"
      else say "FAIL: no $sm cubin in $SO ($CUOBJDUMP --list-elf; archs: $other)"; FAIL=1; fi
    elif strings -a "$SO" | grep -q -- "-arch $sm "; then
      say "OK: strings finds '-arch $sm' in $SO (no cuobjdump found)"
    else
      say "FAIL: neither cuobjdump nor strings shows $sm code in $SO"; FAIL=1
    fi
  done
  if "$VPY" -W ignore - "$SO" <<'PY'; then
import ctypes, os, sys, torch
ctypes.CDLL(sys.argv[1], mode=os.RTLD_NOW | os.RTLD_GLOBAL)
PY
    say "OK: $(basename "$SO") loads with all symbols resolved against torch $TORCH_VER (no GPU needed)"
  else
    say "FAIL: $(basename "$SO") does not load against torch $TORCH_VER (undefined symbols?)"; FAIL=1
  fi
  if command -v objdump >/dev/null; then
    say "needs at most: $(objdump -T "$SO" | grep -oE '(GLIBC|GLIBCXX|CXXABI)_[0-9.]+' \
        | sort -uV | awk -F_ '{m[$1] = $0} END {for (k in m) printf "%s ", m[k]}')"
  fi
fi
[ "$FAIL" = 0 ] || die "the wheel is in $OUT_DIR but failed a check (above)"
say "done: on the GPU machine, pip install --no-index --no-deps $WHEEL (beside torch 2.11.0+cu130)"
