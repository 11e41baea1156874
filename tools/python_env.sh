# Sourced by the launch scripts: the interpreter they run, the same one tools/setup_env.sh set up.
# PYTHON if set, else $ISONET_VENV/bin/python, else the project's .venv, else python3 on PATH.
# An absolute path, so that slurm tasks on other nodes of a shared filesystem use it too.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -n "${ISONET_VENV:-}" ] && [ -x "$ISONET_VENV/bin/python" ]; then
    PYTHON="$(cd "$ISONET_VENV" && pwd)/bin/python"
  elif [ -x "$ROOT/.venv/bin/python" ]; then
    PYTHON="$ROOT/.venv/bin/python"
  else
    PYTHON=python3
  fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
