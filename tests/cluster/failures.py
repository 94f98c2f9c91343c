#!/usr/bin/env python3
"""The failure tests of issue 6, each while the k6 smoke peak profile runs through the load
balancer of a running local cluster (scripts/local-cluster up):

  kill-drain    SIGKILL one replica and start a replacement; SIGTERM another (graceful drain)
  postgres      the machine's PostgreSQL stopped mid-run and started again
  s3            the S3 server (Garage) stopped mid-run and started again
  overload      a registration flood beyond the hashing capacity (tests/cluster/flood.js)

During kill-drain, postgres and s3 a recorder client writes down everything the cluster
acknowledged; afterwards every acknowledged account must log in and every acknowledged photo must
be in its gallery and download byte-identical, and the database counts must match the
acknowledged counts (k6's summary counters plus the recorder's). Each phase writes
OUT/<phase>.json and exits non-zero when a check fails.

  any-replica   (no load, no failure) one user's story with every step on another replica
  jobs          (no load) the replica processing a video clip is killed mid-job; another takes
                the job over once its lease expires (the cluster runs with a short JOB_LEASE_SECS)

Usage: failures.py PHASE OUT_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from common import (ROOT, Api, Cluster, K6, Recorder, k6_counter, k6_failed_checks, log, pct, sha256,
                    unique_jpeg, verify_acknowledged, verify_k6_data)

PEAK = ROOT / "loadtest" / "dist" / "peak-traffic.js"
FLOOD = Path(__file__).resolve().parent / "flood.js"
# The failure is injected this long after k6 starts (its setup takes ~2 s, the load ~60 s).
KILL_AT, TERM_AT = 15, 32
PG_DOWN_AT, PG_DOWN_FOR = 15, 8
S3_DOWN_AT, S3_DOWN_FOR = 15, 10
FLOOD_AT = 12


def _status(fn) -> int:
    try:
        return fn().status_code
    except requests.RequestException:
        return 0


def login_burst(c: Cluster, email: str, password: str) -> tuple[list[int], list[threading.Thread]]:
    """Three logins per replica at once through the load balancer; returns (statuses, threads)."""
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(_status(lambda: Api(c.url).login(email, password))))
               for _ in range(3 * len(c.replica_ports))]
    for t in threads:
        t.start()
    time.sleep(0.015)
    return statuses, threads


class Checks:
    def __init__(self):
        self.results: list[dict] = []

    def check(self, name: str, ok: bool, detail=None) -> bool:
        self.results.append({"check": name, "ok": bool(ok), "detail": detail})
        log(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail is not None else ""))
        return ok

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.results)


def sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.time()))


def db_now(c: Cluster) -> str:
    return c.psql("SELECT now()")[0][0]


def is_failure(e: dict) -> bool:
    """A request the client saw fail: 5xx (except register/login shedding load with
    503 + Retry-After, which the contract asks for) or nginx giving up."""
    if e["status"] == 503 and e["retry_after"] and e["uri"] in ("/auth/register", "/auth/login"):
        return False
    return e["status"] >= 500 or e["status"] == 499


class LoadRun:
    """k6 smoke peak + the recorder around a block of failure injections."""

    def __init__(self, c: Cluster, out: Path, name: str, recorder: bool = True):
        self.c, self.out, self.name = c, out, name
        self.since = db_now(c)
        self.before = c.counts()
        self.log_offset = c.access_log_offset()
        self.k6 = K6(PEAK, c.url, out / f"{name}-k6.json", out / f"{name}-k6.log")
        time.sleep(3)  # k6's setup() registers a host and creates its 5 events
        self.t0 = time.time()
        self.recorder = Recorder(c.url, out / f"{name}-acknowledged.jsonl").start() if recorder else None

    def finish(self, checks: Checks, extra_users: int = 0, extra_failures: int = 0) -> dict:
        summary = self.k6.wait()
        if self.recorder:
            self.recorder.stop()
        time.sleep(0.5)
        after = self.c.counts()
        entries = self.c.access_log(self.log_offset)
        k6 = {
            "exit_code": summary["_exit_code"],
            "http_reqs": k6_counter(summary, "http_reqs"),
            "http_req_failed": summary.get("metrics", {}).get("http_req_failed", {}).get("values", {}).get("passes", 0),
            "registrations_success": k6_counter(summary, "registrations_success"),
            "sessions_created": k6_counter(summary, "sessions_created"),
            "photos_uploaded": k6_counter(summary, "photos_uploaded"),
            "hashing_saturated_503": k6_counter(summary, "hashing_saturated_503"),
            "failed_checks": k6_failed_checks(summary),
        }
        rec = self.recorder.counts() if self.recorder else {"user": 0, "session": 0, "photo": 0}
        acked = {
            "users": k6["registrations_success"] + rec["user"] + extra_users,
            "sessions": k6["sessions_created"] + rec["session"],
            "pictures": k6["photos_uploaded"] + rec["photo"],
        }
        in_db = {k: after[k] - self.before[k] for k in after}
        # A write can commit while its answer is lost (a replica killed mid-request, a client
        # timing out): such a row is in the database without being acknowledged. Allowed only as
        # often as that route failed.
        routes = {"users": "/auth/register", "sessions": "/sessions/create", "pictures": "/pictures/finalize-upload"}
        lost_answers = {k: sum(1 for e in entries if e["uri"] == r and is_failure(e)) for k, r in routes.items()}
        for k in acked:
            checks.check(f"database {k} = acknowledged {k}",
                         acked[k] <= in_db[k] <= acked[k] + lost_answers[k] + extra_failures,
                         {"database": in_db[k], "acknowledged": acked[k], "failed_requests_on_route": lost_answers[k]})
        if self.recorder:
            log(f"verifying {len(self.recorder.items)} acknowledged records")
            v = verify_acknowledged(self.c.url, self.recorder.items)
            checks.check("every acknowledged account logs in, event opens, photo is in its gallery byte-identical",
                         not v["missing"] and v["checked"]["photo"] > 0, {"checked": v["checked"], "missing": v["missing"][:5]})
        else:
            v = None
        k6data = verify_k6_data(self.c, self.since)
        checks.check("every k6 account in the database logs in", not k6data["k6_user_login_failures"],
                     {"k6_accounts": k6data["k6_users_in_db"], "failures": k6data["k6_user_login_failures"][:5]})
        checks.check("every k6 photo is in its gallery and downloads byte-identical", not k6data["k6_picture_failures"],
                     {"k6_pictures": k6data["k6_pictures_in_db"], "failures": k6data["k6_picture_failures"][:5]})
        per_replica: dict[str, int] = {}
        for e in entries:
            if e["ports"]:
                per_replica[str(e["ports"][-1])] = per_replica.get(str(e["ports"][-1]), 0) + 1
        return {
            "k6": k6, "recorder": {"acknowledged": rec, "errors": self.recorder.errors if self.recorder else {}},
            "database_delta": in_db, "acknowledged": acked, "lb_requests": len(entries),
            "lb_requests_per_replica_port": per_replica,
            "lb_failures": [{k: e[k] for k in ("uri", "method", "status", "upstream", "upstream_status", "start")}
                            for e in entries if is_failure(e)][:50],
            "verified_acknowledged": v["checked"] if v else None,
        }


def phase_kill_drain(c: Cluster, out: Path) -> dict:
    checks = Checks()
    _, email, password = Api(c.url).register()  # for the burst at the kill; before the counts
    run = LoadRun(c, out, "kill-drain")
    killed, drained = 1, 2
    kp, dp = c.replica_ports[killed - 1], c.replica_ports[drained - 1]

    sleep_until(run.t0 + KILL_AT)
    # A few slow requests (password checks, ~30 ms each) so the kill surely hits some in flight.
    burst, burst_threads = login_burst(c, email, password)
    t_kill = time.time()
    os.kill(c.replica_pid(killed), signal.SIGKILL)
    # The kernel tears a killed process down in a moment; until its sockets close, connections
    # still land in its listen backlog. Both count as what it had in flight.
    while port_open(kp):
        time.sleep(0.001)
    t_dead = time.time()
    c.replica(killed, "kill")  # waits until it is gone
    log(f"SIGKILL replica {killed} (:{kp})")
    replacement_s = c.replica(killed, "start")
    log(f"replacement for replica {killed} ready after {replacement_s:.2f}s")

    for t in burst_threads:
        t.join()
    sleep_until(run.t0 + TERM_AT)
    # The same before the drain: these must all finish on the draining replica.
    term_burst, burst_threads = login_burst(c, email, password)
    t_term = time.time()
    drain_s = c.replica(drained, "term")
    t_term_end = time.time()
    for t in burst_threads:
        t.join()
    log(f"SIGTERM replica {drained} (:{dp}): exited after {drain_s:.2f}s")
    restart_s = c.replica(drained, "start")

    result = run.finish(checks)
    entries = c.access_log(run.log_offset)
    # Requests that were inside the killed replica when it died.
    in_flight = [e for e in entries if kp in e["ports"] and e["start"] <= t_dead and e["end"] >= t_kill]
    killed_failed = [e for e in entries if kp in e["ports"] and is_failure(e) and e["end"] >= t_kill and e["start"] <= t_dead + 0.5]
    drain_window = [e for e in entries if dp in e["ports"] and e["end"] >= t_term - 0.5 and e["start"] <= t_term_end + 0.5]
    drained_failed = [e for e in drain_window if is_failure(e)]
    drain_in_flight = [e for e in entries if dp in e["ports"] and e["start"] <= t_term <= e["end"]]
    all_failed = [e for e in entries if is_failure(e)]
    unexplained = [e for e in all_failed if e not in killed_failed]
    retried = [e for e in entries if len(e["ports"]) > 1]
    checks.check("zero failed requests from the drained replica", not drained_failed,
                 {"requests_around_the_drain": len(drain_window), "in_flight_at_sigterm": len(drain_in_flight),
                  "failed": len(drained_failed), "drain_seconds": round(drain_s, 2)})
    checks.check("failures from the killed replica bounded by what it had in flight",
                 len(killed_failed) <= len(in_flight),
                 {"in_flight_at_kill": len(in_flight), "failed": len(killed_failed),
                  "failed_requests": [f"{e['method']} {e['uri']} -> {e['status']}" for e in killed_failed]})
    checks.check("no other failed requests during the run", not unexplained,
                 [f"{e['method']} {e['uri']} -> {e['status']} via {e['upstream']}" for e in unexplained][:10])
    result.update({
        "killed_replica_port": kp, "drained_replica_port": dp, "t_kill": t_kill, "kill_to_sockets_closed_ms": round((t_dead - t_kill) * 1000, 1),
        "replacement_ready_seconds": round(replacement_s, 2), "drain_seconds": round(drain_s, 2),
        "restart_after_drain_seconds": round(restart_s, 2),
        "in_flight_at_kill": len(in_flight), "failed_from_killed": len(killed_failed),
        "requests_around_drain": len(drain_window), "failed_from_drained": len(drained_failed),
        "retried_by_lb_on_another_replica": len(retried),
        "burst_of_logins_at_kill": {str(k): burst.count(k) for k in sorted(set(burst))},
        "burst_of_logins_at_sigterm": {str(k): term_burst.count(k) for k in sorted(set(term_burst))},
        "in_flight_at_sigterm": len(drain_in_flight),
    })
    return finish("kill-drain", out, checks, result)


class Prober:
    """Small requests at a steady pace, each kind in its own thread, recorded with their
    start time, status and latency: what a user would have seen during an outage."""

    def __init__(self, c: Cluster, session_id: str, guest_id: str, account: tuple[str, str], recorder: Recorder | None):
        self.c, self.session_id, self.guest_id, self.account, self.recorder = c, session_id, guest_id, account, recorder
        self.samples: list[dict] = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.pending: list[tuple[str, bytes]] = []
        self.api = Api(c.url)

    def record(self, name: str, fn) -> None:
        t = time.time()
        ready = None
        try:
            r = fn()
            status, retry_after = r.status_code, r.headers.get("Retry-After")
            if name.startswith("readyz"):
                try:  # what /readyz says about the object store, e.g. while S3 is down
                    ready = r.json().get("checks", {}).get("object_store")
                except ValueError:
                    pass
        except requests.RequestException:
            status, retry_after = 0, None
        with self.lock:
            self.samples.append({"name": name, "t": t, "s": round(time.time() - t, 4), "status": status,
                                 "retry_after": retry_after, "object_store": ready})

    def loop(self, name: str, fn, every: float) -> None:
        api = Api(self.c.url)
        while not self.stop_flag.is_set():
            self.record(name, lambda: fn(api))
            self.stop_flag.wait(every)

    def prepare_uploads(self, api: Api, stock: int = 3) -> None:
        """Objects PUT while S3 is up, so the finalize probe has some to finalize during an outage."""
        while len(self.pending) < stock:
            try:
                data = unique_jpeg()
                r = api.init_upload(self.session_id, timeout=8)
                if r.status_code != 201 or api.put(r.json()["uploadUrl"], data, timeout=8).status_code != 200:
                    return
                self.pending.append((r.json()["key"], data))
            except requests.RequestException:
                return

    def finalize_loop(self) -> None:
        """Finalizes an object uploaded earlier (so the probe measures finalize alone, also while
        S3 is down), then tops the stock up again."""
        api = Api(self.c.url)
        while not self.stop_flag.is_set():
            self.prepare_uploads(api)
            if self.pending:
                key, data = self.pending[0]
                box = {}

                def call():
                    box["r"] = api.finalize(self.session_id, key, len(data), timeout=8)
                    return box["r"]
                self.record("finalize", call)
                r = box.get("r")
                if r is not None and r.status_code == 201:
                    self.pending.pop(0)
                    if self.recorder:
                        email, password = self.account
                        self.recorder.ack({"kind": "photo", "id": r.json()["id"], "session": self.session_id,
                                           "sha256": sha256(data), "size": len(data),
                                           "email": email, "password": password})
            self.stop_flag.wait(0.5)

    def start(self) -> "Prober":
        sid, gid = self.session_id, self.guest_id
        email, password = self.account
        kinds = {
            "readyz": None,
            "get_session": (lambda a: a.req("GET", f"/sessions/get?sessionId={sid}", timeout=8), 0.25),
            "heartbeat": (lambda a: a.req("POST", "/sessions/heartbeat", json={"userId": gid}, timeout=8), 0.25),
            "login": (lambda a: a.login(email, password, timeout=8), 1.0),
            "gallery": (lambda a: a.gallery(sid, timeout=8), 0.25),
            "init_upload": (lambda a: a.init_upload(sid, timeout=8), 0.25),
            "healthz": (lambda a: a.req("GET", "/healthz", timeout=8), 0.5),
        }
        threads = []
        for name, spec in kinds.items():
            if spec:
                threads.append(threading.Thread(target=self.loop, args=(name, spec[0], spec[1]), daemon=True))
        for i in range(1, len(self.c.replica_ports) + 1):
            url = self.c.replica_url(i) + "/readyz"
            threads.append(threading.Thread(target=self.loop, args=(f"readyz_{i}", lambda a, u=url: a.http.get(u, timeout=8), 0.25), daemon=True))
        threads.append(threading.Thread(target=self.finalize_loop, daemon=True))
        self.threads = threads
        for t in threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=15)

    def window(self, names, t_from: float, t_to: float) -> list[dict]:
        return [s for s in self.samples if s["name"] in names and t_from <= s["t"] <= t_to]

    def recovered_after(self, names, t: float, hold: float = 3.0) -> float | None:
        """Seconds after t until every probe of `names` succeeds and keeps succeeding for
        `hold` seconds; None if that never happened."""
        tau = t
        for s in sorted((s for s in self.samples if s["name"] in names and s["t"] >= t), key=lambda s: s["t"]):
            if not 200 <= s["status"] < 300:
                tau = max(tau, s["t"] + s["s"])
            elif s["t"] >= tau + hold:
                return round(tau - t, 2)
        return None


def summarize(samples: list[dict]) -> dict:
    by: dict[str, dict] = {}
    for s in samples:
        d = by.setdefault(s["name"], {"n": 0, "statuses": {}, "lat": []})
        d["n"] += 1
        d["statuses"][str(s["status"])] = d["statuses"].get(str(s["status"]), 0) + 1
        d["lat"].append(s["s"])
    return {k: {"requests": v["n"], "statuses": v["statuses"], "max_s": round(max(v["lat"]), 3),
                "p95_s": round(pct(v["lat"], 95), 3)} for k, v in sorted(by.items())}


def pg_version() -> str:
    return sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]


def pg_ctl(action: str) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), "main", action]
                   + (["-m", "fast"] if action == "stop" else []), check=True, timeout=60)


def port_open(port: int) -> bool:
    import socket
    s = socket.socket()
    s.settimeout(0.5)
    try:
        return s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        s.close()


def garage_start(garage_dir: Path, port: int) -> None:
    """Starts the stopped Garage again on its own data and configuration (what a restarted S3
    server is); its pid goes where scripts/lib/garage.sh stop looks for it."""
    garage = shutil.which("garage") or str(Path.home() / ".cargo/bin/garage")
    with open(garage_dir / "garage.log", "ab") as logf:
        proc = subprocess.Popen([garage, "server"], env={**os.environ, "GARAGE_CONFIG_FILE": str(garage_dir / "garage.toml")},
                                stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    (garage_dir / "garage.pid").write_text(str(proc.pid))
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError("Garage did not come back")


def probe_world(c: Cluster) -> tuple[str, str, tuple[str, str]]:
    """An event, one of its guests and its host's account (the probes log in with it; only the
    host's gallery links the originals the checks compare)."""
    api = Api(c.url)
    _, email, password = api.register()
    token = api.login(email, password).json()["access_token"]
    session_id = api.create_session(token).json()["sessionId"]
    guest_id = api.join(session_id).json()["id"]
    return session_id, guest_id, (email, password)


def pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], timeout=10).returncode == 0


def phase_postgres(c: Cluster, out: Path) -> dict:
    checks = Checks()
    session_id, guest_id, account = probe_world(c)
    pids = {i: c.replica_pid(i) for i in range(1, len(c.replica_ports) + 1)}
    acquire_timeout = float(c.env.get("DB_ACQUIRE_TIMEOUT_SECS", "3"))
    readyz = [f"readyz_{i}" for i in pids]
    db_probes = ["get_session", "heartbeat", "login", "gallery", "init_upload", "finalize"]

    run = LoadRun(c, out, "postgres")
    prober = Prober(c, session_id, guest_id, account, run.recorder).start()
    sleep_until(run.t0 + PG_DOWN_AT)
    # The machine's PostgreSQL: stopped (fast: clients are cut off at once, new ones refused while
    # it checkpoints), and started again whatever happens.
    t_pg_stop = time.time()
    try:
        pg_ctl("stop")
        t_pg_down = time.time()
        log(f"PostgreSQL stopped ({t_pg_down - t_pg_stop:.1f}s to stop)")
        time.sleep(PG_DOWN_FOR)
    finally:
        starter = threading.Thread(target=pg_ctl, args=("start",))
        starter.start()
        while starter.is_alive() and not pg_ready():
            time.sleep(0.02)
        t_pg_up = time.time()
        starter.join()
        if not pg_ready():
            pg_ctl("start")
    log(f"PostgreSQL accepts connections again ({t_pg_up - t_pg_stop:.1f}s after the stop began)")
    time.sleep(15)
    prober.stop()
    result = run.finish(checks)

    # Down: from a second after the stop began until requests could have waited into the restart.
    down = prober.window(db_probes, t_pg_stop + 1, t_pg_up - acquire_timeout - 0.5)
    worst = max((s["s"] for s in down), default=0)
    checks.check("PostgreSQL down: API requests answer 503", bool(down) and {s["status"] for s in down} == {503}, summarize(down))
    checks.check("PostgreSQL down: no hang (every answer within DB_ACQUIRE_TIMEOUT_SECS + 1.5 s)",
                 worst <= acquire_timeout + 1.5, {"slowest_s": worst, "DB_ACQUIRE_TIMEOUT_SECS": acquire_timeout})
    # Everything that went through the load balancer meanwhile (k6, the recorder, the probes).
    needs_db = [e for e in c.access_log(run.log_offset) if t_pg_stop + 1 <= e["start"] <= t_pg_up - acquire_timeout - 0.5
                and e["uri"].startswith(("/auth/", "/sessions/", "/pictures/"))]
    lb_statuses: dict[str, int] = {}
    for e in needs_db:
        lb_statuses[str(e["status"])] = lb_statuses.get(str(e["status"]), 0) + 1
    lb_worst = max((e["rt"] for e in needs_db), default=0)
    slowest = max(needs_db, key=lambda e: e["rt"], default=None)
    slowest_detail = {k: slowest.get(k) for k in ("method", "uri", "status", "rt", "upstream", "upstream_status", "urt", "rid")} if slowest else None
    # A gallery page rendered just before the outage may still be served from a replica's page
    # cache (at most 5 s old, and only while that replica's LISTEN connection is up): that is an
    # answer, not a failure. Everything else needs the database and must be a quick 503.
    unexpected = [f'{e.get("method", "")} {e["uri"]} {e["status"]}' for e in needs_db
                  if e["status"] != 503 and not (e["uri"].startswith("/pictures/session") and e["status"] in (200, 304))]
    checks.check("PostgreSQL down: every API request through the load balancer answered 503 in time (or a cached gallery)",
                 bool(needs_db) and not unexpected and lb_worst <= acquire_timeout + 1.5,
                 {"requests": len(needs_db), "statuses": lb_statuses, "slowest_s": lb_worst, "slowest": slowest_detail,
                  "unexpected": unexpected[:10]})
    # Once a replica found the database down it answers at once (db::fail_fast), not after the
    # pool's acquire timeout: only requests in the first DB_ACQUIRE_TIMEOUT_SECS may wait.
    known_down = prober.window(db_probes, t_pg_stop + acquire_timeout + 1.5, t_pg_up - 0.2)
    slowest_known = max((s["s"] for s in known_down), default=0)
    checks.check("PostgreSQL known down: API requests answer 503 + Retry-After within 0.5 s",
                 bool(known_down) and {s["status"] for s in known_down} == {503}
                 and all(s["retry_after"] for s in known_down) and slowest_known <= 0.5,
                 {"slowest_s": slowest_known, **summarize(known_down)})
    first_unready = {}
    for name in readyz:
        hit = [s for s in prober.window([name], t_pg_stop, t_pg_up) if s["status"] == 503]
        first_unready[name] = round(hit[0]["t"] + hit[0]["s"] - t_pg_stop, 2) if hit else None
    checks.check("PostgreSQL down: /readyz turns 503 on every replica", all(v is not None for v in first_unready.values()),
                 {"seconds_after_stop_began": first_unready})
    recovery = prober.recovered_after(db_probes + readyz, t_pg_up)
    checks.check("PostgreSQL back: replicas recover by themselves within 10 s", recovery is not None and recovery <= 10,
                 {"seconds_after_it_accepts_connections": recovery})
    pids_after = {i: c.replica_pid(i) for i in pids}
    checks.check("no replica restarted", pids == pids_after and all(Path(f"/proc/{p}").exists() for p in pids.values()),
                 {"before": pids, "after": pids_after})
    result["postgres"] = {
        "stopping_seconds": round(t_pg_down - t_pg_stop, 2), "down_seconds": round(t_pg_up - t_pg_stop, 2),
        "probes_while_down": summarize(down), "lb_requests_while_down": {"requests": len(needs_db), "statuses": lb_statuses, "slowest_s": lb_worst},
        "probes_once_known_down": summarize(known_down),
        "readyz_503_seconds_after_stop_began": first_unready,
        "recovery_seconds": recovery,
    }
    result["probes"] = summarize(prober.samples)
    (out / "postgres-probes.json").write_text(json.dumps(
        {"t_pg_stop": t_pg_stop, "t_pg_down": t_pg_down, "t_pg_up": t_pg_up, "samples": prober.samples}))
    return finish("postgres", out, checks, result)


