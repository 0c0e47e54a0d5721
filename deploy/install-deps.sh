#!/usr/bin/env bash
# Installs everything landfall needs to build, test and run on Debian 12:
# the Debian packages below, then the pinned DuckDB release (deploy/fetch-duckdb.sh).
# Idempotent: packages already installed are not touched, so a second run takes
# a second or two. Needs root (or sudo) only when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost-dev libboost-system-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libyaml-cpp-dev prometheus-cpp-dev
  libpq-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15
  curl
)
# Optional extras for the API/status-page tests and benchmarks; installed when
# LANDFALL_EXTRAS=1 (the test command sets it).
extras=(prometheus chromium wrk systemd jq)
if [[ "${LANDFALL_EXTRAS:-0}" == 1 ]]; then packages+=("${extras[@]}"); fi
# The libFuzzer targets (deploy/fuzz.sh) need clang and its runtimes; installed
# when LANDFALL_FUZZ=1. Debian 12's default clang (14) cannot compile C++23
# std::expected against libstdc++ 12; 16 can (see CMakeLists.txt).
fuzz=(clang-16 libclang-rt-16-dev)
if [[ "${LANDFALL_FUZZ:-0}" == 1 ]]; then packages+=("${fuzz[@]}"); fi

missing=()
# npm fetches DuckDB; some images ship it inside a nodejs build that conflicts
# with Debian's npm package, so only ask for it when the command is absent.
command -v npm >/dev/null || missing+=(npm)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: Debian packages already installed"
fi

bash deploy/fetch-duckdb.sh
