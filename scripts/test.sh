#!/usr/bin/env bash
# Builds durable into build/ and runs every test. This is the README's test command and the first
# step of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

# An existing build/ keeps its generator: cmake refuses to switch generators on a configured tree.
generator=()
if [[ ! -f build/CMakeCache.txt ]]; then
  generator=(-G Ninja)
fi
cmake -S . -B build "${generator[@]}" -DDURABLE_BUILD_TESTS=ON
cmake --build build
ctest --test-dir build --output-on-failure -j"$(nproc)"
