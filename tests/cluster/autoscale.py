#!/usr/bin/env python3
"""The server HPA acting on the local cluster's pods (issue 17).

    autoscale.py controller            the HPA controller for a cluster that is up with pods
                                       (scripts/local-cluster up with CLUSTER_POD_SCALE)
    autoscale.py demo [OUT]            scripts/local-cluster autoscale-demo: the full peak profile
    autoscale.py ci [OUT]              the short CI variant: scales up under load, back down after

The controller: every sync period it reads each replica's CPU (cgroup accounting, as cAdvisor and
metrics-server do) and memory working set, asks /readyz, decides with autoscale_hpa (the rules of
the rendered partypic-server HPA) and scales with `scripts/local-cluster scale N`. It serves the
figures under the names kube-state-metrics and cAdvisor use, so the dashboard's PromQL runs as is.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autoscale_hpa import SYNC_PERIOD_SECONDS, Autoscaler, PodSample, Policy, Rules, spec_from_manifest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LOCAL_CLUSTER = str(ROOT / "scripts/local-cluster")
NAMESPACE = "partypic"
# --horizontal-pod-autoscaler-cpu-initialization-period (default 5 min).
CPU_INITIALIZATION_PERIOD_SECONDS = 300


def log(msg: str) -> None:
    print(f"autoscale {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def rendered_objects(path: str) -> list[dict]:
    import yaml

    return [d for d in yaml.safe_load_all(open(path)) if d]


def find(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


# ---- cgroup accounting (v1 here; v2 where it is the only hierarchy) -------------------------


def cgroup_v2() -> bool:
    return Path("/sys/fs/cgroup/cgroup.controllers").exists() and not Path("/sys/fs/cgroup/cpu").is_dir()


def pod_cgroup(cluster_dir: str, i: int, controller: str) -> Path:
    name = f"partypic-{Path(cluster_dir).name}/replica-{i}"
    return Path("/sys/fs/cgroup") / name if cgroup_v2() else Path("/sys/fs/cgroup") / controller / name


def cpu_seconds(cluster_dir: str, i: int) -> float | None:
    try:
        if cgroup_v2():
            stat = (pod_cgroup(cluster_dir, i, "") / "cpu.stat").read_text()
            usec = next(int(line.split()[1]) for line in stat.splitlines() if line.startswith("usage_usec"))
            return usec / 1e6
        return int((pod_cgroup(cluster_dir, i, "cpuacct") / "cpuacct.usage").read_text()) / 1e9
    except (OSError, StopIteration, ValueError):
        return None


def memory_working_set(cluster_dir: str, i: int) -> float | None:
    # cAdvisor's working set: usage minus inactive file cache (what the kubelet evicts on).
    try:
        d = pod_cgroup(cluster_dir, i, "memory")
        stat = dict(line.split() for line in (d / "memory.stat").read_text().splitlines())
        if cgroup_v2():
            return max(0, int((d / "memory.current").read_text()) - int(stat.get("inactive_file", 0)))
        return max(0, int((d / "memory.usage_in_bytes").read_text()) - int(stat.get("total_inactive_file", 0)))
    except (OSError, ValueError):
        return None


def ready(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


# ---- the controller --------------------------------------------------------------------------


class Exporter:
    """The controller's figures in Prometheus' text format, under kube-state-metrics/cAdvisor names."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.text = ""

    def set(self, text: str) -> None:
        with self.lock:
            self.text = text

    def serve(self) -> int:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                with exporter.lock:
                    body = exporter.text.encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server.server_address[1]


def scaled_spec(spec, time_scale: float):
    """The same rules with every window and period divided by time_scale (the CI variant)."""
    if time_scale == 1:
        return spec

    def rules(r: Rules) -> Rules:
        return Rules(
            round(r.stabilization_window_seconds / time_scale),
            r.select_policy,
            tuple(Policy(p.kind, p.value, max(1, round(p.period_seconds / time_scale))) for p in r.policies),
        )

    return replace(spec, scale_up=rules(spec.scale_up), scale_down=rules(spec.scale_down))


