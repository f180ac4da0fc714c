"""`gpuscope report --prometheus` at fleet size: the default step grows with the fleet
and every range query is fetched in pieces of time that tile the window exactly.

A real Prometheus cannot be filled with a thousand GPUs' week in a test's time
(bench/fleet_report.sh does that), so this test speaks Prometheus' HTTP API from a small
server of its own: the instant count says 1,000 GPUs, the range queries answer for 50 of
them from samples scraped every 480 s (a plain name, or avg/max/min/last_over_time of
one, evaluated as Prometheus does), and every query is recorded. The figures the report
prints per GPU prove that no piece was lost or counted twice."""
import json
import os
import re
import subprocess
import sys
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN  # noqa: E402

FLEET = 1000   # what the count query answers
SERVED = 50    # GPUs whose series the range queries return
WEEK = 7 * 86400
TO = 1_790_000_000
FROM = TO - WEEK
SCRAPE = 480       # the fake's samples: FROM + j * SCRAPE for j in [0, WEEK / SCRAPE]
HIGH_POINTS = 1000  # GPU utilization is 100% for the window's first 1000 samples, then 0
OVER_TIME = re.compile(r"^(avg|max|min|last)_over_time\((\w+)\[(\d+)ms\]\)$")
FOLD = {"avg": lambda v: sum(v) / len(v), "max": max, "min": min, "last": lambda v: v[-1]}


def sample(name, g, j):
    """GPU g's sample j of name."""
    if name == "DCGM_FI_DEV_POWER_USAGE":
        return 100 + g
    return 100 if j < HIGH_POINTS else 0


def evaluate(query, g, t):
    """The query's value for GPU g at time t, or None: a plain name is its latest sample
    (within 5 minutes), X_over_time folds the samples in (t - range, t]."""
    m = OVER_TIME.match(query)
    name = m.group(2) if m else query
    last = min(int((t - FROM) // SCRAPE), WEEK // SCRAPE)
    if not m:
        ok = last >= 0 and t - (FROM + last * SCRAPE) <= 300
        return sample(name, g, last) if ok else None
    lo = t - int(m.group(3)) / 1000.0
    js = [j for j in range(max(0, int((lo - FROM) // SCRAPE)), last + 1)
          if FROM + j * SCRAPE > lo]
    return FOLD[m.group(1)]([sample(name, g, j) for j in js]) if js else None


class FakePrometheus(BaseHTTPRequestHandler):
    queries = []
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def answer(self, data):
        body = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        with self.lock:
            self.queries.append((url.path, q))
        if url.path == "/api/v1/query":
            self.answer({"resultType": "vector", "result": [
                {"metric": {}, "value": [float(q.get("time", TO)), str(FLEET)]}]})
            return
        if url.path != "/api/v1/query_range":
            self.send_error(404)
            return
        start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
        m = OVER_TIME.match(q["query"])
        name = m.group(2) if m else q["query"]
        result = []
        if name in ("DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_UTIL"):
            times = []
            t = start
            while t <= end + 1e-6:
                times.append(t)
                t += step
            for g in range(SERVED):
                values = [[t, str(v)] for t in times
                          for v in [evaluate(q["query"], g, t)] if v is not None]
                result.append({"metric": {"__name__": name, "gpu": "0",
                                          "UUID": "GPU-%08d-0000-0000-0000-000000000000" % g,
                                          "hostname": "node-%03d" % g,
                                          "modelName": "NVIDIA H200"},
                               "values": values})
        self.answer({"resultType": "matrix", "result": result})


class ReportFleetTest(unittest.TestCase):
    def test_week_of_a_thousand_gpus_in_pieces(self):
        FakePrometheus.queries = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = "http://127.0.0.1:%d" % server.server_address[1]
            p = subprocess.run([BIN, "report", "--prometheus", url, "--from", str(FROM),
                                "--to", str(TO), "--format", "json"],
                               capture_output=True, text=True, timeout=120)
        finally:
            server.shutdown()
            server.server_close()
        self.assertEqual(p.returncode, 0, p.stderr)
        report = json.loads(p.stdout)

        # 15 s doubled: 60 s fits Prometheus' 11,000 points, but 1,000 GPUs x 10,081
        # points is over 2 million a name; 480 s gives 1,261 samples a series.
        n = WEEK // 480 + 1
        # The report keeps its points, not the samples: 1,000 GPUs get the floor of 360
        # points a series (REPORT_GPU_POINTS_MIN; 86,400 for the fleet would be 86), so
        # 4 samples of 480 s make each of 316 points of 1,920 s, the last of one sample.
        # Prometheus folds them: the means and the latest values are asked point by point,
        # at each point's last sample time, over the point's width.
        per = 4
        points = -(-n // per)
        # (the native gpuscope_* serving families stay on the sample grid: a fleet of
        # dcgm-exporters has none, and they are summed per model, not folded)
        ranges = [q for path, q in FakePrometheus.queries
                  if path == "/api/v1/query_range" and "DCGM_FI_" in q["query"]]
        self.assertTrue(ranges)
        self.assertEqual({float(q["step"]) for q in ranges}, {480.0 * per})

        # Every query's pieces tile the points' times in order, none over 250,000 points
        # for the counted fleet.
        by_query = {}
        for q in ranges:
            by_query.setdefault(q["query"], []).append((float(q["start"]), float(q["end"])))
        width_ms = 480 * per * 1000 - 1
        for name in ("DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_UTIL"):
            self.assertIn("avg_over_time(%s[%dms])" % (name, width_ms), by_query)
        for query, pieces in by_query.items():
            self.assertGreater(len(pieces), 1, query)
            self.assertEqual(pieces[0][0], FROM + (per - 1) * 480, query)
            self.assertEqual(pieces[-1][1], FROM + (points * per - 1) * 480, query)
            for (s0, e0), (s1, _) in zip(pieces, pieces[1:]):
                self.assertEqual(s1, e0 + 480 * per, query)
            for s, e in pieces:
                self.assertLessEqual(((e - s) / (480 * per) + 1) * FLEET, 250000, query)

        self.assertEqual(report["window"]["points"], points)
        self.assertEqual(report["window"]["step_s"], 480.0 * per)
        bucket_means = [sum(1 for j in range(b * per, min((b + 1) * per, n)) if j < HIGH_POINTS)
                        / (min((b + 1) * per, n) - b * per) for b in range(points)]

        # The figures: each GPU's own power, and the share of high points (mean of the
        # points' means), which a lost or doubled piece would change.
        gpus = {g["uuid"]: g for g in report["gpus"]}
        self.assertEqual(len(gpus), SERVED)
        for g in range(SERVED):
            got = gpus["GPU-%08d-0000-0000-0000-000000000000" % g]
            self.assertAlmostEqual(got["power_mean_w"], 100 + g, places=3)
            self.assertAlmostEqual(got["gpu_util_mean"], sum(bucket_means) / points, places=6)
            # docs/history.md's bound: the mean of the points is within 1/n of the range
            # (utilization 0-1) of the mean of the samples.
            self.assertLessEqual(abs(got["gpu_util_mean"] - HIGH_POINTS / n), 1 / points)


if __name__ == "__main__":
    unittest.main()
