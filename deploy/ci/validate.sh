#!/usr/bin/env bash
# Validates the Kubernetes deployment of PartyPic with real tools, as far as a machine without a
# cluster can:
#   1. renders every kustomize overlay and validates every object strictly against the Kubernetes
#      schemas (kubernetes-validate), ServiceMonitor/PrometheusRule against their CRD schemas, and
#      the references between objects (deploy/ci/check.py);
#   2. promtool check rules; the Grafana dashboard's structure; the Dockerfiles' basics;
#   3. serves web/ with deploy/docker/nginx.conf in Debian's nginx and checks what it answers;
#   4. starts Garage (when installed) from the local overlay's config, Secret and arguments;
#   5. runs `partypic migrate`, starts PartyPic (embedded default) and Debian's Prometheus scraping
#      its metrics port with the alert rules loaded, puts a little load on it, evaluates every PromQL expression
#      of the dashboard and the rules through Prometheus' HTTP API, and stops PartyPic (SIGTERM).
#
# Usage: deploy/ci/validate.sh [PATH_TO_PARTYPIC_BINARY]   (or PARTYPIC_BIN=...)
#   PARTYPIC_TOOLS   where the Python venv lives (default ~/.cache/partypic-tools)
#   K8S_VERSIONS     Kubernetes versions to validate against (default "1.30.0 1.33.0")
#   PARTYPIC_SKIP_LIVE=1  skip step 5 (no binary yet); the script then says so and exits 0
# Installs what is missing: Debian's prometheus and nginx, kubernetes-validate in the venv.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEPLOY=$ROOT/deploy
TOOLS=${PARTYPIC_TOOLS:-$HOME/.cache/partypic-tools}
VENV=$TOOLS/venv
K8S_VERSIONS=${K8S_VERSIONS:-"1.30.0 1.33.0"}
BIN=${1:-${PARTYPIC_BIN:-}}
export CI=${CI:-true} DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

