"""`gpuscope report --prometheus` at fleet size: the default step grows with the fleet
and every range query is fetched in pieces of time that tile the window exactly.

A real Prometheus cannot be filled with a thousand GPUs' week in a test's time
(bench/fleet_report.sh does that), so this test speaks Prometheus' HTTP API from a small
server of its own: the instant count says 1,000 GPUs, the range queries answer for 50 of
them, and every query is recorded. The figures the report prints per GPU prove that no
piece was lost or counted twice."""
import json
import os
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
HIGH_POINTS = 1000  # GPU utilization is 100% for the window's first 1000 points, then 0


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
        name = q["query"]
        result = []
        if name in ("DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_UTIL"):
            times = []
            t = start
            while t <= end + 1e-6:
                times.append(t)
                t += step
            for g in range(SERVED):
                if name == "DCGM_FI_DEV_POWER_USAGE":
                    values = [[t, str(100 + g)] for t in times]
                else:
                    values = [[t, "100" if round((t - FROM) / step) < HIGH_POINTS else "0"]
                              for t in times]
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
        # points is over 2 million a name; 480 s gives 1,261 points a series.
        ranges = [q for path, q in FakePrometheus.queries if path == "/api/v1/query_range"]
        self.assertTrue(ranges)
        self.assertEqual({float(q["step"]) for q in ranges}, {480.0})
        n = WEEK // 480 + 1

        # Every name's pieces tile [FROM, FROM + (n-1) step] in order, none over
        # 250,000 points for the counted fleet.
        by_name = {}
        for q in ranges:
            by_name.setdefault(q["query"], []).append((float(q["start"]), float(q["end"])))
        self.assertIn("DCGM_FI_DEV_POWER_USAGE", by_name)
        for name, pieces in by_name.items():
            self.assertGreater(len(pieces), 1, name)
            self.assertEqual(pieces[0][0], FROM, name)
            self.assertEqual(pieces[-1][1], FROM + (n - 1) * 480, name)
            for (s0, e0), (s1, _) in zip(pieces, pieces[1:]):
                self.assertEqual(s1, e0 + 480, name)
            for s, e in pieces:
                self.assertLessEqual(((e - s) / 480 + 1) * FLEET, 250000, name)

        # The report keeps its points, not the samples: 1,000 GPUs get the floor of 360
        # points a series (REPORT_GPU_POINTS_MIN; 86,400 for the fleet would be 86), so
        # 4 samples fold into each of 316 points of 1,920 s, the last of one sample.
        per = 4
        points = -(-n // per)
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
