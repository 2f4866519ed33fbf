#!/usr/bin/env bash
# Every remote script the test suite generated (kept by mtaguard in MTAGUARD_SCRIPT_DUMP,
# one file per distinct script) goes through `shellcheck -s sh`; any finding, of any
# severity, fails.
#
#   bash Tests/scripts/shellcheck.sh DIR
set -euo pipefail
dir=${1:?usage: shellcheck.sh DIR}
command -v shellcheck >/dev/null || { echo "shellcheck.sh: shellcheck not found" >&2; exit 2; }
shopt -s nullglob
scripts=("$dir"/*.sh)
if [ ${#scripts[@]} -eq 0 ]; then
    echo "shellcheck.sh: no scripts in $dir: the suite generated none, or MTAGUARD_SCRIPT_DUMP was not passed" >&2
    exit 1
fi
passed=0 failed=0
for f in "${scripts[@]}"; do
    if out=$(shellcheck -s sh -f gcc "$f" 2>&1); then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $f" >&2
        printf '%s\n' "$out" | head -20 >&2
    fi
done
echo "shellcheck: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