def phase_s3(c: Cluster, out: Path) -> dict:
    checks = Checks()
    session_id, guest_id, account = probe_world(c)
    readyz = [f"readyz_{i}" for i in range(1, len(c.replica_ports) + 1)]
    s3_port = int(c.s3_url.rsplit(":", 1)[1])
    photo_probes = ["gallery", "init_upload", "finalize"]

    run = LoadRun(c, out, "s3")
    prober = Prober(c, session_id, guest_id, account, run.recorder).start()
    sleep_until(run.t0 + S3_DOWN_AT)
    garage_dir = c.dir / "garage"
    subprocess.run([str(ROOT / "scripts/lib/garage.sh"), "stop", str(garage_dir)], check=True)
    deadline = time.time() + 20
    while port_open(s3_port):
        if time.time() > deadline:
            raise RuntimeError("Garage did not stop")
        time.sleep(0.05)
    t_s3_down = time.time()
    log("Garage (S3) stopped")
    time.sleep(S3_DOWN_FOR)
    garage_start(garage_dir, s3_port)
    t_s3_up = time.time()
    log(f"Garage (S3) started again ({t_s3_up - t_s3_down:.1f}s down)")
    time.sleep(12)
    prober.stop()
    result = run.finish(checks)

    flag_delay = 3.0  # the replicas probe the store every 2 s
    window = (t_s3_down + flag_delay, t_s3_up)
    photo = prober.window(photo_probes, *window)
    others = prober.window(["get_session", "heartbeat", "login", "healthz"], *window)
    checks.check("S3 down: upload and gallery endpoints answer 503",
                 bool(photo) and {s["status"] for s in photo} == {503}, summarize(photo))
    checks.check("S3 down: the other endpoints keep working",
                 bool(others) and all(200 <= s["status"] < 300 for s in others), summarize(others))
    # The store is shared: failing readiness on it would take every pod out of the Service.
    ready = prober.window(readyz, *window)
    checks.check("S3 down: /readyz stays 200 on every replica and reports the store unavailable",
                 {s["name"] for s in ready} == set(readyz) and all(s["status"] == 200 for s in ready)
                 and all(s["object_store"] not in (None, "ok") for s in ready), summarize(ready))
    recovery = prober.recovered_after(photo_probes + readyz, t_s3_up)
    checks.check("S3 back: uploads and galleries recover within 10 s", recovery is not None and recovery <= 10,
                 {"seconds_after_it_is_back": recovery})
    result["s3"] = {
        "down_seconds": round(t_s3_up - t_s3_down, 2), "photo_probes_while_down": summarize(photo),
        "other_probes_while_down": summarize(others),
        "photo_probes_first_3s": summarize(prober.window(photo_probes, t_s3_down, t_s3_down + flag_delay)),
        "readyz_while_down": summarize(prober.window(readyz, *window)), "recovery_seconds": recovery,
    }
    result["probes"] = summarize(prober.samples)
    (out / "s3-probes.json").write_text(json.dumps({"t_s3_down": t_s3_down, "t_s3_up": t_s3_up, "samples": prober.samples}))
    return finish("s3", out, checks, result)


