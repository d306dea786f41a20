#!/usr/bin/env bash
# THE test command (README.md): bash tests/run.sh
#   1. Python client venvs (current boto3 + awscli, legacy Query/XML botocore); idempotent.
#   2. Build the binaries: the black-box tests spawn target/debug/stowage.
#   3. Run every test in the workspace (unit, property, storage crash, real-client `it`,
#      kill -9 `crash`).
# Extra arguments go to `cargo test` (e.g. `bash tests/run.sh -p tests -- fifo`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${STOWAGE_SKIP_PY:-0}" != "1" ]; then
    bash tests/clients/setup.sh
fi
cargo build --workspace --bins
cargo test --workspace --no-fail-fast "$@"
