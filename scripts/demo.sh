#!/usr/bin/env bash
# Set up .venv (no real peers needed) and run the opensspi demonstration.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/python -m opensspi.demo "$@"
