"""The sampler's schedule through the real binary and the simulator: every metric the probe
found is on /metrics from the first scrape after the GPUs are up, the costly tier's included
(DCGM_FI_PROF_GR_ENGINE_ACTIVE used to be missing for the first minute), and stays there
between its reads; doctor names each source's period; an idle GPU's fast sources slow down
(the idle rule, --idle-interval) and its first work shows at once."""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, one, parse_exposition, run, series, write_scenario  # noqa: E402

SCHEDULED = ("fast", "slow", "buffer", "costly", "static")


def doctor_supported():
    """{gpu: {series family: tier}} of the metrics doctor says are supported and read by
    the sampler (not events, not agent figures)."""
    rc, out, err = run("doctor", "--demo", timeout=60)
    assert rc == 0, err
    gpus, gpu = {}, None
    for line in out.splitlines():
        m = re.match(r"GPU (\d+) ", line)
        if m:
            gpu = int(m.group(1))
            gpus[gpu] = {}
            continue
        m = re.match(r"\s+yes\s+(\S+)\s+(\w+)", line)
        if m and gpu is not None and m.group(2) in SCHEDULED:
            gpus[gpu][m.group(1).split("{")[0]] = m.group(2)
    return gpus


def up(agent):
    vals = series(parse_exposition(agent.metrics_text()), "gpuscope_gpu_up")
    return bool(vals) and all(v == 1 for v in vals)


