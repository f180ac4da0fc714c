"""test_shapes.py - one truth for demo and live, on the shapes of issue 16.

Each scenario under sim/scenarios/ models one shape a mean hides (busy but
empty, bursts, a power cap in phase with a 1 s cycle, pageable PCIe copies).
For each, `gpuscope report --demo SCEN` (an hour evaluated at once) and a
live `gpuscope serve --demo SCEN --history F` (its /api/v1/diagnosis over
the seconds it recorded) must give the same verdicts, the intended one among
them and no other warning; `report --history F` over what the agent wrote
must agree too.  The periodic power cap also checks that history keeps the
measured share of each second (about 0.6), where one reasons reading a
second would say 0 or 1.
"""
import json
import os
import shutil
import sqlite3
import tempfile
import unittest

from harness import Agent, run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# scenario -> (the intended verdict, other verdict ids allowed beside it)
SHAPES = {
    "launch-bound": ("launch_bound", {"vram_overprovisioned"}),
    "bursty": ("bursty", {"vram_overprovisioned"}),
    "power-capped-periodic": ("power_capped", {"compute_bound"}),
    "pcie-bound": ("pcie_bound", {"vram_overprovisioned"}),
}


def scenario(name):
    return os.path.join(ROOT, "sim", "scenarios", name + ".json")


def verdicts(doc):
    return {v["id"]: v for v in doc["verdicts"] if v.get("gpu") == 0}


def evidence(v, name):
    return {e["name"]: e["value"] for e in v["evidence"]["values"]}[name]


class ShapesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.demo, cls.live, cls.history, cls.db = {}, {}, {}, {}
        for name in SHAPES:
            rc, out, err = run("report", "--demo", scenario(name), "--format", "json",
                               timeout=60)
            assert rc == 0, err
            cls.demo[name] = verdicts(json.loads(out))
        # All agents at once: the live diagnosis first judges once 10 s of
        # history are settled, about 15-20 s after start.
        agents = {}
        try:
            for name in SHAPES:
                cls.db[name] = os.path.join(cls.dir, name + ".db")
                agents[name] = Agent("--history", cls.db[name], scenario=scenario(name))
                agents[name].__enter__()
            for name, a in agents.items():
                def judged(a=a):
                    status, doc = a.json("/api/v1/diagnosis")
                    return doc if status == 200 and doc.get("status") == "ok" else None
                cls.live[name] = verdicts(a.wait_for(judged, timeout=60,
                                                     what="a live diagnosis of " + name))
        finally:
            for a in agents.values():
                a.stop()
        for name in SHAPES:
            rc, out, err = run("report", "--history", cls.db[name], "--since", "10m",
                               "--format", "json")
            assert rc == 0, err
            cls.history[name] = verdicts(json.loads(out))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_each_shape_gets_its_verdict_and_no_other_warning(self):
        for name, (want, also) in SHAPES.items():
            for path, got in (("report --demo", self.demo[name]),
                              ("live", self.live[name]),
                              ("report --history", self.history[name])):
                with self.subTest(scenario=name, path=path):
                    self.assertIn(want, got)
                    self.assertEqual(set(got) - {want} - also, set(),
                                     "%s: %s" % (path, sorted(got)))
                    warnings = {i for i, v in got.items()
                                if v["severity"] in ("warning", "critical")}
                    self.assertEqual(warnings, {want}, path)

    def test_demo_and_live_agree(self):
        for name in SHAPES:
            with self.subTest(scenario=name):
                self.assertEqual(set(self.demo[name]), set(self.live[name]))
                self.assertEqual(set(self.live[name]), set(self.history[name]))

    def test_launch_bound_evidence(self):
        for got in (self.demo["launch-bound"], self.live["launch-bound"]):
            v = got["launch_bound"]
            self.assertAlmostEqual(evidence(v, "gpu_util_mean"), 0.30, delta=0.05)
            self.assertLess(evidence(v, "sm_active_mean"), 0.01)
            self.assertGreater(evidence(v, "waste_ratio"), 0.98)

    def test_bursts_reach_their_peaks(self):
        for got in (self.demo["bursty"], self.live["bursty"]):
            v = got["bursty"]
            # The driver's 20 ms samples see the 860 W peaks.
            self.assertAlmostEqual(evidence(v, "power_peak"), 860, delta=1)
            self.assertLess(evidence(v, "duty_cycle"), 0.4)

    def test_periodic_cap_is_measured(self):
        for got in (self.demo["power-capped-periodic"], self.live["power-capped-periodic"]):
            share = evidence(got["power_capped"], "capped_share")
            self.assertAlmostEqual(share, 0.6, delta=0.15)
        with sqlite3.connect(self.db["power-capped-periodic"]) as db:
            shares = [r[0] for r in db.execute(
                "SELECT mean_clock_active_power_cap FROM gpu_second_v "
                "WHERE mean_clock_active_power_cap IS NOT NULL")]
        self.assertGreater(len(shares), 5)
        # Fractions, not one reading's 0 or 1.
        inside = [s for s in shares if 0.3 <= s <= 0.9]
        self.assertGreater(len(inside), len(shares) * 0.8, shares)


if __name__ == "__main__":
    unittest.main()
