#!/usr/bin/env python3
"""Measures what PartyPic's requests cost in CPU, on a running local cluster, and turns it into
the number of pods the k6 scenarios need (docs/scaling.md):

  1. the replicas' idle CPU (metrics refresh, store probe, thumbnail sweeper);
  2. CPU-seconds per request for each endpoint: N requests through the load balancer, the
     replicas' utime+stime (/proc/<pid>/stat) before and after, minus idle;
     the gallery at several sizes (its cost grows with the photos it lists);
  3. CPU per k6 flow (requests per iteration x cost) and the check of the model: a k6 smoke run
     of each script, its requests counted per route in nginx's log, predicted vs measured CPU;
  4. pods at 250m CPU requested and a 70 % utilisation target for the normal and peak scenarios.

Usage: capacity.py OUT_DIR      (writes OUT_DIR/capacity.json and OUT_DIR/capacity.md)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from common import ROOT, Api, Cluster, K6, log, unique_jpeg

POD_CPU_REQUEST = 0.25
HPA_TARGET = 0.70
HPA_MIN, HPA_MAX = 2, 25
WORKERS = 4


def idle_rate(c: Cluster, seconds: float = 10) -> float:
    before = sum(c.cpu_seconds().values())
    time.sleep(seconds)
    return (sum(c.cpu_seconds().values()) - before) / seconds


def measure(c: Cluster, idle: float, n: int, make_call, settle: float = 0.0) -> dict:
    """CPU-seconds per call of make_call(api, i) -> response, over n calls in WORKERS threads."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(n))

    def worker():
        api = Api(c.url)
        for i in counter:
            r = make_call(api, i)
            with lock:
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    before = sum(c.cpu_seconds().values())
    started = time.time()
    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(settle)  # background work the requests caused (thumbnails)
    wall = time.time() - started
    cpu = sum(c.cpu_seconds().values()) - before - idle * wall
    return {"requests": n, "statuses": statuses, "wall_s": round(wall, 2), "cpu_s": round(cpu, 3),
            "cpu_ms_per_request": round(cpu / n * 1000, 3)}


def uploaded_keys(api: Api, session_id: str, n: int) -> list[tuple[str, int]]:
    keys = []
    for _ in range(n):
        data = unique_jpeg()
        init = api.init_upload(session_id).json()
        api.put(init["uploadUrl"], data)
        keys.append((init["key"], len(data)))
    return keys


def fill(api: Api, session_id: str, n: int) -> None:
    for key, size in uploaded_keys(api, session_id, n):
        api.finalize(session_id, key, size)


def endpoint_costs(c: Cluster, idle: float) -> dict:
    api = Api(c.url)
    token, _ = api.host()
    session_id = api.create_session(token).json()["sessionId"]
    guest = api.join(session_id).json()["id"]
    _, email, password = api.register()
    missions = {"data": [{"id": f"m{i}", "description": f"Mission {i} of the evening"} for i in range(5)]}
    costs = {}
    plan = [
        ("POST /auth/register", 60, lambda a, i: a.register()[0]),
        ("POST /auth/login", 60, lambda a, i: a.login(email, password)),
        ("POST /sessions/create", 300, lambda a, i: a.create_session(token)),
        ("GET /sessions/get", 600, lambda a, i: a.req("GET", f"/sessions/get?sessionId={session_id}")),
        ("POST /sessions/setmissions", 300, lambda a, i: a.req("POST", "/sessions/setmissions", token=token,
                                                                json={"sessionId": session_id, "missions": missions})),
        ("POST /sessions/registerSessionUser", 300, lambda a, i: a.join(session_id)),
        ("POST /sessions/heartbeat", 600, lambda a, i: a.req("POST", "/sessions/heartbeat", json={"userId": guest})),
        ("POST /pictures/init-upload", 600, lambda a, i: a.init_upload(session_id)),
    ]
    for name, n, call in plan:
        costs[name] = measure(c, idle, n, call)
        log(f"{name}: {costs[name]['cpu_ms_per_request']} ms CPU per request")
    # finalize: objects PUT beforehand (the PUT goes to S3, not to PartyPic); includes the thumbnail.
    upload_event = api.create_session(token).json()["sessionId"]
    keys = uploaded_keys(api, upload_event, 150)
    costs["POST /pictures/finalize-upload"] = measure(c, idle, len(keys), lambda a, i: a.finalize(upload_event, keys[i][0], keys[i][1]), settle=5)
    log(f"finalize: {costs['POST /pictures/finalize-upload']['cpu_ms_per_request']} ms CPU per request (with its thumbnail)")
    # The gallery lists every photo of the event with two presigned URLs each: cost grows with it.
    gallery = {}
    sizes = [0, 20, 100, 300]
    g_event = api.create_session(token).json()["sessionId"]
    have = 0
    for size in sizes:
        fill(api, g_event, size - have)
        have = size
        time.sleep(3)  # thumbnails done
        gallery[size] = measure(c, idle, 300 if size <= 100 else 150, lambda a, i: a.gallery(g_event))
        log(f"gallery with {size} photos: {gallery[size]['cpu_ms_per_request']} ms CPU per request")
    # Least squares: cost = base + per_photo * photos.
    xs, ys = sizes, [gallery[s]["cpu_ms_per_request"] for s in sizes]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    per_photo = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    base = my - per_photo * mx
    costs["GET /pictures/session"] = {"by_photos": {str(k): v for k, v in gallery.items()},
                                      "model_ms": {"base": round(base, 3), "per_photo": round(per_photo, 4)}}
    return costs


