#!/usr/bin/env bash
# CI entry point: runs the smoke profile of both k6 scripts against a running PartyPic server.
#   loadtest/scripts/ci-smoke.sh BASE_URL [LABEL]
# Installs the tools when missing, type-checks and bundles, then runs normal-traffic and
# peak-traffic (about 70 s each). Exits non-zero when any threshold or check fails, or when setup
# could not create its events. JSON summaries: target/k6/smoke[-LABEL]-<script>.json at the
# repository root (K6_SUMMARY_DIR overrides the directory).
set -euo pipefail

base_url="${1:?usage: ci-smoke.sh BASE_URL [LABEL]}"
label="${2:-}"
loadtest="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${K6_SUMMARY_DIR:-$(cd "$loadtest/.." && pwd)/target/k6}"

k6="$("$loadtest/scripts/ensure-tools.sh")"
cd "$loadtest"
npm run --silent build </dev/null
mkdir -p "$out"

failed=()
for script in normal-traffic peak-traffic; do
  summary="$out/smoke${label:+-$label}-$script.json"
  rm -f "$summary"
  echo "== k6 smoke: $script against $base_url (summary: $summary)"
  # Hard bound on top of the profile's own ~70 s: SIGINT lets k6 stop cleanly and still report.
  # --address "": no REST API listener, so parallel runs do not fight over port 6565.
  if ! timeout --signal=INT --kill-after=30s 240s \
    "$k6" run --quiet --no-color --no-usage-report --address "" \
      -e PROFILE=smoke -e BASE_URL="$base_url" -e SUMMARY_JSON="$summary" \
      "dist/$script.js" </dev/null; then
    failed+=("$script")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "k6 smoke FAILED against $base_url: ${failed[*]}" >&2
  exit 1
fi
echo "k6 smoke passed against $base_url: normal-traffic, peak-traffic"
