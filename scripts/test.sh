#!/usr/bin/env bash
# Builds durable into build/ and runs every test. This is the README's test command and the first
# step of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
