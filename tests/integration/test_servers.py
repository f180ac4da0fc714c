"""test_servers.py - inference servers joined to simulated GPUs, against the real binary.

Fixture servers (fixture_servers.py) emit each server's real names on a known schedule;
the simulator gives each GPU a constant power, so every figure has a value computed here
by hand: J/token = power x share / tokens per second.  Also covered: a server that hangs,
one that answers 10 MB of garbage, one that restarts (counter reset), and discovery of a
server from a GPU process's listening socket in the real /proc.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_servers import MODEL, FixtureServer, Schedule  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402

from harness import Agent, one, run, series, write_scenario  # noqa: E402

POWER_W = (400.0, 600.0)


def scenario(processes=None):
    gpus = []
    for i, w in enumerate(POWER_W):
        gpus.append({"model": "NVIDIA H200", "memory_total_mib": 143771,
                     "metrics": {"util_gpu_pct": 90, "fb_used_mib": 130000, "power_w": w},
                     "processes": (processes or {}).get(i, [])})
    return write_scenario({"name": "servers", "gpus": gpus})


def server(doc, url):
    return next(s for s in doc["servers"] if s["url"] == url)


class FiguresAndFailures(unittest.TestCase):
    def test_join_failures_and_reset(self):
        scn = scenario()
        sched = Schedule(tokens_per_s=1000, requests_per_s=4, kv=0.3, waiting=3)
        try:
            with FixtureServer("vllm", sched) as vllm, \
                    FixtureServer("sglang", Schedule(tokens_per_s=2000, requests_per_s=8)) as sgl, \
                    FixtureServer("triton", mode="hang") as hang, \
                    FixtureServer("llamacpp", mode="garbage") as junk, \
                    FixtureServer("vllm", sched, restart_after=9) as restart:
                with Agent("--no-history", "--inference-window", "6s", "--inference-poll",
                           "1s", "--no-inference-discovery",
                           "--inference-server", vllm.url + "#gpus=0",
                           "--inference-server", sgl.url + "#gpus=1",
                           "--inference-server", hang.url,
                           "--inference-server", junk.url,
                           "--inference-server", restart.url + "#gpus=1",
                           scenario=scn) as agent:
                    self.check(agent, vllm, sgl, hang, junk, restart)
        finally:
            os.unlink(scn)

    def check(self, agent, vllm, sgl, hang, junk, restart):
        def full_window():
            _, doc = agent.json("/api/v1/servers")
            v = server(doc, vllm.url)
            return doc if v["models"] and not v["models"][0]["warming_up"] else None
        doc = agent.wait_for(full_window, timeout=30, what="a full window")

        v = server(doc, vllm.url)
        self.assertEqual((v["kind"], v["up"], v["joined"]), ("vllm", True, True))
        m = v["models"][0]
        self.assertEqual(m["model"], MODEL)
        self.assertAlmostEqual(m["tokens_generated_per_second"], 1000, delta=40)
        self.assertAlmostEqual(m["requests_per_second"], 4, delta=1.0)  # aborts left out
        self.assertAlmostEqual(m["power_watts"], POWER_W[0], delta=POWER_W[0] * 0.02)
        self.assertAlmostEqual(m["tokens_energy_joules_per_token"],
                               POWER_W[0] / m["tokens_generated_per_second"], delta=0.02)
        self.assertAlmostEqual(m["kv_cache_usage_ratio"], 0.3, places=6)
        self.assertAlmostEqual(m["ttft_p50_seconds"], 0.0375, places=6)

        s = server(doc, sgl.url)
        self.assertEqual(s["kind"], "sglang")
        self.assertTrue(s["lumpy_counters"])
        self.assertEqual((s["window_min_s"], s["window_too_short"]), (60, True))
        self.assertAlmostEqual(s["models"][0]["tokens_generated_per_second"], 2000, delta=400)

        h = server(doc, hang.url)
        self.assertFalse(h["up"])
        self.assertIn("Timeout", h["error"])
        j = server(doc, junk.url)
        self.assertFalse(j["up"])
        self.assertIn("larger than", j["error"])

        # the hung and the oversized servers never hold a scrape up
        t0 = time.monotonic()
        text = agent.metrics_text()
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertIn('gpuscope_inference_server_up{server="%s",kind="unknown",'
                      'found="configured"} 0' % hang.url[7:-8], text)
        status, health = agent.json("/healthz")
        self.assertEqual(status, 200)
        down = [x for x in health["inference_servers"] if not x["up"]]
        self.assertEqual(len(down), 2)

        # /metrics carries the same figure (JSON rounds to 6 digits)
        samples = agent.metrics()
        self.assertAlmostEqual(one(samples, "gpuscope_tokens_energy_joules_per_token",
                                   server=vllm.url[7:-8], model=MODEL),
                               m["tokens_energy_joules_per_token"], delta=1e-5)

        # advice: 3 waiting, KV 0.30 -> raise max_num_seqs towards 0.80 of the cache
        _, adv = agent.json("/api/v1/advice")
        a = next(x for x in adv["advice"] if x["server"] == vllm.url[7:-8])
        self.assertEqual((a["action"], a["knob"]), ("raise", "max_num_seqs"))
        self.assertEqual(a["batch_target"], 16)
        self.assertEqual(a["verdicts"][0]["id"], "batch_too_small")

        # the restart (9 s in) is a counter reset, not negative tokens
        def reset_seen():
            _, d = agent.json("/api/v1/servers")
            r = server(d, restart.url)
            return r if r["models"] and r["models"][0]["counter_reset"] else None
        r = agent.wait_for(reset_seen, timeout=15, what="a counter reset")
        # The tokens between the last read before the restart and the restart are lost
        # (at most one 1 s poll of a 6 s window); the rest count from zero.
        self.assertGreater(r["models"][0]["tokens_generated_per_second"], 1000 * 4.5 / 6)
        self.assertLess(r["models"][0]["tokens_generated_per_second"], 1050)


class Discovery(unittest.TestCase):
    def test_found_from_listening_socket(self):
        """This test process is the scenario's GPU process: the agent, reading the real
        /proc, finds the fixture's listening port among its sockets."""
        pid = os.getpid()
        scn = scenario({0: [{"pid": pid, "name": "python3", "used_mib": 20000,
                             "sm_util_pct": 70}]})
        try:
            with FixtureServer("vllm") as vllm:
                with Agent("--no-history", "--slow-interval", "500ms", "--host-root", "/",
                           "--kubelet-socket", "", "--inference-poll", "500ms",
                           "--inference-window", "3s", scenario=scn) as agent:
                    def found():
                        _, d = agent.json("/api/v1/servers")
                        return [s for s in d["servers"] if s["found"] == "discovered"] or None
                    s = agent.wait_for(found, timeout=20, what="a discovered server")[0]
                    self.assertEqual(s["pid"], pid)
                    self.assertEqual(s["url"], vllm.url)
                    self.assertEqual(s["kind"], "vllm")
                    self.assertEqual([g["gpu"] for g in s["gpus"]], [0])
                    self.assertEqual(s["gpus"][0]["share"], 1.0)
        finally:
            os.unlink(scn)