def ms(costs: dict, name: str, photos: float = 20) -> float:
    if name == "GET /pictures/session":
        m = costs[name]["model_ms"]
        return m["base"] + m["per_photo"] * photos
    return costs[name]["cpu_ms_per_request"]


# Requests per iteration of each k6 flow (loadtest/src/*.ts; ranges at their mean).
FLOWS = {
    "peak viralGuest (register, login, join, 4 x heartbeat + gallery)": {
        "POST /auth/register": 1, "POST /auth/login": 1, "POST /sessions/registerSessionUser": 1,
        "POST /sessions/heartbeat": 4, "GET /pictures/session": 4},
    "peak eventCreator (register, login, create, set missions)": {
        "POST /auth/register": 1, "POST /auth/login": 1, "POST /sessions/create": 1, "POST /sessions/setmissions": 1},
    "peak photoUploader (init, PUT to S3, finalize)": {
        "POST /pictures/init-upload": 1, "POST /pictures/finalize-upload": 1},
    "normal guest (join, 3 photos, 7 heartbeats, 5 galleries, 3 downloads from S3)": {
        "POST /sessions/registerSessionUser": 1, "POST /sessions/heartbeat": 7, "GET /sessions/get": 1,
        "GET /pictures/session": 5, "POST /pictures/init-upload": 3, "POST /pictures/finalize-upload": 3},
}


def flow_costs(costs: dict, gallery_photos: float) -> dict:
    return {name: round(sum(n * ms(costs, ep, gallery_photos) for ep, n in reqs.items()), 2) for name, reqs in FLOWS.items()}


ROUTES = {  # nginx $uri -> endpoint name
    "/auth/register": "POST /auth/register", "/auth/login": "POST /auth/login", "/sessions/create": "POST /sessions/create",
    "/sessions/get": "GET /sessions/get", "/sessions/setmissions": "POST /sessions/setmissions",
    "/sessions/registerSessionUser": "POST /sessions/registerSessionUser", "/sessions/heartbeat": "POST /sessions/heartbeat",
    "/pictures/init-upload": "POST /pictures/init-upload", "/pictures/finalize-upload": "POST /pictures/finalize-upload",
    "/pictures/session": "GET /pictures/session",
}


def k6_check(c: Cluster, out: Path, costs: dict, idle: float, script: str) -> dict:
    """Runs the smoke profile of a k6 script and compares measured CPU with the model."""
    offset = c.access_log_offset()
    before = sum(c.cpu_seconds().values())
    started = time.time()
    k6 = K6(ROOT / "loadtest" / "dist" / f"{script}.js", c.url, out / f"capacity-{script}.json", out / f"capacity-{script}.log")
    k6.wait()
    time.sleep(3)
    wall = time.time() - started
    measured = sum(c.cpu_seconds().values()) - before - idle * wall
    counts: dict[str, int] = {}
    for e in c.access_log(offset):
        name = ROUTES.get(e["uri"])
        if name:
            counts[name] = counts.get(name, 0) + 1
    # The smoke events hold a few dozen photos at most; use the gallery's cost at 20.
    predicted = sum(n * ms(costs, name, 20) for name, n in counts.items()) / 1000
    return {"requests_by_endpoint": counts, "wall_s": round(wall, 1), "measured_cpu_s": round(measured, 2),
            "predicted_cpu_s": round(predicted, 2), "model_error_pct": round((predicted - measured) / measured * 100, 1) if measured > 0 else None}


