#!/usr/bin/env bash
# The OpenMMLab lint checks (settings in setup.cfg): flake8, isort and yapf, as CI runs them.
#   bash tools/lint.sh          # check only (exit 1 on a finding)
#   bash tools/lint.sh --fix    # rewrite the files with isort and yapf
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${ISONET_VENV:-.venv}/bin/python"
TARGETS=(isonet_det isonet_theory tools tests setup.py)
if [ "${1:-}" = --fix ]; then
  "$PY" -m isort "${TARGETS[@]}"
  "$PY" -m yapf -i -r "${TARGETS[@]}"
fi
"$PY" -m flake8 "${TARGETS[@]}"
"$PY" -m isort --check-only --diff "${TARGETS[@]}"
"$PY" -m yapf --diff -r "${TARGETS[@]}"
echo "[lint] flake8, isort, yapf: clean"
