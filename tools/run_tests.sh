#!/usr/bin/env bash
# Set up the environment (tools/setup_env.sh), run the lint checks (tools/lint.sh) and the test
# suite.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
bash tools/lint.sh
exec "${ISONET_VENV:-.venv}/bin/python" -m pytest tests "$@"
