#!/usr/bin/env bash
# A Python venv with the pinned ansible-core and ansible-builder that the Ansible collection's
# tests run (AnsibleCollectionTests): bash Tests/ansible/venv.sh [DIR], DIR defaulting to
# .build/ansible-venv. Idempotent: a venv that already has these versions is left as it is.
# ansible-core 2.19 is the newest line whose controller runs on Debian 12's Python 3.11.
set -euo pipefail

ANSIBLE_CORE_VERSION=2.19.14
ANSIBLE_BUILDER_VERSION=3.2.0
PYTHON=${PYTHON:-python3}

dir=${1:-.build/ansible-venv}

installed() {
    "$dir/bin/python" - "$ANSIBLE_CORE_VERSION" "$ANSIBLE_BUILDER_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    ok = version("ansible-core") == sys.argv[1] and version("ansible-builder") == sys.argv[2]
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
}

if [[ -x $dir/bin/python ]] && installed; then
    echo "ansible venv: $dir has ansible-core $ANSIBLE_CORE_VERSION and ansible-builder $ANSIBLE_BUILDER_VERSION"
    exit 0
fi

[[ -x $dir/bin/python ]] || "$PYTHON" -m venv "$dir"
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
    "ansible-core==$ANSIBLE_CORE_VERSION" "ansible-builder==$ANSIBLE_BUILDER_VERSION"
installed || { echo "ansible venv: $dir lacks the pinned versions after pip install" >&2; exit 1; }
echo "ansible venv: $dir ready (ansible-core $ANSIBLE_CORE_VERSION, ansible-builder $ANSIBLE_BUILDER_VERSION)"
