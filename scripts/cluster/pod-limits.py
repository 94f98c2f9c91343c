#!/usr/bin/env python3
"""Prints the server pod's resources, from the rendered manifests, as shell variables for
cluster.env. CPU is divided by SCALE so that one small machine's cores can hold the HPA's whole
range; memory by MEMORY_SCALE (default 1: RAM is not what the machine lacks, and dividing it would
let the memory metric, not the workload's CPU, drive the HPA).

    scripts/cluster/pod-limits.py RENDERED.yaml SCALE [MEMORY_SCALE]
"""

import sys

import yaml

QUANTITY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}


def cores(q: str) -> float:
    q = str(q)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def byte_count(q: str) -> int:
    q = str(q)
    for suffix, factor in QUANTITY_SUFFIXES.items():
        if q.endswith(suffix):
            return int(float(q[: -len(suffix)]) * factor)
    return int(q)


def main() -> None:
    rendered, scale = sys.argv[1], float(sys.argv[2])
    memory_scale = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    if scale < 1 or memory_scale < 1:
        sys.exit("pod-limits: the scale factor must be ≥ 1")
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    deployment = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "partypic-server"
    )
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "server")
    res = container["resources"]
    period_us = 100_000
    cpu_limit = cores(res["limits"]["cpu"]) / scale
    values = {
        "POD_SCALE": sys.argv[2],
        "POD_CPU_REQUEST": f"{cores(res['requests']['cpu']) / scale:g}",
        "POD_CPU_LIMIT": f"{cpu_limit:g}",
        "POD_MEMORY_SCALE": f"{memory_scale:g}",
        "POD_MEMORY_REQUEST_BYTES": int(byte_count(res["requests"]["memory"]) / memory_scale),
        "POD_MEMORY_LIMIT_BYTES": int(byte_count(res["limits"]["memory"]) / memory_scale),
        "POD_CPU_PERIOD_US": period_us,
        "POD_CPU_QUOTA_US": max(1000, int(cpu_limit * period_us)),
    }
    for k, v in values.items():
        print(f"{k}={v}")


if __name__ == "__main__":
    main()
