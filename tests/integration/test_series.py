"""/api/v1/series on a demo agent: every GPU of /api/v1/gpus under its index, values in
the units /api/v1/gpus uses, buckets with max >= mean >= min, the points cap, bad arguments
(400) and an agent without history (503)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent  # noqa: E402


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

    def test_no_history_is_503(self):
        with Agent("--no-history") as a:
            status, _, body = a.get("/api/v1/series")
            self.assertEqual(status, 503)
            self.assertIn("no history", json.loads(body)["error"])


if __name__ == "__main__":
    unittest.main()
