"""Alert delivery to local fake Alertmanager, webhook, Slack and PagerDuty
endpoints: the documented fields of each body, secrets kept out of logs and
the API, and exactly one notification per state change through a receiver
that is down, one that answers 500, and an agent killed with -9 between
firing and delivery."""
import os
import re
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, free_port, one, run, write_scenario  # noqa: E402
from receivers import Receivers  # noqa: E402

RULES = """rules:
  - {name: GpuTemperatureHigh, for: 1s, window: 0, keep_firing_for: 1s}
  - {name: GpuUtilizationLow, disabled: true}
  - {name: GpuMemoryOverprovisioned, disabled: true}
"""
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
ROUTING_KEY = "R0UT1NGKEYsecret0123456789abcdef"
SLACK_TOKEN = "T000/B000/slackSECRETtoken"
HOOK_TOKEN = "hookSECRETtoken42"


def scenario(hot_until):
    """GPU 0 runs hot (92 C, slowdown 89 C) until hot_until seconds; GPU 1 is fine."""
    ok = {"util_gpu_pct": 80, "power_w": 400, "temp_c": 60, "fb_used_mib": 70000}
    hot = dict(ok, temp_c={"steps": [[0, 92], [hot_until, 60]]})
    return write_scenario({"name": "hot", "gpus": [{"metrics": hot}, {"metrics": ok}]})


def write(text):
    fd, path = tempfile.mkstemp()
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


class Setup:
    """Receivers on one port, secret files, a history file: an agent's arguments."""

    def __init__(self, port=None):
        self.recv = Receivers(port or free_port())
        self.dir = tempfile.mkdtemp()
        self.history = os.path.join(self.dir, "history.db")
        self.rules = write(RULES)
        self.hook = write(self.recv.url("/hook/" + HOOK_TOKEN) + "\n")
        self.slack = write(self.recv.url("/services/" + SLACK_TOKEN) + "\n")
        self.pd_key = write(ROUTING_KEY + "\n")

    def args(self):
        return ["--alert-rules", self.rules, "--history", self.history, "--hostname", "node-a",
                "--alertmanager", self.recv.url("/am"),
                "--alert-webhook-file", self.hook, "--slack-webhook-file", self.slack,
                "--pagerduty-key-file", self.pd_key,
                "--pagerduty-url", self.recv.url("/v2/enqueue"),
                "--alert-backoff-max", "1s"]

    def bodies(self):
        return {
            "alertmanager": [a for b in self.recv.received("/am/api/v2/alerts") for a in b],
            "webhook": self.recv.received("/hook/" + HOOK_TOKEN),
            "slack": self.recv.received("/services/" + SLACK_TOKEN),
            "pagerduty": self.recv.received("/v2/enqueue"),
        }

    def temp_key(self):
        """PagerDuty's dedup key of GpuTemperatureHigh (from its trigger)."""
        for b in self.recv.received("/v2/enqueue"):
            if b.get("payload", {}).get("class") == "GpuTemperatureHigh":
                return b["dedup_key"]
        return None

    def states(self):
        """Per receiver, the list of firing/resolved notifications of GpuTemperatureHigh."""
        out = {}
        for name, bodies in self.bodies().items():
            seq = []
            for b in bodies:
                if name == "alertmanager":
                    if b["labels"]["alertname"] == "GpuTemperatureHigh":
                        seq.append("resolved" if b["endsAt"] < iso_now() else "firing")
                elif name == "webhook":
                    if b["groupLabels"]["alertname"] == "GpuTemperatureHigh":
                        seq.append(b["status"])
                elif name == "slack":
                    if "GpuTemperatureHigh" in b["text"]:
                        seq.append("resolved" if b["text"].startswith("[RESOLVED]")
                                   else "firing")
                elif b["dedup_key"] == self.temp_key():
                    seq.append("resolved" if b["event_action"] == "resolve" else "firing")
            out[name] = seq
        return out


def iso_now():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


