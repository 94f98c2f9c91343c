#!/usr/bin/env bash
# Starts a single-node Garage (S3-compatible store) on 127.0.0.1 for tests and the local cluster.
# Usage: scripts/lib/garage.sh start DIR [S3_PORT]  -> prints `GARAGE_S3_...=` lines to eval
#        (not S3_* themselves, so nothing leaks into processes that should not use S3)
#        scripts/lib/garage.sh stop DIR
set -euo pipefail

cmd=${1:?start|stop}
dir=${2:?directory}
s3_port=${3:-3900}
rpc_port=$((s3_port + 1))
region=garage
key_id=GK0123456789abcdef01234567
secret=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

case "$cmd" in
stop)
  if [[ -f "$dir/garage.pid" ]]; then
    kill "$(cat "$dir/garage.pid")" 2>/dev/null || true
    rm -f "$dir/garage.pid"
  fi
  exit 0
  ;;
start) ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac

command -v garage >/dev/null || { echo "garage is not installed (cargo install --locked garage)" >&2; exit 1; }
mkdir -p "$dir/meta" "$dir/data"
dir=$(cd "$dir" && pwd)
cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(printf '%064d' 0 | tr 0 7)"

[s3_api]
s3_region = "$region"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"
TOML
export GARAGE_CONFIG_FILE="$dir/garage.toml"
garage server > "$dir/garage.log" 2>&1 &
echo $! > "$dir/garage.pid"

for _ in $(seq 1 50); do
  garage status >/dev/null 2>&1 && break
  sleep 0.2
done
node_id=$(garage node id -q 2>/dev/null | cut -d@ -f1)
# A fresh node has layout version 0; a restarted one keeps its applied layout.
layout_version=$(garage layout show 2>/dev/null | sed -n 's/.*Current cluster layout version: \([0-9]*\).*/\1/p' | head -1)
if [[ "${layout_version:-0}" == 0 ]]; then
  garage layout assign -z dc1 -c 1G "$node_id" >/dev/null
  garage layout apply --version 1 >/dev/null
fi
garage key info "$key_id" >/dev/null 2>&1 || garage key import --yes -n partypic-test "$key_id" "$secret" >/dev/null
garage key allow --create-bucket "$key_id" >/dev/null
# Wait until the S3 API answers.
for _ in $(seq 1 50); do
  curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break
  sleep 0.2
done
cat <<ENV
GARAGE_S3_ENDPOINT=http://127.0.0.1:$s3_port
GARAGE_S3_REGION=$region
GARAGE_S3_ACCESS_KEY=$key_id
GARAGE_S3_SECRET_KEY=$secret
ENV
