"""The Kubernetes HorizontalPodAutoscaler's decision, as documented, for the local cluster.

Follows https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/ ("Algorithm
details", "Configurable scaling behavior", "Stabilization window", "Default Behavior") and, where
the page leaves a detail open, the controller it describes (kubernetes pkg/controller/podautoscaler:
replica_calculator.go GetResourceReplicas, horizontal.go normalizeDesiredReplicasWithBehaviors,
stabilizeRecommendationWithBehaviors, calculateScale{Up,Down}Limit...). Pure: time is passed in,
nothing is read or started here, so tests/cluster/autoscale_hpa_test.py checks every rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# --horizontal-pod-autoscaler-tolerance (default 0.1).
TOLERANCE = 0.1
# --horizontal-pod-autoscaler-sync-period (default 15 s).
SYNC_PERIOD_SECONDS = 15


@dataclass(frozen=True)
class Policy:
    kind: str  # "Pods" or "Percent"
    value: int
    period_seconds: int


@dataclass(frozen=True)
class Rules:
    stabilization_window_seconds: int
    select_policy: str  # "Max", "Min" or "Disabled"
    policies: tuple[Policy, ...]


# The documented defaults ("Default Behavior").
DEFAULT_SCALE_UP = Rules(0, "Max", (Policy("Percent", 100, 15), Policy("Pods", 4, 15)))
DEFAULT_SCALE_DOWN = Rules(300, "Max", (Policy("Percent", 100, 15),))


@dataclass(frozen=True)
class ResourceTarget:
    resource: str  # "cpu" or "memory"
    average_utilization: int  # percent of the pods' request


@dataclass(frozen=True)
class HpaSpec:
    name: str
    target_deployment: str
    min_replicas: int
    max_replicas: int
    metrics: tuple[ResourceTarget, ...]
    scale_up: Rules = DEFAULT_SCALE_UP
    scale_down: Rules = DEFAULT_SCALE_DOWN


def _rules(doc: dict | None, default: Rules) -> Rules:
    if not doc:
        return default
    policies = tuple(
        Policy(p["type"], int(p["value"]), int(p["periodSeconds"])) for p in doc.get("policies", [])
    ) or default.policies
    return Rules(
        int(doc.get("stabilizationWindowSeconds", default.stabilization_window_seconds)),
        doc.get("selectPolicy", "Max"),
        policies,
    )


def spec_from_manifest(hpa: dict) -> HpaSpec:
    """An autoscaling/v2 HorizontalPodAutoscaler object (as rendered by kustomize) → HpaSpec."""
    spec = hpa["spec"]
    metrics = []
    for m in spec.get("metrics", []):
        if m.get("type") != "Resource" or m["resource"]["target"].get("type") != "Utilization":
            raise ValueError(f"only Resource/Utilization metrics are supported, not {m}")
        metrics.append(ResourceTarget(m["resource"]["name"], int(m["resource"]["target"]["averageUtilization"])))
    behavior = spec.get("behavior") or {}
    return HpaSpec(
        name=hpa["metadata"]["name"],
        target_deployment=spec["scaleTargetRef"]["name"],
        min_replicas=int(spec.get("minReplicas", 1)),
        max_replicas=int(spec["maxReplicas"]),
        metrics=tuple(metrics) or (ResourceTarget("cpu", 80),),
        scale_up=_rules(behavior.get("scaleUp"), DEFAULT_SCALE_UP),
        scale_down=_rules(behavior.get("scaleDown"), DEFAULT_SCALE_DOWN),
    )


@dataclass(frozen=True)
class PodSample:
    """One pod as the controller sees it: ready or not, and its usage (None: no metrics yet)."""

    name: str
    ready: bool
    request: dict[str, float]  # resource → request (CPU in cores, memory in bytes)
    usage: dict[str, float | None]


def replicas_for_metric(pods: list[PodSample], current: int, target: ResourceTarget) -> int:
    """Desired replicas for one resource metric (GetResourceReplicas with missing/unready pods)."""
    res = target.resource
    with_metrics = {p.name: p.usage[res] for p in pods if p.usage.get(res) is not None}
    requests = {p.name: p.request[res] for p in pods}
    # CPU of pods that are not ready yet is set aside (they are starting up; the docs' "not yet
    # ready"); memory is counted as is. Pods without metrics are set aside for every resource.
    unready = {p.name for p in pods if not p.ready and p.name in with_metrics} if res == "cpu" else set()
    missing = {p.name for p in pods if p.name not in with_metrics}
    ready_metrics = {n: u for n, u in with_metrics.items() if n not in unready}
    if not ready_metrics:
        return current  # no metrics at all: no decision (the controller reports an error)

    def ratio(metrics: dict[str, float]) -> float:
        # Utilization in whole percent of milli-units, as the controller computes it (integers).
        used = sum(round(v * 1000) for v in metrics.values())
        requested = sum(round(requests[n] * 1000) for n in metrics)
        utilization = used * 100 // requested
        return utilization / target.average_utilization

    usage_ratio = ratio(ready_metrics)
    scale_up_with_unready = bool(unready) and usage_ratio > 1.0
    if not missing and not scale_up_with_unready:
        if abs(1.0 - usage_ratio) <= TOLERANCE:
            return current
        return math.ceil(usage_ratio * len(ready_metrics))

    # The docs: "more conservatively assume the pods are consuming 100% of the desired value in
    # case of a scale down, and 0% in case of a scale up"; unready pods count as 0% on scale-up.
    # (The controller takes max(100 %, target) of the request as the scale-down fallback.)
    rebalanced = dict(ready_metrics)
    for n in missing:
        if usage_ratio < 1.0:
            rebalanced[n] = requests[n] * max(100, target.average_utilization) / 100
        elif usage_ratio > 1.0:
            rebalanced[n] = 0.0
    if scale_up_with_unready:
        for n in unready:
            rebalanced[n] = 0.0
    new_ratio = ratio(rebalanced)
    if (
        abs(1.0 - new_ratio) <= TOLERANCE
        or (usage_ratio < 1.0 and new_ratio > 1.0)
        or (usage_ratio > 1.0 and new_ratio < 1.0)
    ):
        return current  # within tolerance once rebalanced, or it would reverse the direction
    new_replicas = math.ceil(new_ratio * len(rebalanced))
    if (new_ratio < 1.0 and new_replicas > current) or (new_ratio > 1.0 and new_replicas < current):
        return current
    return new_replicas


@dataclass
class _Event:
    at: float
    change: int


@dataclass
class Decision:
    desired: int  # what the HPA sets on the Deployment
    proposals: dict[str, int]  # per metric, before behavior
    recommendation: int  # after the stabilization window, before the rate policies
    reason: str


@dataclass
class Autoscaler:
    """The controller's state across syncs: recommendations and scale events of one HPA."""

    spec: HpaSpec
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    up_events: list[_Event] = field(default_factory=list)
    down_events: list[_Event] = field(default_factory=list)

    def decide(self, now: float, current: int, pods: list[PodSample]) -> Decision:
        s = self.spec
        if current > s.max_replicas:
            desired, reason, proposals = s.max_replicas, "current above maxReplicas", {}
            recommendation = desired
        elif current < s.min_replicas:
            desired, reason, proposals = s.min_replicas, "current below minReplicas", {}
            recommendation = desired
        else:
            proposals = {t.resource: replicas_for_metric(pods, current, t) for t in s.metrics}
            # Several metrics: the largest proposal wins.
            proposed = max(proposals.values()) if proposals else current
            recommendation = self._stabilize(now, current, proposed)
            desired, reason = self._rate_limit(now, current, recommendation)
        self._record(now, current, desired)
        return Decision(desired, proposals, recommendation, reason)

    def _stabilize(self, now: float, current: int, proposed: int) -> int:
        up_cutoff = now - self.spec.scale_up.stabilization_window_seconds
        down_cutoff = now - self.spec.scale_down.stabilization_window_seconds
        # Scale up to the lowest, down to the highest recommendation within each window.
        up = min([r for t, r in self.recommendations if t > up_cutoff] + [proposed])
        down = max([r for t, r in self.recommendations if t > down_cutoff] + [proposed])
        self.recommendations = [(t, r) for t, r in self.recommendations if t > min(up_cutoff, down_cutoff)]
        self.recommendations.append((now, proposed))
        return min(max(current, up), down)

    def _period_start(self, now: float, current: int, period: int) -> int:
        added = sum(e.change for e in self.up_events if e.at > now - period)
        removed = sum(e.change for e in self.down_events if e.at > now - period)
        return current - added + removed

    def _rate_limit(self, now: float, current: int, desired: int) -> tuple[int, str]:
        s = self.spec
        if desired > current:
            rules = s.scale_up
            if rules.select_policy == "Disabled":
                return current, "scale-up disabled"
            proposals = []
            for p in rules.policies:
                start = self._period_start(now, current, p.period_seconds)
                proposals.append(
                    start + p.value if p.kind == "Pods" else math.ceil(start * (1 + p.value / 100))
                )
            limit = min(proposals) if rules.select_policy == "Min" else max(proposals)
            limit = min(max(limit, current), s.max_replicas)
            if desired > limit:
                return limit, f"scale-up limited to {limit}"
            return desired, "scale up"
        if desired < current:
            rules = s.scale_down
            if rules.select_policy == "Disabled":
                return current, "scale-down disabled"
            proposals = []
            for p in rules.policies:
                start = self._period_start(now, current, p.period_seconds)
                proposals.append(start - p.value if p.kind == "Pods" else int(start * (1 - p.value / 100)))
            limit = max(proposals) if rules.select_policy == "Min" else min(proposals)
            limit = max(min(limit, current), s.min_replicas)
            if desired < limit:
                return limit, f"scale-down limited to {limit}"
            return desired, "scale down"
        return desired, "steady"

    def _record(self, now: float, current: int, desired: int) -> None:
        longest = max(p.period_seconds for p in self.spec.scale_up.policies + self.spec.scale_down.policies)
        self.up_events = [e for e in self.up_events if e.at > now - longest]
        self.down_events = [e for e in self.down_events if e.at > now - longest]
        if desired > current:
            self.up_events.append(_Event(now, desired - current))
        elif desired < current:
            self.down_events.append(_Event(now, current - desired))
