#!/usr/bin/env bash
# Coverage-guided fuzzing (atheris, libFuzzer) of every opensspi parser and entry point that
# takes a peer's bytes: tests/fuzz/targets.py lists them, tests/fuzz/run.py runs one.
#
#   scripts/fuzz.sh slice [TARGET...]        a few seconds per target (what CI runs via pytest)
#   scripts/fuzz.sh time SECONDS [TARGET...] SECONDS per target
#   scripts/fuzz.sh long [TARGET...]         1,000,000 inputs per target (hours in all)
#   scripts/fuzz.sh list                     the targets
#
# Seeds: the recorded peer tokens of tests/vectors/peers/ plus our own peers' tokens. Inputs
# that reach new coverage are kept in .fuzz-corpus/<target>/ (gitignored) for the next run.
# A finding is saved in tests/fuzz/findings/<target>/ (commit it: test_findings.py replays it)
# and makes this script exit 1. Per target it prints inputs run, inputs/s and libFuzzer's
# coverage counters (cov: edges of opensspi code reached, ft: features).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export FUZZ_CORPUS=${FUZZ_CORPUS:-$ROOT/.fuzz-corpus}

mode=${1:-slice}
shift || true
case "$mode" in
    list) exec "$PY" -c "import sys; sys.path[:0]=['tests','src']
from fuzz.targets import TARGETS
for t in TARGETS.values(): print(f'{t.name:28} {t.what}')" ;;
    slice) limit=(-max_total_time="${FUZZ_SLICE_SECONDS:-3}") ;;
    time) limit=(-max_total_time="$1"); shift ;;
    long) limit=(-runs=1000000) ;;
    *) echo "usage: $0 slice|time SECONDS|long|list [TARGET...]" >&2; exit 2 ;;
esac

if ! "$PY" -c "import atheris" 2>/dev/null; then
    echo "fuzz.sh: atheris is missing; install it with: $PY -m pip install atheris" >&2
    exit 2
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <("$PY" -c "import sys; sys.path[:0]=['tests','src']
from fuzz.targets import TARGETS; print('\n'.join(TARGETS))")
fi

logs=$(mktemp -d)
status=0
printf '%-28s %10s %8s %7s %7s %s\n' target inputs input/s cov ft result
for target in "${targets[@]}"; do
    findings="$ROOT/tests/fuzz/findings/$target/"
    mkdir -p "$findings"
    rc=0
    (cd "$logs" && "$PY" "$ROOT/tests/fuzz/run.py" "$target" "${limit[@]}" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings") \
        >"$logs/$target.log" 2>&1 || rc=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/$target.log" | tail -1 || true)
    runs=$(grep -oE 'stat::number_of_executed_units:[[:space:]]+[0-9]+' "$logs/$target.log" | awk '{print $2}' || true)
    speed=$(grep -oE 'stat::average_exec_per_sec:[[:space:]]+[0-9]+' "$logs/$target.log" | awk '{print $2}' || true)
    cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' "$logs/$target.log" | tail -1)
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' "$logs/$target.log" | tail -1)
    if [ "$rc" -eq 0 ] && [ -n "$done_line" ]; then
        result=ok
    else
        result="FINDING (exit $rc), log: $logs/$target.log"
        status=1
        rmdir "$findings" 2>/dev/null || true
        tail -40 "$logs/$target.log" >&2
    fi
    rmdir "$findings" 2>/dev/null || true
    printf '%-28s %10s %8s %7s %7s %s\n' "$target" "${runs:-?}" "${speed:-?}" "${cov:-?}" \
        "${ft:-?}" "$result"
done
exit "$status"
