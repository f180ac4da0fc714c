"""A real Prometheus server (the Debian package) scrapes the agent on loopback
and PromQL returns the simulated values, under both name sets."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, free_port, write_scenario  # noqa: E402

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def promql(port, expr):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": expr}))
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return {json.dumps(s["metric"], sort_keys=True): float(s["value"][1]) for s in doc["data"]["result"]}


def start_prometheus(data, target_port, interval="1s"):
    """Starts Prometheus scraping one target; returns (process, its HTTP port)."""
    port = free_port()
    cfg = os.path.join(data, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: %s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: gpuscope\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % (interval, target_port))
    prom = subprocess.Popen(
        [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(data, "tsdb"),
         "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "prom.log"), "w"))
    return prom, port


def wait_until(port, expr, timeout=40):
    """Polls PromQL until expr returns something; returns the last answer."""
    deadline = time.time() + timeout
    got = {}
    while time.time() < deadline:
        try:
            got = promql(port, expr)
            if got:
                return got
        except OSError:
            pass
        time.sleep(0.5)
    return got


class PrometheusTest(unittest.TestCase):
    def test_prometheus_scrapes_simulated_values(self):
        scenario = write_scenario({"name": "prom", "gpus": [
            {"model": "NVIDIA H200", "metrics": {"util_gpu_pct": 37, "power_w": 412.25, "fb_used_mib": 2048}},
            {"model": "NVIDIA H200", "metrics": {"util_gpu_pct": 81, "power_w": 650, "fb_used_mib": 70000}}]})
        data = tempfile.mkdtemp()
        prom = None
        try:
            with Agent("--hostname", "node-a", scenario=scenario) as agent:
                port = free_port()
                cfg = os.path.join(data, "prometheus.yml")
                with open(cfg, "w") as f:
                    f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                            "scrape_configs:\n  - job_name: gpuscope\n    static_configs:\n"
                            "      - targets: ['127.0.0.1:%d']\n" % agent.port)
                prom = subprocess.Popen(
                    [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(data, "tsdb"),
                     "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "prom.log"), "w"))
                deadline = time.time() + 40
                got = {}
                while time.time() < deadline:
                    try:
                        got = promql(port, 'up{job="gpuscope"}')
                        if got and list(got.values()) == [1.0] and promql(port, "DCGM_FI_DEV_GPU_UTIL"):
                            break
                    except OSError:
                        pass
                    time.sleep(0.5)
                self.assertEqual(list(got.values()), [1.0], open(os.path.join(data, "prom.log")).read())
                util = promql(port, "DCGM_FI_DEV_GPU_UTIL")
                self.assertEqual(sorted(util.values()), [37.0, 81.0])
                for labels in util:
                    self.assertEqual(json.loads(labels)["hostname"], "node-a")
                self.assertEqual(list(promql(port, 'gpuscope_power_watts{gpu="0"}').values()), [412.25])
                self.assertEqual(list(promql(port, 'DCGM_FI_DEV_POWER_USAGE{gpu="1"}').values()), [650.0])
                self.assertEqual(list(promql(port, 'DCGM_FI_DEV_FB_USED{gpu="1"}').values()), [70000.0])
                self.assertEqual(list(promql(port, 'gpuscope_memory_used_bytes{gpu="0"}').values()),
                                 [2048.0 * 1048576])
                # Native and DCGM agree through PromQL (ratio vs percent).
                both = promql(port, 'sum(gpuscope_gpu_utilization_ratio) * 100 - sum(DCGM_FI_DEV_GPU_UTIL)')
                self.assertAlmostEqual(list(both.values())[0], 0.0, places=9)
                # Join through the info metric, as dashboards do.
                joined = promql(port, 'gpuscope_gpu_utilization_ratio * on(gpu, uuid) group_left(name) gpuscope_gpu_info')
                self.assertEqual({json.loads(k)["name"] for k in joined}, {"NVIDIA H200"})
        finally:
            if prom:
                prom.terminate()
                prom.wait(10)
            shutil.rmtree(data, ignore_errors=True)
            os.unlink(scenario)

    def test_profiling_and_windows_through_prometheus(self):
        # GPM figures under both names, and a 100 ms power burst every 3 s that a
        # 4 s scrape of the last value would mostly miss but the window max keeps.
        scenario = write_scenario({"name": "prof", "gpus": [{"nvlink_links": 2, "nvlink_down": [1],
            "faults": {"xid": [{"at": 1, "code": 79}]},
            "metrics": {
            "gpm_sm_active_pct": 80, "gpm_tensor_active_pct": 60, "gpm_dram_active_pct": 30,
            "clock_event_reasons": 4, "sm_clock_mhz": 1485, "nvlink_tx_mibps": 1024,
            "power_w": {"square": {"low": 120, "high": 950, "period": 3, "duty": 0.0333}}}},
            {"mig": [{"profile": "2g.35gb", "gpu_instance_id": 5, "memory_total_mib": 33792,
                      "metrics": {"fb_used_mib": 4096, "gpm_sm_active_pct": 45}}]}]})
        data = tempfile.mkdtemp()
        prom = None
        try:
            with Agent("--slow-interval", "1s", "--costly-interval", "1s", scenario=scenario) as agent:
                prom, port = start_prometheus(data, agent.port, interval="4s")
                self.assertTrue(wait_until(port, "DCGM_FI_PROF_SM_ACTIVE"),
                                open(os.path.join(data, "prom.log")).read())
                self.assertEqual(list(promql(port, 'DCGM_FI_PROF_SM_ACTIVE{gpu="0"}').values()), [0.8])
                # A MIG instance is a device with dcgm-exporter's instance labels.
                self.assertTrue(wait_until(port, 'DCGM_FI_PROF_SM_ACTIVE{GPU_I_ID="5"}'))
                inst = promql(port, 'DCGM_FI_PROF_SM_ACTIVE{GPU_I_PROFILE="2g.35gb"}')
                self.assertEqual(list(inst.values()), [0.45])
                self.assertEqual(json.loads(list(inst)[0])["gpu"], "1")
                self.assertEqual(list(promql(port, 'DCGM_FI_DEV_FB_USED{GPU_I_ID="5"}').values()), [4096.0])
                self.assertEqual(list(promql(port, 'gpuscope_tensor_active_ratio{gpu="0"}').values()), [0.6])
                self.assertEqual(list(promql(port, 'DCGM_FI_PROF_DRAM_ACTIVE{gpu="0"}').values()), [0.3])
                time.sleep(13)
                peak = promql(port, 'max_over_time(gpuscope_power_instant_window_max_watts{gpu="0"}[1m])')
                self.assertGreaterEqual(list(peak.values())[0], 900)
                mean = promql(port, 'avg_over_time(gpuscope_power_instant_window_mean_watts{gpu="0"}[1m])')
                self.assertLess(list(mean.values())[0], 200)
                # Throttle seconds, clock loss, Xid per code and NVLink per link.
                cap = promql(port, 'increase(gpuscope_clock_event_seconds_total{gpu="0",reason="power_cap"}[12s])')
                self.assertGreater(list(cap.values())[0], 5)
                loss = promql(port, 'gpuscope_sm_clock_loss_ratio{gpu="0"}')
                self.assertAlmostEqual(list(loss.values())[0], 1 - 1485 / 1980)
                self.assertEqual(list(promql(port, 'gpuscope_xid_code_errors_total{xid="79"}').values()), [1.0])
                self.assertEqual(list(promql(port, 'DCGM_FI_DEV_XID_ERRORS{gpu="0"}').values()), [79.0])
                links = promql(port, 'gpuscope_nvlink_up{gpu="0"}')
                self.assertEqual(sorted((json.loads(k)["link"], v) for k, v in links.items()),
                                 [("0", 1.0), ("1", 0.0)])
                self.assertGreater(list(promql(port, 'rate(gpuscope_nvlink_transmit_bytes_total{link="0"}[12s])').values())[0], 0)
        finally:
            if prom:
                prom.terminate()
                prom.wait(10)
            shutil.rmtree(data, ignore_errors=True)
            os.unlink(scenario)


if __name__ == "__main__":
    unittest.main(verbosity=2)
