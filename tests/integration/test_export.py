"""`gpuscope export rules`: promtool accepts the rules, and `promtool test
rules` with series scraped from the demo agent's stories finds exactly the
alerts the stories should raise, under gpuscope's names and dcgm-exporter's.
`gpuscope export grafana`: every query of the dashboard returns data from a
real Prometheus scraping the demo agent (unless the agent exports none of the
series it reads)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, parse_exposition, run, write_scenario  # noqa: E402
from test_prometheus import promql, start_prometheus, wait_until  # noqa: E402

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
OK = {"util_gpu_pct": 80, "power_w": 400, "temp_c": 60, "fb_used_mib": 70000}


def stories():
    def gpu(**m):
        return {"model": "NVIDIA H200", "metrics": dict(OK, **m)}
    g = [gpu(temp_c=92),                                   # 0 thermal
         gpu(util_gpu_pct=0, power_w=80),                  # 1 idle
         gpu(fb_used_mib=140000),                          # 2 memory
         gpu(ecc_dbe_volatile={"steps": [[0, 0], [2, 1]]}),  # 3 Xid + ECC at t=2
         gpu(util_gpu_pct=100, power_w=690),               # 4 at the power limit
         gpu()]                                            # 5 healthy
    g[3]["faults"] = {"xid": [{"at": 2, "code": 79}], "ecc_dbe_events": [{"at": 2}]}
    return write_scenario({"name": "export-stories", "gpus": g})


# What the stories must raise after 90 minutes of the same readings, and
# right after the errors (Xid and ECC look back 5 and 10 minutes only).
AT_90M = {"GpuTemperatureHigh": [0], "GpuUtilizationLow": [1], "GpuMemoryHigh": [2],
          "GpuMemoryHighSustained": [2], "GpuPowerNearLimit": [4], "GpuXidError": [],
          "GpuEccUncorrectable": [], "GpuMemoryOverprovisioned": [],
          "GpuPowerEfficiencyLow": []}
AT_3M = {"GpuXidError": [3], "GpuEccUncorrectable": [3]}


def rules_of(path):
    """alertname -> summary and description templates, read from the generated file."""
    out, name = {}, None
    for line in open(path):
        m = re.match(r"\s+- alert: (\S+)", line)
        if m:
            name = m.group(1)
            out.setdefault(name, {})
        m = re.match(r'\s+(summary|description): "(.*)"$', line)
        if m and name:
            out[name][m.group(1)] = m.group(2).replace('\\"', '"').replace("\\\\", "\\")
    return out


def render(template, labels):
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)


class ExportTest(unittest.TestCase):
    def test_promtool_check_and_test_with_demo_series(self):
        d = tempfile.mkdtemp()
        files = {}
        for names in ("native", "dcgm"):
            files[names] = os.path.join(d, names + ".yml")
            rc, out, err = run("export", "rules", "--names", names, "--output", files[names])
            self.assertEqual(rc, 0, err)
            p = subprocess.run([PROMTOOL, "check", "rules", files[names]], capture_output=True,
                               text=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rc, _, err = run("export", "rules", "--names", "klingon")
        self.assertEqual(rc, 2, err)
        # Both name sets in one file, and per-model overrides (one more rule of
        # the same name each): still no duplicate rules for promtool.
        overrides = os.path.join(d, "overrides.yml")
        with open(overrides, "w") as f:
            f.write('rules:\n  - name: GpuTemperatureHigh\n    models:\n'
                    '      - {match: "A100 (80GB)", threshold: 83}\n'
                    '      - {match: L4, disabled: true}\n')
        both = os.path.join(d, "both.yml")
        rc, _, err = run("export", "rules", "--alert-rules", overrides, "--output", both)
        self.assertEqual(rc, 0, err)
        p = subprocess.run([PROMTOOL, "check", "rules", both], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        text = open(both).read()
        self.assertEqual(text.count("- alert: GpuTemperatureHigh"), 4)
        self.assertIn('model: "A100 (80GB)"', text)

        with Agent("--hostname", "node-a", scenario=stories()) as agent:
            before = parse_exposition(agent.metrics_text())
            agent.wait_for(lambda: time.sleep(0.5) or
                           any(n == "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" and v == 1
                               for (n, _), v in agent.metrics().items()),
                           timeout=15, what="the ECC error on the slow tier")
            after = parse_exposition(agent.metrics_text())
        wanted = set(re.findall(r"\b(gpuscope_[a-z_]+|DCGM_FI_[A-Z_]+)\b",
                                open(files["native"]).read() + open(files["dcgm"]).read()))
        series = []
        for (name, labels), v in sorted(after.items()):
            if name not in wanted:
                continue
            ls = dict(labels, instance="node-a:9400", job="gpuscope")
            sel = name + "{" + ",".join('%s="%s"' % kv for kv in sorted(ls.items())) + "}"
            if (name, labels) in before:
                series.append({"series": sel, "values": "%r %r+0x120" % (before[(name, labels)], v)})
            else:  # a series that appeared (DCGM_FI_DEV_XID_ERRORS' err_code="79"): absent first
                series.append({"series": sel, "values": "_ %r+0x120" % v})

        def labels_of(metric, gpu):
            for (name, labels), _ in after.items():
                ls = dict(labels)
                if name == metric and ls.get("gpu") == str(gpu):
                    return dict(ls, instance="node-a:9400", job="gpuscope")
            raise AssertionError("no %s for GPU %d" % (metric, gpu))

        tests = []
        for names, metric in (("native", "gpuscope_temperature_celsius"),
                              ("dcgm", "DCGM_FI_DEV_GPU_TEMP")):
            rules = rules_of(files[names])
            for at, expect in (("90m", AT_90M), ("3m", AT_3M)):
                for alert, gpus in expect.items():
                    exp = []
                    for g in gpus:
                        ls = labels_of(metric, g)
                        if names == "dcgm" and alert == "GpuXidError":
                            # dcgm-exporter's err_code and err_msg name the Xid in the alert
                            ls = labels_of("DCGM_FI_DEV_XID_ERRORS", g)
                        exp.append({
                            "exp_labels": dict(ls, severity="critical" if alert in (
                                "GpuTemperatureHigh", "GpuPowerNearLimit", "GpuXidError",
                                "GpuEccUncorrectable") else "warning",
                                rule_set="gpuscope" if names == "native" else "dcgm"),
                            "exp_annotations": {
                                "summary": rules[alert]["summary"],
                                "description": render(rules[alert]["description"], ls)}})
                    tests.append((names, {"eval_time": at, "alertname": alert,
                                          "exp_alerts": exp}))
        for names in ("native", "dcgm"):
            doc = {"rule_files": [files[names]], "evaluation_interval": "1m",
                   "tests": [{"interval": "1m", "input_series": series,
                              "alert_rule_test": [t for n, t in tests if n == names]}]}
            path = os.path.join(d, names + "-test.yml")
            with open(path, "w") as f:
                json.dump(doc, f)  # JSON is YAML
            p = subprocess.run([PROMTOOL, "test", "rules", path], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, names + ":\n" + p.stdout[-4000:] + p.stderr[-2000:])

    def test_grafana_queries_return_data(self):
        rc, out, err = run("export", "grafana")
        self.assertEqual(rc, 0, err)
        dash = json.loads(out)
        exprs = []

        def walk(panels):
            for p in panels:
                walk(p.get("panels", []))
                for t in p.get("targets", []):
                    exprs.append((p["title"], t["expr"]))
        walk(dash["panels"])
        self.assertGreater(len(exprs), 40)
        data = tempfile.mkdtemp()
        hist = os.path.join(data, "history.db")
        with Agent("--history", hist, "--alert-rules", write_rules(), scenario=stories()) as agent:
            prom, port = start_prometheus(data, agent.port)
            try:
                wait_until(port, 'up{job="gpuscope"} == 1')
                time.sleep(4)  # a few scrapes, so rates have two points
                exported = set(n for n, _ in agent.metrics())
                missing, skipped = [], []
                for title, expr in exprs:
                    q = (expr.replace("$instance", ".*").replace("$gpu", ".*")
                         .replace("$__rate_interval", "1m").replace("$price", "2.5"))
                    if promql(port, q):
                        continue
                    names = set(re.findall(r"\b(gpuscope_[a-z_]+)\b", q))
                    if names and not names & exported:
                        skipped.append(title)  # the demo GPUs have none of these series
                        continue
                    missing.append((title, q))
                self.assertEqual(missing, [])
                self.assertLess(len(skipped), len(exprs) // 4, skipped)
            finally:
                prom.terminate()
                prom.wait(10)


def write_rules():
    """Fast rules so that alerts and verdict series exist within seconds."""
    fd, path = tempfile.mkstemp(suffix=".yml")
    with os.fdopen(fd, "w") as f:
        f.write("rules:\n  - {name: GpuTemperatureHigh, for: 0, window: 0}\n")
    return path


if __name__ == "__main__":
    unittest.main()
