"""A real Alertmanager and a real Prometheus (Debian packages) around the
demo agent: the agent's Xid, thermal, memory and idle stories fire within
their `for`, Alertmanager routes them to a local webhook receiver, and the
resolve follows when a story ends.  Prometheus, scraping the same agent with
the rules `gpuscope export rules` writes from the same rules file, fires the
same alerts on the same GPUs and sends them to the same Alertmanager."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, free_port, run  # noqa: E402
from receivers import Receivers  # noqa: E402
from test_alerts import FAST_RULES, firing, stories, write  # noqa: E402

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER = (shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
                or "/usr/bin/prometheus-alertmanager")
STORIES = {("GpuTemperatureHigh", 0), ("GpuUtilizationLow", 1), ("GpuMemoryHigh", 2),
           ("GpuXidError", 3), ("GpuEccUncorrectable", 3)}


def start_prometheus(data, target_port, rules, am_port):
    """Prometheus scraping the agent every second, evaluating rules, alerting to am_port."""
    port = free_port()
    cfg = os.path.join(data, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "  evaluation_interval: 1s\n"
                "rule_files: ['%s']\n"
                "alerting:\n  alertmanagers:\n"
                "    - static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                "scrape_configs:\n  - job_name: gpuscope\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % (rules, am_port, target_port))
    prom = subprocess.Popen(
        [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(data, "tsdb"),
         "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "prom.log"), "w"))
    return prom, port


def start_alertmanager(data, hook_url):
    port = free_port()
    cfg = os.path.join(data, "alertmanager.yml")
    with open(cfg, "w") as f:
        f.write("route:\n  receiver: hook\n  group_by: ['...']\n  group_wait: 1s\n"
                "  group_interval: 1s\n  repeat_interval: 1h\n"
                "receivers:\n  - name: hook\n    webhook_configs:\n"
                "      - url: '%s'\n        send_resolved: true\n" % hook_url)
    am = subprocess.Popen(
        [ALERTMANAGER, "--config.file=" + cfg, "--storage.path=" + os.path.join(data, "am"),
         "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address=",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "am.log"), "w"))
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=1)
            return am, port
        except OSError:
            time.sleep(0.2)
    am.kill()
    raise AssertionError("alertmanager did not start: " +
                         open(os.path.join(data, "am.log")).read())


def notified(recv, source):
    """(alertname, gpu) -> statuses, in order, of one source's alerts at the hook."""
    out = {}
    for body in recv.received("/hook"):
        for a in body["alerts"]:
            ls = a["labels"]
            from_prometheus = "job" in ls
            if from_prometheus != (source == "prometheus"):
                continue
            out.setdefault((ls["alertname"], int(ls["gpu"])), []).append(a["status"])
    return out


def wait(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


class AlertmanagerTest(unittest.TestCase):
    def test_stories_through_alertmanager(self):
        data = tempfile.mkdtemp()
        recv = Receivers(free_port()).start()
        am = prom = None
        try:
            am, am_port = start_alertmanager(data, recv.url("/hook"))
            rules = write(FAST_RULES)
            exported = os.path.join(data, "rules.yml")
            rc, _, err = run("export", "rules", "--names", "native", "--alert-rules", rules,
                             "--output", exported)
            self.assertEqual(rc, 0, err)
            with Agent("--alert-rules", rules, "--hostname", "node-a", "--alertmanager",
                       "http://127.0.0.1:%d" % am_port, scenario=stories()) as agent:
                prom, prom_port = start_prometheus(data, agent.port, exported, am_port)
                t0 = time.time()
                wait(lambda: STORIES <= set(notified(recv, "agent")), 15,
                     "the agent's story alerts at the hook")
                self.assertLess(time.time() - t0, 15)
                got = notified(recv, "agent")
                for key in STORIES:
                    self.assertEqual(got[key][0], "firing", key)
                for key in got:
                    self.assertIn(key, STORIES | {("GpuMemoryHighSustained", 2)}, key)
                body = recv.received("/hook")[0]
                self.assertEqual(body["version"], "4")
                self.assertEqual(body["receiver"], "hook")

                # The thermal story ends at t=14 s, the Xid leaves its 8 s window:
                # Alertmanager sends the resolves.
                wait(lambda: notified(recv, "agent").get(("GpuTemperatureHigh", 0))
                     == ["firing", "resolved"], 25, "the thermal resolve")
                wait(lambda: notified(recv, "agent").get(("GpuXidError", 3))
                     == ["firing", "resolved"], 15, "the Xid resolve")
                self.assertEqual(notified(recv, "agent")[("GpuMemoryHigh", 2)], ["firing"])

                # Prometheus, with the exported rules, agrees on what is firing
                # now and routes through the same Alertmanager.
                def prom_firing():
                    with urllib.request.urlopen(
                            "http://127.0.0.1:%d/api/v1/alerts" % prom_port, timeout=5) as r:
                        doc = json.load(r)
                    return {(a["labels"]["alertname"], int(a["labels"]["gpu"]))
                            for a in doc["data"]["alerts"] if a["state"] == "firing"}
                wait(lambda: {("GpuUtilizationLow", 1), ("GpuMemoryHigh", 2)}
                     <= prom_firing(), 20, "Prometheus' alerts")
                # Prometheus sees each change a scrape and an evaluation later.
                sustained = {("GpuMemoryHighSustained", 2)}
                wait(lambda: prom_firing() - sustained == set(firing(agent)) - sustained, 10,
                     "Prometheus and the agent to agree (agent %s, Prometheus %s)"
                     % (sorted(firing(agent)), sorted(prom_firing())))
                wait(lambda: ("GpuMemoryHigh", 2) in notified(recv, "prometheus"), 15,
                     "Prometheus' alerts at the hook")
        finally:
            for p in (prom, am):
                if p:
                    p.terminate()
                    p.wait(10)
            recv.stop()


if __name__ == "__main__":
    unittest.main()
