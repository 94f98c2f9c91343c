#!/usr/bin/env bash
# The local cluster's tests (issue 6), as CI runs them: starts a 3-replica cluster
# (scripts/local-cluster) on its own ports and database, then
#   1. any-replica   one user's story with every step on another replica
#      jobs          the replica processing a video clip is SIGKILLed mid-job; another finishes it
#   2. kill-drain    SIGKILL + replacement, SIGTERM drain          } each while the k6 smoke
#   3. postgres      PostgreSQL stopped and started again          } peak profile runs through the
#   4. s3            the S3 server stopped and started again       } load balancer; nothing
#   5. overload      a registration flood beyond hashing capacity  } acknowledged is lost
#   6. schemathesis  through the load balancer (with OpenAPI links for the stateful phase): no 5xx
#   7. security      authorization matrix, tokens, upload abuse, local-disk traversal, rate limit
#   8. no 5xx other than 503 in any replica's log
# and takes the cluster down again. About 8 minutes. Everything listens on 127.0.0.1.
#
# Usage: tests/cluster/run.sh [STEP ...]       (all steps by default; e.g. `run.sh kill-drain`)
#   PARTYPIC_BIN       server binary (default target/release/partypic)
#   CLUSTER_TEST_OUT   results (JSON per step, summary.md, logs on failure); default target/cluster-tests
#   SCHEMATHESIS_SECONDS  per schemathesis run (two runs; default 30)
# Restarts the machine's PostgreSQL during step 3 (always started again, also on failure).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH" CI=${CI:-true} PIP_DISABLE_PIP_VERSION_CHECK=1
TOOLS=${PARTYPIC_TOOLS:-$HOME/.cache/partypic-tools}
PY=$TOOLS/venv/bin/python
OUT=${CLUSTER_TEST_OUT:-$ROOT/target/cluster-tests}
export PARTYPIC_BIN=${PARTYPIC_BIN:-$ROOT/target/release/partypic}
STEPS=("$@")
((${#STEPS[@]})) || STEPS=(any-replica jobs kill-drain postgres s3 overload schemathesis security logs)

# shellcheck source=../../scripts/cluster/lib.sh
. "$ROOT/scripts/cluster/lib.sh"

# One run at a time on a machine: the postgres step restarts the shared PostgreSQL.
exec 9>"${TMPDIR:-/tmp}/partypic-cluster-tests.lock"
flock -w 900 9 || { echo "another tests/cluster/run.sh holds the lock" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT"
PARTYPIC_CLUSTER_DIR=$(mktemp -d /tmp/partypic-cluster-test.XXXXXX)
CLUSTER_PORT=$(free_port)
CLUSTER_PROM_PORT=$(free_port)
export PARTYPIC_CLUSTER_DIR CLUSTER_PORT CLUSTER_PROM_PORT CLUSTER_DB=partypic_cluster_test_$$
# Small uploads limit for the oversize tests; rate limiting off under load (security turns it on);
# a short job lease, so the jobs step sees a dead replica's job taken over within seconds.
export PARTYPIC_CLUSTER_ENV="MAX_UPLOAD_BYTES=1048576 RATE_LIMIT_AUTH_PER_MINUTE=0 JOB_LEASE_SECS=10"

step() { printf '\n==> %s\n' "$*"; }

cleanup() {
  local rc=$?
  # The postgres step restarts PostgreSQL; whatever happened, it runs again afterwards.
  pg_isready -q -h 127.0.0.1 -p 5432 ||
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  if [[ -f $PARTYPIC_CLUSTER_DIR/cluster.env ]]; then
    if ((rc)); then
      mkdir -p "$OUT/logs"
      cp "$PARTYPIC_CLUSTER_DIR"/nginx/*.log "$OUT/logs/" 2>/dev/null || true
      for f in "$PARTYPIC_CLUSTER_DIR"/replica-*/server.log; do
        cp "$f" "$OUT/logs/$(basename "$(dirname "$f")").log" 2>/dev/null || true
      done
    fi
    scripts/local-cluster down 9>&- || true
  fi
  rm -rf "$PARTYPIC_CLUSTER_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "tools"
scripts/lib/ensure-tools.sh
loadtest/scripts/ensure-tools.sh >/dev/null
(cd loadtest && npm run --silent build </dev/null >/dev/null)

step "local cluster: 3 replicas, nginx, Prometheus, Garage, PostgreSQL ($PARTYPIC_BIN)"
scripts/local-cluster up 3 9>&-  # the processes it starts must not hold the lock
eval "$(scripts/local-cluster env)"

failed=()
run_step() { # name command...
  local name=$1
  shift
  step "$name"
  if "$@"; then echo "$name: passed"; else failed+=("$name"); echo "$name: FAILED" >&2; fi
}

schemathesis_step() {
  local email token st=$TOOLS/venv/bin/schemathesis seconds=${SCHEMATHESIS_SECONDS:-30}
  email="schemathesis-$RANDOM$RANDOM@cluster.example.com"
  curl -fsS -X POST "$CLUSTER_URL/auth/register" -H 'content-type: application/json' \
    -d "{\"username\":\"st\",\"email\":\"$email\",\"password\":\"schemathesis1\"}" >/dev/null
  token=$(curl -fsS -X POST "$CLUSTER_URL/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"schemathesis1\"}" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  "$PY" tests/cluster/openapi_links.py "$CLUSTER_URL" "$OUT/openapi-links.json"
  local rc=0
  # Single requests first (examples, coverage, fuzzing), then chains along the links.
  timeout --kill-after=30 $((seconds + 120)) "$st" run "$OUT/openapi-links.json" --url "$CLUSTER_URL" --checks not_a_server_error \
    --header "Authorization: Bearer $token" --phases examples,coverage,fuzzing --max-time "$seconds" \
    --workers 2 --request-timeout 10 --no-color --report junit --report-dir "$OUT/schemathesis-single" </dev/null \
    | tee "$OUT/schemathesis-single.log" | tail -n 25 || rc=1
  timeout --kill-after=30 $((seconds + 120)) "$st" run "$OUT/openapi-links.json" --url "$CLUSTER_URL" --checks not_a_server_error \
    --header "Authorization: Bearer $token" --phases stateful --max-time "$seconds" \
    --workers 2 --request-timeout 10 --no-color --report junit --report-dir "$OUT/schemathesis-stateful" </dev/null \
    | tee "$OUT/schemathesis-stateful.log" | tail -n 25 || rc=1
  return "$rc"
}

logs_step() {
  # 503 is the contract's answer to an unavailable dependency or a full hashing queue.
  if grep -h '"status":5' "$PARTYPIC_CLUSTER_DIR"/replica-*/server.log | grep -v '"status":503' | head -5 | grep .; then
    echo "a replica answered 5xx other than 503" >&2
    return 1
  fi
  echo "no 5xx other than 503 in $(cat "$PARTYPIC_CLUSTER_DIR"/replica-*/server.log | wc -l) replica log lines"
}

for s in "${STEPS[@]}"; do
  case $s in
  # Each step bounded; SIGINT lets a step clean up (PostgreSQL is started again in a finally).
  any-replica | jobs | kill-drain | postgres | s3 | overload)
    run_step "$s" timeout --signal=INT --kill-after=30 400 "$PY" tests/cluster/failures.py "$s" "$OUT" ;;
  schemathesis) run_step schemathesis schemathesis_step ;;
  security) run_step security timeout --signal=INT --kill-after=30 400 "$PY" tests/cluster/security.py "$OUT" ;;
  logs) run_step "replica logs" logs_step ;;
  *) echo "unknown step $s" >&2; failed+=("$s") ;;
  esac
done

"$PY" tests/cluster/report.py "$OUT" >"$OUT/summary.md" || true
step "summary ($OUT/summary.md)"
cat "$OUT/summary.md"
if ((${#failed[@]})); then
  echo "cluster tests FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "cluster tests passed"
