#!/usr/bin/env bash
# The whole suite N times in a row (default 3) while two CPU-bound processes keep both cores busy:
# how the suite is checked not to depend on an idle machine. The burners are killed by PID on exit.
set -u
cd "$(dirname "$0")/.."
runs=${1:-3}
python3 -c 'while True: pass' & burner1=$!
python3 -c 'while True: pass' & burner2=$!
trap 'kill "$burner1" "$burner2" 2>/dev/null' EXIT
failed=0
for i in $(seq 1 "$runs"); do
    start=$(date +%s)
    log=$(mktemp)
    .venv/bin/python -m pytest -q -p no:cacheprovider >"$log" 2>&1
    rc=$?
    echo "run $i: exit $rc in $(( $(date +%s) - start )) s: $(tail -n 1 "$log")"
    [ "$rc" -eq 0 ] || { failed=1; grep -E "^(FAILED|ERROR)" "$log"; }
    rm -f "$log"
done
exit "$failed"
