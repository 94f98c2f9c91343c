"""`scripts/local-cluster autoscale-demo`: the k6 peak profile (full stage lengths, arrival rates
scaled by an execution segment) against pods scaled by the server HPA's rules, then every panel of
deploy/monitoring/partypic-dashboard.json drawn from Prometheus with its own queries and titles,
and a report (OUT/report.md, OUT/report.json, OUT/panels/*.png).
"""

from __future__ import annotations

import json
import re
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy/monitoring/partypic-dashboard.json"
BASELINE_SECONDS = 30
K6_BOUND_SECONDS = 15 * 60  # the profile is 10 min + 30 s graceful ramp-down + setup
SCALE_DOWN_WAIT_SECONDS = 7 * 60


def panels() -> list[dict]:
    def walk(ps):
        for p in ps:
            yield p
            yield from walk(p.get("panels", []))

    return [p for p in walk(json.loads(DASHBOARD.read_text())["panels"]) if p.get("targets")]


def grafana_expr(expr: str, start: float, end: float) -> str:
    # Grafana's variables: $__rate_interval is max(4 × scrape interval, step + scrape) → 1m here.
    return (
        expr.replace("$namespace", "partypic")
        .replace("$__rate_interval", "1m")
        .replace("$__range", f"{int(end - start)}s")
    )


def legend(fmt: str, metric: dict) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt or "") or str(metric)


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def render(prom_query, prom: str, start: float, end: float, out: Path) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    step = 15
    drawn = []
    for p in panels():
        fig, ax = plt.subplots(figsize=(9, 3.4), dpi=80)
        series_count, last_values = 0, []
        for t in p["targets"]:
            expr = grafana_expr(t["expr"], start, end)
            try:
                result = prom_query(prom, expr, start, end, step)
            except OSError as e:
                result = []
                print(f"panel {p['title']}: query failed: {e}")
            for r in sorted(result, key=lambda r: legend(t.get("legendFormat", ""), r["metric"]))[:30]:
                xs = [(float(ts) - start) / 60 for ts, _ in r["values"]]
                ys = [float(v) for _, v in r["values"]]
                name = legend(t.get("legendFormat", ""), r["metric"])
                ax.plot(xs, ys, label=name, linewidth=1.2, drawstyle="steps-post" if "Pods" in p["title"] else "default")
                series_count += 1
                last_values.append((name, ys[-1] if ys else None, max(ys) if ys else None))
        title = p["title"] if p["type"] != "stat" else f"{p['title']} (stat panel, over time)"
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(f"minutes (the load starts at {BASELINE_SECONDS / 60:g})", fontsize=9)
        ax.grid(alpha=0.3)
        if series_count:
            ax.legend(fontsize=6 if series_count > 10 else 7, loc="upper left", bbox_to_anchor=(1.01, 1),
                      ncol=2 if series_count > 14 else 1, borderaxespad=0)
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center")
        fig.tight_layout()
        path = out / f"{slug(p['title'])}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        drawn.append({"title": p["title"], "file": path.name, "series": series_count, "values": last_values})
    return drawn


def demo(out: Path, segment: str, Run, scale_up_latencies, nginx_failures, prom_query) -> int:
    share = Fraction(segment.split(":")[1]) - Fraction(segment.split(":")[0])
    with Run(out, 1.0, "4") as run:
        time.sleep(BASELINE_SECONDS)
        t0 = time.time()
        rc, summary = run.k6(segment, K6_BOUND_SECONDS)
        t1 = time.time()
        env = run.cenv
        from autoscale import find, rendered_objects
        from autoscale_hpa import spec_from_manifest

        spec = spec_from_manifest(find(rendered_objects(env["RENDERED_MANIFESTS"]), "HorizontalPodAutoscaler", "partypic-server"))
        back = run.wait_for_replicas(spec.min_replicas, SCALE_DOWN_WAIT_SECONDS)
        end = time.time()
        time.sleep(6)  # one more scrape
        drawn = render(prom_query, run.prom, t0 - BASELINE_SECONDS, end, out / "panels")
        decisions = run.decisions()
        failures = nginx_failures(Path(run.cluster_dir) / "nginx/access.log", t0, end)
        cpu_target = next(m.average_utilization for m in spec.metrics if m.resource == "cpu")
        request = float(env["POD_CPU_REQUEST"])
        busy = [d for d in decisions if t0 <= d["t"] <= t1]
        per_pod = [c for d in busy for c in d["cpu"] if c is not None]
        metrics = summary.get("metrics", {})

        def metric(name, key="count"):
            return metrics.get(name, {}).get("values", {}).get(key)

        peak = max(d["current"] for d in decisions)
        report = {
            "k6_exit": rc,
            "k6_segment": segment,
            "arrival_share": str(share),
            "load_seconds": round(t1 - t0),
            "cpu_scale": env["POD_SCALE"],
            "pod_cpu_request": request,
            "pod_cpu_limit": float(env["POD_CPU_LIMIT"]),
            "cpu_target_percent": cpu_target,
            "peak_replicas": peak,
            # Pods here have 1/scale of the request and carry share of the load: at full load and
            # full-size pods that is peak ÷ share ÷ scale pods (when the CPU per request is the same).
            "peak_replicas_at_full_scale": round(peak / float(share) / float(env["POD_SCALE"]), 1),
            "back_to_min_after_load_s": None if back is None else round(back - t1),
            "scale_ups": scale_up_latencies(decisions),
            "scale_downs": [
                {"at_min": round((d["t"] - t0) / 60, 2), "from": d["current"], "to": d["desired"]}
                for d in decisions if d["desired"] < d["current"]
            ],
            "replicas_timeline": [(round((d["t"] - t0) / 60, 2), d["current"], d["desired"]) for d in decisions],
            "cpu_per_pod_during_load": {
                "mean_cores": round(sum(per_pod) / len(per_pod), 4) if per_pod else None,
                "max_cores": round(max(per_pod), 4) if per_pod else None,
                "target_cores": round(request * cpu_target / 100, 4),
            },
            "lb_requests": failures,
            "k6": {
                "http_reqs": metric("http_reqs"),
                "http_req_failed_rate": metric("http_req_failed", "rate"),
                "registrations_success": metric("registrations_success"),
                "photos_uploaded": metric("photos_uploaded"),
                "p95_ms": metric("http_req_duration", "p(95)"),
            },
            "panels": drawn,
        }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"# Autoscaling run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0))})",
        "",
        f"- load: k6 peak profile, full stages, execution segment {segment} (arrival rates × {share}); {report['load_seconds']} s",
        f"- pods: CPU request {request} / limit {report['pod_cpu_limit']} cores (Deployment ÷ {env['POD_SCALE']}), target {cpu_target} %",
        f"- peak replicas {peak} (≈ {report['peak_replicas_at_full_scale']} full-size pods at the full profile); back to {spec.min_replicas} {report['back_to_min_after_load_s']} s after the load",
        f"- scale-ups (decision → every new pod ready): {[(s['from'], s['to'], s['ready_after_s']) for s in report['scale_ups']]}",
        f"- scale-downs: {[(s['at_min'], s['from'], s['to']) for s in report['scale_downs']]}",
        f"- CPU per pod during the load: {report['cpu_per_pod_during_load']}",
        f"- requests through nginx (API): {failures}",
        f"- k6: {report['k6']}",
    ]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0
