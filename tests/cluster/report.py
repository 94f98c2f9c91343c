#!/usr/bin/env python3
"""Markdown summary of a tests/cluster/run.sh run: the figures docs/scaling.md quotes.

Usage: report.py OUT_DIR > summary.md
"""

import json
import re
import sys
from pathlib import Path


def load(out: Path, name: str) -> dict | None:
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def verdict(d: dict | None) -> str:
    return "not run" if d is None else ("passed" if d.get("ok") else "FAILED")


def main() -> int:
    out = Path(sys.argv[1])
    lines = ["# Cluster test results", ""]
    lines += ["| step | result |", "|---|---|"]
    for name in ("any-replica", "jobs", "kill-drain", "postgres", "s3", "overload", "security"):
        lines.append(f"| {name} | {verdict(load(out, name))} |")
    for name in ("single", "stateful"):
        log = out / f"schemathesis-{name}.log"
        if log.exists():
            text = log.read_text()
            cases = re.search(r"\d+ generated, [^\n]*", text)
            links = re.search(r"API Links:\s+(.*)", text)
            lines.append(f"| schemathesis {name} | {cases.group(0) if cases else 'see log'}"
                         f"{'; links ' + links.group(1) if links else ''} |")
    lines.append("")

    jobs = load(out, "jobs")
    if jobs and jobs.get("killed_replica"):
        lines += ["## A replica killed mid-job", "",
                  f"- replica {jobs['killed_replica']} was transcoding a {jobs['clip_bytes'] // 1024} KB VP9 clip when it got SIGKILL; "
                  f"another replica finished the job {jobs['finished_seconds_after_kill']} s later (lease {jobs['lease_seconds']} s)",
                  ""]

    kd = load(out, "kill-drain")
    if kd:
        k6 = kd["k6"]
        lines += ["## Kill and drain under the k6 smoke peak profile", "",
                  f"- load balancer requests: {kd['lb_requests']} (per replica port: {kd['lb_requests_per_replica_port']}); "
                  f"k6: {k6['http_reqs']} requests, {k6['http_req_failed']} failed",
                  f"- SIGKILL: {kd['in_flight_at_kill']} requests in flight (sockets closed {kd['kill_to_sockets_closed_ms']} ms after the signal), "
                  f"{kd['failed_from_killed']} failed; replacement ready in {kd['replacement_ready_seconds']} s",
                  f"- SIGTERM: {kd['in_flight_at_sigterm']} in flight, {kd['requests_around_drain']} requests around the drain, "
                  f"{kd['failed_from_drained']} failed; drained and exited in {kd['drain_seconds']} s",
                  f"- acknowledged {kd['acknowledged']} = database {kd['database_delta']}; recorder verified {kd['verified_acknowledged']}",
                  ""]
    pgr = load(out, "postgres")
    if pgr:
        pg = pgr["postgres"]
        lines += ["## PostgreSQL stopped under load", "",
                  f"- down {pg['down_seconds']} s (of which {pg['stopping_seconds']} s shutting down): API probes {json.dumps(pg['probes_while_down'])}",
                  f"- all API requests through the load balancer meanwhile: {json.dumps(pg['lb_requests_while_down'])}",
                  f"- once known down (fail fast): {json.dumps(pg.get('probes_once_known_down'))}",
                  f"- /readyz 503 on every replica {pg['readyz_503_seconds_after_stop_began']} s after the stop began",
                  f"- recovered {pg['recovery_seconds']} s after PostgreSQL accepted connections again, no restarts",
                  f"- acknowledged {pgr['acknowledged']} = database {pgr['database_delta']}; k6 {pgr['k6']['http_req_failed']} failed of {pgr['k6']['http_reqs']}",
                  ""]
    s3r = load(out, "s3")
    if s3r:
        s3 = s3r["s3"]
        lines += ["## S3 stopped under load", "",
                  f"- down {s3['down_seconds']} s: photo endpoints {json.dumps(s3['photo_probes_while_down'])}",
                  f"- other endpoints meanwhile {json.dumps(s3['other_probes_while_down'])}",
                  f"- first 3 s (before the store probe notices): {json.dumps(s3['photo_probes_first_3s'])}",
                  f"- /readyz meanwhile (stays 200, store reported unavailable): {json.dumps(s3['readyz_while_down'])}",
                  f"- recovered {s3['recovery_seconds']} s after S3 was back",
                  f"- acknowledged {s3r['acknowledged']} = database {s3r['database_delta']}; k6 {s3r['k6']['http_req_failed']} failed of {s3r['k6']['http_reqs']}",
                  ""]
    ov = load(out, "overload")
    if ov:
        f = ov["flood"]
        lines += ["## Registration flood", "",
                  f"- {f['vus']} VUs for {f['seconds']} s: {f['created_201']} created (ms {f['created_ms']}), "
                  f"{f['shed_503_with_retry_after']} × 503 + Retry-After (ms {f['shed_ms']}), "
                  f"{f['503_without_retry_after']} bare 503, {f['other_status']} other, {f['timeouts_or_errors']} timeouts",
                  f"- hashing queue (sum over replicas) max {f['hash_queue_max_sum_over_replicas']}",
                  f"- probes ms: {json.dumps(f['probes_ms'])}",
                  ""]
    sec = load(out, "security")
    if sec:
        lines += ["## Security", ""]
        for c in sec["checks"]:
            lines.append(f"- {'PASS' if c['ok'] else 'FAIL'} {c['check']}")
        m = sec.get("matrix")
        if m:
            lines.append(f"- matrix: {m['operations']} operations, {m['rows']} rows, {m['requests']} requests")
        rl = sec.get("rate-limit")
        if rl:
            lines.append(f"- rate limit {rl['per_minute']}/min burst {rl['burst']} per replica × {rl['replicas']}: "
                         f"logins {rl.get('login_statuses')}; rollouts {rl['rollout_on']} / {rl.get('rollout_off')}")
        lines.append("")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