class FirstPeriodTest(unittest.TestCase):
    def test_every_metric_from_the_start_and_kept_between_reads(self):
        want = doctor_supported()
        self.assertEqual(len(want), 8)
        self.assertEqual(want[0]["gpuscope_graphics_engine_active_ratio"], "costly")
        # Default periods: costly 60 s, slow 5 s, buffers 2 s, GPM 1 s.
        with Agent() as agent:
            agent.wait_for(lambda: up(agent), what="every GPU up")
            first = parse_exposition(agent.metrics_text())
            time.sleep(3)  # past GPM and buffer periods, before the slow and costly ones
            later = parse_exposition(agent.metrics_text())
        for name, samples in (("first scrape", first), ("3 s later", later)):
            for gpu, families in want.items():
                missing = sorted(f for f in families
                                 if not series(samples, f, gpu=gpu))
                self.assertEqual(missing, [], "%s, GPU %d" % (name, gpu))
                gr = series(samples, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", gpu=gpu)
                self.assertEqual(len(gr), 1, "%s, GPU %d" % (name, gpu))
                self.assertAlmostEqual(
                    gr[0], series(samples, "gpuscope_graphics_engine_active_ratio", gpu=gpu)[0])

    def test_doctor_names_each_period(self):
        rc, out, err = run("doctor", "--demo", timeout=60)
        self.assertEqual(rc, 0, err)
        # doctor runs fast 100 ms, slow and costly 1 s; memory at most 5 reads a second.
        self.assertRegex(out, r"yes\s+gpuscope_power_watts\s+fast, every 0.1 s")
        self.assertRegex(out, r"yes\s+gpuscope_memory_used_bytes\s+fast, every 0.2 s")
        self.assertRegex(out, r"yes\s+gpuscope_power_instant_watts\s+buffer, every 2 s")
        self.assertRegex(out, r"yes\s+gpuscope_energy_joules_total\s+costly, every 1 s")
        self.assertRegex(out, r"yes\s+gpuscope_sm_active_ratio\s+fast, every 1 s")
        # The idle rule's period (default 1 s); utilization, its wake source, is not slowed.
        self.assertRegex(
            out, r"yes\s+gpuscope_power_watts\s+fast, every 0.1 s \(1 s while the GPU is idle\)")
        self.assertRegex(out, r"yes\s+gpuscope_gpu_utilization_ratio\s+fast, every 0.1 s\n")


WORK_AT = 8.0  # scenario seconds: when GPU 0 starts working


def idle_then_work():
    """GPU 0 runs nothing until WORK_AT, then a kernel load (utilization 80 %, 400 W);
    GPU 1 works throughout: the busy reference, and its SM clock tells the scenario's time
    of each sweep."""
    # GPU 1's SM clock is the simulator's clock: 1 MHz per ms from t = 0.
    busy = {"util_gpu_pct": 90, "util_mem_pct": 30, "power_w": 450,
            "sm_clock_mhz": {"ramp": {"from": 0, "to": 600000, "duration": 600}}}
    return {"name": "idle-then-work", "gpus": [
        {"metrics": {"util_gpu_pct": {"steps": [[0, 0], [WORK_AT, 80]]},
                     "util_mem_pct": {"steps": [[0, 0], [WORK_AT, 25]]},
                     "power_w": {"steps": [[0, 75], [WORK_AT, 400]]}}},
        {"metrics": busy}]}


def families(samples, gpu):
    """The GPU's families but the scrape-window ones (max and mean since this scraper's
    previous scrape, over settled whole seconds: scrapes 0.3 s apart leave them empty)."""
    return {name for (name, labels) in samples
            if ("gpu", str(gpu)) in labels and "_window_" not in name}


class IdleRuleTest(unittest.TestCase):
    def reads(self, agent, gpu):
        return one(agent.metrics(), "gpuscope_sample_reads_total", gpu=gpu)

    def test_idle_gpu_reads_less_and_wakes_within_a_scrape(self):
        path = write_scenario(idle_then_work())
        started = time.monotonic()  # the simulator's t = 0 comes a little later
        try:
            with Agent(scenario=path) as agent:
                agent.wait_for(lambda: up(agent), what="every GPU up")
                before = families(agent.metrics(), 0)
                agent.wait_for(lambda: one(agent.metrics(), "gpuscope_sample_idle", gpu=0)
                               == 1, timeout=5, what="GPU 0 idle")
                self.assertEqual(one(agent.metrics(), "gpuscope_sample_idle", gpu=1), 0)
                # While idle: fewer fast reads than the busy GPU, and nothing missing.
                r0, r1, t0 = self.reads(agent, 0), self.reads(agent, 1), time.monotonic()
                while time.monotonic() < started + WORK_AT - 1.5:
                    samples = agent.metrics()
                    self.assertEqual(families(samples, 0), before)
                    self.assertEqual(one(samples, "gpuscope_sample_idle", gpu=0), 1)
                    time.sleep(0.3)
                dt = time.monotonic() - t0
                idle_rate = (self.reads(agent, 0) - r0) / dt
                busy_rate = (self.reads(agent, 1) - r1) / dt
                self.assertGreater(dt, 2)
                # utilization every 100 ms and ~11 sources a second, against ~12 sources
                # ten times a second
                self.assertLess(idle_rate, 0.4 * busy_rate, (idle_rate, busy_rate))
                self.assertGreater(idle_rate, 9)
                # Work starts: the first sweep after it (a fast period at most) has GPU 0's
                # utilization and power of work on /metrics.  Which sweep served a scrape
                # is told by GPU 1's clock, read in the same sweep just after GPU 0 (so
                # judged on the scenario's time, not on this machine's scheduling).
                while True:
                    samples = agent.metrics()
                    swept_at = one(samples, "gpuscope_sm_clock_hertz", gpu=1) / 1e9
                    if swept_at >= WORK_AT + 0.002:
                        break
                    self.assertLess(time.monotonic(), started + WORK_AT + 5)
                    time.sleep(0.02)
                self.assertGreater(one(samples, "gpuscope_gpu_utilization_ratio", gpu=0), 0)
                self.assertGreater(one(samples, "gpuscope_power_watts", gpu=0), 300)
                self.assertEqual(one(samples, "gpuscope_sample_idle", gpu=0), 0)
        finally:
            os.unlink(path)

    def test_rule_off(self):
        """--idle-interval 0: every GPU on the fast periods, as before the rule."""
        path = write_scenario(idle_then_work())
        try:
            with Agent("--idle-interval", "0", scenario=path) as agent:
                agent.wait_for(lambda: up(agent), what="every GPU up")
                time.sleep(2)
                r0, r1 = self.reads(agent, 0), self.reads(agent, 1)
                time.sleep(2)
                samples = agent.metrics()
                self.assertEqual(one(samples, "gpuscope_sample_idle", gpu=0), 0)
                # the workless GPU is read as often as the busy one
                self.assertGreater(self.reads(agent, 0) - r0, 0.8 * (self.reads(agent, 1) - r1))
        finally:
            os.unlink(path)



if __name__ == "__main__":
    unittest.main()