def pods(cpu_per_s: float) -> float:
    return cpu_per_s / (POD_CPU_REQUEST * HPA_TARGET)


def scenarios(costs: dict, flows_at: callable) -> dict:
    """The full profiles at their busiest minute."""
    # peak, 3:30-6:30: 400 guests, an iteration ~8.3 s (4 rounds of 1-3 s sleeps + requests);
    # 10 new events/s and 20 photos/s into 5 events. By 6:30 those events hold 20/s x 330 s / 5
    # = 1320 photos each, and every gallery call lists them all.
    out = {}
    for label, photos in (("peak, galleries of 100 photos (early)", 100), ("peak, galleries of 1320 photos (6:30)", 1320)):
        f = flows_at(photos)
        guests_per_s = 400 / 8.3
        cpu = (guests_per_s * f["peak viralGuest (register, login, join, 4 x heartbeat + gallery)"]
               + 10 * f["peak eventCreator (register, login, create, set missions)"]
               + 20 * f["peak photoUploader (init, PUT to S3, finalize)"]) / 1000
        out[label] = {"flows_per_s": {"viralGuest": round(guests_per_s, 1), "eventCreator": 10, "photoUploader": 20},
                      "cpu_per_s": round(cpu, 2), "pods": round(pods(cpu), 1)}
    # normal, the party (3:30-6:30): 20 guests, an iteration ~2 min; the organizer is negligible.
    f = flows_at(60)
    cpu = 20 / 119 * f["normal guest (join, 3 photos, 7 heartbeats, 5 galleries, 3 downloads from S3)"] / 1000
    out["normal, the party (20 guests)"] = {"flows_per_s": {"guest": round(20 / 119, 3)}, "cpu_per_s": round(cpu, 4), "pods": round(pods(cpu), 2)}
    return out


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    c = Cluster.load()
    idle = idle_rate(c)
    log(f"idle: {idle * 1000:.1f} ms CPU per second (all replicas)")
    costs = endpoint_costs(c, idle)
    checks = {script: k6_check(c, out, costs, idle, script) for script in ("peak-traffic", "normal-traffic")}
    for script, r in checks.items():
        log(f"k6 smoke {script}: measured {r['measured_cpu_s']} CPU-s, model {r['predicted_cpu_s']} ({r['model_error_pct']} %)")
    flows = {str(p): flow_costs(costs, p) for p in (20, 100, 1320)}
    sc = scenarios(costs, lambda p: flow_costs(costs, p))
    result = {"replicas": len(c.replica_ports), "idle_cpu_ms_per_s": round(idle * 1000, 2), "endpoint_costs": costs,
              "flow_cpu_ms_by_gallery_size": flows, "k6_smoke_model_check": checks, "scenarios": sc,
              "pod": {"cpu_request": POD_CPU_REQUEST, "target": HPA_TARGET, "hpa_min": HPA_MIN, "hpa_max": HPA_MAX}}
    (out / "capacity.json").write_text(json.dumps(result, indent=2))
    lines = ["| endpoint | CPU ms per request |", "|---|---|"]
    for name, v in costs.items():
        if name == "GET /pictures/session":
            m = v["model_ms"]
            sizes = ", ".join(f"{k}: {x['cpu_ms_per_request']:.2f}" for k, x in v["by_photos"].items())
            lines.append(f"| {name} | {m['base']:.2f} + {m['per_photo']:.4f} x photos ({sizes}) |")
        else:
            lines.append(f"| {name} | {v['cpu_ms_per_request']:.2f} |")
    lines += ["", "| flow | CPU ms per iteration (gallery of 20 / 100 / 1320 photos) |", "|---|---|"]
    for name in FLOWS:
        lines.append(f"| {name} | {' / '.join(str(flows[p][name]) for p in ('20', '100', '1320'))} |")
    lines += ["", "| scenario | CPU-s per s | pods at 250m, 70 % |", "|---|---|---|"]
    for name, v in sc.items():
        lines.append(f"| {name} | {v['cpu_per_s']} | {v['pods']} |")
    lines += ["", "| k6 smoke run | measured CPU-s | model CPU-s | error |", "|---|---|---|---|"]
    for name, v in checks.items():
        lines.append(f"| {name} | {v['measured_cpu_s']} | {v['predicted_cpu_s']} | {v['model_error_pct']} % |")
    (out / "capacity.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