def phase_overload(c: Cluster, out: Path) -> dict:
    checks = Checks()
    api = Api(c.url)
    token, _ = api.host()
    session_id = api.create_session(token).json()["sessionId"]
    guest_id = api.join(session_id).json()["id"]
    for _ in range(3):
        api.upload(session_id, unique_jpeg())

    run = LoadRun(c, out, "overload", recorder=False)
    sleep_until(run.t0 + FLOOD_AT)
    hash_queue = []
    flood = K6(FLOOD, c.url, out / "overload-flood.json", out / "overload-flood.log",
               extra_env={"SESSION_ID": session_id, "GUEST_ID": guest_id}, profile="flood")
    # Sample the replicas' hashing queues while the flood runs.
    while flood.proc.poll() is None:
        q = 0
        for i in range(1, len(c.replica_ports) + 1):
            try:
                text = requests.get(c.replica_metrics_url(i) + "/metrics", timeout=2).text
                q += sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith("partypic_password_hash_queue "))
            except requests.RequestException:
                pass
        hash_queue.append(q)
        time.sleep(1)
    f = flood.wait()
    m = f.get("metrics", {})

    def count(name):
        return int(m.get(name, {}).get("values", {}).get("count", 0))

    def trend(name):
        v = m.get(name, {}).get("values", {})
        return {k: round(v[k], 1) for k in ("med", "p(95)", "max") if k in v} if v else None

    flood_result = {
        "vus": f.get("vus"), "seconds": f.get("seconds"),
        "created_201": count("flood_201"), "shed_503_with_retry_after": count("flood_503_retry_after"),
        "503_without_retry_after": count("flood_503_no_retry_after"), "other_status": count("flood_other"),
        "timeouts_or_errors": count("flood_timeout"),
        "created_ms": trend("flood_201_ms"), "shed_ms": trend("flood_503_ms"),
        "hash_queue_max_sum_over_replicas": max(hash_queue, default=0),
        "probes_ms": {k: trend(k) for k in ("heartbeat_before", "heartbeat_during", "heartbeat_after",
                                            "gallery_before", "gallery_during", "gallery_after")},
    }
    result = run.finish(checks, extra_users=flood_result["created_201"])
    during = [flood_result["probes_ms"]["heartbeat_during"], flood_result["probes_ms"]["gallery_during"]]
    checks.check("the flood went beyond the hashing capacity (503s were answered)", flood_result["shed_503_with_retry_after"] > 0,
                 {"201": flood_result["created_201"], "503": flood_result["shed_503_with_retry_after"]})
    checks.check("every 503 carries Retry-After; no timeouts, no other errors",
                 flood_result["503_without_retry_after"] == 0 and flood_result["other_status"] == 0 and flood_result["timeouts_or_errors"] == 0,
                 {k: flood_result[k] for k in ("503_without_retry_after", "other_status", "timeouts_or_errors")})
    shed = flood_result["shed_ms"] or {}
    checks.check("503 + Retry-After comes quickly (p95 < 500 ms)", shed.get("p(95)", 1e9) < 500, shed)
    checks.check("heartbeat and gallery p95 stay low during the flood (< 500 ms)",
                 all(d and d.get("p(95)", 1e9) < 500 for d in during),
                 {"heartbeat": during[0], "gallery": during[1]})
    result["flood"] = flood_result
    return finish("overload", out, checks, result)


