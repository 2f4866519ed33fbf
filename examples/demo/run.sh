#!/usr/bin/env bash
# The bundled demo: check, then plan (dry-run), over two offline host roots.
# Nothing is changed: check and plan only read. Exit codes 2 mean "findings" / "changes pending".
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=.build/debug/mtaguard
for host in examples/demo/postfix-host examples/demo/sendmail-host; do
  echo "### mtaguard check --root $host"
  "$bin" check --root "$host"; code=$?
  echo "(exit $code)"
  [ "$code" -le 2 ] || exit "$code"
  echo
  echo "### mtaguard plan --root $host"
  "$bin" plan --root "$host"; code=$?
  echo "(exit $code)"
  [ "$code" -le 2 ] || exit "$code"
  echo
done
