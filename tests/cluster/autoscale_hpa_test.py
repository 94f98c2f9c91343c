"""The HPA's decisions against the examples of the Kubernetes documentation
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/), and the server HPA
as kustomize renders it. Run: python3 tests/cluster/autoscale_hpa_test.py
"""

import shutil
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autoscale_hpa import (  # noqa: E402
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    Autoscaler,
    HpaSpec,
    PodSample,
    Policy,
    ResourceTarget,
    Rules,
    replicas_for_metric,
    spec_from_manifest,
)

ROOT = Path(__file__).resolve().parents[2]
CPU = ResourceTarget("cpu", 100)


def pods(*cpu_usages, ready=True, request=1.0, memory=None):
    """Pods with a 1-core request using the given cores (None: no metrics yet)."""
    return [
        PodSample(f"p{i}", ready, {"cpu": request, "memory": 100.0}, {"cpu": u, "memory": memory})
        for i, u in enumerate(cpu_usages)
    ]


def spec(min_r=1, max_r=100, metrics=(CPU,), up=DEFAULT_SCALE_UP, down=DEFAULT_SCALE_DOWN):
    return HpaSpec("web", "web", min_r, max_r, tuple(metrics), up, down)


class AlgorithmDetails(unittest.TestCase):
    """desiredReplicas = ceil[currentReplicas * (currentMetricValue / desiredMetricValue)]."""

    def test_twice_the_target_doubles_the_replicas(self):
        # "if the current metric value is 200m, and the desired value is 100m, the number of
        # replicas will be doubled"
        self.assertEqual(replicas_for_metric(pods(0.2, 0.2, 0.2), 3, ResourceTarget("cpu", 10)), 6)

    def test_half_the_target_halves_the_replicas(self):
        # "If the current value is instead 50m, you'll halve the number of replicas"
        self.assertEqual(replicas_for_metric(pods(0.05, 0.05, 0.05, 0.05), 4, ResourceTarget("cpu", 10)), 2)

    def test_a_ratio_within_the_tolerance_changes_nothing(self):
        # "skips any scaling action if the ratio is sufficiently close to 1.0 (within ... 0.1)"
        # (Exactly 110 % is 1.1 in floating point, whose distance from 1.0 is a hair above 0.1:
        # the controller scales there, and so do we.)
        self.assertEqual(replicas_for_metric(pods(1.09, 1.09), 2, CPU), 2)
        self.assertEqual(replicas_for_metric(pods(0.91, 0.91), 2, CPU), 2)
        self.assertEqual(replicas_for_metric(pods(1.11, 1.11), 2, CPU), 3)

    def test_utilization_is_averaged_over_the_pods_requests(self):
        self.assertEqual(replicas_for_metric(pods(1.0, 0.5, 0.0), 3, ResourceTarget("cpu", 25)), 6)

    def test_missing_metrics_count_as_the_full_request_on_scale_down(self):
        # Ready pods at 20 % of a 50 % target would halve; the pod without metrics counted at
        # 100 % makes it (20+20+100)/3 = 46 %, within the tolerance: no change.
        self.assertEqual(replicas_for_metric(pods(0.2, 0.2, None), 3, ResourceTarget("cpu", 50)), 3)

    def test_missing_metrics_count_as_zero_on_scale_up(self):
        # 2 pods at 150 % of a 100 % target, 2 without metrics at 0 %: (150+150+0+0)/4 = 75 %
        # would reverse the direction, so nothing changes.
        self.assertEqual(replicas_for_metric(pods(1.5, 1.5, None, None), 4, CPU), 4)
        # 200 % each: 100 % over 4 pods is within tolerance too; 300 % each → 150 % → 6.
        self.assertEqual(replicas_for_metric(pods(3.0, 3.0, None, None), 4, CPU), 6)

    def test_unready_pods_cpu_is_set_aside_and_counts_as_zero_on_scale_up(self):
        ready = pods(2.0, 2.0)
        starting = [PodSample("s", False, {"cpu": 1.0}, {"cpu": 1.0})]
        # Without the unready pod: 200 % on 2 pods → 4. With it at 0 %: 133 % on 3 → 4.
        self.assertEqual(replicas_for_metric(ready + starting, 3, CPU), 4)
        # Its own (start-up) CPU is not counted: at 3 cores it would otherwise say 7.
        busy_start = [PodSample("s", False, {"cpu": 1.0}, {"cpu": 3.0})]
        self.assertEqual(replicas_for_metric(ready + busy_start, 3, CPU), 4)

    def test_no_metrics_at_all_means_no_decision(self):
        self.assertEqual(replicas_for_metric(pods(None, None), 2, CPU), 2)


class MultipleMetrics(unittest.TestCase):
    def test_the_largest_proposal_wins(self):
        # "will choose the largest scale recommendation"
        hpa = Autoscaler(spec(metrics=(CPU, ResourceTarget("memory", 50))))
        d = hpa.decide(0, 2, pods(0.5, 0.5, memory=100.0))  # CPU says 1, memory (200 %) says 4
        self.assertEqual(d.proposals, {"cpu": 1, "memory": 4})
        self.assertEqual(d.desired, 4)


