"""Driver faults through the real binary: a GPU lost mid-run, a hung call, a
slow call, Xid and ECC events.  The other GPUs and the endpoint go on."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, one, run, series, write_scenario  # noqa: E402


def gpu(i, **extra):
    g = {"uuid": "GPU-0000000%d-0000-0000-0000-000000000000" % i,
         "metrics": {"util_gpu_pct": 50, "power_w": 300,
                     # A steady ramp lets a test see that values keep moving.
                     "fb_used_mib": {"ramp": {"from": 1000, "to": 101000, "start": 0, "duration": 100}}}}
    g.update(extra)
    return g


class FaultsTest(unittest.TestCase):
    def test_gpu_lost_mid_run(self):
        path = write_scenario({"name": "lost", "gpus": [gpu(0), gpu(1, faults={"lost_at": 1.5}), gpu(2)]})
        try:
            with Agent("--fast-interval", "100ms", "--slow-interval", "500ms", scenario=path) as a:
                status, doc = a.json("/healthz")
                self.assertEqual(status, 200, doc)
                a.wait_for(lambda: a.get("/healthz")[0] == 503, what="healthz 503")
                status, doc = a.json("/healthz")
                self.assertEqual(doc["gpus"][1]["health"], "lost")
                self.assertIn("GPU is lost", doc["gpus"][1]["reason"])
                self.assertEqual([g["health"] for g in doc["gpus"]], ["ok", "lost", "ok"])
                m = a.metrics()
                self.assertEqual(one(m, "gpuscope_gpu_up", gpu=1), 0)
                self.assertEqual(one(m, "gpuscope_gpu_up", gpu=0), 1)
                # The lost GPU keeps its identity but exports no stale readings.
                self.assertEqual(series(m, "gpuscope_gpu_utilization_ratio", gpu=1), [])
                self.assertEqual(series(m, "DCGM_FI_DEV_GPU_UTIL", gpu=1), [])
                self.assertEqual(one(m, "gpuscope_gpu_info", gpu=1, uuid=gpu(1)["uuid"]), 1)
                # The others go on sampling.
                before = one(m, "gpuscope_memory_used_bytes", gpu=2)
                a.wait_for(lambda: one(a.metrics(), "gpuscope_memory_used_bytes", gpu=2) > before,
                           what="GPU 2 still sampling")
                self.assertEqual(a.stop(), 0)
        finally:
            os.unlink(path)

    def test_hung_call_isolated(self):
        path = write_scenario({"name": "hang", "gpus": [
            gpu(0), gpu(1), gpu(2, faults={"hang": [{"call": "nvmlDeviceGetPowerUsage", "at": 1.0}]})]})
        # Threads stuck in the driver are left behind at exit by design.
        with Agent("--fast-interval", "100ms", scenario=path,
                   env={"ASAN_OPTIONS": "detect_leaks=0"}) as a:
            try:
                time.sleep(1.2)
                # The scrape path never waits on the hung GPU.
                for _ in range(10):
                    t0 = time.time()
                    a.metrics_text()
                    self.assertLess(time.time() - t0, 0.5)
                a.wait_for(lambda: a.json("/healthz")[1]["gpus"][2]["health"] == "stalled",
                           timeout=8, what="GPU 2 stalled")
                status, doc = a.json("/healthz")
                self.assertEqual(status, 503)
                self.assertIn("fast tier has not completed", doc["gpus"][2]["reason"])
                m = a.metrics()
                self.assertEqual(one(m, "gpuscope_gpu_up", gpu=2), 0)
                self.assertEqual(series(m, "gpuscope_power_watts", gpu=2), [])
                # GPU 0 keeps its 100 ms pace.
                b0 = one(m, "gpuscope_memory_used_bytes", gpu=0)
                time.sleep(0.5)
                m2 = a.metrics()
                self.assertGreater(one(m2, "gpuscope_memory_used_bytes", gpu=0), b0)
                self.assertLess(one(m2, "gpuscope_sample_duration_seconds", gpu=0, tier="fast"), 0.05)
                self.assertEqual(a.stop(), 0)
                self.assertIn("still blocked in the driver", a.stderr())
            finally:
                os.unlink(path)

    def test_call_hung_from_the_start_shows_as_stalled_probe(self):
        path = write_scenario({"name": "hang0", "gpus": [
            gpu(0), gpu(1, faults={"hang": [{"call": "nvmlDeviceGetTemperature", "at": 0}]})]})
        with Agent(scenario=path, env={"ASAN_OPTIONS": "detect_leaks=0"}) as a:
            try:
                a.wait_for(lambda: a.json("/healthz")[1]["gpus"][1]["health"] == "stalled",
                           timeout=8, what="GPU 1 stalled in its probe")
                status, doc = a.json("/healthz")
                self.assertEqual(status, 503)
                self.assertIn("probe has not finished", doc["gpus"][1]["reason"])
                m = a.metrics()
                self.assertEqual(one(m, "gpuscope_gpu_up", gpu=1), 0)
                self.assertEqual(one(m, "gpuscope_gpu_utilization_ratio", gpu=0), 0.5)
                self.assertEqual(a.stop(), 0)
            finally:
                os.unlink(path)

    def test_slow_call_delays_only_its_gpu(self):
        path = write_scenario({"name": "slow", "gpus": [
            gpu(0), gpu(1, faults={"slow": [{"call": "nvmlDeviceGetPowerUsage", "ms": 300}]})]})
        try:
            with Agent("--fast-interval", "100ms", scenario=path) as a:
                a.wait_for(lambda: series(a.metrics(), "gpuscope_sample_duration_seconds", gpu=1, tier="fast"),
                           what="a sweep of GPU 1")
                time.sleep(1)
                m = a.metrics()
                self.assertGreaterEqual(one(m, "gpuscope_sample_duration_seconds", gpu=1, tier="fast"), 0.3)
                self.assertLess(one(m, "gpuscope_sample_duration_seconds", gpu=0, tier="fast"), 0.05)
                self.assertEqual(one(m, "gpuscope_gpu_up", gpu=1), 1)
        finally:
            os.unlink(path)

    def test_error_window_then_recovery(self):
        path = write_scenario({"name": "errors", "gpus": [gpu(0, faults={"errors": [
            {"call": "*", "return": 999, "from": 1.0, "until": 2.0}]})]})
        try:
            with Agent("--fast-interval", "100ms", scenario=path) as a:
                a.wait_for(lambda: a.json("/healthz")[1]["gpus"][0]["health"] == "failing",
                           what="failing")
                self.assertEqual(a.get("/healthz")[0], 503)
                a.wait_for(lambda: a.json("/healthz")[1]["gpus"][0]["health"] == "ok", what="recovered")
                self.assertEqual(one(a.metrics(), "gpuscope_gpu_utilization_ratio", gpu=0), 0.5)
        finally:
            os.unlink(path)

    def test_one_failing_metric_is_named_then_recovers(self):
        # Only the power call fails, from 1 s to 4 s: the GPU is "degraded", the metric is
        # named with its error on /healthz and /api/v1/gpus, and comes back by itself.
        path = write_scenario({"name": "power-errors", "gpus": [gpu(0, faults={"errors": [
            {"call": "nvmlDeviceGetPowerUsage", "return": 999, "from": 1.0, "until": 4.0}]})]})
        key = "gpuscope_power_watts"
        try:
            with Agent("--fast-interval", "100ms", scenario=path) as a:
                h = a.wait_for(lambda: (lambda d: d if d["gpus"][0]["health"] == "degraded"
                                        else None)(a.json("/healthz")[1]), what="degraded")
                self.assertEqual(a.get("/healthz")[0], 200)  # still serving the rest
                self.assertEqual(h["status"], "degraded")
                self.assertIn("Unknown Error", h["gpus"][0]["errors"][key])
                self.assertIn("nvmlDeviceGetPowerUsage", h["gpus"][0]["reason"])
                _, doc = a.json("/api/v1/gpus")
                g = doc["gpus"][0]
                self.assertEqual(g["health"], "degraded")
                self.assertIn("NVML 999", g["errors"][key])
                self.assertNotIn(key, g["metrics"])
                self.assertIn("gpuscope_gpu_utilization_ratio", g["metrics"])
                a.wait_for(lambda: a.json("/healthz")[1]["gpus"][0]["health"] == "ok",
                           what="recovered")
                _, doc = a.json("/api/v1/gpus")
                self.assertEqual(doc["gpus"][0]["errors"], {})
                self.assertEqual(doc["gpus"][0]["metrics"][key], 300)
        finally:
            os.unlink(path)

    def test_doctor_names_a_failing_metric(self):
        path = write_scenario({"name": "power-errors", "gpus": [gpu(0, faults={"errors": [
            {"call": "nvmlDeviceGetPowerUsage", "return": 999}]})]})
        try:
            rc, out, err = run("doctor", "--demo", path)
            self.assertEqual(rc, 1, err)
            self.assertIn("health      degraded: 1 metric failing", out)
            line = [ln for ln in out.splitlines() if "gpuscope_power_watts " in ln][0]
            self.assertIn("ERR", line)
            self.assertIn("nvmlDeviceGetPowerUsage: Unknown Error (NVML 999)", line)
        finally:
            os.unlink(path)

    def test_gpu_not_ours_is_inaccessible_not_unhealthy(self):
        # NVML counts GPUs whose handle this process may not open (a container
        # given other GPUs): they are shown as such, and do not fail /healthz.
        path = write_scenario({"name": "denied", "gpus": [gpu(0), gpu(1, faults={"errors": [
            {"call": "nvmlDeviceGetHandleByIndex_v2", "return": 4}]})]})
        try:
            with Agent(scenario=path) as a:
                a.wait_for(lambda: a.json("/healthz")[1]["gpus"][1]["health"] == "inaccessible",
                           what="inaccessible")
                status, doc = a.json("/healthz")
                self.assertEqual(status, 200, doc)
                self.assertIn("Insufficient Permissions", doc["gpus"][1]["reason"])
                m = a.metrics()
                self.assertEqual(one(m, "gpuscope_gpu_up", gpu=1), 0)
                self.assertEqual(series(m, "gpuscope_gpu_utilization_ratio", gpu=1), [])
                self.assertEqual(one(m, "gpuscope_gpu_utilization_ratio", gpu=0), 0.5)
        finally:
            os.unlink(path)

    def test_no_gpus_serves_empty_metrics(self):
        path = write_scenario({"name": "none", "gpus": []})
        try:
            with Agent(scenario=path) as a:
                self.assertIn("NVML reports no GPUs", a.stderr())
                status, doc = a.json("/healthz")
                self.assertEqual((status, doc["gpus"]), (200, []))
                m = a.metrics()
                self.assertEqual([n for (n, _) in m], ["gpuscope_build_info"])
        finally:
            os.unlink(path)

    def test_xid_and_dbe_events_counted(self):
        path = write_scenario({"name": "xid", "gpus": [gpu(0, faults={
            "xid": [{"at": 0.5, "code": 79}, {"at": 0.8, "code": 48}],
            "ecc_dbe_events": [{"at": 0.6}]}), gpu(1)]})
        try:
            with Agent(scenario=path) as a:
                a.wait_for(lambda: series(a.metrics(), "gpuscope_xid_errors_total", gpu=0) == [2],
                           what="two Xids")
                m = a.metrics()
                self.assertEqual(one(m, "DCGM_FI_DEV_XID_ERRORS", gpu=0), 48)
                self.assertEqual(one(m, "gpuscope_xid_last", gpu=0), 48)
                self.assertEqual(one(m, "gpuscope_ecc_dbe_events_total", gpu=0), 1)
                self.assertEqual(one(m, "gpuscope_xid_errors_total", gpu=1), 0)
                self.assertEqual(one(m, "DCGM_FI_DEV_XID_ERRORS", gpu=1), 0)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
