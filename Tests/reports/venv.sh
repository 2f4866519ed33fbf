#!/usr/bin/env bash
# A Python venv with the pinned openpyxl that the workbook tests (WorkbookTests) read the
# xlsx report with: bash Tests/reports/venv.sh [DIR], DIR defaulting to .build/report-venv.
# Idempotent: a venv that already has this version is left as it is.
set -euo pipefail

OPENPYXL_VERSION=3.1.5
PYTHON=${PYTHON:-python3}

dir=${1:-.build/report-venv}

installed() {
    "$dir/bin/python" - "$OPENPYXL_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    ok = version("openpyxl") == sys.argv[1]
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
}

if [[ -x $dir/bin/python ]] && installed; then
    echo "report venv: $dir has openpyxl $OPENPYXL_VERSION"
    exit 0
fi

[[ -x $dir/bin/python ]] || "$PYTHON" -m venv "$dir"
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "openpyxl==$OPENPYXL_VERSION"
installed || { echo "report venv: $dir lacks openpyxl $OPENPYXL_VERSION after pip install" >&2; exit 1; }
echo "report venv: $dir ready (openpyxl $OPENPYXL_VERSION)"