class Bounds(unittest.TestCase):
    def test_min_and_max_replicas_bound_the_result(self):
        hpa = Autoscaler(spec(min_r=2, max_r=5))
        self.assertEqual(hpa.decide(0, 2, pods(10.0, 10.0)).desired, 5)
        hpa = Autoscaler(spec(min_r=2, max_r=5, down=Rules(0, "Max", (Policy("Percent", 100, 15),))))
        self.assertEqual(hpa.decide(0, 4, pods(0.0, 0.0, 0.0, 0.0)).desired, 2)

    def test_replicas_outside_the_bounds_are_brought_back(self):
        self.assertEqual(Autoscaler(spec(min_r=3)).decide(0, 1, pods(0.0)).desired, 3)
        self.assertEqual(Autoscaler(spec(max_r=4)).decide(0, 9, pods(*[5.0] * 9)).desired, 4)


class DefaultBehavior(unittest.TestCase):
    def test_scale_up_doubles_or_adds_four_pods_per_15_s_whichever_is_more(self):
        # Default scaleUp: Percent 100 and Pods 4 per 15 s, selectPolicy Max.
        hpa = Autoscaler(spec())
        self.assertEqual(hpa.decide(0, 1, pods(20.0)).desired, 5)  # +4 beats ×2
        self.assertEqual(hpa.decide(1, 5, pods(*[4.0] * 5)).desired, 5)  # same period: used up
        self.assertEqual(hpa.decide(15, 5, pods(*[4.0] * 5)).desired, 10)  # new period: ×2
        self.assertEqual(hpa.decide(30, 10, pods(*[2.0] * 10)).desired, 20)

    def test_scale_down_waits_for_the_300_s_stabilization_window(self):
        # "the highest recommendation within the window is used"
        hpa = Autoscaler(spec())
        self.assertEqual(hpa.decide(0, 10, pods(*[1.0] * 10)).desired, 10)
        self.assertEqual(hpa.decide(15, 10, pods(*[0.1] * 10)).desired, 10)
        self.assertEqual(hpa.decide(299, 10, pods(*[0.1] * 10)).desired, 10)
        self.assertEqual(hpa.decide(300, 10, pods(*[0.1] * 10)).desired, 1)


class ScalingPolicies(unittest.TestCase):
    # The docs' example: Pods 4 per 60 s and Percent 10 per 60 s; "the policy that allows the
    # highest amount of change is selected": 80 → 72 → 64 …, and 4 at a time from 40 down.
    down = Rules(0, "Max", (Policy("Pods", 4, 60), Policy("Percent", 10, 60)))

    def test_scale_down_uses_the_policy_allowing_the_largest_change(self):
        hpa = Autoscaler(spec(down=self.down))
        self.assertEqual(hpa.decide(0, 80, pods(*[0.1] * 80)).desired, 72)
        self.assertEqual(hpa.decide(15, 72, pods(*[0.1] * 72)).desired, 72)  # period used up
        self.assertEqual(hpa.decide(61, 72, pods(*[0.1] * 72)).desired, 64)  # 10 % of 72 → 8
        hpa = Autoscaler(spec(down=self.down))
        self.assertEqual(hpa.decide(0, 40, pods(*[0.1] * 40)).desired, 36)  # 4 = 10 %
        self.assertEqual(hpa.decide(61, 30, pods(*[0.1] * 30)).desired, 26)  # Pods 4 > 3

    def test_select_policy_min_takes_the_smallest_change(self):
        hpa = Autoscaler(spec(down=Rules(0, "Min", self.down.policies)))
        self.assertEqual(hpa.decide(0, 80, pods(*[0.1] * 80)).desired, 76)

    def test_select_policy_disabled_turns_scale_down_off(self):
        hpa = Autoscaler(spec(down=Rules(0, "Disabled", (Policy("Percent", 100, 15),))))
        self.assertEqual(hpa.decide(0, 10, pods(*[0.0] * 10)).desired, 10)

    def test_limit_scale_down_rate_percent_10_per_minute(self):
        # "Example: limit scale down rate": at most 10 % of the pods per minute.
        hpa = Autoscaler(spec(down=Rules(0, "Max", (Policy("Percent", 10, 60),))))
        self.assertEqual(hpa.decide(0, 50, pods(*[0.0] * 50)).desired, 45)

    def test_scale_up_window_picks_the_lowest_recommendation(self):
        hpa = Autoscaler(spec(up=Rules(60, "Max", DEFAULT_SCALE_UP.policies)))
        self.assertEqual(hpa.decide(0, 2, pods(1.0, 1.0)).desired, 2)
        self.assertEqual(hpa.decide(15, 2, pods(3.0, 3.0)).desired, 2)  # 2 still in the window
        self.assertEqual(hpa.decide(61, 2, pods(3.0, 3.0)).desired, 6)


class RenderedServerHpa(unittest.TestCase):
    @unittest.skipUnless(shutil.which("kubectl"), "kubectl renders the manifests")
    def test_the_server_hpa_is_read_from_the_rendered_manifests(self):
        import yaml

        out = subprocess.run(
            ["kubectl", "kustomize", str(ROOT / "deploy/kubernetes/overlays/local")],
            check=True, capture_output=True, text=True,
        ).stdout
        hpa = next(
            d for d in yaml.safe_load_all(out)
            if d and d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "partypic-server"
        )
        s = spec_from_manifest(hpa)
        self.assertEqual(s.target_deployment, "partypic-server")
        self.assertGreaterEqual(s.max_replicas, s.min_replicas)
        self.assertEqual({m.resource for m in s.metrics}, {"cpu", "memory"})
        self.assertEqual(len(s.scale_up.policies), len(hpa["spec"]["behavior"]["scaleUp"]["policies"]))


if __name__ == "__main__":
    unittest.main()