def controller(time_scale: float) -> None:
    cluster_dir = os.environ["PARTYPIC_CLUSTER_DIR"]
    env = read_env(Path(cluster_dir) / "cluster.env")
    objects = rendered_objects(env["RENDERED_MANIFESTS"])
    server_hpa = find(objects, "HorizontalPodAutoscaler", "partypic-server")
    client_hpa = find(objects, "HorizontalPodAutoscaler", "partypic-client")
    spec = scaled_spec(spec_from_manifest(server_hpa), time_scale)
    hpa = Autoscaler(spec)
    sync = SYNC_PERIOD_SECONDS / time_scale
    request = {"cpu": float(env["POD_CPU_REQUEST"]), "memory": float(env["POD_MEMORY_REQUEST_BYTES"])}
    limit = {"cpu": float(env["POD_CPU_LIMIT"]), "memory": float(env["POD_MEMORY_LIMIT_BYTES"])}
    client_min = int(client_hpa["spec"].get("minReplicas", 1))

    exporter = Exporter()
    port = exporter.serve()
    ksm = Path(cluster_dir) / "prometheus/ksm.json"
    ksm.with_suffix(".new").write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {}}]))
    ksm.with_suffix(".new").replace(ksm)
    decisions = open(Path(cluster_dir) / "autoscaler/decisions.jsonl", "a", buffering=1)
    log(f"controller: {spec}, sync every {sync:g} s, exporter on 127.0.0.1:{port}")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    last_cpu: dict[int, tuple[float, float]] = {}  # replica → (time, cpu seconds) at the last sync
    started_at: dict[int, float] = {}  # replica → when this controller first saw it (its start)
    ready_since: dict[int, float] = {}  # replica → when it was first seen ready
    init_period = CPU_INITIALIZATION_PERIOD_SECONDS / time_scale
    desired = current = int(env["REPLICAS"])
    pods_info: list[dict] = []

    def publish() -> None:
        q = f'namespace="{NAMESPACE}"'
        lines = [
            "# kube-state-metrics and cAdvisor names, as the dashboard queries them",
            f'kube_node_info{{node="local"}} 1',
            f'kube_deployment_status_replicas{{{q},deployment="partypic-server"}} {current}',
            f'kube_deployment_status_replicas_ready{{{q},deployment="partypic-server"}} {sum(p["ready"] for p in pods_info)}',
            f'kube_deployment_spec_replicas{{{q},deployment="partypic-server"}} {desired}',
        ]
        for name, cur, des, mn, mx in (
            ("partypic-server", current, desired, spec.min_replicas, spec.max_replicas),
            # The web client is served by the cluster's one nginx: not scaled here, shown at its minimum.
            ("partypic-client", client_min, client_min, client_min, int(client_hpa["spec"]["maxReplicas"])),
        ):
            h = f'{q},horizontalpodautoscaler="{name}"'
            lines += [
                f"kube_horizontalpodautoscaler_status_current_replicas{{{h}}} {cur}",
                f"kube_horizontalpodautoscaler_status_desired_replicas{{{h}}} {des}",
                f"kube_horizontalpodautoscaler_spec_min_replicas{{{h}}} {mn}",
                f"kube_horizontalpodautoscaler_spec_max_replicas{{{h}}} {mx}",
            ]
        for p in pods_info:
            pl = f'{q},pod="{p["pod"]}",container="server"'
            for res, unit in (("cpu", "core"), ("memory", "byte")):
                lines.append(f'kube_pod_container_resource_requests{{{pl},resource="{res}",unit="{unit}"}} {request[res]}')
                lines.append(f'kube_pod_container_resource_limits{{{pl},resource="{res}",unit="{unit}"}} {limit[res]}')
            lines.append(f'kube_pod_status_ready{{{q},pod="{p["pod"]}",condition="true"}} {int(p["ready"])}')
            if p["cpu_total"] is not None:
                lines.append(f"container_cpu_usage_seconds_total{{{pl}}} {p['cpu_total']}")
            if p["memory"] is not None:
                lines.append(f"container_memory_working_set_bytes{{{pl}}} {p['memory']}")
        exporter.set("\n".join(lines) + "\n")

    while not stop.is_set():
        started = time.time()
        env = read_env(Path(cluster_dir) / "cluster.env")
        current = int(env["REPLICAS"])
        samples, pods_info = [], []
        for i in range(1, current + 1):
            now, total = time.time(), cpu_seconds(cluster_dir, i)
            prev = last_cpu.get(i)
            # A rate needs two samples: a new pod has no CPU metric yet (as with metrics-server).
            cpu = (total - prev[1]) / (now - prev[0]) if prev and total is not None and total >= prev[1] else None
            if total is not None:
                last_cpu[i] = (now, total)
            mem = memory_working_set(cluster_dir, i)
            is_ready = ready(env[f"REPLICA_PORT_{i}"])
            started_at.setdefault(i, now)
            if is_ready:
                ready_since.setdefault(i, now)
            # The controller's CPU rule for young pods: within the initialization period a sample
            # whose window began before the pod turned ready is set aside (start-up work is no load).
            cpu_ready = is_ready and not (
                now - started_at[i] < init_period and (prev is None or prev[0] < ready_since[i])
            )
            pods_info.append({"pod": f"partypic-server-{i}", "ready": is_ready, "cpu": cpu, "cpu_total": total, "memory": mem})
            samples.append(PodSample(f"partypic-server-{i}", cpu_ready, request, {"cpu": cpu, "memory": mem}))
        for i in [k for k in started_at if k > current]:
            # A replica removed: its next start is a new pod.
            last_cpu.pop(i, None)
            started_at.pop(i, None)
            ready_since.pop(i, None)
        d = hpa.decide(started, current, samples)
        desired = d.desired
        publish()
        record = {
            "t": round(started, 3), "current": current, "desired": desired, "proposals": d.proposals,
            "recommendation": d.recommendation, "reason": d.reason,
            "cpu": [None if p["cpu"] is None else round(p["cpu"], 4) for p in pods_info],
            "memory_mib": [None if p["memory"] is None else round(p["memory"] / 2**20, 1) for p in pods_info],
            "ready": [p["ready"] for p in pods_info],
        }
        if desired != current:
            log(f"{d.reason}: {current} → {desired} (proposals {d.proposals})")
            current = desired  # the Deployment's replicas count from now on, ready or not
            publish()
            rc = subprocess.run([LOCAL_CLUSTER, "scale", str(desired)], capture_output=True, text=True)
            record["scaled_at"] = round(time.time(), 3)
            record["scale_ok"] = rc.returncode == 0
            if rc.returncode:
                log(f"scale {desired} failed: {rc.stderr.strip()[-300:]}")
        decisions.write(json.dumps(record) + "\n")
        stop.wait(max(0.0, sync - (time.time() - started)))
    ksm.write_text("[]")
    log("controller stopped")


