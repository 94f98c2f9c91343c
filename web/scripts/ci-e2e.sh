#!/usr/bin/env bash
# Web client checks for CI, against a running PartyPic server:
#   web/scripts/ci-e2e.sh http://127.0.0.1:3000
# Installs what it needs when missing (Debian chromium, the npm dev dependencies), then runs the
# sw.js version check, the type check, the first-load size budget and the browser end-to-end tests
# (same origin, the upload queue, long names at every width, the client served from a second
# origin, the venue checks, co-hosts).
# Screenshots go to target/screenshots/. Exits non-zero on any failure; every step is time-bounded.
set -euo pipefail

BASE_URL="${1:-${BASE_URL:-}}"
if [ -z "$BASE_URL" ]; then
  echo "usage: $0 BASE_URL" >&2
  exit 2
fi
export CI=true
export DEBIAN_FRONTEND=noninteractive
WEB="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$WEB"
exec </dev/null

log() { printf '\n== web: %s\n' "$*"; }

log "tools"
if [ ! -x /usr/bin/chromium ]; then
  timeout 600 apt-get update -q
  timeout 900 apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi
command -v node >/dev/null || { echo "node is required (Node.js 20+)" >&2; exit 1; }
/usr/bin/chromium --version 2>/dev/null || true
node --version

# npm ci only when package-lock.json changed since the last install.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f node_modules/.ci-lock-hash ] || [ "$(cat node_modules/.ci-lock-hash)" != "$lock_hash" ]; then
  timeout 300 npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.ci-lock-hash
fi

log "service worker shell list"
timeout 60 node scripts/sw-version.mjs --check

log "type check (tsc --noEmit --checkJs)"
timeout 180 node_modules/.bin/tsc --noEmit -p tsconfig.json
timeout 180 node_modules/.bin/tsc --noEmit -p tsconfig.sw.json
echo "types ok"

log "first-load size budget"
timeout 60 node scripts/size-budget.mjs

log "server at $BASE_URL"
for _ in $(seq 1 60); do
  if curl -fsS -o /dev/null "$BASE_URL/readyz"; then break; fi
  sleep 1
done
curl -fsS -o /dev/null "$BASE_URL/readyz" || { echo "server not ready at $BASE_URL" >&2; exit 1; }
# The server must serve this client (embedded web/), not only the API.
curl -fsS "$BASE_URL/" | grep -q '/assets/js/app.js' || { echo "$BASE_URL/ does not serve web/index.html" >&2; exit 1; }

log "browser end-to-end test"
E2E_TIMEOUT_MS="${E2E_TIMEOUT_MS:-300000}" timeout 360 node e2e/run.mjs "$BASE_URL"

log "upload queue: reload, offline, browser restart lose nothing and send nothing twice"
E2E_TIMEOUT_MS=90000 timeout 120 node e2e/queue.mjs "$BASE_URL"

log "resumable upload: a 20 MiB file survives a lost connection and a reload, byte-identical"
E2E_TIMEOUT_MS=120000 timeout 150 node e2e/multipart.mjs "$BASE_URL"

log "layout: longest names, 320 to 1920 px, English and German"
E2E_TIMEOUT_MS=90000 timeout 120 node e2e/layout.mjs "$BASE_URL"

log "browser end-to-end test with the client served from a second origin (CORS)"
E2E_TIMEOUT_MS=120000 timeout 150 node e2e/cross-origin.mjs "$BASE_URL"

log "venue checks (transfer budget, join link, join codes, event management)"
E2E_TIMEOUT_MS=120000 timeout 150 node e2e/venue.mjs "$BASE_URL"

log "co-hosts: a link, signing up through it, moderating as co-host, removed by the owner"
E2E_TIMEOUT_MS=120000 timeout 150 node e2e/cohosts.mjs "$BASE_URL"