WORK=$(mktemp -d /tmp/partypic-validate.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    # bounded: whatever ignores SIGTERM for 10 s gets SIGKILL
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for log in "$WORK"/*.log; do
      [ -f "$log" ] || continue
      echo "--- last lines of $(basename "$log")"
      tail -n 12 "$log"
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }
die() { echo "FAIL $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # url seconds
  local i
  for i in $(seq "$(( $2 * 5 ))"); do
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

step "tools"
missing=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt)"
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1 \
    || { cat "$WORK/apt.log"; die "apt-get install ${missing[*]}"; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  echo "creating $VENV with kubernetes-validate"
  mkdir -p "$TOOLS"
  python3 -m venv "$VENV"
  timeout 600 "$VENV/bin/pip" install -q 'kubernetes-validate==1.37.0' 'jsonschema>=4' 'PyYAML>=6'
fi
PY=$VENV/bin/python
command -v kubectl >/dev/null || die "kubectl is needed to render the manifests (kubectl kustomize)"
echo "kubectl $(kubectl version --client 2>/dev/null | head -1 | awk '{print $3}'), $(promtool --version 2>&1 | head -1 | awk '{print $1, $3}'), $("$NGINX" -v 2>&1), kubernetes-validate $("$VENV/bin/kubernetes-validate" --version)"

step "render the overlays (kubectl kustomize)"
mkdir -p "$WORK/render"
overlays=()
for dir in "$DEPLOY"/kubernetes/overlays/*/; do
  o=$(basename "$dir")
  kubectl kustomize "$dir" >"$WORK/render/$o.yaml" || die "kustomize $o"
  overlays+=("$WORK/render/$o.yaml")
  echo "     $o: $(grep -c '^kind:' "$WORK/render/$o.yaml") objects"
done
[ ${#overlays[@]} -ge 2 ] || die "expected the aws and local overlays"

step "validate against the Kubernetes schemas (kubernetes-validate --strict: $K8S_VERSIONS)"
kv_args=()
for v in $K8S_VERSIONS; do kv_args+=(-k "$v"); done
for f in "${overlays[@]}" "$DEPLOY"/kubernetes/examples/secret-*.yaml; do
  out=$("$VENV/bin/kubernetes-validate" --strict "${kv_args[@]}" "$f" 2>&1) || { echo "$out"; die "kubernetes-validate $(basename "$f")"; }
  # only the Prometheus Operator kinds may lack a built-in schema (check.py validates them)
  unknown=$(echo "$out" | grep -E "^WARN" | grep -vE "kind (ServiceMonitor|PrometheusRule) with api version monitoring.coreos.com/v1" || true)
  [ -z "$unknown" ] || { echo "$unknown"; die "objects without a schema in $(basename "$f")"; }
  echo "     $(basename "$f"): $(echo "$out" | grep -c '^INFO.*passed') object validations passed"
done
"$PY" - "$DEPLOY/kubernetes/examples/cluster-autoscaler-values.yaml" <<'EOF'
import sys, yaml
v = yaml.safe_load(open(sys.argv[1]))
assert v["cloudProvider"] == "aws" and v["autoDiscovery"]["clusterName"], "cloudProvider/autoDiscovery"
assert any("k8s.io/cluster-autoscaler/enabled" in t for t in v["autoDiscovery"]["tags"]), "ASG tags"
print("ok   cluster-autoscaler values: aws, auto-discovery by ASG tags")
EOF

step "CRD schemas and cross-references"
"$PY" "$DEPLOY/ci/check.py" manifests "${overlays[@]}" \
  --examples "$DEPLOY/kubernetes/examples" --dashboard "$DEPLOY/monitoring/partypic-dashboard.json"

step "promtool check rules"
"$PY" "$DEPLOY/ci/check.py" rules-file "$DEPLOY/monitoring/prometheusrule.yaml" "$WORK/rules.yml"
promtool check rules "$WORK/rules.yml"

step "Grafana dashboard"
"$PY" "$DEPLOY/ci/check.py" dashboard "$DEPLOY/monitoring/partypic-dashboard.json"

step "Dockerfiles"
"$PY" "$DEPLOY/ci/check.py" dockerfiles "$ROOT"

step "client nginx.conf in Debian's nginx, serving web/"
[ -f "$ROOT/web/index.html" ] || die "web/index.html missing"
www=$WORK/www
mkdir -p "$www" "$WORK/nginx"
cp -a "$ROOT/web/." "$www/"
# Files the caching rules are about, where web/ does not have them (yet).
[ -f "$www/sw.js" ] || echo "self.addEventListener('fetch', () => {});" >"$www/sw.js"
[ -f "$www/manifest.webmanifest" ] || echo '{"name": "PartyPic", "start_url": "/"}' >"$www/manifest.webmanifest"
mkdir -p "$www/assets"
python3 - "$www" <<'EOF'
import sys
root = sys.argv[1]
css = "".join(f".ci-{i} {{ margin: {i}px; padding: {i}px; }}\n" for i in range(200))
js = "".join(f"export const ci{i} = {i} * 2; // fixture\n" for i in range(200))
for name, text in (("ci-fixture.css", css), ("ci-fixture.js", js), ("assets/ci-fixture.0123abcd.js", js)):
    open(f"{root}/{name}", "w").write(text)
EOF
chmod -R a+rX "$www"
nport=$(free_port)
conf=$WORK/nginx/nginx.conf
sed -e "s| /tmp/| $WORK/nginx/|g" \
    -e "s|^\(\s*\)listen 8080;|\1listen 127.0.0.1:$nport;|" \
    -e "s|^\(\s*\)root /usr/share/nginx/html;|\1root $www;|" \
    "$DEPLOY/docker/nginx.conf" >"$conf"
grep -q "listen 127.0.0.1:$nport;" "$conf" && grep -q "root $www;" "$conf" \
  || die "nginx.conf: the listen 8080 / root lines the test rewrites have changed"
"$NGINX" -t -q -c "$conf" -p "$WORK/nginx/" -g 'daemon off;' || die "nginx -t"
"$NGINX" -c "$conf" -p "$WORK/nginx/" -g 'daemon off;' >"$WORK/nginx.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$nport/healthz" 10 || die "nginx did not start"
"$PY" "$DEPLOY/ci/check.py" nginx "http://127.0.0.1:$nport" "$www"

step "local overlay's Garage (garage.toml, --single-node --default-bucket)"
if command -v garage >/dev/null; then
  g=$WORK/garage
  mkdir -p "$g"
  gs3=$(free_port); grpc=$(free_port); gadm=$(free_port)
  sed -e "s|/var/lib/garage|$g|g" -e "s|0.0.0.0:3900|127.0.0.1:$gs3|" -e "s|0.0.0.0:3901|127.0.0.1:$grpc|" \
      -e "s|127.0.0.1:3901|127.0.0.1:$grpc|" -e "s|0.0.0.0:3903|127.0.0.1:$gadm|" \
      "$DEPLOY/kubernetes/overlays/local/garage.toml" >"$g/garage.toml"
  # The credentials and the arguments exactly as the overlay's Secrets and StatefulSet give them.
  "$PY" - "$WORK/render/local.yaml" >"$g/env.sh" <<'PYEOF'
import base64, shlex, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sec = {d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in d["data"].items()}
       for d in docs if d["kind"] == "Secret"}
sts = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "garage")
c = sts["spec"]["template"]["spec"]["containers"][0]
for e in c["env"]:
    ref = e["valueFrom"]["secretKeyRef"]
    print(f"export {e['name']}={shlex.quote(sec[ref['name']][ref['key']])}")
print("garage_args=(" + " ".join(shlex.quote(a) for a in c["args"]) + ")")
PYEOF
  # shellcheck disable=SC1091
  . "$g/env.sh"
  garage -c "$g/garage.toml" "${garage_args[@]}" >"$WORK/garage.log" 2>&1 &
  GARAGE_PID=$!
  PIDS+=("$GARAGE_PID")
  wait_http "http://127.0.0.1:$gadm/health" 30 || die "Garage did not become healthy"
  info=$(timeout 30 garage -c "$g/garage.toml" bucket info "$GARAGE_DEFAULT_BUCKET" 2>&1) || { echo "$info"; die "garage bucket info"; }
  echo "$info" | grep -Eq "RWO +$GARAGE_DEFAULT_ACCESS_KEY" \
    || { echo "$info"; die "the overlay's access key lacks read/write/owner on bucket $GARAGE_DEFAULT_BUCKET"; }
  kill "$GARAGE_PID"
  unset GARAGE_RPC_SECRET GARAGE_ADMIN_TOKEN GARAGE_DEFAULT_ACCESS_KEY GARAGE_DEFAULT_SECRET_KEY GARAGE_DEFAULT_BUCKET
  echo "ok   Garage $(garage --version 2>/dev/null | awk '{print $2}') starts from the overlay's config and creates its key and bucket (RWO)"
else
  echo "     skipped: no garage binary (the server's test setup installs it)"
fi

if [ -z "$BIN" ] && [ "${PARTYPIC_SKIP_LIVE:-}" = 1 ]; then
  step "SKIPPED: PartyPic + Prometheus (PARTYPIC_SKIP_LIVE=1, no binary given)"
  echo; echo "deploy validation passed (without the live Prometheus check)"
  exit 0
fi
[ -n "$BIN" ] || die "usage: $0 PATH_TO_PARTYPIC_BINARY (or PARTYPIC_BIN=...)"
[ -x "$BIN" ] || die "not an executable: $BIN"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

step "PartyPic (embedded default) scraped by Debian's Prometheus"
pport=$(free_port)
mport=$(free_port)
# A clean environment: the embedded default (SQLite + local disk), whatever the caller has set.
pp_env=(env -i PATH="$PATH" HOME="$WORK" HOST=127.0.0.1 PORT="$pport" METRICS_PORT="$mport"
  DATA_DIR="$WORK/data" LOG_FORMAT=json RUST_LOG=warn)
# What the migration Job runs.
timeout 60 "${pp_env[@]}" "$BIN" migrate >"$WORK/migrate.log" 2>&1 || die "partypic migrate"
echo "ok   partypic migrate (the migration Job's command)"
"${pp_env[@]}" "$BIN" >"$WORK/partypic.log" 2>&1 &
PARTYPIC_PID=$!
PIDS+=("$PARTYPIC_PID")
wait_http "http://127.0.0.1:$pport/readyz" 60 || die "PartyPic did not become ready on 127.0.0.1:$pport"
echo "     partypic ready on 127.0.0.1:$pport, metrics on 127.0.0.1:$mport"

"$PY" "$DEPLOY/ci/check.py" rules-file "$DEPLOY/monitoring/prometheusrule.yaml" "$WORK/rules-live.yml" --interval 1s
promport=$(free_port)
# The target labels are those the ServiceMonitor gives the series in a cluster.
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $WORK/rules-live.yml
scrape_configs:
  - job_name: partypic-server
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$mport"]
        labels:
          namespace: partypic
          service: partypic-server
          pod: partypic-server-ci-0
          container: server
          endpoint: metrics
EOF
promtool check config "$WORK/prometheus.yml" >/dev/null
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --storage.tsdb.retention.time=1h --web.listen-address="127.0.0.1:$promport" \
  >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$promport/-/ready" 60 || die "Prometheus did not start"
echo "     prometheus ready on 127.0.0.1:$promport"

# Load in two waves a few seconds apart, so that rate() sees increases between scrapes.
"$PY" "$DEPLOY/ci/check.py" load "http://127.0.0.1:$pport" 2
sleep 4
"$PY" "$DEPLOY/ci/check.py" load "http://127.0.0.1:$pport" 2
"$PY" "$DEPLOY/ci/check.py" metrics "http://127.0.0.1:$mport" "http://127.0.0.1:$pport"
sleep 3
"$PY" "$DEPLOY/ci/check.py" promql "http://127.0.0.1:$promport" \
  "$DEPLOY/monitoring/partypic-dashboard.json" "$DEPLOY/monitoring/prometheusrule.yaml"

# terminationGracePeriodSeconds (40) assumes SIGTERM ends the server within its 25 s drain.
kill -TERM "$PARTYPIC_PID"
for _ in $(seq 150); do kill -0 "$PARTYPIC_PID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$PARTYPIC_PID" 2>/dev/null; then die "PartyPic still running 30 s after SIGTERM"; fi
echo "ok   PartyPic stops on SIGTERM within the pod's grace period"

echo; echo "deploy validation passed"
