"""/api/v1/series on a demo agent: every GPU of /api/v1/gpus under its index, values in
the units /api/v1/gpus uses, buckets with max >= mean >= min, the points cap, bad arguments
(400), an agent without history (503), and a month of history answered in the memory of
the points sent, not of the month's rows."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Agent  # noqa: E402

# bench_store's history starts here (store/bench_store.c, START)
BENCH_START = 1735689600
MIB = 1024 * 1024


def settle(pid, timeout=15):
    """Waits until the agent's peak RSS stops moving for a second (its start-up: the
    history's check on open, the first sweeps), so a peak measured next is the request's."""
    last, still_since, t0 = vm_hwm(pid), time.time(), time.time()
    while time.time() - t0 < timeout:
        time.sleep(0.25)
        now = vm_hwm(pid)
        if now != last:
            last, still_since = now, time.time()
        elif time.time() - still_since >= 1.0:
            return


def vm_hwm(pid):
    """The process's peak resident memory in bytes (VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


class SeriesTest(unittest.TestCase):
    def test_series_follow_the_api(self):
        with Agent() as a:
            _, gpus = a.json("/api/v1/gpus")

            def ready():
                status, body = a.json("/api/v1/series?range=15m")
                return body if status == 200 and body.get("points", 0) >= 8 else None

            doc = a.wait_for(ready, timeout=30, what="8 s of history")
            self.assertEqual(doc["schema"], "gpuscope.series/v1")
            self.assertTrue(doc["simulated"])
            self.assertEqual(len(doc["t"]), doc["points"])
            by_uuid = {g["uuid"]: g for g in gpus["gpus"]}
            self.assertEqual(len(doc["gpus"]), len(gpus["gpus"]))
            for g in doc["gpus"]:
                live = by_uuid[g["uuid"]]
                self.assertEqual(g["gpu"], live["gpu"])
                s = g["series"]
                limit = live["metrics"]["gpuscope_power_limit_watts"]
                self.assertEqual(s["gpuscope_power_limit_watts"]["max"][-1], limit)
                total = live["metrics"]["gpuscope_memory_total_bytes"]
                self.assertAlmostEqual(s["gpuscope_memory_total_bytes"]["mean"][-1], total,
                                       delta=total * 1e-5)
                for name, band in s.items():
                    self.assertEqual(len(band["mean"]), doc["points"], name)
                    for lo, mid, hi in zip(band["min"], band["mean"], band["max"]):
                        if mid is not None:
                            self.assertLessEqual(lo, mid + 1e-9, name)
                            self.assertLessEqual(mid, hi + 1e-9, name)
            status, one = a.json("/api/v1/series?range=1h&gpu=3&points=10")
            self.assertEqual(status, 200)
            self.assertEqual([g["gpu"] for g in one["gpus"]], [3])
            self.assertLessEqual(one["points"], 10)
            for bad in ("range=2s", "gpu=x", "points=1", "from=1", "range=1h&from=1&to=2"):
                status, _, body = a.get("/api/v1/series?" + bad)
                self.assertEqual(status, 400, bad)
                self.assertIn("error", json.loads(body))

    def test_a_month_costs_the_points_not_the_rows(self):
        """30 days of a GPU's minute rows asked as 300 points. Read a row a point first
        and bucketed after, the month held 43,200 points x 27 series x 16 bytes, 19 MB,
        before it was cut to 300; folded by the store as it reads, the request holds the
        300 points (and SQLite's page cache). The agent's peak RSS must grow by less than
        the month's rows would take."""
        bench = os.path.join(os.path.dirname(os.path.abspath(BIN)), "store", "bench_store")
        self.assertTrue(os.access(bench, os.X_OK), bench + " (built with gpuscope)")
        days = 30
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "month.db")
            subprocess.run([bench, "--gpus", "1", "--days", str(days), "--sparse",
                            "--retention-1s", "1", "--path", path, "--keep"],
                           check=True, stdout=subprocess.DEVNULL, timeout=150)
            first, last = BENCH_START, BENCH_START + days * 86400 - 1
            # (a retention that keeps 2025's rows while the agent writes today's)
            with Agent("--history", path, "--retention-1m", "1000w") as a:
                settle(a.proc.pid)
                # Warm the reader (open, schema, first pages) on an hour of the month.
                status, _ = a.json("/api/v1/series?from=%d&to=%d" % (first, first + 3599))
                self.assertEqual(status, 200)
                before = vm_hwm(a.proc.pid)
                status, doc = a.json("/api/v1/series?from=%d&to=%d&points=300" % (first, last))
                grew = vm_hwm(a.proc.pid) - before
            self.assertEqual(status, 200, doc)
            self.assertEqual(doc["resolution_s"], 60)
            self.assertLessEqual(doc["points"], 300)
            self.assertEqual(doc["step_s"] % 60, 0)
            self.assertEqual(len(doc["gpus"]), 1)  # the month's GPU, not on the board
            for g in doc["gpus"]:
                self.assertIsNone(g["gpu"])
                band = g["series"]["gpuscope_power_watts"]
                self.assertEqual(len(band["mean"]), doc["points"])
                self.assertTrue(all(v is not None for v in band["mean"]))
                for lo, mid, hi in zip(band["min"], band["mean"], band["max"]):
                    self.assertLessEqual(lo, mid + 1e-9)
                    self.assertLessEqual(mid, hi + 1e-9)
            self.assertLess(grew, 8 * MIB, "peak RSS grew %.1f MiB" % (grew / MIB))

    def test_no_history_is_503(self):
        with Agent("--no-history") as a:
            status, _, body = a.get("/api/v1/series")
            self.assertEqual(status, 503)
            self.assertIn("no history", json.loads(body)["error"])


if __name__ == "__main__":
    unittest.main()
