#!/usr/bin/env bash
# Builds durable into build/ and runs the approval-gate example. The README's first command.
# Arguments are passed on to the example.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

# Same tree and settings as scripts/test.sh, so that switching between the two rebuilds nothing.
generator=()
if [[ ! -f build/CMakeCache.txt ]]; then
  generator=(-G Ninja)
fi
cmake -S . -B build "${generator[@]}" -DDURABLE_BUILD_TESTS=ON
cmake --build build

example=build/examples/approval_gate/approval_gate
if [[ ! -x $example ]]; then
  echo "run-example.sh: the approval_gate example is not built yet ($example is missing)" >&2
  exit 1
fi
exec "$example" "$@"
