"""serve --config FILE: every option in YAML, through the same parser as the flags, and
flags on the command line override the file."""
import os
import shutil
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, run  # noqa: E402


class ConfigFileTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.d, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_options_from_the_file_and_flags_override(self):
        csv = self.write("c.csv", "DCGM_FI_DEV_GPU_UTIL, gauge, util from the file\n")
        cfg = self.write("gpuscope.yaml", """
# every kind of value: scalars, booleans, a mapping, quoting
fast-interval: 250ms
slow-interval: 2s
names: both
hostname: "node-from-file"
no-history: true
no-processes: false
collectors: %s
threshold:
  idle_util_max: 0.2
process-cap: 3
""" % csv)
        with Agent("--config", cfg) as a:
            err = a.stderr()
            self.assertIn("fast 250 ms, slow 2.0 s", err)
            text = a.metrics_text()
            self.assertIn('hostname="node-from-file"', text)
            self.assertIn("# HELP DCGM_FI_DEV_GPU_UTIL util from the file", text)
            self.assertNotIn("DCGM_FI_DEV_FB_USED", text)
            self.assertEqual(a.json("/healthz")[1]["history"], {"state": "off"})
        # The command line wins over the file; --config=FILE works too.
        with Agent("--config=" + cfg, "--fast-interval", "500ms", "--hostname", "cli-node") as a:
            self.assertIn("fast 500 ms", a.stderr())
            self.assertIn('hostname="cli-node"', a.metrics_text())

    def test_sighup_reloads_what_can_change_live(self):
        csv = self.write("c.csv", "DCGM_FI_DEV_GPU_UTIL, gauge, first help\n")
        cfg = self.write("gpuscope.yaml", "no-history: true\ncollectors: %s\n"
                                          "threshold: {idle_util_max: 0.2}\n" % csv)
        with Agent("--config", cfg) as a:
            self.assertIn("# HELP DCGM_FI_DEV_GPU_UTIL first help", a.metrics_text())
            self.assertIn("gpuscope_gpu_utilization_ratio", a.metrics_text())

            def hup_and_wait(marker):
                before = a.stderr().count("SIGHUP: reading")
                a.proc.send_signal(signal.SIGHUP)
                a.wait_for(lambda: a.stderr().count("SIGHUP: reading") > before and marker in a.stderr(),
                           timeout=10, what=marker)

            # A new collectors file, other names, a new threshold, another label spelling.
            self.write("c.csv", "DCGM_FI_DEV_GPU_UTIL, gauge, second help\n"
                                "DCGM_FI_DEV_SM_CLOCK, gauge, clock\n")
            self.write("gpuscope.yaml", "no-history: true\ncollectors: %s\nnames: dcgm\n"
                                        "hostname-label: Hostname\n"
                                        "threshold: {idle_util_max: 0.3}\n" % csv)
            hup_and_wait("exposition: names dcgm")
            err = a.stderr()
            self.assertIn("SIGHUP: thresholds: idle_util_max 0.2 -> 0.3", err)
            text = a.metrics_text()
            self.assertIn("# HELP DCGM_FI_DEV_GPU_UTIL second help", text)
            self.assertIn("DCGM_FI_DEV_SM_CLOCK{", text)
            self.assertIn("Hostname=", text)
            self.assertNotIn("gpuscope_gpu_utilization_ratio", text)
            # A broken file keeps everything and says why.
            self.write("gpuscope.yaml", "names: [\n")
            hup_and_wait("kept the old configuration")
            self.assertIn("not YAML", a.stderr())
            self.assertEqual(a.metrics_text(), a.metrics_text())  # still serving
            self.assertIn("# HELP DCGM_FI_DEV_GPU_UTIL second help", a.metrics_text())
            # The same file again: nothing to do, and it says so.
            self.write("gpuscope.yaml", "no-history: true\ncollectors: %s\nnames: dcgm\n"
                                        "hostname-label: Hostname\n"
                                        "threshold: {idle_util_max: 0.3}\n" % csv)
            hup_and_wait("nothing else that can change live has changed")
            self.assertIsNone(a.proc.poll())

    def test_bad_files_say_where(self):
        cases = {
            "fast-interval: 5ms\n": "--fast-interval '5ms'",
            "no-such-option: 1\n": "unknown option '--no-such-option'",
            "- listen\n": "must be a mapping",
            "Listen: 1\n": "option names without their dashes",
            "listen: [a: b]\n": "line 1",
            "config: other.yaml\n": "cannot name another",
            "listen: \"unterminated\n": "not YAML",
        }
        for text, say in cases.items():
            path = self.write("bad.yaml", text)
            rc, _, err = run("serve", "--demo", "--config", path)
            self.assertEqual(rc, 2, (text, err))
            self.assertIn(say, err, text)
        rc, _, err = run("serve", "--demo", "--config", os.path.join(self.d, "missing.yaml"))
        self.assertEqual(rc, 2)
        self.assertIn("missing.yaml: No such file", err)
        rc, _, err = run("serve", "--demo", "--config", self.d)
        self.assertEqual(rc, 2)
        self.assertIn("read error", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
