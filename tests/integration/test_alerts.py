"""Alert rules evaluated in the agent on simulator stories: the right alerts
fire within their `for`, on /api/v1/alerts and /metrics, with the GPU's own
thresholds; they resolve when the story ends; a rules file changes them; a
bad file is exit 2 at start and keeps the rules in use on SIGHUP."""
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, run, series, write_scenario  # noqa: E402

HEALTHY = {"util_gpu_pct": 80, "power_w": 400, "temp_c": 60, "fb_used_mib": 70000}


def gpu(**metrics):
    m = dict(HEALTHY)
    m.update(metrics)
    return {"model": "NVIDIA H200", "metrics": m}


def stories():
    g = [
        gpu(temp_c={"steps": [[0, 92], [14, 60]]}),   # 0: above its 89 C slowdown, then cools
        gpu(util_gpu_pct=0, power_w=80),               # 1: idle
        gpu(fb_used_mib=140000),                       # 2: 97% of memory in use
        gpu(),                                         # 3: Xid 79 and a DBE at t=4
        gpu(),                                         # 4: healthy: nothing fires
        gpu(temp_c=86),                                # 5: over the 83 C fallback, under its own 90 C
    ]
    g[3]["faults"] = {"xid": [{"at": 4, "code": 79}], "ecc_dbe_events": [{"at": 4}]}
    g[5]["slowdown_temp_c"] = 90
    return write_scenario({"name": "alert-stories", "gpus": g})


FAST_RULES = """rules:
  - {name: GpuTemperatureHigh, for: 2s, window: 0, keep_firing_for: 1s}
  - {name: GpuUtilizationLow, for: 2s, window: 2s}
  - {name: GpuMemoryHigh, for: 2s, window: 0}
  - {name: GpuXidError, window: 8s}
  - {name: GpuEccUncorrectable, window: 8s}
"""


def write(text):
    fd, path = tempfile.mkstemp(suffix=".yml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def firing(agent):
    status, doc = agent.json("/api/v1/alerts")
    assert status == 200, status
    return {(a["labels"]["alertname"], int(a["labels"]["gpu"])): a
            for a in doc["data"]["alerts"] if a["state"] == "firing"}


class AlertsTest(unittest.TestCase):
    def test_stories_fire_and_resolve(self):
        rules = write(FAST_RULES)
        with Agent("--alert-rules", rules, "--hostname", "node-a", scenario=stories()) as agent:
            want = {("GpuTemperatureHigh", 0), ("GpuUtilizationLow", 1), ("GpuMemoryHigh", 2),
                    ("GpuXidError", 3), ("GpuEccUncorrectable", 3)}
            got = agent.wait_for(lambda: want <= set(firing(agent)) and firing(agent),
                                 timeout=12, what="the five story alerts")
            t_fire = time.time()
            self.assertEqual(set(got), want, "only the stories' alerts fire")
            status, doc = agent.json("/api/v1/alerts")
            for a in doc["data"]["alerts"]:
                self.assertNotIn(a["labels"]["gpu"], ("4", "5"), a)  # not even pending
            temp = got[("GpuTemperatureHigh", 0)]
            self.assertEqual(temp["labels"]["severity"], "critical")
            self.assertEqual(temp["labels"]["hostname"], "node-a")
            self.assertEqual(temp["labels"]["modelName"], "NVIDIA H200")
            self.assertTrue(temp["labels"]["UUID"].startswith("GPU-"))
            self.assertIn("89", temp["annotations"]["description"])  # its own threshold
            self.assertGreaterEqual(float(temp["value"]), 92)
            self.assertEqual(got[("GpuXidError", 3)]["labels"]["xid"], "79")
            self.assertEqual(got[("GpuUtilizationLow", 1)]["labels"]["severity"], "warning")
            self.assertEqual(doc["data"]["rules"]["file"], rules)

            m = agent.metrics()
            on_metrics = {(dict(ls)["alertname"], int(dict(ls)["gpu"]))
                          for (n, ls), v in m.items()
                          if n == "gpuscope_alert" and dict(ls)["alertstate"] == "firing"}
            self.assertTrue(want <= on_metrics, on_metrics)
            self.assertEqual(len(series(m, "gpuscope_alert_active_since_seconds",
                                        alertname="GpuXidError", gpu="3")), 1)

            # The thermal story ends at t=14 s and the Xid leaves its 8 s window:
            # both resolve, the rest keep firing.
            agent.wait_for(lambda: not ({("GpuTemperatureHigh", 0), ("GpuXidError", 3)}
                                        & set(firing(agent))),
                           timeout=20, what="resolves")
            self.assertLess(time.time() - t_fire, 20)
            left = set(firing(agent))
            self.assertIn(("GpuUtilizationLow", 1), left)
            self.assertIn(("GpuMemoryHigh", 2), left)
            log = agent.stderr()
            self.assertEqual(log.count("alert GpuTemperatureHigh firing on GPU 0"), 1)
            self.assertEqual(log.count("alert GpuTemperatureHigh resolved on GPU 0"), 1)

    def test_bad_rules_file_is_exit_2(self):
        bad = write("rules:\n  - name: GpuMemoryHigh\n    treshold: 0.8\n")
        rc, out, err = run("serve", "--demo", "--listen", "127.0.0.1:0", "--alert-rules", bad)
        self.assertEqual(rc, 2, err)
        self.assertIn("line 3, column 5", err)
        self.assertIn("treshold", err)
        rc, _, err = run("serve", "--demo", "--alert-rules", "/nonexistent.yml")
        self.assertEqual(rc, 2, err)
        self.assertIn("/nonexistent.yml", err)

    def test_reload_on_sighup(self):
        path = write(FAST_RULES)
        with Agent("--alert-rules", path, scenario=stories()) as agent:
            agent.wait_for(lambda: ("GpuUtilizationLow", 1) in firing(agent), timeout=10,
                           what="idle alert")
            _, doc = agent.json("/api/v1/alerts")
            enabled = doc["data"]["rules"]["enabled"]
            with open(path, "w") as f:
                f.write("rules:\n  - name: GpuUtilizationLow\n    for: soon\n")
            agent.proc.send_signal(signal.SIGHUP)
            agent.wait_for(lambda: "reload failed" in agent.stderr(), timeout=5, what="refusal")
            _, doc = agent.json("/api/v1/alerts")
            self.assertIn("for: give a duration", doc["data"]["rules"]["last_reload_error"])
            self.assertIn(("GpuUtilizationLow", 1), firing(agent))  # old rules still apply
            with open(path, "w") as f:
                f.write(FAST_RULES + "  - {name: GpuUtilizationLow, disabled: true}\n")
            agent.proc.send_signal(signal.SIGHUP)
            agent.wait_for(lambda: ("GpuUtilizationLow", 1) not in firing(agent), timeout=5,
                           what="disabled rule to resolve")
            _, doc = agent.json("/api/v1/alerts")
            self.assertIsNone(doc["data"]["rules"]["last_reload_error"])
            self.assertEqual(doc["data"]["rules"]["enabled"], enabled - 1)
            self.assertIn("alert GpuUtilizationLow resolved on GPU 1", agent.stderr())
            self.assertEqual(agent.stop(), 0)


if __name__ == "__main__":
    unittest.main()
