#!/usr/bin/env bash
# CI's short autoscaling check (issue 17; docs/scaling.md "Autoscaling"): a cluster of pods with
# the server Deployment's limits ÷ 4, the server HPA's rules (sync, windows and periods ÷ 5), the
# first 75 s of the k6 peak profile at a quarter of its arrivals (AUTOSCALE_CI_SEGMENT, default
# 0:1/4). Fails unless the pods scale up under the load and back to minReplicas within 180 s after
# it, with no 5xx but 503. 3-4 minutes; stops everything it started, also on failure or
# SIGINT/SIGTERM. Needs root (cgroups).
#   PARTYPIC_BIN     server binary (default target/release/partypic)
#   AUTOSCALE_OUT    results (default target/autoscale-ci): autoscale-ci.json, decisions, logs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export PARTYPIC_BIN=${PARTYPIC_BIN:-$ROOT/target/release/partypic}
OUT=${AUTOSCALE_OUT:-$ROOT/target/autoscale-ci}
VENV=${PARTYPIC_TOOLS:-$HOME/.cache/partypic-tools}/venv

scripts/lib/ensure-tools.sh
loadtest/scripts/ensure-tools.sh >/dev/null
(cd loadtest && npm run --silent build </dev/null >/dev/null)
"$VENV/bin/python" -c "import yaml" 2>/dev/null ||
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q "PyYAML==6.0.4" </dev/null

# The algorithm against the Kubernetes documentation's examples and the rendered HPA (seconds).
"$VENV/bin/python" tests/cluster/autoscale_hpa_test.py

rm -rf "$OUT"
# The program takes its cluster down itself; SIGTERM from the bound reaches it as an exception.
exec timeout --kill-after=60 480 "$VENV/bin/python" tests/cluster/autoscale.py ci "$OUT"
