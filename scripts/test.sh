#!/usr/bin/env bash
# The full check: environment with real peers, ruff, mypy --strict, then pytest.
# Extra arguments go to pytest. CI=true (taken from the environment) makes a missing real
# peer a test failure instead of a skip.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [ -n "${CI+set}" ]; then
    export CI
fi

step() {
    local name=$1
    shift
    echo "==> $name"
    local rc=0
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "test.sh: FAILED at step '$name' (exit $rc): $*" >&2
        exit "$rc"
    fi
}

step "setup (with real peers)" bash scripts/setup.sh --peers
step "ruff" .venv/bin/ruff check src tests bench tools
step "mypy --strict" .venv/bin/mypy --strict src

echo "==> pytest (CI=${CI:-unset})"
rc=0
.venv/bin/pytest -q "$@" || rc=$?
case "$rc" in
    0) echo "test.sh: all steps passed" ;;
    5)
        echo "test.sh: FAILED at step 'pytest': no tests were collected (pytest exit 5)" >&2
        exit 5
        ;;
    *)
        echo "test.sh: FAILED at step 'pytest' (exit $rc)" >&2
        exit "$rc"
        ;;
esac
