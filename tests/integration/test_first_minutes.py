"""The first five minutes of a new user: `make run` on a machine without a driver, the live
demo's verdicts and processes, the simulated mark on everything the simulator wrote, one
agent per port, and endpoints a user finds (/health, /, the 404 body, serve --help)."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, SIM_LIB, Agent, parse_exposition, run  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENDPOINTS = ["/metrics", "/health", "/healthz", "/api/v1/gpus", "/api/v1/processes",
             "/api/v1/workloads", "/api/v1/diagnosis", "/"]


def report_demo_verdicts():
    """{gpu: {verdict ids}} of `report --demo`, the answer the live demo must give."""
    rc, out, err = run("report", "--demo", "--format", "json", timeout=120)
    assert rc == 0, err
    want = {}
    for v in json.loads(out)["verdicts"]:
        if v.get("gpu") is not None:
            want.setdefault(v["gpu"], set()).add(v["id"])
    return want


def get(port, path, timeout=5):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class MakeRunDemo:
    """`scripts/run.sh BUILD --listen 127.0.0.1:0`, exactly as `make run` starts the agent on
    a machine without a driver, with TMPDIR pointed at a directory the test watches."""

    def __enter__(self):
        if os.path.exists("/proc/driver/nvidia/version"):
            raise unittest.SkipTest("an NVIDIA driver is present: make run serves real GPUs")
        self.tmp = tempfile.mkdtemp()
        env = {k: v for k, v in os.environ.items() if k not in ("GPUSCOPE_NVML_LIB",)}
        env.update(TMPDIR=self.tmp, GPUSCOPE_SIM_LIB=SIM_LIB)
        self.log = open(os.path.join(self.tmp, "stderr"), "w+")
        build = os.path.dirname(os.path.abspath(BIN))
        self.proc = subprocess.Popen(["bash", os.path.join(ROOT, "scripts/run.sh"), build,
                                      "--listen", "127.0.0.1:0"],
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        self.started = time.time()
        deadline = time.time() + 15
        while time.time() < deadline:
            m = re.search(r"on port (\d+)", self.stderr())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("run.sh exited early:\n" + self.stderr())
            time.sleep(0.05)
        raise AssertionError("run.sh did not start serving:\n" + self.stderr())

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class LiveDemoTest(unittest.TestCase):
    def test_make_run_demo_tells_every_story_within_60s(self):
        want = report_demo_verdicts()
        self.assertEqual(len(want), 8, want)  # every GPU of the default scenario has a story
        with MakeRunDemo() as agent:
            self.assertIn("SIMULATED GPUs", agent.stderr())
            live, verdict_series, doc = {}, set(), None
            while time.time() - agent.started < 60:
                status, body = get(agent.port, "/api/v1/diagnosis")
                doc = json.loads(body)
                live = {}
                for v in doc.get("verdicts", []):
                    if v.get("gpu") is not None:
                        live.setdefault(v["gpu"], set()).add(v["id"])
                samples = parse_exposition(get(agent.port, "/metrics")[1])
                verdict_series = {(int(dict(ls)["gpu"]), dict(ls)["verdict"])
                                  for (n, ls), val in samples.items()
                                  if n == "gpuscope_verdict" and val == 1}
                if all(want[g] <= live.get(g, set()) for g in want) and all(
                        (g, i) in verdict_series for g in want for i in want[g]):
                    break
                time.sleep(2)
            for g in sorted(want):
                self.assertLessEqual(want[g], live.get(g, set()),
                                     "GPU %d: live %s, report --demo %s" % (g, live.get(g), want[g]))
                for i in want[g]:
                    self.assertIn((g, i), verdict_series)
            # The same story, not more: no verdict the report over an hour does not give.
            for g, ids in live.items():
                self.assertLessEqual(ids, want.get(g, set()), "GPU %d" % g)
            self.assertTrue(doc["simulated"])

            # Processes as the scenario gives them: names, users, pods, containers, CPU.
            with open(os.path.join(ROOT, "sim/scenarios/default.json")) as f:
                scn = json.load(f)
            status, body = get(agent.port, "/api/v1/processes")
            procs = {p["pid"]: p for g in json.loads(body)["gpus"] for p in g["processes"]}
            for gi, g in enumerate(scn["gpus"]):
                for sp in g.get("processes", []):
                    p = procs[sp["pid"]]
                    self.assertEqual(p["status"], "ok", p)
                    self.assertEqual(p["user"], sp.get("user", "root"))
                    exe = os.path.basename((sp.get("cmdline") or "/usr/bin/" + sp["name"]).split()[0])
                    self.assertEqual(p["name"], exe)
                    if "pod" in sp:
                        self.assertEqual(p["workload"]["pod"], sp["pod"]["name"])
                        self.assertEqual(p["workload"]["namespace"], sp["pod"]["namespace"])
                        self.assertEqual(p["workload"]["container"], sp["pod"]["container"])
                    cores = sp.get("cpu_cores")
                    if isinstance(cores, (int, float)):
                        self.assertAlmostEqual(p["cpu_utilization_ratio"], cores, delta=0.05)
                    else:
                        self.assertIsNotNone(p["cpu_utilization_ratio"])
            self.assertAlmostEqual(procs[4242]["cpu_utilization_ratio"], 0.97, delta=0.05)
            samples = parse_exposition(get(agent.port, "/metrics")[1])
            names = {dict(ls).get("process") for (n, ls) in samples
                     if n == "gpuscope_process_cpu_utilization_ratio"}
            self.assertIn("vllm", names)
            self.assertIn("tritonserver", names)
            pods = {dict(ls).get("pod") for (n, ls) in samples if n == "DCGM_FI_DEV_GPU_UTIL"}
            self.assertIn("llama-70b-0", pods)  # dcgm-exporter's pod label: one pod holds GPU 0
            status, body = get(agent.port, "/api/v1/workloads")
            self.assertEqual(status, 200)
            self.assertIn("llama-70b-0", body)
            status, body = get(agent.port, "/api/v1/gpus")
            self.assertTrue(json.loads(body)["simulated"])
            demo_dirs = glob.glob(os.path.join(agent.tmp, "gpuscope-demo-*"))
            self.assertEqual(len(demo_dirs), 1, demo_dirs)
            self.assertTrue(os.path.exists(os.path.join(demo_dirs[0], "history.db")))
            agent.proc.send_signal(signal.SIGTERM)
            self.assertEqual(agent.proc.wait(20), 0)
            # The temporary history and host are gone with the agent.
            self.assertEqual(glob.glob(os.path.join(agent.tmp, "gpuscope-demo-*")), [])


class SimulatedHistoryTest(unittest.TestCase):
    def test_report_and_query_say_simulated_in_every_format(self):
        d = tempfile.mkdtemp()
        try:
            path = os.path.join(d, "h.db")
            with Agent("--history", path) as agent:
                agent.wait_for(lambda: agent.json("/healthz")[1].get("history", {}).get("rows", 0) >= 16,
                               timeout=20, what="rows in the history")
            for fmt, mark in (("text", "SIMULATED GPUs"), ("markdown", "SIMULATED"),
                              ("html", "SIMULATED"), ("json", '"simulated": true')):
                rc, out, err = run("report", "--history", path, "--since", "1h", "--format", fmt)
                self.assertEqual(rc, 0, err)
                self.assertIn(mark, out, fmt)
                self.assertIn("demo-h200x8", out, fmt)
            rc, out, err = run("query", "--history", path, "--since", "1h", "--format", "json")
            self.assertEqual(rc, 0, err)
            doc = json.loads(out)
            self.assertTrue(doc["simulated"])
            self.assertEqual(doc["scenario"], "demo-h200x8")
            rc, out, err = run("query", "--history", path, "--since", "1h")
            self.assertEqual(rc, 0, err)
            self.assertIn("SIMULATED GPUs", err)
            self.assertTrue(out.startswith("t,time,gpu,uuid"))  # the CSV itself stays CSV
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_real_history_is_not_marked(self):
        """A history no simulator wrote reads as real: the mark comes from the file."""
        d = tempfile.mkdtemp()
        try:
            path = os.path.join(d, "h.db")
            with Agent("--history", path) as agent:
                agent.wait_for(lambda: agent.json("/healthz")[1].get("history", {}).get("rows", 0) >= 8,
                               timeout=20, what="rows in the history")
            subprocess.run(["sqlite3", path, "DELETE FROM meta"], check=True)
            rc, out, err = run("report", "--history", path, "--since", "1h", "--format", "json")
            self.assertEqual(rc, 0, err)
            self.assertNotIn('"simulated": true', out)
            rc, out, err = run("query", "--history", path, "--since", "1h")
            self.assertNotIn("SIMULATED", err)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class PortAndEndpointsTest(unittest.TestCase):
    def test_second_agent_on_a_taken_port_exits_1(self):
        with Agent() as first:
            p = subprocess.run([BIN, "serve", "--demo", "--no-history", "--listen",
                                "127.0.0.1:%d" % first.port],
                               capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, GPUSCOPE_SIM_LIB=SIM_LIB))
            self.assertEqual(p.returncode, 1, p.stderr)
            lines = [ln for ln in p.stderr.splitlines() if str(first.port) in ln]
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn("already in use", lines[0])
            # The first agent keeps every request.
            for _ in range(50):
                self.assertEqual(first.get("/health")[0], 200)
            self.assertIsNone(first.proc.poll())

    def test_health_index_and_404_name_every_endpoint(self):
        with Agent("--no-history") as agent:
            status, hdrs, body = agent.get("/health")
            self.assertEqual((status, body), (200, b"OK"))
            for path in ENDPOINTS:
                self.assertNotEqual(agent.get(path)[0], 404, path)
            status, hdrs, body = agent.get("/")
            page = body.decode()
            self.assertEqual(status, 200)
            self.assertIn("text/html", hdrs["Content-Type"])
            self.assertIn("SIMULATED", page)
            self.assertIn(os.uname().nodename, page)
            for g in agent.json("/api/v1/gpus")[1]["gpus"]:
                self.assertIn(g["uuid"], page)
            status, _, body = agent.get("/no/such/page")
            self.assertEqual(status, 404)
            for path in ENDPOINTS:
                self.assertIn('href="%s"' % path, page)
                self.assertIn(path, body.decode())
        rc, out, err = run("serve", "--help")
        self.assertEqual(rc, 0)
        for path in ENDPOINTS:
            self.assertRegex(out, r"(?m)^  %s\s" % re.escape(path))


if __name__ == "__main__":
    unittest.main()
