"""The command line: clear errors and exit codes for a missing driver, a
failing nvmlInit, a broken scenario and bad flags; doctor's report."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import run, write_scenario  # noqa: E402


class CliTest(unittest.TestCase):
    def test_no_driver_is_one_clear_error(self):
        rc, out, err = run("serve", "--nvml-lib", "/nonexistent/libnvidia-ml.so.1")
        self.assertEqual(rc, 1)
        self.assertIn("cannot load the NVIDIA management library", err)
        self.assertIn("--demo", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        rc, _, err = run("doctor", env={"GPUSCOPE_NVML_LIB": "/nonexistent/nvml.so"})
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent/nvml.so", err)

    def test_not_an_nvml_library(self):
        rc, _, err = run("serve", "--nvml-lib", "libc.so.6")
        self.assertEqual(rc, 1)
        self.assertIn("lacks nvmlInit_v2", err)

    def test_init_failure(self):
        path = write_scenario({"name": "nodriver", "init_error": 9, "gpus": []})
        try:
            rc, _, err = run("serve", "--demo", path)
            self.assertEqual(rc, 1)
            self.assertIn("Driver Not Loaded", err)
            self.assertIn("kernel driver is not loaded", err)
        finally:
            os.unlink(path)

    def test_broken_scenario_names_the_problem(self):
        path = write_scenario({"gpus": [{"metrics": {"power_w": {"sinus": {}}}}]})
        try:
            rc, _, err = run("serve", "--demo", path)
            self.assertEqual(rc, 1)
            self.assertIn("gpus[0].metrics.power_w", err)
            self.assertIn("sinus", err)
        finally:
            os.unlink(path)
        rc, _, err = run("serve", "--demo", "/nonexistent/scenario.json")
        self.assertEqual(rc, 1)
        self.assertIn("cannot open the scenario file", err)

    def test_bad_flags_exit_2(self):
        for args in (["--names", "foo"], ["--fast-interval", "5"], ["--fast-interval", "1ms"],
                     ["--slow-interval", "10ms", "--fast-interval", "100ms"], ["--listen", "nope:x"],
                     ["--costly-interval", "500ms"], ["--costly-interval", "2h"],
                     ["--threshold", "nope=1"], ["--threshold", "idle_util_max=-1"],
                     ["--listen"], ["--bogus"], ["--http-threads", "0"]):
            rc, _, err = run("serve", "--demo", *args)
            self.assertEqual(rc, 2, (args, err))
            self.assertIn("gpuscope serve:", err)
        rc, _, err = run("frobnicate")
        self.assertEqual(rc, 2)
        self.assertIn("unknown command", err)

    def test_help_and_version(self):
        rc, out, _ = run("serve", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("--fast-interval", out)
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("doctor", out)
        rc, out, _ = run("version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^gpuscope \d+\.\d+\.\d+")

    def test_port_in_use(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        try:
            rc, _, err = run("serve", "--demo", "--listen", "127.0.0.1:%d" % s.getsockname()[1])
            self.assertEqual(rc, 1)
            self.assertIn("port %d is already in use" % s.getsockname()[1], err)
        finally:
            s.close()

    def test_doctor_reports_support_and_reasons(self):
        path = write_scenario({"name": "doc", "gpus": [
            {"model": "NVIDIA H200", "faults": {"unsupported": ["nvmlDeviceGetPowerUsage"]}},
            {"model": "NVIDIA H100 80GB HBM3", "faults": {"lost_at": 0}}]})
        try:
            rc, out, err = run("doctor", "--demo", path)
            self.assertEqual(rc, 1, err)  # a lost GPU is unhealthy
            self.assertIn("SIMULATED GPUs", err)
            self.assertIn("driver       580.159.04", out)
            self.assertIn("NVIDIA H200", out)
            self.assertRegex(out, r"no\s+gpuscope_power_watts\s+nvmlDeviceGetPowerUsage: Not Supported")
            self.assertRegex(out, r"yes\s+gpuscope_gpu_utilization_ratio\s+fast")
            self.assertRegex(out, r"yes\s+gpuscope_energy_joules_total\s+costly")
            self.assertIn("health      lost", out)
        finally:
            os.unlink(path)
        rc, out, _ = run("doctor", "--demo")
        self.assertEqual(rc, 0)
        self.assertIn("GPUs         8", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