# ---- the runs --------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prom_query(prom: str, expr: str, start: float, end: float, step: float) -> list[dict]:
    qs = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prom}/api/v1/query_range?{qs}", timeout=30) as r:
        return json.load(r)["data"]["result"]


class Run:
    """A cluster with pods, the controller and k6; always taken down (also on failure)."""

    def __init__(self, out: Path, time_scale: float, cpu_scale: str) -> None:
        self.out = out
        self.time_scale = time_scale
        out.mkdir(parents=True, exist_ok=True)
        self.cluster_dir = f"/tmp/partypic-autoscale.{os.getpid()}"
        self.env = dict(
            os.environ,
            PARTYPIC_CLUSTER_DIR=self.cluster_dir,
            CLUSTER_PORT=str(free_port()),
            CLUSTER_PROM_PORT=str(free_port()),
            CLUSTER_DB=f"partypic_autoscale_{os.getpid()}",
            CLUSTER_POD_SCALE=cpu_scale,
            CLUSTER_KEEP="1",
            # Rate limiting off: k6 registers from one address.
            PARTYPIC_CLUSTER_ENV="RATE_LIMIT_AUTH_PER_MINUTE=0",
        )
        self.controller: subprocess.Popen | None = None

    def __enter__(self) -> "Run":
        try:
            return self._start()
        except BaseException:
            self.__exit__()
            raise

    def _start(self) -> "Run":
        subprocess.run([LOCAL_CLUSTER, "up", "2"], env=self.env, check=True)
        self.cenv = read_env(Path(self.cluster_dir) / "cluster.env")
        self.url = f"http://127.0.0.1:{self.cenv['LB_PORT']}"
        self.prom = f"http://127.0.0.1:{self.cenv['PROM_PORT']}"
        adir = Path(self.cluster_dir) / "autoscaler"
        adir.mkdir()
        self.controller = subprocess.Popen(
            [sys.executable, __file__, "controller", "--time-scale", str(self.time_scale)],
            env=self.env, stdout=open(adir / "log", "a"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        (adir / "pid").write_text(str(self.controller.pid))
        return self

    def __exit__(self, *exc) -> None:
        if self.controller and self.controller.poll() is None:
            self.controller.terminate()
            try:
                self.controller.wait(20)
            except subprocess.TimeoutExpired:
                self.controller.kill()
        for f in ("autoscaler/decisions.jsonl", "autoscaler/log", "nginx/access.log"):
            src = Path(self.cluster_dir) / f
            if src.exists():
                (self.out / f.replace("/", "-")).write_bytes(src.read_bytes())
        subprocess.run([LOCAL_CLUSTER, "down"], env=self.env)
        subprocess.run(["rm", "-rf", self.cluster_dir])

    def decisions(self) -> list[dict]:
        path = Path(self.cluster_dir) / "autoscaler/decisions.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def k6(self, segment: str, seconds: int, profile: str = "full") -> tuple[int, dict]:
        k6 = subprocess.run(
            [str(ROOT / "loadtest/scripts/ensure-tools.sh")], capture_output=True, text=True, check=True
        ).stdout.strip()
        summary = self.out / "k6-summary.json"
        cmd = [
            "timeout", "--signal=INT", "--kill-after=30", str(seconds), k6, "run", "--quiet", "--no-color",
            "--no-usage-report", "--address", "", "--execution-segment", segment,
            "-e", f"BASE_URL={self.url}", "-e", f"SUMMARY_JSON={summary}", "-e", f"PROFILE={profile}",
            str(ROOT / "loadtest/dist/peak-traffic.js"),
        ]
        log(f"k6: {' '.join(cmd[5:])}")
        with open(self.out / "k6.log", "w") as f:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        data = json.loads(summary.read_text()) if summary.exists() else {}
        return rc, data

    def wait_for_replicas(self, want: int, seconds: float) -> float | None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if int(read_env(Path(self.cluster_dir) / "cluster.env")["REPLICAS"]) == want:
                return time.time()
            time.sleep(1)
        return None


def nginx_failures(access_log: Path, start: float, end: float) -> dict:
    """Requests through the load balancer in [start, end]: total, 5xx by status."""
    total, by_status = 0, {}
    if not access_log.exists():
        return {"total": 0}
    for line in access_log.read_text().splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if not start <= float(r.get("end", 0)) <= end:
            continue
        if not str(r.get("uri", "")).startswith(("/auth", "/sessions", "/pictures", "/uploads")):
            continue
        total += 1
        if int(r.get("status", 0)) >= 500:
            by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    return {"total": total, **{str(k): v for k, v in by_status.items()}}


def scale_up_latencies(decisions: list[dict]) -> list[dict]:
    return [
        {"at": d["t"], "from": d["current"], "to": d["desired"], "ready_after_s": round(d["scaled_at"] - d["t"], 2)}
        for d in decisions if d["desired"] > d["current"] and "scaled_at" in d
    ]


def ci(out: Path) -> int:
    """The short variant (~3-4 min): the first 75 s of the peak profile (a quarter of its arrivals
    by default) on the HPA's own rules with every window and period ÷ 5; fails unless the pods
    scaled up under the load and back to minReplicas after it, with no 5xx but the overload 503."""
    time_scale = 5.0
    segment = os.environ.get("AUTOSCALE_CI_SEGMENT", "0:1/4")
    with Run(out, time_scale, "4") as run:
        time.sleep(SYNC_PERIOD_SECONDS / time_scale * 3)  # idle baseline: must stay at the minimum
        t0 = time.time()
        rc, _ = run.k6(segment, 75)  # bounded: SIGINT ends k6 after 75 s (exit 124 is expected)
        t1 = time.time()
        spec = spec_from_manifest(
            find(rendered_objects(run.cenv["RENDERED_MANIFESTS"]), "HorizontalPodAutoscaler", "partypic-server")
        )
        back = run.wait_for_replicas(spec.min_replicas, 180)
        decisions = run.decisions()
        failures = nginx_failures(Path(run.cluster_dir) / "nginx/access.log", t0, time.time())
    peak = max(d["current"] for d in decisions)
    early = [d for d in decisions if d["t"] < t0 and d["desired"] > d["current"]]
    result = {
        "k6_exit": rc,
        "k6_segment": segment,
        "load_seconds": round(t1 - t0),
        "min_replicas": spec.min_replicas,
        "scaled_before_load": len(early),
        "peak_replicas": peak,
        "back_to_min_after_load_s": None if back is None else round(back - t1),
        "lb_api_requests": failures,
        "scale_ups": scale_up_latencies(decisions),
    }
    (out / "autoscale-ci.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    problems = []
    if early:
        problems.append("scaled up before any load (idle CPU above the target?)")
    if peak < spec.min_replicas + 2:
        problems.append(f"did not scale up under load (peak {peak} replicas)")
    if back is None:
        problems.append("did not scale back down to minReplicas within 180 s after the load")
    # 503 + Retry-After is the server's documented answer to a full hashing queue; anything else
    # (502/504: a request lost when a pod was removed) is a failure of the scale-down drain.
    lost = {k: v for k, v in failures.items() if k not in ("total", "503")}
    if lost:
        problems.append(f"5xx other than 503 through the load balancer: {lost}")
    for p in problems:
        print(f"autoscale CI FAILED: {p}", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["controller", "demo", "ci"])
    ap.add_argument("out", nargs="?", default=str(ROOT / "target/autoscale"))
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--segment", default="0:1/8", help="k6 execution segment: the arrival rates' share")
    args = ap.parse_args()
    if args.mode == "controller":
        controller(args.time_scale)
        return 0

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")  # unwinds through Run: the cluster goes down

    signal.signal(signal.SIGTERM, interrupted)
    if args.mode == "ci":
        return ci(Path(args.out))
    import autoscale_demo

    return autoscale_demo.demo(Path(args.out), args.segment, Run, scale_up_latencies, nginx_failures, prom_query)


if __name__ == "__main__":
    sys.exit(main())
