#!/usr/bin/env bash
# The test command: installs what is needed, builds, starts a throwaway
# PostgreSQL (tests/with-postgres.sh) and runs the whole suite with ctest.
# With CI=true, tests that need PostgreSQL fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

LANDFALL_EXTRAS=1 bash deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2
bash tests/with-postgres.sh ctest --test-dir build --output-on-failure -j2 --timeout 600
