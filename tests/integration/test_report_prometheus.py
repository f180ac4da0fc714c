"""`gpuscope report --prometheus`: three agents on loopback, each simulating a
different story, scraped by a real Prometheus (the Debian package); the report
reads the DCGM_FI_* range queries back and gives each node its verdict."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fixture_servers import MODEL, FixtureServer  # noqa: E402
from harness import Agent, free_port, run, write_scenario  # noqa: E402
from test_prometheus import PROMETHEUS, promql  # noqa: E402

# One GPU per node; every node's GPU has the same default UUID, so the report
# must tell them apart by Hostname.
STORIES = {
    "node-idle": ("idle", {"util_gpu_pct": 0, "power_w": 90, "fb_used_mib": 70000,
                           "gpm_sm_active_pct": 0, "gpm_dram_active_pct": 0,
                           "gpm_tensor_active_pct": 0}),
    "node-bw": ("memory_bandwidth_bound", {"util_gpu_pct": 100, "power_w": 620,
                                           "fb_used_mib": 60000, "gpm_sm_active_pct": 70,
                                           "gpm_dram_active_pct": 88,
                                           "gpm_tensor_active_pct": 0}),
    "node-cap": ("power_capped", {"util_gpu_pct": 100, "power_w": 690, "sm_clock_mhz": 1500,
                                  "clock_event_reasons": 4, "fb_used_mib": 60000,
                                  "gpm_sm_active_pct": 95, "gpm_dram_active_pct": 20,
                                  "gpm_tensor_active_pct": 90}),
}


class ReportPrometheusTest(unittest.TestCase):
    def test_three_agents_one_report(self):
        data = tempfile.mkdtemp()
        scenarios, agents, prom, fixture = [], [], None, None
        try:
            for host, (_, metrics) in STORIES.items():
                path = write_scenario({"name": host, "gpus": [
                    {"model": "NVIDIA H200", "metrics": metrics}]}, data)
                scenarios.append(path)
                extra = []
                if host == "node-bw":  # an inference server on this node's GPU 0
                    fixture = FixtureServer("vllm").__enter__()
                    extra = ["--inference-server", fixture.url + "#gpus=0",
                             "--inference-poll", "1s", "--inference-window", "5s"]
                agents.append(Agent("--hostname", host, *extra, scenario=path).__enter__())
                agents[-1].args_host = host
            port = free_port()
            cfg = os.path.join(data, "prometheus.yml")
            with open(cfg, "w") as f:
                f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        "scrape_configs:\n  - job_name: gpuscope\n    static_configs:\n"
                        "      - targets: [%s]\n"
                        % ", ".join("'127.0.0.1:%d'" % a.port for a in agents))
            prom = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + cfg,
                 "--storage.tsdb.path=" + os.path.join(data, "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "prom.log"), "w"))
            # Enough scrapes of every node for the engine's minimum samples.
            deadline = time.time() + 60
            got = {}
            while time.time() < deadline:
                try:
                    got = promql(port, "count_over_time(DCGM_FI_DEV_GPU_UTIL[1m]) >= 12")
                    if len(got) == 3:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            self.assertEqual(len(got), 3, got)

            url = "http://127.0.0.1:%d" % port
            rc, out, err = run("report", "--prometheus", url, "--since", "2m", "--step", "1s",
                               "--format", "json", timeout=60)
            self.assertEqual(rc, 0, err)
            doc = json.loads(out)
            self.assertEqual(sorted(g["host"] for g in doc["gpus"]), sorted(STORIES))
            self.assertTrue(doc["window"]["source"].startswith("prometheus " + url))
            for g in doc["gpus"]:
                want = STORIES[g["host"]][0]
                ids = {v["id"] for v in doc["verdicts"] if v["gpu"] == g["gpu"]}
                self.assertIn(want, ids, (g["host"], ids))
                serious = {v["id"] for v in doc["verdicts"] if v["gpu"] == g["gpu"]
                           and v["severity"] != "info"}
                self.assertEqual(serious - {want}, set(), g["host"])
            # gpuscope_tokens_generated_total joins by UUID: J/token on the served GPU only
            units = {s["host"]: s["work_unit"] for s in doc["gpus"]}
            self.assertEqual(units, {"node-idle": None, "node-bw": "token", "node-cap": None})
            # the agent's per-model figures: one line for node-bw's server, 620 W over
            # 1000 tokens/s
            bw = next(a for a in agents if a.args_host == "node-bw")
            models = doc["models"]
            self.assertEqual(len(models), 1, models)
            m = models[0]
            self.assertEqual(m["server"], "127.0.0.1:%d/%s" % (bw.port, fixture.url[7:-8]))
            self.assertEqual((m["kind"], m["model"], m["gpu_model"]),
                             ("vllm", MODEL, "NVIDIA H200"))
            self.assertAlmostEqual(m["tokens_per_second"], 1000, delta=60)
            self.assertAlmostEqual(m["joules_per_token"], 0.62, delta=0.05)
            self.assertIn(m["trend"]["joules_per_token"]["direction"],
                          ("steady", "rising", "falling"))

            rc, text, err = run("report", "--prometheus", url, "--since", "2m", "--step",
                                "1s", timeout=60)
            self.assertEqual(rc, 0, err)
            self.assertIn("host node-cap", text)
            self.assertIn("MODELS SERVED", text)

            # A window before anything was scraped, and a server that is not there.
            rc, _, err = run("report", "--prometheus", url, "--from", "1000000000", "--to",
                             "1000000600")
            self.assertEqual(rc, 1)
            self.assertIn("no DCGM_FI_* GPU series", err)
            rc, _, err = run("report", "--prometheus", "http://127.0.0.1:%d" % free_port(),
                             "--since", "5m")
            self.assertEqual(rc, 1)
            self.assertIn("prometheus http://127.0.0.1", err)
            rc, _, err = run("report", "--prometheus", "ftp://x")
            self.assertEqual(rc, 2)
        finally:
            if fixture:
                fixture.__exit__(None, None, None)
            if prom:
                prom.terminate()
                prom.wait(10)
            for a in agents:
                a.stop()
            shutil.rmtree(data)


if __name__ == "__main__":
    unittest.main(verbosity=2)
