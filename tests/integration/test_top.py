"""`gpuscope top` driven in a real terminal (tmux send-keys, capture-pane): against --demo
and against a demo agent over --url; every GPU, the scenario's processes and verdicts on
screen, help, sort, filter, the selected-GPU view, resizes to 80x24 and 200x60, NO_COLOR,
an agent that goes away, and --once."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, SIM_LIB, Agent, run  # noqa: E402


class Tmux:
    """A private tmux server (own socket) running one command in a pane of a given size."""

    def __init__(self, command, cols=80, rows=24, env=None):
        self.sock = os.path.join(tempfile.mkdtemp(prefix="gpuscope-tmux-"), "s")
        e = {"GPUSCOPE_SIM_LIB": SIM_LIB, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        e.update(env or {})
        envs = " ".join("%s=%s" % kv for kv in e.items())
        # The pane stays after the command exits, so its exit status can be read.
        self.tmux("new-session", "-d", "-s", "t", "-x", str(cols), "-y", str(rows),
                  "env %s %s; echo EXIT=$?; sleep 60" % (envs, command))

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"] + list(args),
                              capture_output=True, text=True, timeout=10).stdout

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", "-t", "t", *(["-e"] if escapes else []))

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def resize(self, cols, rows):
        self.tmux("resize-window", "-t", "t", "-x", str(cols), "-y", str(rows))

    def wait(self, predicate, timeout=30, what="screen"):
        deadline = time.time() + timeout
        text = ""
        while time.time() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError("timed out waiting for %s; screen:\n%s" % (what, text))

    def close(self):
        self.tmux("kill-server")
        shutil.rmtree(os.path.dirname(self.sock), ignore_errors=True)


def gpu_lines(text):
    return re.findall(r"^[ >]\s?(\d+) H200", text, re.M)


@unittest.skipUnless(shutil.which("tmux"), "tmux not installed")
class TopTest(unittest.TestCase):
    def test_demo_in_80x24_then_200x60(self):
        t = Tmux("%s top --demo --interval 200ms" % BIN)
        try:
            text = t.wait(lambda s: len(gpu_lines(s)) == 8, what="8 GPU lines")
            self.assertIn("SIMULATED", text)
            for line in text.splitlines():
                self.assertLessEqual(len(line), 80)
            # The scenario's processes, by name, and the live verdicts once they come.
            t.keys("s", "s", "s", "s")  # sort by name: a stable order to read
            t.wait(lambda s: "sort:name" in s)
            t.resize(200, 60)
            text = t.wait(lambda s: "vllm" in s and "tritonserver" in s and "torchrun" in s,
                          what="processes at 200x60")
            self.assertEqual(len(gpu_lines(text)), 8)
            text = t.wait(lambda s: "critical:" in s and "warning:" in s, timeout=40,
                          what="live verdicts")
            self.assertIn("thermally throttled", text)
            # Filter, then the selected GPU with its verdicts and fixes.
            t.keys("/", "triton", "Enter")
            text = t.wait(lambda s: "PROCESSES 1 of 8" in s, what="filter")
            self.assertIn("tritonserver", text)
            self.assertNotIn("torchrun", text)
            t.keys("Escape")
            t.wait(lambda s: "PROCESSES 8 of 8" in s, what="filter cleared")
            for _ in range(5):
                t.keys("Down")
            t.keys("Enter")
            text = t.wait(lambda s: "GPU 5  NVIDIA H200" in s, what="GPU 5's view")
            self.assertIn("fix:", text)
            self.assertIn("torchrun", text)
            t.keys("?")
            t.wait(lambda s: "gpuscope top - keys" in s, what="help")
            t.keys("x")
            t.resize(80, 24)
            t.wait(lambda s: "gpuscope top - keys" not in s and "GPU 5  NVIDIA" in s)
            t.keys("Escape", "q")
            t.wait(lambda s: "EXIT=0" in s, what="exit 0 on q")
        finally:
            t.close()

    def test_remote_agent_and_it_going_away(self):
        with Agent() as agent:
            # Each GPU's process table comes with its first slow sweep ("read": true).
            procs = agent.wait_for(
                lambda: (lambda d: d if all(g.get("read") for g in d["gpus"]) else None)(
                    agent.json("/api/v1/processes")[1]),
                timeout=30, what="every GPU's process table")
            pids = [p["pid"] for g in procs["gpus"] for p in g["processes"]]
            self.assertEqual(len(pids), 8)
            t = Tmux("%s top --url http://127.0.0.1:%d --interval 300ms" % (BIN, agent.port),
                     cols=120, rows=40)
            try:
                text = t.wait(lambda s: len(gpu_lines(s)) == 8, what="8 GPU lines")
                text = t.wait(lambda s: all(re.search(r"^\s*%d\s" % p, s, re.M) for p in pids),
                              what="every pid of /api/v1/processes")
                # The live verdict of each GPU is the most severe one /api/v1/diagnosis gives.
                text = t.wait(lambda s: "critical:" in s, timeout=60, what="verdicts")
                _, diag = agent.json("/api/v1/diagnosis")
                rank = {"critical": 3, "warning": 2, "info": 1}
                text = t.screen()
                for g in range(8):
                    vs = [v for v in diag["verdicts"] if v["gpu"] == g]
                    if not vs:
                        continue
                    worst = max(rank.get(v["severity"], 0) for v in vs)
                    sev = [k for k, r in rank.items() if r == worst][0]
                    m = re.search(r"^[ >]\s?%d H200.*\n(.*)$" % g, text, re.M)
                    self.assertIsNotNone(m, text)
                    self.assertIn(sev + ":", m.group(1), "GPU %d\n%s" % (g, text))
                agent.stop()
                text = t.wait(lambda s: "unreachable" in s, what="agent gone line")
                self.assertEqual(len(gpu_lines(text)), 8, "the last data stays on screen")
                self.assertIn("showing data from", text)
                t.keys("q")
                t.wait(lambda s: "EXIT=0" in s, what="exit 0 on q")
            finally:
                t.close()

    def test_remote_agent_inferences_in_the_gpu_view(self):
        # What a `gpuscope run` program sends (docs/inference.md): 100 inferences of
        # 1..100 ms on GPU 0, half of it on the GPU, 2 J each; top --url shows them in GPU
        # 0's view as /api/v1/inference says.
        tmp = tempfile.TemporaryDirectory()
        sock = os.path.join(tmp.name, "inference.sock")
        with Agent("--inference-socket", sock) as agent:
            end0 = time.time_ns() - 30 * 10 ** 9
            lines = []
            for i in range(1, 101):
                lat, end = i / 1000, end0 + i * 90 * 10 ** 6
                lines.append(json.dumps({
                    "type": "inference", "pid": 1, "process": "bench.py", "range": "infer",
                    "boundary": "nvtx", "complete": True, "gpu": "0", "latency_s": lat,
                    "start_unix_ns": end - int(lat * 1e9), "end_unix_ns": end,
                    "gpu_busy_s": lat / 2, "kernels": 7, "energy_j": 2.0}))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            for k in range(0, 100, 50):
                s.sendto("\n".join(lines[k:k + 50]).encode(), sock)
            s.close()
            # Both datagrams in the agent first, so top's first inference line has all 100.
            agent.wait_for(lambda: (lambda rows: rows and rows[0]["inferences"] == 100)(
                agent.json("/api/v1/inference?range=15m&gpu=0")[1].get("rows")),
                what="the agent to hold all 100 inferences")
            t = Tmux("%s top --url http://127.0.0.1:%d --interval 300ms" % (BIN, agent.port),
                     cols=120, rows=40)
            try:
                t.wait(lambda s: len(gpu_lines(s)) == 8, what="8 GPU lines")
                t.keys("Enter")  # GPU 0, the first line
                text = t.wait(lambda s: "infer    infer bench.py[" in s, what="GPU 0's inferences")
                _, doc = agent.json("/api/v1/inference?range=15m&gpu=0")
                r = doc["rows"][0]
                line = [x for x in text.splitlines() if "infer    infer" in x][0]
                m = re.search(r": (\d+), [\d.]+/s, p50/p95/p99 ([\d.]+)/([\d.]+)/([\d.]+) ms, "
                              r"GPU ([\d.]+) ms, ([\d.]+) J", line)
                self.assertIsNotNone(m, line)
                self.assertEqual(int(m.group(1)), 100)
                lat = r["latency_seconds"]
                for got, want, sent in ((m.group(2), lat["p50"], 50), (m.group(3), lat["p95"], 95),
                                        (m.group(4), lat["p99"], 99)):
                    self.assertAlmostEqual(float(got), want * 1e3, delta=want * 1e3 * 0.005)
                    self.assertLessEqual(abs(float(got) - sent) / sent, 0.022 + 0.005)
                self.assertAlmostEqual(float(m.group(5)), 25.25, delta=0.06)
                self.assertEqual(float(m.group(6)), 2.0)
                t.keys("Escape", "q")
                t.wait(lambda s: "EXIT=0" in s, what="exit 0 on q")
            finally:
                t.close()
                tmp.cleanup()

    def test_no_color(self):
        for env, want_colour in (({}, True), ({"NO_COLOR": "1"}, False)):
            t = Tmux("%s top --demo" % BIN, env=env)
            try:
                t.wait(lambda s: len(gpu_lines(s)) == 8)
                time.sleep(1.5)
                coloured = re.search(r"\x1b\[[0-9;]*3[1-6](;[0-9]+)*m", t.screen(escapes=True))
                self.assertEqual(bool(coloured), want_colour, env)
            finally:
                t.close()

    def test_once_and_bad_flags(self):
        with Agent() as agent:
            rc, out, err = run("top", "--url", "http://127.0.0.1:%d" % agent.port, "--once")
            self.assertEqual(rc, 0, err)
            self.assertEqual(len(gpu_lines(out)), 8)
            self.assertIn("vllm", out)
            self.assertNotIn("\x1b", out)
            rc, out, _ = run("top", "--url", "http://127.0.0.1:%d" % agent.port, "--once",
                             "--size", "80x24")
            self.assertEqual(len(out.splitlines()), 24)
        rc, out, err = run("top", "--demo", "--once")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(gpu_lines(out)), 8)
        self.assertIn("SIMULATED", err)  # the banner
        rc, out, err = run("top", "--url", "http://127.0.0.1:1", "--once")
        self.assertEqual(rc, 1)
        self.assertIn("unreachable", out)
        for args in (["--interval", "50ms"], ["--interval", "11s"], ["--size", "10x2"],
                     ["--url", "ftp://x"], ["--url", "http://x", "--demo"], ["--bogus"]):
            rc, _, err = run("top", "--once", *args)
            self.assertEqual(rc, 2, args)
            self.assertIn("gpuscope top:", err)
        rc, _, err = run("top")  # not a terminal here
        self.assertEqual(rc, 2)
        self.assertIn("--once", err)


if __name__ == "__main__":
    unittest.main()