def phase_any_replica(c: Cluster, out: Path) -> dict:
    """Each step of a user's story on another replica, addressed directly (no load balancer): a
    token, an event, a guest, a photo and a live event cross replicas, because all state is in
    PostgreSQL and S3 and live events travel through PostgreSQL LISTEN/NOTIFY."""
    checks = Checks()
    n = len(c.replica_ports)
    api = [Api(c.replica_url(i % n + 1)) for i in range(6)]
    r, email, password = api[0].register()
    token = api[1].login(email, password).json()["access_token"]
    session_id = api[2].create_session(token).json()["sessionId"]
    checks.check("a token issued by one replica works on the others",
                 all(Api(c.replica_url(i)).req("GET", "/auth/me", token=token).status_code == 200 for i in range(1, n + 1)))
    guest = api[3].join(session_id).json()["id"]
    # A live gallery open on one replica...
    events: list[str] = []
    stream = requests.get(f"{c.replica_url(2)}/sessions/{session_id}/events?userId={guest}", stream=True, timeout=(5, 3))

    def read():
        try:
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("event:"):
                    events.append(line.split(":", 1)[1].strip())
        except (requests.RequestException, AttributeError, ValueError):
            pass
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.5)
    # ...sees a photo initialised on one, uploaded to S3 and finalized on a third.
    data = unique_jpeg()
    init = api[4].init_upload(session_id).json()
    api[4].put(init["uploadUrl"], data)
    fin = api[5].finalize(session_id, init["key"], len(data))
    checks.check("init-upload on one replica, finalize on another", fin.status_code == 201, fin.status_code)
    deadline = time.time() + 5
    while "picture.created" not in events and time.time() < deadline:
        time.sleep(0.05)
    stream.close()
    checks.check("a live gallery on a third replica gets picture.created", "picture.created" in events, events)
    same = []
    for i in range(1, n + 1):
        # As the host: only the host's gallery links the original (guests get variants).
        gallery = Api(c.replica_url(i)).gallery(session_id, token=token).json()
        same.append(len(gallery) == 1 and sha256(requests.get(gallery[0]["url"], timeout=10).content) == sha256(data))
    checks.check("every replica shows the photo, downloading byte-identical", all(same), same)
    return finish("any-replica", out, checks, {})


