# Sourced by setup_env.sh, run_tests.sh and run_demo.sh: the tested stack (ISONET_STACK: newest,
# the default, or oldest) and the folder of its environment (ISONET_VENV: by default .venv for
# newest, .venv-oldest for oldest), both exported.
ISONET_STACK=${ISONET_STACK:-newest}
case "$ISONET_STACK" in
  newest) ISONET_VENV=${ISONET_VENV:-.venv} ;;
  oldest) ISONET_VENV=${ISONET_VENV:-.venv-oldest} ;;
  *)
    echo "ERROR: ISONET_STACK must be newest or oldest, not '$ISONET_STACK'" >&2
    exit 1 ;;
esac
export ISONET_STACK ISONET_VENV
