#!/usr/bin/env bash
# Bounded schemathesis run against a live PartyPic: every generated request must get a non-5xx answer.
# Usage: scripts/lib/schemathesis.sh BASE_URL [SECONDS]
set -euo pipefail
base=${1:?BASE_URL}
seconds=${2:-60}
TOOLS=${PARTYPIC_TOOLS:-$HOME/.cache/partypic-tools}
st=$TOOLS/venv/bin/schemathesis

# A real host token, so the authenticated operations are exercised beyond 401.
email="schemathesis-$RANDOM$RANDOM@example.com"
curl -fsS -X POST "$base/auth/register" -H 'content-type: application/json' \
  -d "{\"username\":\"st\",\"email\":\"$email\",\"password\":\"schemathesis1\"}" >/dev/null
token=$(curl -fsS -X POST "$base/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"schemathesis1\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

"$st" run "$base/openapi.json" \
  --checks not_a_server_error \
  --header "Authorization: Bearer $token" \
  --max-time "$seconds" --workers 2 --no-color </dev/null
