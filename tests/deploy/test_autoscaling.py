#!/usr/bin/env python3
"""test_autoscaling.py - deploy/autoscaling's queries answer per pod, on real data.

The real binary serves the simulator's default scenario, whose GPUs are held by pods
(vLLM, TGI, Triton, a trainer) found through its simulated kubelet files.  A real
Prometheus scrapes it the way the chart's ServiceMonitor does: honor_labels false, with
the target labels the Prometheus Operator adds (namespace, pod, container of the gpuscope
pod), so the workload's labels arrive as exported_*.  Then:
- prometheus-adapter's seriesQuery finds exactly the pods that /metrics labels GPUs with;
- its metricsQuery, filled in as the adapter fills it for an HPA over a namespace's pods,
  gives one utilization per pod, in 0-100, equal to that pod's GPU's own value;
- KEDA's query, its pod selector widened to the namespace, is the sum of those values,
  which is what its average-value target divides by the replica count.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402
from test_manifests import DEPLOY, yaml_docs  # noqa: E402

PROMETHEUS = os.environ.get("PROMETHEUS", "prometheus")


def promql(port, expr, at):
    q = urllib.parse.urlencode({"query": expr, "time": "%.3f" % at})
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?%s" % (port, q), timeout=5) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return [(s["metric"], float(s["value"][1])) for s in doc["data"]["result"]]


def main():
    with open(os.path.join(DEPLOY, "autoscaling", "prometheus-adapter-values.yaml")) as f:
        rule = yaml_docs(f.read())[0]["rules"]["custom"][0]
    with open(os.path.join(DEPLOY, "autoscaling", "keda-scaledobject.yaml")) as f:
        keda_query = yaml_docs(f.read())[0]["spec"]["triggers"][0]["metadata"]["query"]

    with tempfile.TemporaryDirectory() as tmp, \
            harness.Agent("--names", "dcgm", "--no-history", "--slow-interval", "1s") as agent:
        # The pods, as the agent labels its GPUs (the kubelet files are read every 30 s).
        def pods():
            return {(dict(ls)["namespace"], dict(ls)["pod"]): v for (n, ls), v in agent.metrics().items()
                    if n == "DCGM_FI_DEV_GPU_UTIL" and "pod" in dict(ls)}
        agent.wait_for(lambda: len(pods()) >= 4, timeout=60, what="pod labels on GPU series")

        port = harness.free_port()
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
                    "scrape_configs:\n  - job_name: gpuscope\n    honor_labels: false\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n"
                    "        labels: {namespace: gpuscope, pod: gpuscope-x7k2p, container: gpuscope}\n" % agent.port)
        prom = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                                 "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "prom.log"), "w"))
        try:
            # Prometheus and the agent agree on the pods (labels appear as the kubelet
            # files are read, not all in one sweep: wait for both to settle).
            deadline = time.time() + 60
            while True:
                try:
                    found = promql(port, rule["seriesQuery"], time.time())
                except OSError:
                    found = []
                got = {(m["exported_namespace"], m["exported_pod"]) for m, _ in found}
                held = set(pods())
                if (got == held and len(held) >= 4) or time.time() > deadline:
                    break
                time.sleep(1)
            assert got == held, (got, held)
            assert all(m["pod"] == "gpuscope-x7k2p" for m, _ in found), "pod names the exporter's pod"
            print("ok: the adapter's seriesQuery finds the pods", sorted(got))

            time.sleep(3)
            at = time.time()
            # Every query below at one instant, over the pods Prometheus has then.
            inference = sorted(m["exported_pod"] for m, _ in promql(port, rule["seriesQuery"], at)
                               if m["exported_namespace"] == "inference")
            assert len(inference) >= 2, inference
            matchers = 'exported_namespace="inference",exported_pod=~"%s"' % "|".join(inference)
            query = (rule["metricsQuery"].replace("<<.Series>>", re.search(r"^\w+", rule["seriesQuery"]).group(0))
                     .replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", "exported_pod"))
            per_pod = {m["exported_pod"]: v for m, v in promql(port, query, at)}
            assert sorted(per_pod) == inference, (per_pod, inference)
            for pod, v in per_pod.items():
                # The pod's series straight from Prometheus (one per GPU it holds).
                direct = promql(port, 'avg(avg_over_time(DCGM_FI_DEV_GPU_UTIL{exported_pod="%s"}[1m]))' % pod, at)
                assert 0 <= v <= 100 and abs(v - direct[0][1]) < 1e-9, (pod, v, direct)
            print("ok: gpu_utilization per pod", {p: round(v, 1) for p, v in per_pod.items()})

            widened = re.sub(r'exported_pod=~"[^"]*"', 'exported_pod!=""', keda_query)
            assert widened != keda_query, keda_query
            total = promql(port, widened, at)
            assert len(total) == 1 and abs(total[0][1] - sum(per_pod.values())) < 1e-6, (total, per_pod)
            print("ok: KEDA's query sums them: %.1f" % total[0][1])
        finally:
            prom.terminate()
            prom.wait(10)


if __name__ == "__main__":
    main()
