#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh) and builds durable, with its tests, examples and
# benchmarks (whose smoke tests then run with the others), into build/. Shared by the README's two commands (test.sh, run-example.sh), so both use one tree with
# one set of settings and switching between them rebuilds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

# An existing build/ keeps its generator: cmake refuses to switch generators on a configured tree.
generator=()
if [[ ! -f build/CMakeCache.txt ]]; then
  generator=(-G Ninja)
fi
cmake -S . -B build "${generator[@]}" -DDURABLE_BUILD_TESTS=ON -DDURABLE_BUILD_BENCH=ON
cmake --build build
