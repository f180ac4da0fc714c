"""Hostile and careless input, each defect's exact input as a regression test:
overflowing spans, a scenario that stopped time or pointed at a directory or
/dev/zero, markup in --currency, and the messages that once said the wrong
thing (an unknown last option, xid_critical, ratio ranges, hex durations,
options that do nothing in a mode)."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, run, write_scenario  # noqa: E402

ONE_GPU = {"name": "one", "gpus": [{"metrics": {"power_w": 300}}]}


class OverflowTest(unittest.TestCase):
    def test_huge_spans_are_usage_errors(self):
        # --since 1e300w overflowed a signed integer in query and report.
        for cmd in ("query", "report"):
            rc, _, err = run(cmd, "--since", "1e300w", "--history", "/nonexistent.db")
            self.assertEqual(rc, 2, err)
            self.assertIn("--since '1e300w'", err)
            self.assertIn("100 years", err)
        # --retention-1s 1e300d passed the check, then history never opened.
        rc, _, err = run("serve", "--demo", "--retention-1s", "1e300d")
        self.assertEqual(rc, 2, err)
        self.assertIn("--retention-1s '1e300d'", err)
        rc, _, err = run("query", "--to", "99999999999999999999", "--history", "/x.db")
        self.assertEqual(rc, 2, err)


class ScenarioTest(unittest.TestCase):
    def doctor(self, scenario):
        return run("doctor", "--demo", scenario, timeout=20)

    def test_time_scale_1e308_is_refused_not_a_hang(self):
        path = write_scenario(dict(ONE_GPU, time_scale=1e308))
        try:
            rc, _, err = self.doctor(path)
            self.assertEqual(rc, 1)
            self.assertIn("time_scale: give 0.001 to 10000", err)
        finally:
            os.unlink(path)

    def test_directory_and_dev_zero(self):
        d = tempfile.mkdtemp()
        try:
            rc, _, err = self.doctor(d)
            self.assertEqual(rc, 1)
            self.assertIn("is a directory, not a file", err)
            trace = {"csv": {"file": "/dev/zero", "column": "power_w"}}
            path = write_scenario({"gpus": [{"metrics": {"power_w": trace}}]}, d)
            rc, _, err = self.doctor(path)
            self.assertEqual(rc, 1)
            self.assertIn("/dev/zero: not a regular file", err)
            os.unlink(path)
        finally:
            os.rmdir(d)


class MessagesTest(unittest.TestCase):
    def usage(self, *args):
        rc, _, err = run(*args)
        self.assertEqual(rc, 2, (args, err))
        return err

    def test_unknown_last_option_is_unknown(self):
        for cmd in ("serve", "report", "query"):
            err = self.usage(cmd, "--bogus")
            self.assertIn("unknown option '--bogus'", err)
            self.assertNotIn("needs a value", err)
        self.assertIn("--listen needs a value", self.usage("serve", "--listen"))
        self.assertIn("--format needs a value", self.usage("report", "--format"))

    def test_hex_duration(self):
        err = self.usage("serve", "--demo", "--fast-interval", "0x10s")
        self.assertIn("--fast-interval '0x10s'", err)

    def test_thresholds(self):
        rc, _, err = run("report", "--demo", "--threshold", "xid_critical=48,79",
                         "--format", "json", timeout=60)
        self.assertEqual(rc, 0, err)
        err = self.usage("report", "--demo", "--threshold", "idle_util_max=2")
        self.assertIn("from 0 to 1", err)
        err = self.usage("serve", "--demo", "--threshold", "idle_util_max=2")
        self.assertIn("from 0 to 1", err)

    def test_options_that_do_nothing_are_errors(self):
        err = self.usage("report", "--demo", "--from", "2026-01-01T00:00:00Z")
        self.assertIn("--from and --to", err)
        err = self.usage("report", "--demo", "--to", "1700000000")
        self.assertIn("--from and --to", err)
        err = self.usage("report", "--demo", "--step", "30s")
        self.assertIn("--prometheus", err)


class HistoryPrivacyTest(unittest.TestCase):
    def test_history_files_are_the_owners(self):
        d = tempfile.mkdtemp()
        db = os.path.join(d, "history.db")
        try:
            old = os.umask(0o022)  # the usual umask: it alone would give 0644
            try:
                agent = Agent("--history", db, scenario=write_scenario(ONE_GPU, d))
                with agent as a:
                    a.wait_for(lambda: a.json("/healthz")[1]["history"].get("rows", 0) >= 2,
                               timeout=20, what="history rows")
                    for suffix in ("", "-wal", "-shm"):
                        mode = os.stat(db + suffix).st_mode & 0o777
                        self.assertEqual(mode, 0o600, "%s%s is %o" % (db, suffix, mode))
            finally:
                os.umask(old)
            # The same user still reads it.
            rc, out, err = run("query", "--history", db, "--since", "1h")
            self.assertEqual(rc, 0, err)
            self.assertIn("power", out.splitlines()[0])
        finally:
            for name in os.listdir(d):
                os.unlink(os.path.join(d, name))
            os.rmdir(d)


    def test_history_group_can_read(self):
        d = tempfile.mkdtemp()
        db = os.path.join(d, "history.db")
        gid = os.getgid()  # a group this user may always give files to
        try:
            with Agent("--history", db, "--history-group", str(gid),
                       scenario=write_scenario(ONE_GPU, d)) as a:
                a.wait_for(lambda: a.json("/healthz")[1]["history"].get("rows", 0) >= 1,
                           timeout=20, what="history rows")
                st = os.stat(db)
                self.assertEqual(st.st_mode & 0o777, 0o640)
                self.assertEqual(st.st_gid, gid)
                self.assertEqual(os.stat(db + "-wal").st_mode & 0o777, 0o640)
        finally:
            for name in os.listdir(d):
                os.unlink(os.path.join(d, name))
            os.rmdir(d)
        rc, _, err = run("serve", "--demo", "--history-group", "no-such-group-h17")
        self.assertEqual(rc, 2, err)
        self.assertIn("no such group", err)


class OutputTest(unittest.TestCase):
    def test_currency_is_escaped_in_html(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "r.html")
        try:
            rc, _, err = run("report", "--demo", "--format", "html", "--output", path,
                             "--price-per-gpu-hour", "2", "--currency", "E<b>R", timeout=60)
            self.assertEqual(rc, 0, err)
            with open(path) as f:
                html = f.read()
            self.assertIn("E&lt;b&gt;R/day", html[:4000], "not escaped in the fleet table")
            self.assertFalse("E<b>R" in html, "--currency reached the HTML unescaped")
        finally:
            if os.path.exists(path):
                os.unlink(path)
            os.rmdir(d)


if __name__ == "__main__":
    unittest.main()
