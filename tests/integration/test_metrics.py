"""Every metric of a constant scenario comes out of /metrics with the value the
scenario sets, under both name sets, with dcgm-exporter's units and labels;
unsupported metrics are absent (not zero); promtool accepts the output."""
import gzip
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, one, parse_exposition, series, write_scenario  # noqa: E402

MIB = 1048576
GPU = {
    "model": "NVIDIA H200",
    "uuid": "GPU-11111111-2222-3333-4444-555555555555",
    "pci_bus_id": "00000000:18:00.0",
    "minor": 3,
    "memory_total_mib": 143771,
    "memory_reserved_mib": 550,
    "power_limit_w": 700,
    "max_sm_clock_mhz": 1980,
    "max_mem_clock_mhz": 3201,
    "slowdown_temp_c": 89,
    "shutdown_temp_c": 95,
    "max_operating_temp_c": 87,
    "mem_max_temp_c": 95,
    "pcie_gen": 5, "pcie_width": 16, "pcie_max_gen": 5, "pcie_max_width": 16,
    "metrics": {
        "util_gpu_pct": 45, "util_mem_pct": 22, "fb_used_mib": 1000, "power_w": 250.5,
        "temp_c": 51, "mem_temp_c": 60, "sm_clock_mhz": 1410, "mem_clock_mhz": 2619,
        "clock_event_reasons": 4, "enc_util_pct": 3, "dec_util_pct": 7, "pstate": 0,
        "pcie_replay": 12, "ecc_sbe_volatile": 5, "ecc_dbe_volatile": 1,
        "ecc_sbe_aggregate": 50, "ecc_dbe_aggregate": 2, "remapped_correctable": 3,
        "remapped_uncorrectable": 1, "remap_pending": 0, "remap_failure": 0,
    },
}


