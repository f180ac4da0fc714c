"""serve --config FILE: every option in YAML, through the same parser as the flags, and
flags on the command line override the file."""
import os
import shutil
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
