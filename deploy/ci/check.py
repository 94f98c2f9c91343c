#!/usr/bin/env python3
"""Checks behind deploy/ci/validate.sh (run with the tools venv: PyYAML + jsonschema).

  check.py manifests RENDERED.yaml... --examples DIR --dashboard JSON
  check.py rules-file PROMETHEUSRULE.yaml OUT.yml [--interval 1s]
  check.py dashboard JSON
  check.py dockerfiles REPO_ROOT
  check.py nginx BASE_URL DOCROOT
  check.py load BASE_URL
  check.py metrics METRICS_URL [PUBLIC_URL]
  check.py promql PROMETHEUS_URL DASHBOARD.json PROMETHEUSRULE.yaml

Each prints what it checked and exits 1 on the first list of failures.
"""

import copy
import gzip
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
NAMESPACE = "partypic"
SECRET_KEYS = ["db-host", "db-user", "db-password", "db-name", "s3-endpoint", "s3-access-key",
               "s3-secret-key", "s3-bucket-name", "s3-region", "jwt-secret"]
OPTIONAL_SECRET_KEYS = ["s3-session-token"]
# The public API (scripts/check-routes keeps this in step with the OpenAPI document).
API_PREFIXES = ["/auth", "/sessions", "/pictures", "/uploads", "/openapi.json", "/healthz", "/readyz"]
DASHBOARD_TITLES = [
    "Server Pods (HPA)", "Client Pods (HPA)", "Pod Scaling Timeline", "Active Sessions",
    "Photos Uploaded", "Request Rate by Route", "p95 Latency by Route", "Error Rate",
    "Users Online", "CPU per Pod vs Request", "Memory per Pod vs Request", "Password Hash Queue",
]
DB_GAUGES = ["partypic_active_sessions", "partypic_users_online", "partypic_photos_total"]
# Grafana's variables, as the validation substitutes them before asking Prometheus.
GRAFANA_VARS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m", "namespace": NAMESPACE}
# Series that only exist in a cluster (kube-state-metrics, cAdvisor, node-exporter): parse only.
CLUSTER_ONLY = re.compile(r"\b(kube_|container_|node_|kubelet_)[a-zA-Z0-9_:]*")


class Failures(list):
    def check(self, ok, msg):
        if not ok:
            self.append(msg)
        return ok

    def exit(self, what):
        if self:
            print(f"FAIL {what}:")
            for f in self:
                print(f"  - {f}")
            sys.exit(1)
        print(f"ok   {what}")


# ---------------------------------------------------------------------------------------------
# manifests


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def crd_validators():
    with open(os.path.join(HERE, "crd-schemas.yaml")) as f:
        schemas = yaml.safe_load(f)
    out = {}
    for kind in ("ServiceMonitor", "PrometheusRule"):
        schema = dict(schemas[kind])
        schema["definitions"] = schemas["definitions"]
        jsonschema.Draft7Validator.check_schema(schema)
        out[kind] = jsonschema.Draft7Validator(schema)
    return out


