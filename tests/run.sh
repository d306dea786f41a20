#!/usr/bin/env bash
# THE test command (README.md): bash tests/run.sh
#   1. Python client venvs (current boto3 + awscli, legacy Query/XML botocore); idempotent.
#   2. Build the binaries: the black-box tests spawn target/debug/stowage.
#   3. Run every test in the workspace (unit, property, storage crash, real-client `it`,
#      kill -9 `crash`).
#   4. With STOWAGE_REQUIRE_POSTGRES=1 (CI): the real-client `it` suite once more with every
#      server over PostgreSQL (STOWAGE_TEST_BACKEND=postgres).
# Extra arguments go to `cargo test` (e.g. `bash tests/run.sh -p tests -- fifo`) and leave
# out step 4.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${STOWAGE_SKIP_PY:-0}" != "1" ]; then
    bash tests/clients/setup.sh
fi
cargo build --workspace --bins
status=0
cargo test --workspace --no-fail-fast "$@" || status=$?
# The second pass only on a whole run (a filtered run chooses its backend with
# STOWAGE_TEST_BACKEND itself); it runs even when the first pass failed, to report both.
if [ "${STOWAGE_REQUIRE_POSTGRES:-0}" = "1" ] && [ "$#" -eq 0 ]; then
    STOWAGE_TEST_BACKEND=postgres cargo test -p tests --test it --no-fail-fast || status=$?
fi
exit "$status"
