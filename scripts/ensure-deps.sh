#!/usr/bin/env bash
# Installs what the npm scripts need on a fresh machine: npm packages (when missing or stale),
# the Debian and PyPI packages chart-testing uses, and the Go-built cluster tools.
#   scripts/ensure-deps.sh               npm packages only
#   scripts/ensure-deps.sh --tools       also system packages and the Go-built cluster tools
#   scripts/ensure-deps.sh --test-tools  also promtool, which only the tests use
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

[ "${1:-}" = "--tools" ] || [ "${1:-}" = "--test-tools" ] || exit 0

missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v git >/dev/null || missing+=(git)
command -v yamllint >/dev/null || missing+=(yamllint)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-deps: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}" >/dev/null; fi
fi
if ! python3 -c "import yamale" 2>/dev/null; then
  echo "ensure-deps: installing yamale (for chart-testing)"
  python3 -m pip install --quiet --disable-pip-version-check yamale
fi
if [ "$1" = "--test-tools" ]; then bash scripts/cluster/build-tools.sh --for-tests; else bash scripts/cluster/build-tools.sh; fi