def selects(selector, labels):
    sel = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    return bool(sel) and all(labels.get(k) == v for k, v in sel.items())


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def check_manifest_set(path, docs, examples_dir, dashboard_path, fails):
    name = os.path.basename(path)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    get = lambda kind, n: by_kind.get(kind, {}).get(n)  # noqa: E731

    # CRD-backed objects against their schemas
    validators = crd_validators()
    for kind, validator in validators.items():
        for obj in by_kind.get(kind, {}).values():
            for err in validator.iter_errors(obj):
                loc = "/".join(str(p) for p in err.absolute_path)
                fails.append(f"{name}: {kind}/{obj['metadata']['name']} {loc}: {err.message}")
    for kind in ("ServiceMonitor", "PrometheusRule"):
        fails.check(by_kind.get(kind), f"{name}: no {kind}")

    # every namespaced object lives in the partypic namespace
    for d in docs:
        if d["kind"] not in ("Namespace",):
            fails.check(d["metadata"].get("namespace") == NAMESPACE,
                        f"{name}: {d['kind']}/{d['metadata']['name']} not in namespace {NAMESPACE}")
    fails.check(get("Namespace", NAMESPACE), f"{name}: no Namespace {NAMESPACE}")

    workloads = {**{("Deployment", k): v for k, v in by_kind.get("Deployment", {}).items()},
                 **{("StatefulSet", k): v for k, v in by_kind.get("StatefulSet", {}).items()}}
    secrets = by_kind.get("Secret", {})
    configmaps = by_kind.get("ConfigMap", {})
    example_keys = {}
    for fn in sorted(os.listdir(examples_dir)):
        if fn.startswith("secret-"):
            for d in load_docs(os.path.join(examples_dir, fn)):
                example_keys[fn] = set(d.get("stringData", {})) | set(d.get("data", {}))

    pods = []  # (owner, pod template labels, pod spec)
    for (kind, wname), w in workloads.items():
        tmpl_labels = w["spec"]["template"]["metadata"].get("labels", {})
        fails.check(selects(w["spec"]["selector"], tmpl_labels),
                    f"{name}: {kind}/{wname} selector does not match its pod labels")
        pods.append((f"{kind}/{wname}", tmpl_labels, pod_spec(w)))
    for jname, j in by_kind.get("Job", {}).items():
        pods.append((f"Job/{jname}", j["spec"]["template"]["metadata"].get("labels", {}), pod_spec(j)))

    for owner, _, spec in pods:
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            res = c.get("resources", {})
            fails.check(res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory"),
                        f"{name}: {owner}/{c['name']} lacks cpu/memory requests")
            fails.check(res.get("limits", {}).get("memory"), f"{name}: {owner}/{c['name']} lacks a memory limit")
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if not ref:
                    continue
                if ref["name"] in secrets:
                    s = secrets[ref["name"]]
                    keys = set(s.get("data", {})) | set(s.get("stringData", {}))
                    fails.check(ref.get("optional") or ref["key"] in keys,
                                f"{name}: {owner} needs key {ref['key']} of Secret {ref['name']}, absent")
                elif ref["name"] == "partypic-secrets":
                    for fn, keys in example_keys.items():
                        fails.check(ref.get("optional") or ref["key"] in keys,
                                    f"{name}: {owner} needs key {ref['key']}, absent from examples/{fn}")
                else:
                    fails.append(f"{name}: {owner} refers to unknown Secret {ref['name']}")
            for ef in c.get("envFrom", []):
                if "configMapRef" in ef:
                    fails.check(ef["configMapRef"]["name"] in configmaps,
                                f"{name}: {owner} refers to missing ConfigMap {ef['configMapRef']['name']}")
        for v in spec.get("volumes", []):
            if "configMap" in v:
                fails.check(v["configMap"]["name"] in configmaps,
                            f"{name}: {owner} mounts missing ConfigMap {v['configMap']['name']}")

    # the secret keys the issue names are in every example and in a generated Secret
    for fn, keys in example_keys.items():
        for k in SECRET_KEYS:
            fails.check(k in keys, f"examples/{fn} lacks key {k}")
    if "partypic-secrets" in secrets:
        s = secrets["partypic-secrets"]
        keys = set(s.get("data", {})) | set(s.get("stringData", {}))
        for k in SECRET_KEYS:
            fails.check(k in keys, f"{name}: Secret partypic-secrets lacks key {k}")

    # Services select pods and name their ports
    for sname, svc in by_kind.get("Service", {}).items():
        matched = [(o, labels, spec) for o, labels, spec in pods
                   if selects(svc["spec"]["selector"], labels) and not o.startswith("Job/")]
        if not fails.check(matched, f"{name}: Service {sname} selects no pods"):
            continue
        ports = {p.get("name") for _, _, spec in matched for c in spec["containers"] for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            tp = p.get("targetPort", p["port"])
            fails.check(isinstance(tp, int) or tp in ports, f"{name}: Service {sname} targetPort {tp} not a container port")

    # the server
    srv = get("Deployment", "partypic-server")
    if fails.check(srv, f"{name}: no Deployment partypic-server"):
        fails.check("replicas" not in srv["spec"], f"{name}: partypic-server sets replicas (the HPA owns them)")
        spec = pod_spec(srv)
        c = spec["containers"][0]
        probe = lambda p: c.get(p, {}).get("httpGet", {}).get("path")  # noqa: E731
        fails.check(probe("livenessProbe") == "/healthz", f"{name}: server liveness probe is not /healthz")
        fails.check(probe("readinessProbe") == "/readyz", f"{name}: server readiness probe is not /readyz")
        fails.check(probe("startupProbe") in ("/healthz", "/readyz"), f"{name}: server has no startup probe")
        fails.check(c["resources"]["requests"] == {"cpu": "250m", "memory": "128Mi"},
                    f"{name}: server requests are not 250m CPU / 128Mi")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        drain = int(env.get("SHUTDOWN_TIMEOUT_SECS") or 25)
        sleep = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        fails.check(spec.get("terminationGracePeriodSeconds", 30) > drain + sleep,
                    f"{name}: terminationGracePeriodSeconds must exceed preStop ({sleep}s) + drain ({drain}s)")
        fails.check(sleep > 0, f"{name}: server has no preStop delay")
        fails.check(any(p["name"] == "http" and p["containerPort"] == 3000 for p in c["ports"]),
                    f"{name}: server port http/3000 missing")
        # Metrics have their own listener; the container port must be the one METRICS_PORT sets.
        fails.check(any(p["name"] == "metrics" and p["containerPort"] == int(env.get("METRICS_PORT") or 9464)
                        for p in c["ports"]),
                    f"{name}: server port metrics/METRICS_PORT missing")
        fails.check(env.get("METRICS_PORT", "9464") not in ("0", env.get("PORT")),
                    f"{name}: METRICS_PORT must be on and differ from PORT")
        fails.check(spec.get("topologySpreadConstraints"), f"{name}: server pods are not spread across nodes")
        sc = c.get("securityContext", {})
        fails.check(spec["securityContext"].get("runAsNonRoot") and sc.get("allowPrivilegeEscalation") is False,
                    f"{name}: server may run as root or escalate")
        job = get("Job", "partypic-migrate")
        if fails.check(job, f"{name}: no migration Job"):
            jc = pod_spec(job)["containers"][0]
            fails.check(jc["image"] == c["image"], f"{name}: migration Job image differs from the server's")
            fails.check((jc.get("command", []) + jc.get("args", []))[-1:] == ["migrate"],
                        f"{name}: migration Job does not run `partypic migrate`")
    svc = get("Service", "partypic-server")
    fails.check(svc and any(p["name"] == "http" and p["port"] == 3000 for p in svc["spec"]["ports"]),
                f"{name}: Service partypic-server lacks port http 3000")
    fails.check(svc and any(p["name"] == "metrics" and p.get("targetPort") == "metrics" for p in svc["spec"]["ports"]),
                f"{name}: Service partypic-server lacks port metrics (→ the container's metrics port)")

    # autoscaling as the issue sets it
    def hpa_targets(h):
        return {m["resource"]["name"]: m["resource"]["target"].get("averageUtilization")
                for m in h["spec"].get("metrics", []) if m["type"] == "Resource"}
    h = get("HorizontalPodAutoscaler", "partypic-server")
    if fails.check(h, f"{name}: no server HPA"):
        s = h["spec"]
        fails.check((s["minReplicas"], s["maxReplicas"]) == (2, 25), f"{name}: server HPA is not 2..25")
        fails.check(hpa_targets(h) == {"cpu": 70, "memory": 80}, f"{name}: server HPA targets are not CPU 70 / memory 80")
        up, down = s["behavior"]["scaleUp"], s["behavior"]["scaleDown"]
        pol = {(p["type"], p["value"], p["periodSeconds"]) for p in up["policies"]}
        fails.check(pol == {("Percent", 100, 15), ("Pods", 4, 15)} and up.get("selectPolicy") == "Max",
                    f"{name}: server HPA scale-up is not 100 % or 4 pods per 15 s (Max)")
        fails.check(down.get("stabilizationWindowSeconds") == 120 and
                    [(p["type"], p["value"], p["periodSeconds"]) for p in down["policies"]] == [("Percent", 25, 60)],
                    f"{name}: server HPA scale-down is not 120 s stabilization, 25 % per 60 s")
        fails.check(s["scaleTargetRef"]["name"] == "partypic-server", f"{name}: server HPA targets something else")
    h = get("HorizontalPodAutoscaler", "partypic-client")
    if fails.check(h, f"{name}: no client HPA"):
        s = h["spec"]
        fails.check((s["minReplicas"], s["maxReplicas"]) == (1, 3), f"{name}: client HPA is not 1..3")
        fails.check(hpa_targets(h) == {"cpu": 70, "memory": 80}, f"{name}: client HPA targets are not CPU 70 / memory 80")
        fails.check(get("Deployment", s["scaleTargetRef"]["name"]), f"{name}: client HPA target missing")
        fails.check("replicas" not in (get("Deployment", "partypic-client") or {}).get("spec", {}),
                    f"{name}: partypic-client sets replicas (the HPA owns them)")

    # the disruption budget: one server pod may go at 2 pods, never zero
    pdbs = [p for p in by_kind.get("PodDisruptionBudget", {}).values()
            if srv and selects(p["spec"]["selector"], srv["spec"]["template"]["metadata"]["labels"])]
    if fails.check(len(pdbs) == 1, f"{name}: expected one PodDisruptionBudget for the server"):
        s = pdbs[0]["spec"]
        allowed_at_2 = (2 - s["minAvailable"]) if "minAvailable" in s and isinstance(s["minAvailable"], int) \
            else s.get("maxUnavailable")
        fails.check(allowed_at_2 == 1, f"{name}: the server PDB must allow exactly 1 eviction at 2 pods")

    # ingress: API prefixes to the server, / to the client, /metrics nowhere
    routes = {}
    for ing in by_kind.get("Ingress", {}).values():
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                b = p["backend"]["service"]
                target = get("Service", b["name"])
                if fails.check(target, f"{name}: Ingress {ing['metadata']['name']} → missing Service {b['name']}"):
                    pn = b["port"].get("name")
                    fails.check(pn is None or pn in {x.get("name") for x in target["spec"]["ports"]},
                                f"{name}: Ingress → Service {b['name']} has no port {pn}")
                    metrics_ports = {x.get("port") for x in target["spec"]["ports"] if x.get("name") == "metrics"}
                    fails.check(pn != "metrics" and b["port"].get("number") not in metrics_ports,
                                f"{name}: Ingress {ing['metadata']['name']} routes to the metrics port")
                routes[(rule.get("host"), p["path"])] = b["name"]
    app_hosts = {h for (h, path), svc in routes.items() if svc.startswith("partypic-")}
    for host in app_hosts:
        for prefix in API_PREFIXES:
            fails.check(routes.get((host, prefix)) == "partypic-server", f"{name}: {host}{prefix} does not go to the server")
        fails.check(routes.get((host, "/")) == "partypic-client", f"{name}: {host}/ does not go to the client")
        fails.check((host, "/metrics") not in routes, f"{name}: /metrics is public")

    # the ServiceMonitor scrapes the server Service every 15 s
    for sm in by_kind.get("ServiceMonitor", {}).values():
        s = sm["spec"]
        targets = [svc for svc in by_kind.get("Service", {}).values()
                   if selects(s["selector"], svc["metadata"].get("labels", {}))
                   and svc["metadata"]["namespace"] in s.get("namespaceSelector", {}).get("matchNames", [NAMESPACE])]
        if fails.check([t["metadata"]["name"] for t in targets] == ["partypic-server"],
                       f"{name}: ServiceMonitor selects {[t['metadata']['name'] for t in targets]}, not partypic-server"):
            for ep in s["endpoints"]:
                fails.check(ep.get("port") in {p["name"] for p in targets[0]["spec"]["ports"]},
                            f"{name}: ServiceMonitor port {ep.get('port')} not on the Service")
                fails.check(ep.get("port") == "metrics",
                            f"{name}: ServiceMonitor scrapes port {ep.get('port')}, not metrics")
                fails.check(ep.get("interval") == "15s", f"{name}: scrape interval is not 15s")
                fails.check(ep.get("path", "/metrics") == "/metrics", f"{name}: scrape path is not /metrics")

    # the dashboard ConfigMap carries the file as is
    dash = [cm for cm in configmaps.values() if cm["metadata"].get("labels", {}).get("grafana_dashboard")]
    if fails.check(len(dash) == 1, f"{name}: expected one ConfigMap labelled grafana_dashboard"):
        with open(dashboard_path) as f:
            want = json.load(f)
        got = [json.loads(v) for v in dash[0]["data"].values()]
        fails.check(got == [want], f"{name}: dashboard ConfigMap differs from {dashboard_path}")

    return sorted((d["kind"], d["metadata"]["name"]) for d in docs)


def cmd_manifests(args):
    examples = args[args.index("--examples") + 1]
    dashboard = args[args.index("--dashboard") + 1]
    files = [a for a in args if a.endswith(".yaml") and a not in (examples, dashboard)]
    fails = Failures()
    for path in files:
        objs = check_manifest_set(path, load_docs(path), examples, dashboard, fails)
        print(f"     {os.path.basename(path)}: {len(objs)} objects")
    fails.exit("manifests: CRD schemas (ServiceMonitor, PrometheusRule) and cross-references")


# ---------------------------------------------------------------------------------------------
# rules


def rule_groups(path):
    for d in load_docs(path):
        if d["kind"] == "PrometheusRule":
            yield from d["spec"]["groups"]


def cmd_rules_file(args):
    src, out = args[0], args[1]
    groups = copy.deepcopy(list(rule_groups(src)))
    if "--interval" in args:
        for g in groups:
            g["interval"] = args[args.index("--interval") + 1]
    with open(out, "w") as f:
        yaml.safe_dump({"groups": groups}, f, sort_keys=False)
    print(f"     {out}: {sum(len(g['rules']) for g in groups)} rules from {src}")


# ---------------------------------------------------------------------------------------------
# dashboard


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def cmd_dashboard(args):
    fails = Failures()
    with open(args[0]) as f:
        dash = json.load(f)
    panels = list(all_panels(dash.get("panels", [])))
    titles = [p.get("title") for p in panels]
    for t in DASHBOARD_TITLES:
        fails.check(t in titles, f"missing panel {t!r}")
    ids = [p.get("id") for p in panels]
    fails.check(all(isinstance(i, int) for i in ids), "a panel has no integer id")
    fails.check(len(ids) == len(set(ids)), f"panel ids are not unique: {ids}")
    fails.check(dash.get("uid") and dash.get("title"), "dashboard needs a uid and a title")

    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = [v for v in variables.values() if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    if fails.check(len(ds) == 1, "no Prometheus datasource variable"):
        ds_ref = {"${%s}" % ds[0]["name"], "$" + ds[0]["name"]}
        for p in panels:
            if p.get("type") == "row":
                continue
            fails.check(p.get("datasource", {}).get("uid") in ds_ref, f"panel {p.get('title')!r} ignores the datasource variable")
            for t in p.get("targets", []):
                fails.check(t.get("datasource", {}).get("uid", list(ds_ref)[0]) in ds_ref,
                            f"panel {p.get('title')!r} target {t.get('refId')} ignores the datasource variable")

    # layout: no two panels overlap on the 24-column grid
    cells = {}
    for p in panels:
        g = p.get("gridPos")
        if not fails.check(g and g["x"] + g["w"] <= 24, f"panel {p.get('title')!r} has no valid gridPos"):
            continue
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                other = cells.setdefault((x, y), p["id"])
                fails.check(other == p["id"], f"panels {other} and {p['id']} overlap")

    for p in panels:
        refs = [t.get("refId") for t in p.get("targets", [])]
        fails.check(len(refs) == len(set(refs)), f"panel {p.get('title')!r} repeats a refId")
        if p.get("type") != "row":
            fails.check(p.get("targets"), f"panel {p.get('title')!r} has no query")
        for t in p.get("targets", []):
            e = t.get("expr", "")
            fails.check(e.strip(), f"panel {p.get('title')!r} target {t.get('refId')} has no expr")
            # correct across replicas: database gauges max(), counters sum(rate|increase)
            for g in DB_GAUGES:
                if g in e:
                    fails.check(re.search(r"\bmax\s*(by\s*\([^)]*\)\s*)?\(\s*" + g, e),
                                f"{p['title']!r}: {g} must be aggregated with max() (same value on every replica)")
            for m in re.finditer(r"(partypic_[a-z_]+_total)\b", e):
                if m.group(1) in DB_GAUGES:
                    continue
                fails.check(re.search(r"\b(rate|increase)\(\s*" + m.group(1), e) and re.search(r"\bsum\b", e),
                            f"{p['title']!r}: counter {m.group(1)} must be used as sum(rate()) / sum(increase())")
            if "_bucket" in e:
                fails.check("histogram_quantile" in e and re.search(r"by\s*\([^)]*\ble\b", e),
                            f"{p['title']!r}: histogram buckets need histogram_quantile over sum by (le)")
    by_title = {p.get("title"): " ".join(t.get("expr", "") for t in p.get("targets", [])) for p in panels}
    tl = by_title.get("Pod Scaling Timeline", "")
    for needle in ("kube_horizontalpodautoscaler_status_current_replicas", "kube_horizontalpodautoscaler_status_desired_replicas",
                   '"partypic-server"', '"partypic-client"', "kube_node_info"):
        fails.check(needle in tl, f"Pod Scaling Timeline lacks {needle}")
    for t, hpa in (("Server Pods (HPA)", "partypic-server"), ("Client Pods (HPA)", "partypic-client")):
        fails.check("kube_horizontalpodautoscaler_" in by_title.get(t, "") and hpa in by_title.get(t, ""),
                    f"{t} does not read the {hpa} HPA")
    print(f"     {len(panels)} panels, {sum(len(p.get('targets', [])) for p in panels)} queries")
    fails.exit("dashboard: panels, ids, datasource variable, layout, aggregation")


# ---------------------------------------------------------------------------------------------
# Dockerfiles (no engine here: check what can be checked without one)


def cmd_dockerfiles(args):
    root = args[0]
    fails = Failures()
    for fn in ("server.Dockerfile", "client.Dockerfile"):
        path = os.path.join(root, "deploy", "docker", fn)
        with open(path) as f:
            text = f.read()
        stages = re.split(r"(?m)^FROM\s", text)[1:]
        fails.check(stages, f"{fn}: no FROM")
        final = stages[-1] if stages else ""
        user = re.findall(r"(?m)^USER\s+(\S+)", final)
        fails.check(user and user[-1].split(":")[0] not in ("0", "root"), f"{fn}: final stage does not run as non-root")
        for m in re.finditer(r"(?m)^COPY\s+(?!--from)(?:--\S+\s+)*(.+)$", text):
            for src in m.group(1).split()[:-1]:
                fails.check(os.path.exists(os.path.join(root, src)), f"{fn}: COPY source {src} missing")
        if fn.startswith("server"):
            fails.check("cargo build --release --locked" in text, f"{fn}: not `cargo build --release --locked`")
            fails.check(len(stages) >= 2, f"{fn}: not multi-stage")
            fails.check(re.search(r"EXPOSE\s+3000", final), f"{fn}: does not expose 3000")
        else:
            fails.check("deploy/docker/nginx.conf" in text, f"{fn}: does not use deploy/docker/nginx.conf")
    fails.exit("Dockerfiles: multi-stage, --locked, non-root, COPY sources exist")


# ---------------------------------------------------------------------------------------------
# HTTP helpers


def http(method, url, body=None, headers=None, timeout=10):
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ---------------------------------------------------------------------------------------------
# nginx serving web/


def cmd_nginx(args):
    base, docroot = args[0].rstrip("/"), args[1]
    fails = Failures()
    with open(os.path.join(docroot, "index.html"), "rb") as f:
        index = f.read()
    security = {
        "X-Content-Type-Options": lambda v: v == "nosniff",
        "X-Frame-Options": lambda v: v in ("DENY", "SAMEORIGIN"),
        "Referrer-Policy": lambda v: bool(v),
        "Permissions-Policy": lambda v: "camera=(self)" in v,
        "Content-Security-Policy": lambda v: "frame-ancestors" in v and "default-src 'self'" in v,
    }

    def get(path, **hdr):
        return http("GET", base + path, headers=hdr)

    def sec_headers(path, h):
        for k, ok in security.items():
            fails.check(h.get(k) is not None and ok(h.get(k)), f"{path}: header {k}={h.get(k)!r}")

    def cache(path, h, want):
        cc = h.get("Cache-Control") or ""
        fails.check(want(cc), f"{path}: Cache-Control {cc!r}")

    no_cache = lambda cc: "no-cache" in cc or "no-store" in cc  # noqa: E731
    long_cache = lambda cc: "immutable" in cc and "max-age=31536000" in cc  # noqa: E731
    cached = lambda cc: re.search(r"max-age=(\d+)", cc) and int(re.search(r"max-age=(\d+)", cc).group(1)) >= 86400  # noqa: E731

    # the app's HTML: at /, and for every client route (SPA fallback)
    sid = str(uuid.uuid4())
    for path in ("/", "/index.html", f"/s/{sid}", "/host", f"/slideshow/{sid}"):
        st, h, body = get(path)
        fails.check(st == 200, f"{path}: status {st}")
        fails.check(body == index, f"{path}: is not web/index.html")
        fails.check((h.get("Content-Type") or "").startswith("text/html"), f"{path}: Content-Type {h.get('Content-Type')}")
        cache(path, h, no_cache)
        sec_headers(path, h)
    st, h, _ = get("/")
    fails.check(h.get("ETag") or h.get("Last-Modified"), "/: no validator (ETag/Last-Modified) for revalidation")
    if h.get("ETag"):
        st2, _, _ = get("/index.html", **{"If-None-Match": h["ETag"]})
        fails.check(st2 == 304, f"/index.html with If-None-Match: {st2}, want 304")
    fails.check((h.get("Server") or "") == "nginx", f"Server header reveals a version: {h.get('Server')!r}")

    # service worker and manifest: always revalidated
    for path, ctype in (("/sw.js", "javascript"), ("/manifest.webmanifest", "application/manifest+json")):
        st, h, _ = get(path)
        fails.check(st == 200, f"{path}: status {st}")
        fails.check(ctype in (h.get("Content-Type") or ""), f"{path}: Content-Type {h.get('Content-Type')}")
        cache(path, h, no_cache)

    # assets: long caching; content-hashed ones for good
    for path, want in (("/assets/ci-fixture.0123abcd.js", long_cache), ("/ci-fixture.css", cached),
                       ("/ci-fixture.js", cached)):
        st, h, _ = get(path)
        fails.check(st == 200, f"{path}: status {st}")
        cache(path, h, want)
        sec_headers(path, h)

    # gzip, with Vary, and the same bytes after decompression
    for path in ("/ci-fixture.css", "/ci-fixture.js", "/"):
        st, h, body = get(path, **{"Accept-Encoding": "gzip"})
        if fails.check(h.get("Content-Encoding") == "gzip", f"{path}: not gzip-encoded"):
            plain = get(path)[2]
            fails.check(gzip.decompress(body) == plain, f"{path}: gzip body differs")
            fails.check("Accept-Encoding" in (h.get("Vary") or ""), f"{path}: no Vary: Accept-Encoding")

    # a missing file is a 404 (not the app), still with the security headers
    for path in ("/missing-ci.js", "/assets/missing.0123abcd.css"):
        st, h, body = get(path)
        fails.check(st == 404, f"{path}: status {st}, want 404")
        fails.check(body != index, f"{path}: answered with the app's HTML")
        sec_headers(path, h)
    st, _, _ = get("/healthz")
    fails.check(st == 200, f"/healthz: {st}")
    fails.exit("nginx.conf served by nginx: SPA fallback, caching, gzip, security headers, 404s")


# ---------------------------------------------------------------------------------------------
# PartyPic: a little load, and its /metrics


def tiny_png():
    def chunk(kind, data):
        c = kind + data
        return len(data).to_bytes(4, "big") + c + zlib.crc32(c).to_bytes(4, "big")
    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")


def cmd_load(args):
    base = args[0].rstrip("/")
    rounds = int(args[1]) if len(args) > 1 else 1
    notes = []

    def expect(what, st, want):
        if st != want:
            notes.append(f"{what}: {st}, want {want}")
        return st == want

    for _ in range(rounds):
        tag = uuid.uuid4().hex[:10]
        email = f"ci-{tag}@example.com"
        st, _, b = http("POST", base + "/auth/register", {"username": f"host-{tag}", "email": email, "password": "ci-password-123"})
        expect("register", st, 201)
        st, _, b = http("POST", base + "/auth/register", {"username": f"host-{tag}", "email": email, "password": "ci-password-123"})
        expect("register duplicate", st, 409)
        st, _, b = http("POST", base + "/auth/login", {"email": email, "password": "ci-password-123"})
        if not expect("login", st, 200):
            continue
        token = json.loads(b)["access_token"]
        st, _, b = http("POST", base + "/sessions/create", {"settings": {"name": "CI party"}},
                        headers={"Authorization": f"Bearer {token}"})
        if not expect("sessions/create", st, 201):
            continue
        sid = json.loads(b)["sessionId"]
        st, _, _ = http("GET", base + f"/sessions/get?sessionId={sid}")
        expect("sessions/get", st, 200)
        st, _, _ = http("GET", base + f"/sessions/get?sessionId={uuid.uuid4()}")
        expect("sessions/get unknown", st, 404)
        st, _, b = http("POST", base + "/sessions/registerSessionUser", {"username": f"guest-{tag}", "sessionId": sid})
        if not expect("registerSessionUser", st, 201):
            continue
        guest = json.loads(b)["id"]
        st, _, _ = http("POST", base + "/sessions/heartbeat", {"userId": guest})
        expect("heartbeat", st, 200)
        st, _, b = http("POST", base + "/pictures/init-upload", {"session_id": sid, "mimetype": "image/png"})
        if not expect("init-upload", st, 201):
            continue
        up = json.loads(b)
        url = up["uploadUrl"] if up["uploadUrl"].startswith("http") else base + up["uploadUrl"]
        png = tiny_png()
        st, _, _ = http("PUT", url, png, headers={"Content-Type": "image/png"})
        expect("PUT upload", st, 200)
        st, _, _ = http("POST", base + "/pictures/finalize-upload", {
            "u_name": f"guest-{tag}", "session_id": sid, "s3_key": up["key"], "original_filename": "ci.png",
            "filesize_bytes": len(png), "mimetype": "image/png"})
        expect("finalize-upload", st, 201)
        st, _, _ = http("GET", base + f"/pictures/session?sessionId={sid}")
        expect("pictures/session", st, 200)
        http("GET", base + "/openapi.json")
        http("GET", base + "/readyz")
    for n in notes:
        print(f"warn load: {n}")
    print(f"     load: {rounds} round(s) of register, login, create, join, heartbeat, upload, gallery")


def cmd_metrics(args):
    base = args[0].rstrip("/")
    fails = Failures()
    if len(args) > 1:
        st, _, _ = http("GET", args[1].rstrip("/") + "/metrics")
        fails.check(st == 404, f"/metrics on the public port: {st}, not 404")
    st, h, body = http("GET", base + "/metrics")
    fails.check(st == 200, f"/metrics: {st}")
    text = body.decode()
    series = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
            if m:
                labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", m.group(3) or ""))
                series.setdefault(m.group(1), []).append((labels, m.group(3) or ""))
    want = {
        "partypic_http_requests_total": {"method", "route", "status"},
        "partypic_http_request_duration_seconds_bucket": {"method", "route", "status_code", "le"},
        "partypic_active_sessions": set(), "partypic_users_online": set(), "partypic_photos_total": set(),
        "partypic_sessions_created_total": set(), "partypic_photos_uploaded_total": set(),
        "partypic_password_hash_queue": set(), "partypic_gallery_cache_requests_total": {"result"},
        "partypic_database_up": set(), "partypic_object_store_up": set(),
        "process_cpu_seconds_total": set(), "process_resident_memory_bytes": set(),
    }
    for name, labels in want.items():
        if fails.check(name in series, f"/metrics lacks {name}"):
            fails.check(all(labels <= s[0] for s in series[name]), f"{name} lacks labels {labels}")
    uuid_re = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")
    for name in ("partypic_http_requests_total", "partypic_http_request_duration_seconds_bucket"):
        for _, raw in series.get(name, []):
            fails.check(not uuid_re.search(raw), f"{name} has an id in a label: {raw}")
    fails.exit("PartyPic /metrics on the metrics port (404 on the public one): every metric the dashboard "
               "and alerts use, bounded route labels")


# ---------------------------------------------------------------------------------------------
# PromQL through a real Prometheus


def substitute(expr):
    def repl(m):
        name = m.group(1) or m.group(2)
        if name not in GRAFANA_VARS:
            raise ValueError(f"unknown Grafana variable ${name} in {expr}")
        return GRAFANA_VARS[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)


def expressions(dashboard, rules):
    """(where, expr, must return data)"""
    out = []
    with open(dashboard) as f:
        dash = json.load(f)
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q.strip())
            if m:
                out.append((f"variable ${v['name']}", f"count by ({m.group(2)}) ({m.group(1)})", True))
    for p in all_panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            e = substitute(t["expr"])
            out.append((f"panel {p['title']!r} {t['refId']}", e, not CLUSTER_ONLY.search(e)))
    for g in rule_groups(rules):
        for r in g["rules"]:
            e = str(r["expr"])
            local = not CLUSTER_ONLY.search(e)
            if "record" in r:
                out.append((f"record {r['record']}", e, local))
                out.append((f"recorded series {r['record']}", r["record"], local))
            else:
                out.append((f"alert {r['alert']}", e, False))  # quiet while healthy: parse only
                m = re.fullmatch(r"\s*(.+?)\s*(>=|<=|==|!=|>|<)\s*[0-9.eE+-]+\s*", e, re.S)
                if m:  # what the alert compares must exist
                    out.append((f"alert {r['alert']} (quantity)", m.group(1), local))
    return out


def prom(base, path, **params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    st, _, body = http("GET", url, timeout=30)
    try:
        return json.loads(body)
    except ValueError:
        return {"status": "error", "error": f"HTTP {st}: {body[:200]!r}"}


def cmd_promql(args):
    base, dashboard, rules = args[0].rstrip("/"), args[1], args[2]
    fails = Failures()
    exprs = expressions(dashboard, rules)
    # let rules evaluate and rates see several scrapes after the load
    deadline = time.time() + 90
    while time.time() < deadline:
        groups = prom(base, "/api/v1/rules").get("data", {}).get("groups", [])
        evaluated = groups and all(r.get("health") != "unknown" for g in groups for r in g["rules"])
        up = prom(base, "/api/v1/query", query='count_over_time(up{job="partypic-server"}[1m])')
        scrapes = float(up["data"]["result"][0]["value"][1]) if up.get("data", {}).get("result") else 0
        if evaluated and scrapes >= 10:
            break
        time.sleep(1)
    for g in prom(base, "/api/v1/rules").get("data", {}).get("groups", []):
        for r in g["rules"]:
            fails.check(r.get("health") == "ok", f"rule {r['name']}: health {r.get('health')} {r.get('lastError', '')}")
    parsed = with_data = 0
    for where, expr, need_data in exprs:
        res = prom(base, "/api/v1/query", query=expr)
        if not fails.check(res.get("status") == "success", f"{where}: {res.get('error')}\n      {expr}"):
            continue
        parsed += 1
        result = res["data"]["result"]
        if need_data:
            if fails.check(result, f"{where}: no data\n      {expr}"):
                with_data += 1
                values = [r["value"][1] for r in result] if isinstance(result, list) else []
                if values and all(v in ("NaN", "+Inf", "-Inf") for v in values):
                    print(f"warn {where}: only {values[0]} values")
    print(f"     {len(exprs)} expressions: {parsed} parsed and evaluated, {with_data} returned data, "
          f"{sum(1 for e in exprs if not e[2])} cluster-only or alert expressions checked for parsing only")
    fails.exit("PromQL of the dashboard and the rules in Prometheus against a running PartyPic")


def main():
    cmds = {"manifests": cmd_manifests, "rules-file": cmd_rules_file, "dashboard": cmd_dashboard,
            "dockerfiles": cmd_dockerfiles, "nginx": cmd_nginx, "load": cmd_load, "metrics": cmd_metrics,
            "promql": cmd_promql}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