def scenario():
    other = dict(GPU, uuid="GPU-99999999-2222-3333-4444-555555555555",
                 pci_bus_id="00000000:19:00.0", minor=4,
                 faults={"unsupported": ["nvmlDeviceGetPowerUsage", "nvmlDeviceGetFieldValues"]})
    return {"name": "constants", "gpus": [GPU, other]}


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = write_scenario(scenario())
        cls.agent = Agent(scenario=cls.path, env={}).__enter__()
        cls.agent.wait_for(lambda: series(cls.agent.metrics(), "gpuscope_pcie_replays_total"),
                           what="slow tier")
        cls.text = cls.agent.metrics_text()
        cls.m = parse_exposition(cls.text)

    @classmethod
    def tearDownClass(cls):
        assert cls.agent.stop() == 0
        os.unlink(cls.path)

    def test_native_values_exact(self):
        m, g = self.m, {"gpu": 0, "uuid": GPU["uuid"]}
        expect = {
            "gpuscope_gpu_utilization_ratio": 0.45,
            "gpuscope_memory_controller_utilization_ratio": 0.22,
            "gpuscope_memory_used_bytes": 1000 * MIB,
            "gpuscope_memory_reserved_bytes": 550 * MIB,
            "gpuscope_memory_total_bytes": 143771 * MIB,
            "gpuscope_memory_free_bytes": (143771 - 550 - 1000) * MIB,
            "gpuscope_power_watts": 250.5,
            "gpuscope_power_limit_watts": 700,
            "gpuscope_temperature_celsius": 51,
            "gpuscope_memory_temperature_celsius": 60,
            "gpuscope_temperature_slowdown_threshold_celsius": 89,
            "gpuscope_temperature_shutdown_threshold_celsius": 95,
            "gpuscope_temperature_max_operating_celsius": 87,
            "gpuscope_memory_temperature_max_operating_celsius": 95,
            "gpuscope_sm_clock_hertz": 1410e6,
            "gpuscope_memory_clock_hertz": 2619e6,
            "gpuscope_sm_clock_max_hertz": 1980e6,
            "gpuscope_memory_clock_max_hertz": 3201e6,
            "gpuscope_clock_event_reasons": 4,
            "gpuscope_performance_state": 0,
            "gpuscope_encoder_utilization_ratio": 0.03,
            "gpuscope_decoder_utilization_ratio": 0.07,
            "gpuscope_pcie_link_generation": 5,
            "gpuscope_pcie_link_width": 16,
            "gpuscope_pcie_link_max_generation": 5,
            "gpuscope_pcie_link_max_width": 16,
            "gpuscope_pcie_replays_total": 12,
            "gpuscope_ecc_enabled": 1,
            "gpuscope_row_remap_pending": 0,
            "gpuscope_row_remap_failure": 0,
            "gpuscope_gpu_up": 1,
        }
        for name, want in expect.items():
            self.assertEqual(one(m, name, **g), want, name)
        self.assertEqual(one(m, "gpuscope_ecc_errors_total", error="corrected", scope="volatile", **g), 5)
        self.assertEqual(one(m, "gpuscope_ecc_errors_total", error="uncorrected", scope="volatile", **g), 1)
        self.assertEqual(one(m, "gpuscope_ecc_errors_total", error="corrected", scope="aggregate", **g), 50)
        self.assertEqual(one(m, "gpuscope_ecc_errors_total", error="uncorrected", scope="aggregate", **g), 2)
        self.assertEqual(one(m, "gpuscope_remapped_rows_total", cause="correctable", **g), 3)
        self.assertEqual(one(m, "gpuscope_remapped_rows_total", cause="uncorrectable", **g), 1)
        self.assertEqual(one(m, "gpuscope_gpu_info", driver_version="580.159.04", **g), 1)
        self.assertGreater(one(m, "gpuscope_energy_joules_total", **g), 0)
        # Exactness in the text itself, not only after float parsing.
        self.assertIn('gpuscope_gpu_utilization_ratio{gpu="0",uuid="%s"} 0.45\n' % GPU["uuid"], self.text)
        self.assertIn('gpuscope_power_watts{gpu="0",uuid="%s"} 250.5\n' % GPU["uuid"], self.text)

    def test_dcgm_values_units_and_labels(self):
        m = self.m
        labels = {"gpu": "0", "UUID": GPU["uuid"], "pci_bus_id": "00000000:18:00.0",
                  "device": "nvidia3", "modelName": "NVIDIA H200"}
        expect = {
            "DCGM_FI_DEV_GPU_UTIL": 45, "DCGM_FI_DEV_MEM_COPY_UTIL": 22,
            "DCGM_FI_DEV_FB_USED": 1000, "DCGM_FI_DEV_FB_FREE": 143771 - 550 - 1000,
            "DCGM_FI_DEV_FB_RESERVED": 550, "DCGM_FI_DEV_GPU_TEMP": 51,
            "DCGM_FI_DEV_MEMORY_TEMP": 60, "DCGM_FI_DEV_POWER_USAGE": 250.5,
            "DCGM_FI_DEV_SM_CLOCK": 1410, "DCGM_FI_DEV_MEM_CLOCK": 2619,
            "DCGM_FI_DEV_ENC_UTIL": 3, "DCGM_FI_DEV_DEC_UTIL": 7,
            "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": 12, "DCGM_FI_DEV_XID_ERRORS": 0,
            "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": 5, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": 1,
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": 1,
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": 3, "DCGM_FI_DEV_ROW_REMAP_FAILURE": 0,
        }
        for name, want in expect.items():
            vals = series(m, name, **labels)
            self.assertEqual(vals, [want], name)
        energy_mj = one(m, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", **labels)
        energy_j = one(m, "gpuscope_energy_joules_total", gpu=0)
        self.assertEqual(energy_mj / 1000, energy_j)
        # Every DCGM series carries exactly dcgm-exporter's label set (its current release:
        # hostname, and the driver version as a label; err_code and err_msg on Xid).
        base = ["gpu", "UUID", "pci_bus_id", "device", "modelName", "hostname",
                "DCGM_FI_DRIVER_VERSION"]
        for (name, ls), _ in m.items():
            if name.startswith("DCGM_FI_"):
                extra = ["err_code", "err_msg"] if name == "DCGM_FI_DEV_XID_ERRORS" else []
                self.assertEqual(sorted(k for k, _ in ls), sorted(base + extra), name)
        self.assertIn("# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter", self.text)
        self.assertIn("# TYPE DCGM_FI_DEV_XID_ERRORS gauge", self.text)

    def test_unsupported_is_absent_not_zero(self):
        m = self.m
        self.assertEqual(series(m, "gpuscope_power_watts", gpu=1), [])
        self.assertEqual(series(m, "DCGM_FI_DEV_POWER_USAGE", gpu=1), [])
        self.assertEqual(series(m, "gpuscope_memory_temperature_celsius", gpu=1), [])
        self.assertEqual(series(m, "DCGM_FI_DEV_MEMORY_TEMP", gpu=1), [])
        self.assertEqual(one(m, "gpuscope_gpu_utilization_ratio", gpu=1), 0.45)
        status, doc = self.agent.json("/api/v1/gpus")
        self.assertEqual(status, 200)
        why = doc["gpus"][1]["unsupported"]["gpuscope_power_watts"]
        self.assertIn("nvmlDeviceGetPowerUsage", why)
        self.assertIn("Not Supported", why)

    def promtool(self, body):
        with tempfile.NamedTemporaryFile("w", suffix=".prom", delete=False) as f:
            f.write(body)
        with open(f.name) as stdin:
            p = subprocess.run(["promtool", "check", "metrics"], stdin=stdin,
                               capture_output=True, text=True)
        os.unlink(f.name)
        return p.returncode, (p.stdout + p.stderr).strip()

    def test_promtool_native_names_clean(self):
        native = "".join(l + "\n" for l in self.text.splitlines()
                         if "DCGM_FI_" not in l and "DCGM_EXP_" not in l)
        rc, out = self.promtool(native)
        self.assertEqual((rc, out), (0, ""))

    def test_promtool_dcgm_names_only_lint_dcgm_conventions(self):
        # dcgm-exporter's names break Prometheus naming lint (camelCase labels,
        # counters without _total); drop-in compatibility means keeping them.
        # The text must still parse, and only those names may be complained of.
        rc, out = self.promtool(self.text)
        self.assertTrue(out, "expected promtool to lint DCGM names")
        for line in out.splitlines():
            self.assertTrue(line.startswith(("DCGM_FI_", "DCGM_EXP_")), line)
            self.assertNotIn("error while", line)

    def test_openmetrics_and_gzip(self):
        status, hdrs, body = self.agent.get("/metrics", {
            "Accept": "application/openmetrics-text; version=1.0.0,text/plain;q=0.5",
            "Accept-Encoding": "gzip"})
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["Content-Encoding"], "gzip")
        self.assertTrue(hdrs["Content-Type"].startswith("application/openmetrics-text"))
        text = gzip.decompress(body).decode()
        self.assertTrue(text.endswith("# EOF\n"))
        self.assertIn("# TYPE gpuscope_energy_joules counter", text)
        status, hdrs, body = self.agent.get("/metrics", {"Accept-Encoding": "gzip;q=0"})
        self.assertNotIn("Content-Encoding", hdrs)
        self.assertTrue(hdrs["Content-Type"].startswith("text/plain; version=0.0.4"))


class NamesTest(unittest.TestCase):
    def test_names_modes(self):
        path = write_scenario(scenario())
        try:
            with Agent("--names", "dcgm", scenario=path) as a:
                text = a.metrics_text()
                self.assertIn("DCGM_FI_DEV_GPU_UTIL", text)
                self.assertNotIn("gpuscope_", text)
            with Agent("--names", "native", scenario=path, env={}) as a:
                text = a.metrics_text()
                self.assertIn("gpuscope_gpu_utilization_ratio", text)
                self.assertNotIn("DCGM_FI_", text)
            with Agent("--names", "native", "--hostname", "node-7", scenario=path) as a:
                pass
            with Agent("--hostname", "node-7", scenario=path) as a:
                self.assertEqual(series(a.metrics(), "DCGM_FI_DEV_GPU_UTIL", hostname="node-7"), [45, 45])
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
