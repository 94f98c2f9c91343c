#!/usr/bin/env bash
# Shared by scripts/local-cluster and tests/cluster: where the cluster lives and how one replica
# is started, signalled and waited for. Source it; it defines functions and CLUSTER_DIR only.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CLUSTER_DIR=${PARTYPIC_CLUSTER_DIR:-${TMPDIR:-/tmp}/partypic-cluster}
PSQL=(env PGOPTIONS=--client-min-messages=warning psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -qtA)

die() { echo "local-cluster: $*" >&2; exit 1; }
say() { echo "local-cluster: $*" >&2; }

port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()' "$1" 2>/dev/null
}

# A free port whose successor is free too (Garage takes the next one for RPC).
free_port() {
  python3 - <<'PY'
import socket
for _ in range(200):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", port + 1))
    except OSError:
        continue
    finally:
        a.close(); b.close()
    print(port); break
PY
}

# wait_http URL SECONDS [STATUS]: until URL answers STATUS (default 200).
wait_http() {
  local url=$1 seconds=$2 want=${3:-200} code i
  for ((i = 0; i < seconds * 10; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null) || true
    [[ $code == "$want" ]] && return 0
    sleep 0.1
  done
  return 1
}

cluster_load() {
  [[ -f $CLUSTER_DIR/cluster.env ]] || die "no cluster at $CLUSTER_DIR (scripts/local-cluster up)"
  # shellcheck disable=SC1091
  . "$CLUSTER_DIR/cluster.env"
}

# Running, and not a zombie waiting to be reaped (kill -0 succeeds on those too).
alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}
pid_of() { cat "$CLUSTER_DIR/$1/pid" 2>/dev/null || true; }
replica_port() { local var="REPLICA_PORT_$1"; echo "${!var:?no replica $1}"; }
replica_metrics_port() { local var="REPLICA_METRICS_PORT_$1"; echo "${!var:?no replica $1 metrics port}"; }

# Pod limits (scripts/local-cluster up with CLUSTER_POD_SCALE): each replica in its own cgroup,
# named after the cluster directory so parallel clusters do not collide. cgroup v2 where it is the
# only hierarchy (cpu.max, memory.max), otherwise the v1 cpu, cpuacct and memory controllers.
cgroup_v2() { [[ -f /sys/fs/cgroup/cgroup.controllers && ! -d /sys/fs/cgroup/cpu ]]; }
replica_cgroups() { # I: the replica's cgroup directories, one per line
  local name="partypic-$(basename "$CLUSTER_DIR")/replica-$1"
  if cgroup_v2; then
    echo "/sys/fs/cgroup/$name"
  else
    echo "/sys/fs/cgroup/cpu/$name"
    [[ -d /sys/fs/cgroup/cpuacct && ! /sys/fs/cgroup/cpuacct -ef /sys/fs/cgroup/cpu ]] && echo "/sys/fs/cgroup/cpuacct/$name"
    echo "/sys/fs/cgroup/memory/$name"
  fi
}
replica_cgroup_create() { # I
  local dir parent
  if cgroup_v2; then
    dir=$(replica_cgroups "$1")
    parent=$(dirname "$dir")
    mkdir -p "$dir"
    # Controllers must be delegated to the parent's children before the leaf can use them.
    echo "+cpu +memory" >"/sys/fs/cgroup/cgroup.subtree_control" 2>/dev/null || true
    echo "+cpu +memory" >"$parent/cgroup.subtree_control"
    echo "$POD_CPU_QUOTA_US $POD_CPU_PERIOD_US" >"$dir/cpu.max"
    echo "$POD_MEMORY_LIMIT_BYTES" >"$dir/memory.max"
    return
  fi
  while read -r dir; do
    mkdir -p "$dir"
    case $dir in
    /sys/fs/cgroup/cpu/*)
      echo "$POD_CPU_PERIOD_US" >"$dir/cpu.cfs_period_us"
      echo "$POD_CPU_QUOTA_US" >"$dir/cpu.cfs_quota_us" ;;
    /sys/fs/cgroup/memory/*) echo "$POD_MEMORY_LIMIT_BYTES" >"$dir/memory.limit_in_bytes" ;;
    esac
  done < <(replica_cgroups "$1")
}
replica_cgroup_remove() { # I: once its processes have exited; then the parent when empty
  local dir
  [[ -n ${POD_CPU_QUOTA_US:-} ]] || return 0
  while read -r dir; do
    [[ -d $dir ]] && rmdir "$dir" 2>/dev/null || true
    rmdir "$(dirname "$dir")" 2>/dev/null || true
  done < <(replica_cgroups "$1")
}

# Starts replica I on its fixed ports (a replacement keeps them, as a pod keeps its Service).
replica_start() {
  local i=$1 port metrics_port dir pid
  port=$(replica_port "$i")
  metrics_port=$(replica_metrics_port "$i")
  dir=$CLUSTER_DIR/replica-$i
  mkdir -p "$dir/data"
  alive "$(pid_of "replica-$i")" && die "replica $i is already running"
  # A killed process's threads may still hold the listening socket for a moment.
  local n
  for ((n = 0; n < 100; n++)); do port_free "$port" && port_free "$metrics_port" && break; sleep 0.05; done
  echo "--- start $(date -u +%FT%T.%3NZ)" >>"$dir/server.log"
  [[ -z ${POD_CPU_QUOTA_US:-} ]] || replica_cgroup_create "$i"
  (
    if [[ -n ${POD_CPU_QUOTA_US:-} ]]; then
      # Into the pod's cgroups before exec: the server (and every thread it starts) runs limited.
      while read -r cg; do echo "$BASHPID" >"$cg/cgroup.procs"; done < <(replica_cgroups "$i")
    fi
    set -a
    # shellcheck disable=SC1091
    . "$CLUSTER_DIR/server.env"
    set +a
    # HOSTNAME as a pod's: it names the replica in the jobs it holds (jobs.locked_by).
    export HOST=127.0.0.1 PORT=$port METRICS_PORT=$metrics_port DATA_DIR=$dir/data HOSTNAME=replica-$i
    cd "$dir" && exec setsid "$PARTYPIC_BIN" serve
  ) >>"$dir/server.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  echo "$pid"
}

replica_wait_ready() {
  wait_http "http://127.0.0.1:$(replica_port "$1")/readyz" "${2:-60}" ||
    { tail -n 20 "$CLUSTER_DIR/replica-$1/server.log" >&2; die "replica $1 did not become ready"; }
}

# replica_stop I SIGNAL [SECONDS]: signals the replica and waits for it to exit (SIGKILL after
# SECONDS, default 30: a drain is bounded by SHUTDOWN_TIMEOUT_SECS, 25 by default).
replica_stop() {
  local i=$1 sig=$2 seconds=${3:-30} pid n
  pid=$(pid_of "replica-$i")
  if alive "$pid"; then
    kill "-$sig" "$pid"
    for ((n = 0; n < seconds * 10; n++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      say "replica $i did not stop within ${seconds}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    # Reap it when it is our child; otherwise wait until the kernel has let it go.
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "$CLUSTER_DIR/replica-$i/pid"
  replica_cgroup_remove "$i"
}
