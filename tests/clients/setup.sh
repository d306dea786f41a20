#!/usr/bin/env bash
# Creates the two Python virtual environments the client tests run in:
#   target/venvs/current  current boto3 (AWS JSON 1.0 protocol) + awscli v1
#   target/venvs/legacy   an old pinned boto3/botocore that still speaks Query/XML
# Idempotent: a venv whose stamp matches the pinned requirements is left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENVS="${STOWAGE_VENVS:-$ROOT/target/venvs}"
PYTHON="${PYTHON:-python3}"

# botocore switched SQS to JSON in 1.31.81 (reverted, then re-enabled for good in 1.34.x);
# 1.31.57 is safely before any switch. scenario.py asserts the protocol it gets.
CURRENT_REQS=("boto3==1.44.5" "awscli==1.46.3")
LEGACY_REQS=("boto3==1.28.57" "botocore==1.31.57")

make_venv() {
    local name="$1"; shift
    local dir="$VENVS/$name"
    local stamp="$dir/.stowage-stamp"
    local want="$*"
    if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "venv $name up to date ($dir)"
        return 0
    fi
    echo "creating venv $name in $dir"
    rm -rf "$dir"
    mkdir -p "$VENVS"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    printf '%s' "$want" >"$stamp"
}

make_venv current "${CURRENT_REQS[@]}"
make_venv legacy "${LEGACY_REQS[@]}"

"$VENVS/current/bin/python" -c 'import boto3; print("current boto3", boto3.__version__)'
"$VENVS/current/bin/aws" --version
"$VENVS/legacy/bin/python" -c 'import boto3, botocore; print("legacy boto3", boto3.__version__, "botocore", botocore.__version__)'
