"""Profiling-grade telemetry through the real binary and the simulator: GPM activity
(natively and under DCGM's profiling names, absent without GPM, never a false zero),
window aggregates that keep a 100 ms burst for each scraper, the driver's power
samples integrated against the energy counter, clock-event seconds, Xid per code,
NVLink per link."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, one, parse_exposition, series, write_scenario  # noqa: E402

MIB = 1048576
GPM = {
    "gpm_graphics_pct": 97, "gpm_sm_active_pct": 80, "gpm_sm_occupancy_pct": 25,
    "gpm_tensor_active_pct": 60, "gpm_hmma_tensor_pct": 55, "gpm_imma_tensor_pct": 4,
    "gpm_dfma_tensor_pct": 1, "gpm_dram_active_pct": 30, "gpm_fp64_pct": 2,
    "gpm_fp32_pct": 12, "gpm_fp16_pct": 9, "gpm_integer_pct": 7,
    "gpm_pcie_tx_mibps": 100, "gpm_pcie_rx_mibps": 2048, "gpm_nvdec_pct": 5,
    "gpm_nvjpg_pct": 3,
}


def gpu(i, **kw):
    g = {"uuid": "GPU-%08d-0000-0000-0000-000000000000" % i, "pci_bus_id": "00000000:%02X:00.0" % (i + 16),
         "metrics": {"util_gpu_pct": 50, "power_w": 300, "sm_clock_mhz": 1410,
                     "clock_event_reasons": 4}}
    for k, v in kw.items():
        if k == "metrics":
            g["metrics"] = dict(g["metrics"], **v)
        else:
            g[k] = v
    return g


def get(agent, ua="test"):
    return parse_exposition(agent.metrics_text({"User-Agent": ua}))


class GpmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = write_scenario({"name": "gpm", "gpus": [
            gpu(0, metrics=GPM), gpu(1, gpm=False, metrics=GPM)]})
        # Pairs as close as the driver allows (110 ms), at a 50 ms fast interval.
        cls.agent = Agent("--fast-interval", "50ms", "--gpm-interval", "110ms", "--slow-interval", "1s",
                          "--costly-interval", "1s", scenario=cls.path).__enter__()
        # The graphics engine's figure is computed once a costly interval, from a
        # pair that long: it appears with the second one.
        cls.agent.wait_for(lambda: series(get(cls.agent), "gpuscope_graphics_engine_active_ratio", gpu=0),
                           what="the slow tier's GPM pair")

    @classmethod
    def tearDownClass(cls):
        assert cls.agent.stop() == 0
        os.unlink(cls.path)

    def test_values_native_and_dcgm(self):
        m = get(self.agent)
        native = {
            "gpuscope_graphics_engine_active_ratio": 0.97, "gpuscope_sm_active_ratio": 0.80,
            "gpuscope_sm_occupancy_ratio": 0.25, "gpuscope_tensor_active_ratio": 0.60,
            "gpuscope_dram_active_ratio": 0.30, "gpuscope_nvdec_active_ratio": 0.05,
            "gpuscope_nvjpg_active_ratio": 0.03,
            "gpuscope_pcie_transmit_bytes_per_second": 100 * MIB,
            "gpuscope_pcie_receive_bytes_per_second": 2048 * MIB,
        }
        for name, want in native.items():
            self.assertAlmostEqual(one(m, name, gpu=0), want, places=9, msg=name)
        for pipe, want in [("hmma", .55), ("imma", .04), ("dfma", .01)]:
            self.assertAlmostEqual(one(m, "gpuscope_tensor_pipe_active_ratio", gpu=0, pipe=pipe), want)
        for pipe, want in [("fp64", .02), ("fp32", .12), ("fp16", .09), ("integer", .07)]:
            self.assertAlmostEqual(one(m, "gpuscope_pipe_active_ratio", gpu=0, pipe=pipe), want)
        # dcgm-exporter's profiling fields are ratios too, and bytes per second.
        dcgm = {
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": 0.97, "DCGM_FI_PROF_SM_ACTIVE": 0.80,
            "DCGM_FI_PROF_SM_OCCUPANCY": 0.25, "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": 0.60,
            "DCGM_FI_PROF_DRAM_ACTIVE": 0.30, "DCGM_FI_PROF_PIPE_FP64_ACTIVE": 0.02,
            "DCGM_FI_PROF_PIPE_FP32_ACTIVE": 0.12, "DCGM_FI_PROF_PIPE_FP16_ACTIVE": 0.09,
            "DCGM_FI_PROF_PCIE_TX_BYTES": 100 * MIB, "DCGM_FI_PROF_PCIE_RX_BYTES": 2048 * MIB,
        }
        for name, want in dcgm.items():
            self.assertAlmostEqual(one(m, name, gpu=0, UUID=gpu(0)["uuid"]), want, places=9, msg=name)

    def test_absent_without_gpm(self):
        m = get(self.agent)
        for name in ("gpuscope_sm_active_ratio", "DCGM_FI_PROF_SM_ACTIVE",
                     "gpuscope_tensor_pipe_active_ratio", "gpuscope_sm_active_window_max_ratio"):
            self.assertEqual(series(m, name, gpu=1), [], name)
        self.assertEqual(one(m, "gpuscope_gpu_utilization_ratio", gpu=1), 0.5)

    def test_steady_load_never_reads_zero(self):
        # The simulator answers 0 for a pair inside one 100 ms driver refresh, as the
        # driver does; at a 50 ms fast interval a naive pair of consecutive sweeps
        # would read zero every other time.
        seen = []
        end = time.time() + 2.5
        while time.time() < end:
            seen.append(one(get(self.agent), "gpuscope_sm_active_ratio", gpu=0))
            time.sleep(0.037)
        self.assertGreater(len(seen), 30)
        self.assertEqual(set(seen), {0.8}, seen)


class GpmIntervalTest(unittest.TestCase):
    """--gpm-interval sets how often a GPM pair closes: each figure is the mean of a
    signal that moves all the time, so a new figure shows as a new value."""

    def changes(self, *flags):
        path = write_scenario({"name": "gpm-interval", "gpus": [gpu(0, metrics={
            "gpm_sm_active_pct": {"sine": {"mean": 50, "amplitude": 40, "period": 0.7}}})]})
        try:
            with Agent("--fast-interval", "50ms", *flags, scenario=path) as a:
                a.wait_for(lambda: series(get(a), "gpuscope_sm_active_ratio", gpu=0),
                           what="GPM figures")
                seen = []
                end = time.time() + 3.0
                while time.time() < end:
                    seen.append(one(get(a), "gpuscope_sm_active_ratio", gpu=0))
                    time.sleep(0.03)
        finally:
            os.unlink(path)
        self.assertGreater(len(seen), 40)
        return sum(1 for x, y in zip(seen, seen[1:]) if x != y)

    def test_default_is_one_pair_a_second(self):
        self.assertIn(self.changes(), (2, 3, 4))

    def test_shorter_interval_more_pairs(self):
        # 250 ms at a 50 ms fast interval: a pair every fifth sweep, ~12 in 3 s.
        self.assertGreaterEqual(self.changes("--gpm-interval", "250ms"), 9)


class WindowTest(unittest.TestCase):
    """A 100 ms burst every 5 s, scraped less often than it happens."""

    def test_burst_survives_scrape_for_each_scraper(self):
        burst = {"square": {"low": 120, "high": 950, "period": 5, "duty": 0.02}}
        busy = {"square": {"low": 0, "high": 100, "period": 5, "duty": 0.08}}
        path = write_scenario({"name": "burst", "gpus": [gpu(0, metrics={"power_w": burst,
                                                                        "util_gpu_pct": busy})]})
        try:
            with Agent(scenario=path) as a:
                get(a, "prometheus-a")
                get(a, "prometheus-b")
                time.sleep(8.5)  # two bursts; the newest 2 s are not served yet
                for ua in ("prometheus-a", "prometheus-b"):
                    m = get(a, ua)
                    peak = one(m, "gpuscope_power_instant_window_max_watts", gpu=0)
                    mean = one(m, "gpuscope_power_instant_window_mean_watts", gpu=0)
                    self.assertGreaterEqual(peak, 900, ua)
                    self.assertLess(mean, 200, ua)
                    # Utilization windows come from the driver's 200 ms samples.
                    self.assertEqual(one(m, "gpuscope_gpu_utilization_window_max_ratio", gpu=0), 1.0)
                    self.assertLess(one(m, "gpuscope_gpu_utilization_window_mean_ratio", gpu=0), 0.2)
                # A person with curl in between takes nothing from either window.
                self.assertGreaterEqual(one(get(a, "curl"), "gpuscope_power_instant_window_max_watts", gpu=0), 900)
        finally:
            os.unlink(path)

    def test_windows_partition_samples(self):
        # Two scrapes 3 s apart by one client: their windows do not overlap and the
        # second one covers only the seconds since the first.
        path = write_scenario({"name": "ramp", "gpus": [gpu(0, metrics={
            "power_w": {"ramp": {"from": 100, "to": 700, "duration": 60}}})]})
        try:
            with Agent(scenario=path) as a:
                time.sleep(4)
                m1 = get(a, "c")
                time.sleep(3)
                m2 = get(a, "c")
                self.assertLess(one(m1, "gpuscope_power_instant_window_max_watts", gpu=0),
                                one(m2, "gpuscope_power_instant_window_mean_watts", gpu=0))
        finally:
            os.unlink(path)


class EnergyThrottleEventsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = write_scenario({"name": "misc", "gpus": [
            gpu(0, nvlink_links=4, nvlink_down=[2],
                metrics={"nvlink_tx_mibps": 3072, "nvlink_rx_mibps": 1536},
                faults={"xid": [{"at": 0.5, "code": 48}, {"at": 0.7, "code": 48},
                                {"at": 0.9, "code": 63}]})]})
        cls.agent = Agent("--slow-interval", "1s", "--costly-interval", "1s",
                          scenario=cls.path).__enter__()
        cls.agent.wait_for(lambda: one(get(cls.agent), "gpuscope_xid_errors_total", gpu=0) == 3,
                           what="three Xid events")

    @classmethod
    def tearDownClass(cls):
        assert cls.agent.stop() == 0
        os.unlink(cls.path)

    def test_energy_counter_and_integrated_power_agree(self):
        a = self.agent
        m1, t1 = get(a), time.time()
        time.sleep(4)
        m2, t2 = get(a), time.time()
        e = one(m2, "gpuscope_energy_joules_total", gpu=0) - one(m1, "gpuscope_energy_joules_total", gpu=0)
        p = (one(m2, "gpuscope_power_integrated_joules_total", gpu=0)
             - one(m1, "gpuscope_power_integrated_joules_total", gpu=0))
        # 300 W; the two counters are read on different tiers, so compare rates.
        self.assertAlmostEqual(p / (t2 - t1), 300, delta=300 * 0.2)
        self.assertGreater(e, 0)
        self.assertAlmostEqual(p / e, 1.0, delta=0.3)
        self.assertEqual(one(m2, "gpuscope_power_instant_watts", gpu=0), 300)

    def test_clock_event_seconds_and_loss(self):
        a = self.agent
        m1 = get(a)
        time.sleep(2)
        m2 = get(a)
        cap = (one(m2, "gpuscope_clock_event_seconds_total", gpu=0, reason="power_cap")
               - one(m1, "gpuscope_clock_event_seconds_total", gpu=0, reason="power_cap"))
        self.assertAlmostEqual(cap, 2.0, delta=0.4)
        for reason in ("idle", "hw_slowdown", "sw_thermal", "hw_thermal", "power_brake",
                       "sync_boost", "clocks_setting"):
            self.assertEqual(one(m2, "gpuscope_clock_event_seconds_total", gpu=0, reason=reason), 0)
        self.assertAlmostEqual(one(m2, "gpuscope_sm_clock_loss_ratio", gpu=0), 1 - 1410 / 1980)

    def test_xid_per_code(self):
        m = get(self.agent)
        self.assertEqual(one(m, "gpuscope_xid_code_errors_total", gpu=0, xid=48), 2)
        self.assertEqual(one(m, "gpuscope_xid_code_errors_total", gpu=0, xid=63), 1)
        self.assertEqual(one(m, "gpuscope_xid_errors_total", gpu=0), 3)
        self.assertEqual(one(m, "DCGM_FI_DEV_XID_ERRORS", gpu=0), 63)

    def test_nvlink_per_link(self):
        a = self.agent
        a.wait_for(lambda: series(get(a), "gpuscope_nvlink_up", gpu=0), what="NVLink")
        m1 = get(a)
        for link, up in ((0, 1), (1, 1), (2, 0), (3, 1)):
            self.assertEqual(one(m1, "gpuscope_nvlink_up", gpu=0, link=link), up)
        self.assertEqual(len(series(m1, "gpuscope_nvlink_up", gpu=0)), 4)
        t1 = time.time()
        time.sleep(4.2)
        m2 = get(a)
        dt = time.time() - t1
        tx = [one(m2, "gpuscope_nvlink_transmit_bytes_total", gpu=0, link=l)
              - one(m1, "gpuscope_nvlink_transmit_bytes_total", gpu=0, link=l) for l in range(4)]
        self.assertEqual(tx[2], 0)
        # 3 GiB/s split evenly over the three up links; the counters are read once a
        # slow interval (1 s here), so the rate is good to about one interval in four.
        self.assertAlmostEqual(tx[0], tx[1], delta=4096)
        self.assertAlmostEqual(tx[0], tx[3], delta=4096)
        self.assertAlmostEqual(sum(tx) / dt / 1024 ** 3, 3.0, delta=3.0 * 0.3)
        self.assertEqual(one(m2, "gpuscope_nvlink_transmit_bytes_per_second", gpu=0), 3072 * MIB)
        self.assertEqual(one(m2, "DCGM_FI_PROF_NVLINK_RX_BYTES", gpu=0), 1536 * MIB)

    def test_no_nvlink_means_absent(self):
        path = write_scenario({"name": "pcie", "gpus": [gpu(0)]})
        try:
            with Agent("--slow-interval", "1s", scenario=path) as a:
                time.sleep(1.5)
                m = get(a)
                self.assertEqual(series(m, "gpuscope_nvlink_up"), [])
                self.assertEqual(series(m, "gpuscope_nvlink_transmit_bytes_total"), [])
        finally:
            os.unlink(path)


class MigTest(unittest.TestCase):
    def test_gpu_instances_are_devices(self):
        mig = [{"profile": "1g.18gb", "gpu_instance_id": 9, "memory_total_mib": 16384,
                "metrics": {"fb_used_mib": 1024, "gpm_sm_active_pct": 70, "gpm_dram_active_pct": 35}},
               {"profile": "3g.71gb", "gpu_instance_id": 2, "memory_total_mib": 71680,
                "metrics": {"fb_used_mib": 20480, "gpm_sm_active_pct": 20}}]
        path = write_scenario({"name": "mig", "gpus": [
            gpu(0, mig=mig, metrics={"fb_used_mib": 30000}), gpu(1)]})
        try:
            with Agent(scenario=path) as a:
                a.wait_for(lambda: series(get(a), "gpuscope_sm_active_ratio", GPU_I_ID=2),
                           what="a GPM pair of a MIG instance")
                m = get(a)
                for gi, prof, used, total, sm in ((9, "1g.18gb", 1024, 16384, 0.7),
                                                  (2, "3g.71gb", 20480, 71680, 0.2)):
                    lab = {"gpu": 0, "GPU_I_ID": gi, "GPU_I_PROFILE": prof}
                    self.assertEqual(one(m, "gpuscope_memory_used_bytes", **lab), used * MIB)
                    self.assertEqual(one(m, "gpuscope_memory_total_bytes", **lab), total * MIB)
                    self.assertEqual(one(m, "DCGM_FI_DEV_FB_USED", **lab), used)
                    self.assertAlmostEqual(one(m, "gpuscope_sm_active_ratio", **lab), sm)
                    self.assertAlmostEqual(one(m, "DCGM_FI_PROF_SM_ACTIVE", **lab), sm)
                self.assertAlmostEqual(one(m, "DCGM_FI_PROF_DRAM_ACTIVE", GPU_I_ID=9), 0.35)
                # Natively the GPU itself is still there, without instance labels.  Its
                # DCGM series are per instance only, as dcgm-exporter's are on a MIG GPU
                # (so sum(DCGM_FI_DEV_FB_USED) never counts the GPU twice), device-level
                # values repeated under each instance's labels.  The other GPU (MIG off)
                # has no instances at all.
                self.assertEqual([v for (n, ls), v in m.items() if n == "gpuscope_memory_used_bytes"
                                  and ("gpu", "0") in ls and not any(k == "GPU_I_ID" for k, _ in ls)],
                                 [30000 * MIB])
                for (n, ls), v in m.items():
                    if n.startswith("DCGM_FI_") and ("gpu", "0") in ls:
                        self.assertIn("GPU_I_ID", dict(ls), n)
                self.assertEqual(sum(series(m, "DCGM_FI_DEV_FB_USED", gpu=0)), 1024 + 20480)
                self.assertEqual(len(series(m, "DCGM_FI_DEV_GPU_TEMP", gpu=0)), 2)
                self.assertEqual([v for (n, ls), v in m.items() if ("gpu", "1") in ls
                                  and any(k == "GPU_I_ID" for k, _ in ls)], [])
                doc = a.json("/api/v1/gpus")[1]
                self.assertEqual([(i["gpu_instance_id"], i["profile"]) for i in doc["gpus"][0]["mig"]],
                                 [(9, "1g.18gb"), (2, "3g.71gb")])
                self.assertTrue(doc["gpus"][0]["mig"][0]["uuid"].startswith("MIG-"))
                self.assertEqual(doc["gpus"][1]["mig"], [])
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
