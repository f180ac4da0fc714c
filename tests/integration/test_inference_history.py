"""test_inference_history.py - per-inference aggregates in the agent's history.

The test is the program under `gpuscope run`: it sends the agent the same datagrams
libgpuscope-inject.so sends (one JSON line per inference, docs/inference.md) with figures it
chose, so every count, percentile, mean and price below is worked out from what was sent.
The agent folds them into 10 s intervals, writes them to a real SQLite history, and
`gpuscope report` (text, Markdown, JSON, HTML), `gpuscope query --inference` and
/api/v1/inference read them back.
"""
import json
import math
import os
import socket
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SKETCH = 2 ** (1 / 32) - 1  # the latency sketch's precision: half a bucket, 2.2%


def message(rng, latency, end_ns, gpu="0", busy=None, energy=None, boundary="nvtx",
            complete=True, h2d=4096, d2h=1024, kernels=7):
    m = {"type": "inference", "pid": 1, "process": "bench.py", "range": rng,
         "boundary": boundary, "complete": complete, "seq": 0, "device": 0, "gpu": gpu,
         "start_unix_ns": end_ns - int(latency * 1e9), "end_unix_ns": end_ns,
         "latency_s": latency, "gpu_busy_s": latency / 2 if busy is None else busy,
         "kernels": kernels, "h2d_bytes": h2d, "d2h_bytes": d2h, "mem_peak_bytes": 1 << 30}
    if energy is not None:
        m["energy_j"] = energy
    return json.dumps(m)


def send(path, lines):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        for i in range(0, len(lines), 50):  # one datagram per batch, as the library does
            s.sendto("\n".join(lines[i:i + 50]).encode(), path)
    finally:
        s.close()


class InferenceHistoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.db = os.path.join(cls.tmp.name, "history.db")
        cls.sock = os.path.join(cls.tmp.name, "inference.sock")
        cls.agent = harness.Agent("--history", cls.db, "--inference-socket", cls.sock,
                                  "--price-per-gpu-hour", "7.2")
        cls.agent.__enter__()
        # 100 inferences of 1..100 ms on GPU 0, all ending 40-31 s ago (whole intervals that
        # have closed), energy 2 J each; 10 "prefill" ones of 5 ms with 0.5 J.
        now = time.time_ns()
        cls.base = now - 40 * 10 ** 9
        lines = [message("infer", i / 1000, cls.base + i * 90 * 10 ** 6, energy=2.0)
                 for i in range(1, 101)]
        lines += [message("prefill", 0.005, cls.base + i * 10 ** 9, energy=0.5, busy=0.004)
                  for i in range(10)]
        send(cls.sock, lines)

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        cls.tmp.cleanup()

    def report_json(self):
        rc, out, err = harness.run("report", "--history", self.db, "--since", "10m",
                                   "--format", "json", "--price-per-gpu-hour", "7.2")
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def wait_rows(self, rng, count, at_least=False):
        """The report's row for range rng once it has count (at_least: or more) inferences."""
        deadline = time.time() + 40
        while time.time() < deadline:
            rc, out, _ = harness.run("report", "--history", self.db, "--since", "10m",
                                     "--format", "json", "--price-per-gpu-hour", "7.2")
            if rc == 0:
                doc = json.loads(out)
                rows = [r for r in doc.get("inferences", {}).get("rows", [])
                        if r["range"] == rng]
                n = rows[0]["inferences"] if rows else -1
                if n == count or (at_least and n > count):
                    return doc, rows[0]
            time.sleep(0.5)
        self.fail("the history never held %d %s inferences" % (count, rng))

    def test_1_report_figures_over_the_window(self):
        doc, r = self.wait_rows("infer", 100)
        self.assertEqual(r["gpu"], 0)
        self.assertEqual(r["process"], "bench.py")
        self.assertEqual(r["pid"], os.getpid())  # from the kernel, not the message
        self.assertEqual(r["boundary"], "nvtx")
        lat = r["latency_seconds"]
        self.assertAlmostEqual(lat["mean"], 0.0505, places=9)
        for q, want in (("p50", 0.050), ("p95", 0.095), ("p99", 0.099)):
            self.assertLessEqual(abs(lat[q] - want) / want, SKETCH + 1e-9, (q, lat[q]))
        self.assertAlmostEqual(r["gpu_busy_seconds_per_inference"], 0.02525, places=9)
        self.assertAlmostEqual(r["gpu_busy_share"], 0.5, places=9)
        self.assertAlmostEqual(r["energy_joules_per_inference"], 2.0, places=9)
        self.assertAlmostEqual(r["host_to_device_bytes_per_inference"], 4096)
        self.assertAlmostEqual(r["kernels_per_inference"], 7)
        # 9 s of inferences fall in one or two 10 s intervals: the rate is over those.
        span = r["last"] - r["first"]
        self.assertIn(span, (10, 20))
        self.assertAlmostEqual(r["inferences_per_second"], 100 / span)
        # Money: 7.2/h for the GPU's span with inferences, shared by all 110 inferences.
        p = [x for x in doc["inferences"]["rows"] if x["range"] == "prefill"][0]
        lo = min(r["first"], p["first"])
        hi = max(r["last"], p["last"])
        self.assertAlmostEqual(r["cost_per_inference"], 7.2 * (hi - lo) / 3600 / 110)
        self.assertAlmostEqual(r["cost_per_inference_busy"], 7.2 * 0.02525 / 3600)
        self.assertEqual(p["inferences"], 10)
        self.assertAlmostEqual(p["energy_joules_per_inference"], 0.5)

    def test_2_text_markdown_html(self):
        self.wait_rows("infer", 100, at_least=True)
        for fmt, marks in (("text", ["INFERENCES", "bench.py[%d]" % os.getpid(), "prefill"]),
                           ("markdown", ["## Inferences", "| GPU 0 | bench.py[", "| prefill |"]),
                           ("html", ['id="inferences"', "<td>prefill</td>", "bench.py"])):
            rc, out, err = harness.run("report", "--history", self.db, "--since", "10m",
                                       "--format", fmt)
            self.assertEqual(rc, 0, err)
            for m in marks:
                self.assertIn(m, out, fmt)

    def test_3_query_csv_and_json(self):
        self.wait_rows("infer", 100)
        rc, out, err = harness.run("query", "--history", self.db, "--since", "10m",
                                   "--inference", "--price-per-gpu-hour", "7.2")
        self.assertEqual(rc, 0, err)
        lines = out.strip().split("\n")
        head = lines[0].split(",")
        rows = [dict(zip(head, line.split(","))) for line in lines[1:]]
        infer = [x for x in rows if x["range"] == "infer"][0]
        self.assertEqual(infer["inferences"], "100")
        self.assertAlmostEqual(float(infer["energy_j_per_inference"]), 2.0)
        self.assertLessEqual(abs(float(infer["latency_p99_s"]) - 0.099) / 0.099, SKETCH)
        rc, out, err = harness.run("query", "--history", self.db, "--since", "10m",
                                   "--inference", "--format", "json", "--gpu", "1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["rows"], [])  # all of it was on GPU 0
        rc, _, err = harness.run("query", "--history", self.db, "--price-per-gpu-hour", "1")
        self.assertEqual(rc, 2)
        self.assertIn("--inference", err)

    def test_4_late_messages_merge_into_written_intervals(self):
        self.wait_rows("infer", 100)
        send(self.sock, [message("infer", 0.2, self.base + 10 ** 6, energy=2.0)
                         for _ in range(5)])
        _, r = self.wait_rows("infer", 105)
        self.assertAlmostEqual(r["latency_seconds"]["mean"], (5.05 + 1.0) / 105, places=9)
        p99 = r["latency_seconds"]["p99"]  # ranks 104-105 are the 200 ms ones
        self.assertLessEqual(abs(p99 - 0.2) / 0.2, SKETCH + 1e-9)
        # Stored once per interval, not per message.
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            n = con.execute("SELECT count(*), sum(n) FROM inference_interval i JOIN "
                            "inference_keys k ON k.id = i.key_id WHERE k.range_name = "
                            "'infer'").fetchone()
        finally:
            con.close()
        self.assertLessEqual(n[0], 2)
        self.assertEqual(n[1], 105)

    def test_5_api_serves_history_and_open_intervals(self):
        self.wait_rows("infer", 100, at_least=True)
        # One that has just ended sits in an open interval: the API shows it already.
        send(self.sock, [message("live", 0.010, time.time_ns(), gpu="3", energy=1.0)])
        def live():
            st, doc = self.agent.json("/api/v1/inference?range=15m")
            rows = [r for r in doc.get("rows", []) if r["range"] == "live"]
            return (doc, rows[0]) if st == 200 and rows else None
        doc, r = self.agent.wait_for(live, what="the open interval on /api/v1/inference")
        self.assertEqual(doc["schema"], "gpuscope.inference/v1")
        self.assertTrue(doc["simulated"])
        self.assertEqual(r["gpu"], 3)
        self.assertEqual(r["inferences"], 1)
        self.assertLessEqual(abs(r["latency_seconds"]["p50"] - 0.01) / 0.01, SKETCH)
        infer = [x for x in doc["rows"] if x["range"] == "infer"][0]
        self.assertGreaterEqual(infer["inferences"], 100)
        self.assertAlmostEqual(infer["price_per_gpu_hour"], 7.2)  # serve's own flag
        # The series add up to the totals: rate x step over the grid.
        series = doc["series"][doc["rows"].index(infer)]
        self.assertEqual(len(series["inferences_per_second"]), len(doc["t"]))
        total = sum(series["inferences_per_second"]) * doc["step_s"]
        self.assertAlmostEqual(total, infer["inferences"], places=6)
        st, doc = self.agent.json("/api/v1/inference?gpu=3&range=15m")
        self.assertEqual([x["range"] for x in doc["rows"]], ["live"])
        st, doc = self.agent.json("/api/v1/inference?range=bogus")
        self.assertEqual(st, 400)


class NoHistoryTest(unittest.TestCase):
    def test_api_says_no_history(self):
        with harness.Agent("--no-history", "--inference-socket", "none") as agent:
            st, doc = agent.json("/api/v1/inference")
            self.assertEqual(st, 503)
            self.assertIn("no history", doc["error"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