def clip_for_transcoding(path: Path, seconds: int = 20) -> bytes:
    """A VP9 WebM clip (quick to make): the server transcodes it to H.264, which takes seconds."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
                    "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-an", "-y", str(path)],
                   check=True, timeout=120)
    return path.read_bytes()


def phase_jobs(c: Cluster, out: Path) -> dict:
    """A clip's processing job survives the death of the replica running it: the job's lease
    runs out, another replica claims it, and the clip ends `ready` with its rendition."""
    checks = Checks()
    api = Api(c.url)
    token, _ = api.host()
    session_id = api.create_session(token).json()["sessionId"]
    clip = clip_for_transcoding(out / "jobs-clip.webm")
    init = api.init_upload(session_id, mimetype="video/webm").json()
    put = api.put(init["uploadUrl"], clip, mimetype="video/webm")
    fin = api.finalize(session_id, init["key"], len(clip), mimetype="video/webm")
    checks.check("the clip is accepted", put.status_code == 200 and fin.status_code == 201, [put.status_code, fin.status_code, fin.text[:200]])
    if not checks.ok:
        return finish("jobs", out, checks, {})
    photo_id = fin.json()["id"]

    def job() -> list[str]:
        rows = c.psql(f"SELECT state, coalesce(locked_by, ''), attempts FROM jobs WHERE photo_id = '{photo_id}'")
        return rows[0] if rows else []

    # Each replica runs as HOSTNAME=replica-N (a pod's name): the lock names the one to kill.
    deadline, holder = time.time() + 30, None
    while time.time() < deadline and holder is None:
        row = job()
        if row and row[0] == "running" and row[1].startswith("replica-"):
            holder = int(row[1].split("/")[0].removeprefix("replica-"))
        elif row and row[0] in ("done", "failed"):
            break
        else:
            time.sleep(0.05)
    checks.check("a replica is processing the clip", holder is not None, job())
    if holder is None:
        return finish("jobs", out, checks, {})
    t_kill = time.time()
    c.replica(holder, "kill")
    log(f"SIGKILL replica {holder}, which held the clip's job")
    killed_row = job()
    checks.check("the job was still running when its replica died", killed_row[0] == "running", killed_row)
    restart_s = c.replica(holder, "start")
    lease = int(c.env.get("JOB_LEASE_SECS", "300"))
    deadline = time.time() + lease + 120
    row = job()
    while time.time() < deadline and row[0] not in ("done", "failed"):
        time.sleep(0.5)
        row = job()
    took = time.time() - t_kill
    checks.check("another replica took the job over and finished it", row[0] == "done" and row[1] != killed_row[1] and int(row[2]) == 2,
                 {"job": row, "killed_worker": killed_row[1], "seconds_after_kill": round(took, 1)})
    picture = next((p for p in api.gallery(session_id, token=token).json() if p["id"] == photo_id), {})
    checks.check("the clip is ready with its H.264 rendition", picture.get("variants") == "ready" and ".web.mp4" in (picture.get("video_url") or ""),
                 {k: picture.get(k) for k in ("variants", "video_url", "media_type")})
    if picture.get("video_url"):
        head = requests.get(picture["video_url"], headers={"Range": "bytes=0-11"}, timeout=10)
        checks.check("the rendition is an MP4 in the store", head.status_code == 206 and head.content[4:8] == b"ftyp", head.status_code)
    return finish("jobs", out, checks, {"killed_replica": holder, "lease_seconds": lease,
                                        "finished_seconds_after_kill": round(took, 1), "replacement_ready_seconds": round(restart_s, 2),
                                        "clip_bytes": len(clip)})


def finish(name: str, out: Path, checks: Checks, result: dict) -> dict:
    result = {"phase": name, "ok": checks.ok, "checks": checks.results, **result}
    (out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
    log(f"{name}: {'PASSED' if checks.ok else 'FAILED'} ({out / (name + '.json')})")
    return result


def main() -> int:
    phases = {"any-replica": phase_any_replica, "jobs": phase_jobs, "kill-drain": phase_kill_drain,
              "postgres": phase_postgres, "s3": phase_s3, "overload": phase_overload}
    if len(sys.argv) != 3 or sys.argv[1] not in phases:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    c = Cluster.load()
    phase = phases[sys.argv[1]]
    return 0 if phase(c, out)["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