def wait(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


BOTH = {"alertmanager": ["firing", "resolved"], "webhook": ["firing", "resolved"],
        "slack": ["firing", "resolved"], "pagerduty": ["firing", "resolved"]}


class DeliveryTest(unittest.TestCase):
    def test_payload_fields_and_secrets(self):
        s = Setup()
        s.recv.start()
        try:
            with Agent(*s.args(), scenario=scenario(6)) as agent:
                wait(lambda: s.states() == BOTH, 25, "firing and resolved at every receiver")
                time.sleep(1.5)  # nothing more may come
                self.assertEqual(s.states(), BOTH)
                b = s.bodies()

                am = b["alertmanager"][0]
                for k in ("labels", "annotations", "startsAt", "endsAt", "generatorURL"):
                    self.assertIn(k, am)
                self.assertEqual(am["labels"]["alertname"], "GpuTemperatureHigh")
                self.assertEqual(am["labels"]["severity"], "critical")
                self.assertEqual(am["labels"]["hostname"], "node-a")
                self.assertRegex(am["startsAt"], ISO)
                self.assertGreater(am["endsAt"], am["startsAt"])

                fire, res = b["webhook"]
                for k in ("version", "groupKey", "truncatedAlerts", "status", "receiver",
                          "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
                          "alerts"):
                    self.assertIn(k, fire)
                self.assertEqual(fire["version"], "4")
                self.assertEqual(len(fire["alerts"]), 1)
                fa, ra = fire["alerts"][0], res["alerts"][0]
                for k in ("status", "labels", "annotations", "startsAt", "endsAt",
                          "generatorURL", "fingerprint"):
                    self.assertIn(k, fa)
                self.assertEqual(fa["endsAt"], "0001-01-01T00:00:00Z")
                self.assertEqual(ra["status"], "resolved")
                self.assertGreater(ra["endsAt"], ra["startsAt"])
                self.assertEqual(fa["fingerprint"], ra["fingerprint"])
                self.assertEqual(fa["startsAt"], ra["startsAt"])
                self.assertEqual(fire["groupLabels"], {"alertname": "GpuTemperatureHigh"})

                for m in b["slack"]:
                    self.assertIsInstance(m["text"], str)
                    self.assertIn("GpuTemperatureHigh", m["text"])
                    self.assertEqual(m["blocks"][0]["type"], "section")
                    self.assertEqual(m["blocks"][0]["text"]["type"], "mrkdwn")
                self.assertTrue(b["slack"][0]["text"].startswith("[FIRING]"))

                trig, resolve = b["pagerduty"]
                self.assertEqual(trig["routing_key"], ROUTING_KEY)
                self.assertEqual(trig["event_action"], "trigger")
                self.assertEqual(resolve["event_action"], "resolve")
                self.assertEqual(trig["dedup_key"], resolve["dedup_key"])
                self.assertLessEqual(len(trig["dedup_key"]), 255)
                p = trig["payload"]
                self.assertLessEqual(len(p["summary"]), 1024)
                self.assertIn(p["severity"], ("critical", "error", "warning", "info"))
                self.assertEqual(p["source"], "node-a")
                self.assertRegex(p["timestamp"], ISO)
                self.assertEqual(resolve["routing_key"], ROUTING_KEY)
                for _, _, _, _, ctype in s.recv.all_posts():
                    self.assertEqual(ctype, "application/json")

                # Secrets never leave the agent except to their receiver.
                _, _, api = agent.get("/api/v1/alerts")
                _, _, health = agent.get("/healthz")
                seen = agent.stderr() + api.decode() + health.decode() + agent.metrics_text()
                for secret in (ROUTING_KEY, SLACK_TOKEN, HOOK_TOKEN):
                    self.assertNotIn(secret, seen)
                _, doc = agent.json("/api/v1/alerts")
                recv = {r["name"]: r for r in doc["data"]["receivers"]}
                self.assertEqual(set(recv), {"alertmanager", "webhook", "slack", "pagerduty"})
                self.assertEqual(recv["webhook"]["delivered"], 2)
                self.assertEqual(recv["webhook"]["waiting"], 0)
                m = agent.metrics()
                self.assertEqual(one(m, "gpuscope_alert_notifications_total", receiver="webhook",
                                     result="delivered"), recv["webhook"]["delivered"])
                self.assertEqual(one(m, "gpuscope_alert_notifications_waiting",
                                     receiver="pagerduty"), 0)
        finally:
            s.recv.stop()

    def test_libcurl_is_loaded_at_the_first_delivery(self):
        """The agent maps libcurl (and libssh2, libcrypto, Kerberos...) only when it first
        sends something: before GPU 0 runs hot it has nothing to send."""
        def maps(agent):
            with open("/proc/%d/maps" % agent.proc.pid) as f:
                return f.read()

        s = Setup()
        s.recv.start()
        ok = {"util_gpu_pct": 80, "power_w": 400, "temp_c": 60, "fb_used_mib": 70000}
        later = dict(ok, temp_c={"steps": [[0, 60], [6, 92], [30, 60]]})
        try:
            # Discovery would probe any listening process that the simulated pids name on
            # this host (with libcurl): not what is measured here.
            with Agent(*s.args(), "--no-inference-discovery", scenario=write_scenario(
                    {"name": "hot later", "gpus": [{"metrics": later}, {"metrics": ok}]})) as agent:
                agent.metrics_text()
                agent.get("/api/v1/alerts")
                self.assertFalse("libcurl" in maps(agent), "libcurl mapped before any alert")
                wait(lambda: s.states()["webhook"] == ["firing"], 25, "the first notification")
                self.assertTrue("libcurl" in maps(agent), "libcurl not mapped after delivery")
        finally:
            s.recv.stop()

    def test_receiver_down_then_back(self):
        s = Setup()  # not started: every receiver refuses connections
        with Agent(*s.args(), scenario=scenario(5)) as agent:
            wait(lambda: "resolved on GPU 0" in agent.stderr(), 20, "fire and resolve")
            wait(lambda: "delivery failed" in agent.stderr(), 5, "a failure logged")
            _, doc = agent.json("/api/v1/alerts")
            waiting = {r["name"]: r["waiting"] for r in doc["data"]["receivers"]}
            self.assertEqual(waiting, {"alertmanager": 2, "webhook": 2, "slack": 2,
                                       "pagerduty": 2})
            m = agent.metrics()
            self.assertEqual(one(m, "gpuscope_alert_notifications_waiting", receiver="slack"), 2)
            self.assertGreater(one(m, "gpuscope_alert_notifications_total", receiver="slack",
                                   result="failed"), 0)
            time.sleep(8)  # down a while longer: backoff, no loss
            s.recv.start()
            try:
                wait(lambda: s.states() == BOTH, 15, "delivery after the outage")
                time.sleep(2)
                self.assertEqual(s.states(), BOTH)
                self.assertIn("delivering again", agent.stderr())
            finally:
                s.recv.stop()

    def test_receiver_answers_500(self):
        s = Setup()
        for path in ("/hook/" + HOOK_TOKEN, "/services/" + SLACK_TOKEN, "/v2/enqueue",
                     "/am/api/v2/alerts"):
            s.recv.script[path] = [500, 503, 500]
        s.recv.start()
        try:
            with Agent(*s.args(), scenario=scenario(5)):
                wait(lambda: s.states() == BOTH, 25, "delivery through the 500s")
                time.sleep(2)
                self.assertEqual(s.states(), BOTH)
                refused = [p for p in s.recv.all_posts() if p[2] >= 500]
                self.assertGreaterEqual(len(refused), 12)  # 3 per receiver, at least
        finally:
            s.recv.stop()

    def test_kill_9_between_firing_and_delivery(self):
        s = Setup()  # receivers down while the alert fires
        hot = scenario(14)
        agent = Agent(*s.args(), scenario=hot).__enter__()
        try:
            wait(lambda: "GpuTemperatureHigh firing on GPU 0" in agent.stderr(), 10, "firing")
            time.sleep(0.5)
            agent.proc.send_signal(signal.SIGKILL)
            agent.proc.wait(5)
        finally:
            agent.stop()
        s.recv.start()
        try:
            with Agent(*s.args(), scenario=hot) as again:
                # Still hot after the restart: the queued firing goes out once
                # and is not fired a second time.
                wait(lambda: s.states() == {k: ["firing"] for k in BOTH}, 10,
                     "the queued firing notification")
                self.assertIn("1 alert still firing from before the restart", again.stderr())
                time.sleep(3)
                self.assertNotIn("GpuTemperatureHigh firing", again.stderr())
                # Then it cools at t=14 s: one resolve each.
                wait(lambda: s.states() == BOTH, 25, "the resolve")
                time.sleep(1.5)
                self.assertEqual(s.states(), BOTH)
        finally:
            s.recv.stop()

    def test_bad_secrets_are_named_not_shown(self):
        rc, _, err = run("serve", "--demo", "--listen", "127.0.0.1:0",
                         "--slack-webhook-file", "/nonexistent/slack")
        self.assertEqual(rc, 1, err)
        self.assertIn("/nonexistent/slack", err)
        not_url = write("hooks.slack.com/" + SLACK_TOKEN + "\n")
        rc, _, err = run("serve", "--demo", "--listen", "127.0.0.1:0",
                         "--slack-webhook-file", not_url)
        self.assertEqual(rc, 1, err)
        self.assertIn("does not hold an http(s) URL", err)
        self.assertNotIn(SLACK_TOKEN, err)
        rc, _, err = run("serve", "--demo", "--listen", "127.0.0.1:0",
                         env={"GPUSCOPE_PAGERDUTY_ROUTING_KEY": " "})
        self.assertEqual(rc, 1, err)
        self.assertIn("GPUSCOPE_PAGERDUTY_ROUTING_KEY does not hold a routing key", err)


if __name__ == "__main__":
    unittest.main()
