#!/usr/bin/env bash
# Installs the Debian packages durable needs to build, test and fuzz. Idempotent, and quick when
# everything is already there: apt is only touched when a package is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libsqlitecpp-dev libsqlite3-dev sqlite3
  libfmt-dev nlohmann-json3-dev libssl-dev libcurl4-openssl-dev
  libcli11-dev  # the `durable` command-line tool parses its arguments with CLI11
  libgtest-dev libgmock-dev libbenchmark-dev
  # clang builds the fuzzers; libFuzzer's runtime is only a Recommends of clang, so name it.
  clang libclang-rt-dev
  clang-format  # .ci/run checks every C++ file's formatting first
)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup.sh: not a Debian system; install these (or your system's equivalents) yourself:" >&2
  echo "  ${packages[*]}" >&2
  exit 0
fi

# One dpkg-query for all packages (what `dpkg -s` would say, without a process per package).
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null |
  awk '$2 == "installed" { print $1 }' || true)
missing=()
for p in "${packages[@]}"; do
  grep -qx -- "$p" <<<"$installed" || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "setup.sh: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
