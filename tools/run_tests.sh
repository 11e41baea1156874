#!/usr/bin/env bash
# Set up the environment (tools/setup_env.sh), run the lint checks (tools/lint.sh) and the tests.
#   bash tools/run_tests.sh [pytest args]         # the newest stack: lint + the whole suite (CI)
#   bash tools/run_tests.sh --fast [pytest args]  # skip the setup when the environment is
#                                                 # current, skip lint and the slow tests
#   ISONET_STACK=oldest bash tools/run_tests.sh   # the oldest stack (Python 3.8, torch 2.1.2,
#                                                 # CI): pip check, the fast tests (checkpoint
#                                                 # payloads and the wheel's install check
#                                                 # included) and the demo --quick
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/stack.sh
STACK=$ISONET_STACK VENV=$ISONET_VENV
FAST=0
if [ "${1:-}" = --fast ]; then
  FAST=1
  shift
fi
# --fast reuses an environment whose stamp matches the files that define it
STAMP="$VENV/.isonet-setup-$(cat setup.py tools/setup_env.sh tools/stack.sh | sha1sum | cut -c1-12)-$STACK"
if [ "$FAST" = 1 ] && [ -f "$STAMP" ]; then
  echo "[tests] $VENV is current (setup.py, tools/setup_env.sh, tools/stack.sh unchanged): no setup"
else
  bash tools/setup_env.sh
  rm -f "$VENV"/.isonet-setup-*
  touch "$STAMP"
fi
PY="$VENV/bin/python"
if [ "$FAST" = 1 ]; then
  exec "$PY" -m pytest tests -m 'not slow' "$@"
fi
if [ "$STACK" = oldest ]; then
  "$PY" -m pip check
  "$PY" -m pytest tests -m 'not slow' "$@"
  bash tools/run_demo.sh --quick
else
  bash tools/lint.sh
  exec "$PY" -m pytest tests "$@"
fi