# TGI's process tree: text-generation-launcher starts the GPU shards and the router as
# siblings; the router listens (its API port and its Prometheus port both answer /metrics).
TGI_ROUTER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from fixture_servers import FixtureServer
with FixtureServer("tgi") as api, FixtureServer("tgi") as prom:
    print(api.port, prom.port, flush=True)
    time.sleep(300)
"""
TGI_LAUNCHER = """
import subprocess, sys, time
shard = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)",
                          "text-generation-server", "serve"])
router = subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[1],
                           "text-generation-router"], stdout=subprocess.PIPE, text=True)
print(shard.pid, router.stdout.readline().strip(), flush=True)
time.sleep(300)
"""


class TGIDiscovery(unittest.TestCase):
    def test_router_found_beside_its_shards(self):
        """The GPU process is a shard; its parent, the launcher, is a known server whose
        child, the router, listens: the launcher is the server, read on the router's
        lower port, once (not again on its metrics port)."""
        here = os.path.dirname(os.path.abspath(__file__))
        launcher = subprocess.Popen([sys.executable, "-c", TGI_LAUNCHER, here, TGI_ROUTER,
                                     "text-generation-launcher"], stdout=subprocess.PIPE,
                                    text=True, start_new_session=True)
        scn = None
        try:
            shard, api, prom = (int(x) for x in launcher.stdout.readline().split())
            scn = scenario({0: [{"pid": shard, "name": "text-generation-server",
                                 "used_mib": 60000, "sm_util_pct": 70}]})
            with Agent("--no-history", "--slow-interval", "500ms", "--host-root", "/",
                       "--kubelet-socket", "", "--inference-poll", "500ms",
                       "--inference-window", "3s", scenario=scn) as agent:
                def joined():
                    _, d = agent.json("/api/v1/servers")
                    found = [s for s in d["servers"] if s["found"] == "discovered"]
                    return found if found and found[0]["gpus"] else None
                found = agent.wait_for(joined, timeout=20, what="a discovered TGI")
                time.sleep(2)  # a later poll adds no second target for the other port
                _, d = agent.json("/api/v1/servers")
                found = [s for s in d["servers"] if s["found"] == "discovered"]
                self.assertEqual(len(found), 1, found)
                s = found[0]
                self.assertEqual(s["kind"], "tgi")
                self.assertEqual(s["pid"], launcher.pid)
                self.assertEqual(s["url"], "http://127.0.0.1:%d/metrics" % min(api, prom))
                self.assertEqual([(g["gpu"], g["share"]) for g in s["gpus"]], [(0, 1.0)])
                self.assertTrue(s["up"])
        finally:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
            launcher.stdout.close()
            if scn:
                os.unlink(scn)

class ConfigFile(unittest.TestCase):
    def test_servers_from_the_config_file(self):
        """serve --config FILE: the servers listed there are read and joined like flags."""
        scn = scenario()
        cfg = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
        try:
            with FixtureServer("vllm") as v, FixtureServer("sglang") as g:
                cfg.write("inference-server:\n  - %s#gpus=0\n  - %s#gpus=1\n"
                          "inference-poll: 500ms\ninference-window: 2s\n"
                          "no-inference-discovery: true\nno-history: true\n"
                          % (v.url, g.url))
                cfg.close()
                with Agent("--config", cfg.name, scenario=scn) as agent:
                    def both():
                        _, d = agent.json("/api/v1/servers")
                        up = {s["url"]: s for s in d["servers"] if s["up"] and s["gpus"]}
                        return up if len(up) == 2 else None
                    up = agent.wait_for(both, timeout=15, what="two servers from the file")
                    self.assertEqual((up[v.url]["kind"], up[v.url]["found"]),
                                     ("vllm", "configured"))
                    self.assertEqual([x["gpu"] for x in up[g.url]["gpus"]], [1])
        finally:
            os.unlink(cfg.name)
            os.unlink(scn)

class Demo(unittest.TestCase):
    def test_demo_serves_tokens_and_advice(self):
        """serve --demo: the simulated host's servers are found by their sockets, joined to
        their GPUs, and advised (Triton's KV cache is ~96% full)."""
        with Agent("--inference-window", "4s", "--inference-poll", "1s", "--slow-interval",
                   "1s") as agent:
            def four():
                _, d = agent.json("/api/v1/servers")
                ready = [s for s in d["servers"] if s["models"] and
                         not s["models"][0]["warming_up"]]
                return d if len(ready) == 4 else None
            d = agent.wait_for(four, timeout=30, what="four demo servers")
            self.assertTrue(d["simulated"])
            by_gpu = {s["gpus"][0]["gpu"]: s for s in d["servers"]}
            self.assertEqual({g: s["kind"] for g, s in by_gpu.items()},
                             {0: "vllm", 1: "tgi", 6: "triton", 7: "vllm"})
            self.assertEqual(by_gpu[0]["pid"], 3101)
            self.assertTrue(all(s["found"] == "discovered" for s in d["servers"]))
            m7 = by_gpu[7]["models"][0]
            self.assertEqual(m7["model"], "meta-llama/Llama-3.1-8B-Instruct")
            self.assertAlmostEqual(m7["tokens_generated_per_second"], 7400, delta=900)
            self.assertAlmostEqual(m7["tokens_energy_joules_per_token"],
                                   m7["power_watts"] / m7["tokens_generated_per_second"],
                                   delta=0.01)
            _, adv = agent.json("/api/v1/advice")
            triton = next(a for a in adv["advice"] if a["kind"] == "triton")
            self.assertEqual(triton["action"], "lower")
            self.assertEqual(triton["verdicts"][0]["id"], "kv_cache_pressure")


class Doctor(unittest.TestCase):
    def test_doctor_names_each_server(self):
        with FixtureServer("sglang") as ok, FixtureServer("vllm", mode="hang") as hang:
            rc, out, err = run("doctor", "--demo", "--inference-server", ok.url,
                               "--inference-server", hang.url, "--inference-server",
                               "http://127.0.0.1:1/metrics", timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertIn("inference server %s (sglang, configured): up" % ok.url[7:-8], out)
        self.assertIn("inference server %s (unknown, configured): DOWN: Timeout" % hang.url[7:-8],
                      out)
        self.assertIn("inference server 127.0.0.1:1 (unknown, configured): DOWN: Couldn't connect",
                      out)


class Reports(unittest.TestCase):
    def test_report_demo_prices_tokens(self):
        """report --demo integrates the scenario servers' tokens: GPU 7 (vLLM 8B at
        7400 tokens/s on a ~590 W GPU) gets J/token and money per million tokens."""
        rc, out, err = run("report", "--demo", "--format", "json", timeout=60)
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        s = {x["gpu"]: x for x in doc["gpus"]}
        g7 = s[7]
        self.assertEqual(g7["work_unit"], "token")
        self.assertAlmostEqual(g7["energy_per_work_j"], 590.0 / 7400, delta=0.01)
        self.assertIn("J/token", g7["line"])
        self.assertIn("per million tokens", g7["line"])
        self.assertIsNone(s[2]["energy_per_work_j"])  # no server on GPU 2

    def test_history_keeps_tokens_for_report(self):
        """serve writes each GPU's token counter into history; report divides by it."""
        d = tempfile.mkdtemp()
        scn = scenario()
        try:
            db = os.path.join(d, "h.db")
            with FixtureServer("vllm", Schedule(tokens_per_s=2000)) as vllm:
                # the energy counter (costly tier) is read once a second, not once a minute
                with Agent("--history", db, "--slow-interval", "1s", "--costly-interval", "1s",
                           "--inference-poll", "500ms", "--inference-window", "2s",
                           "--no-inference-discovery",
                           "--inference-server", vllm.url + "#gpus=0", scenario=scn) as agent:
                    agent.wait_for(lambda: series(agent.metrics(),
                                                  "gpuscope_tokens_generated_total", gpu="0"),
                                   timeout=15, what="tokens")
                    time.sleep(12)
            rc, out, err = run("report", "--history", db, "--since", "1h", "--format", "json")
            self.assertEqual(rc, 0, err)
            g0 = next(x for x in json.loads(out)["gpus"] if x["gpu"] == 0)
            self.assertEqual(g0["work_unit"], "token")
            # 400 W over 2000 tokens/s; the counters' 1 s steps at the window's edges cost %
            self.assertAlmostEqual(g0["energy_per_work_j"], 0.2, delta=0.03)
        finally:
            shutil.rmtree(d, ignore_errors=True)
            os.unlink(scn)


class History(unittest.TestCase):
    """serve writes one server_window row per server, model and window; report turns the
    rows into a per-model line with the trend; query --servers prints them."""

    SWITCH_S = 12.0  # the fixture doubles its rate here: J/token halves (constant 400 W)

    def test_windows_report_trend_and_query(self):
        d = tempfile.mkdtemp()
        scn = scenario()
        try:
            db = os.path.join(d, "h.db")
            sched = Schedule(tokens_per_s=1000, waiting=3, kv=0.3, switch_at=self.SWITCH_S,
                             tokens_per_s_after=2000)
            with FixtureServer("vllm", sched) as vllm:
                wall0 = time.time()
                with Agent("--history", db, "--slow-interval", "1s", "--costly-interval",
                           "1s", "--inference-poll", "500ms", "--inference-window", "3s",
                           "--no-inference-discovery",
                           "--inference-server", vllm.url + "#gpus=0", scenario=scn):
                    time.sleep(max(0.0, wall0 + 2 * self.SWITCH_S + 2 - time.time()))
            name = vllm.url[7:-8]
            self.check_rows(db, name, wall0)
            self.check_report(db, name)
            self.check_query(db, name)
        finally:
            shutil.rmtree(d, ignore_errors=True)
            os.unlink(scn)

    def rows(self, db):
        con = sqlite3.connect(db)
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM server_window ORDER BY t")]
        con.close()
        return rows

    def check_rows(self, db, name, wall0):
        rc, out, err = run("query", "--history", db, "--since", "1h", "--format", "json")
        self.assertEqual(rc, 0, err)
        uuid0 = next(g["uuid"] for g in json.loads(out)["gpus"] if g["gpu"] == 0)
        rows = self.rows(db)
        self.assertGreaterEqual(len(rows), 5, rows)
        switch = wall0 + self.SWITCH_S
        before = after = 0
        for r in rows:
            self.assertEqual((r["server"], r["kind"], r["model"]), (name, "vllm", MODEL))
            self.assertEqual((r["gpus"], r["gpu_model"]), (uuid0, "NVIDIA H200"))
            self.assertAlmostEqual(r["window_s"], 3.0, delta=0.6)
            tps = r["gen_tokens"] / r["window_s"]
            # the GPU's 400 W over this window's tokens
            self.assertAlmostEqual(r["joules"] / r["gen_tokens"], 400.0 / tps,
                                   delta=0.06 * 400.0 / tps)
            self.assertAlmostEqual(r["gpu_seconds"], r["window_s"], delta=0.6)
            self.assertAlmostEqual(r["waiting"], 3.0)
            self.assertAlmostEqual(r["kv_cache_usage"], 0.3)
            self.assertEqual(r["advice"], "raise")
            self.assertEqual(r["batch_target"], 16)
            self.assertAlmostEqual(r["ttft_p50"], 0.0375, places=6)
            # t is the window's last whole second: its true end is up to 1 s later
            if r["t"] + 1 < switch - 0.5:
                self.assertAlmostEqual(tps, 1000, delta=100)
                before += 1
            elif r["t"] - r["window_s"] > switch + 1.5:
                self.assertAlmostEqual(tps, 2000, delta=200)
                after += 1
        self.assertGreaterEqual(before, 2)
        self.assertGreaterEqual(after, 2)
        # rows tile time: each window starts about where the previous one ended
        for a, b in zip(rows, rows[1:]):
            self.assertAlmostEqual(b["t"] - a["t"], b["window_s"], delta=1.5)

    def check_report(self, db, name):
        rows = self.rows(db)
        rc, out, err = run("report", "--history", db, "--since", "1h", "--format", "json",
                           "--price-per-gpu-hour", "3.6")
        self.assertEqual(rc, 0, err)
        models = json.loads(out)["models"]
        self.assertEqual(len(models), 1)
        m = models[0]
        self.assertEqual((m["server"], m["kind"], m["model"]), (name, "vllm", MODEL))
        self.assertEqual(m["windows"], len(rows))
        tokens = sum(r["gen_tokens"] for r in rows)
        self.assertAlmostEqual(m["tokens_per_second"],
                               tokens / sum(r["window_s"] for r in rows), places=6)
        self.assertAlmostEqual(m["joules_per_token"],
                               sum(r["joules"] for r in rows) / tokens, places=9)
        self.assertAlmostEqual(m["cost_per_million_tokens"],
                               sum(r["gpu_seconds"] for r in rows) / 3600 * 3.6 / tokens * 1e6,
                               places=6)
        self.assertAlmostEqual(m["gpu_utilization_ratio"], 0.9, delta=0.02)
        # the serving rules on the span's means: 3 waiting, KV 0.30 -> raise towards 0.80
        b = m["batch"]
        self.assertEqual((b["action"], b["knob"], b["batch_now"], b["batch_target"]),
                         ("raise", "max_num_seqs", 8, 16))
        self.assertEqual((b["windows_raise"], b["last_window_action"]), (len(rows), "raise"))
        self.assertEqual([v["id"] for v in m["verdicts"]], ["batch_too_small"])
        # the halves split at the middle of the rows' window centres, computed here
        centre = [r["t"] - r["window_s"] / 2 for r in rows]
        mid = (centre[0] + centre[-1]) / 2
        halves = ([r for r, c in zip(rows, centre) if c <= mid],
                  [r for r, c in zip(rows, centre) if c > mid])
        jpt = [sum(r["joules"] for r in h) / sum(r["gen_tokens"] for r in h) for h in halves]
        tr = m["trend"]["joules_per_token"]
        self.assertAlmostEqual(tr["first_half"], jpt[0], places=9)
        self.assertAlmostEqual(tr["second_half"], jpt[1], places=9)
        self.assertEqual(tr["direction"], "falling")
        self.assertLess(tr["change_ratio"], -0.2)
        self.assertEqual(m["trend"]["tokens_per_second"]["direction"], "rising")
        self.assertIn("J/token falling", m["line"])
        # the same line in the other formats
        for fmt, head in (("text", "MODELS SERVED"), ("markdown", "## Models served"),
                          ("html", "<h2>Models served</h2>")):
            rc, out, err = run("report", "--history", db, "--since", "1h", "--format", fmt)
            self.assertEqual(rc, 0, err)
            self.assertIn(head, out)
            flat = html.unescape(" ".join(out.split()))  # text wraps at 80 columns
            line = flat[flat.find("vllm " + name):][:400]
            self.assertIn("J/token falling", line, fmt)
            self.assertIn("batch: raise max_num_seqs 8 -> 16", line, fmt)
            self.assertIn("batch_too_small", line, fmt)

    def check_query(self, db, name):
        rows = self.rows(db)
        rc, out, err = run("query", "--history", db, "--since", "1h", "--servers")
        self.assertEqual(rc, 0, err)
        lines = out.strip().split("\n")
        head = lines[0].split(",")
        self.assertEqual(head[:3], ["t", "time", "server"])
        self.assertEqual(len(lines) - 1, len(rows))
        rc, out, err = run("query", "--history", db, "--since", "1h", "--servers",
                           "--format", "json")
        self.assertEqual(rc, 0, err)
        got = json.loads(out)["rows"]
        self.assertEqual([g["t"] for g in got], [r["t"] for r in rows])
        self.assertAlmostEqual(got[0]["joules_per_token"],
                               rows[0]["joules"] / rows[0]["gen_tokens"], places=9)
        self.assertEqual(got[0]["server"], name)


if __name__ == "__main__":
    unittest.main()
