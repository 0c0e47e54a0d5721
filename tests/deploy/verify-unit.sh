#!/usr/bin/env bash
# Checks deploy/landfall.service with `systemd-analyze verify`.
#
# The unit names /usr/local/bin/landfall, which exists only once installed, so
# a copy is verified with ExecStart pointing at $LANDFALL_BINARY (e.g.
# build/daemon/landfall) or, failing that, /bin/true. Any message from
# systemd-analyze (it reports unknown keys as warnings, exit status 0) fails.
#
# Skips (exit 0) without systemd-analyze, except under CI=true, where it fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
unit="${1:-$here/../../deploy/landfall.service}"

if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "FAIL: systemd-analyze not found (apt-get install systemd)" >&2
    exit 1
  fi
  echo "SKIP: systemd-analyze not found (apt-get install systemd)"
  exit 0
fi

binary="${LANDFALL_BINARY:-/bin/true}"
[[ -x "$binary" ]] || { echo "FAIL: $binary is not executable" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/local/bin/landfall|$binary|g" "$unit" >"$tmp/landfall.service"

set +e
output="$(systemd-analyze verify --man=no "$tmp/landfall.service" 2>&1)"
status=$?
set -e
if [[ $status -ne 0 || -n "$output" ]]; then
  echo "FAIL: systemd-analyze verify $unit (exit $status):" >&2
  echo "$output" >&2
  exit 1
fi
echo "OK: systemd-analyze verify $unit ($(systemd-analyze --version | head -1))"

# Informational: systemd's own exposure score for the hardening settings.
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
  systemd-analyze security --offline=yes --no-pager "$tmp/landfall.service" 2>/dev/null |
    tail -1 || true
fi
