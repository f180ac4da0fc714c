"""The sampler's schedule through the real binary and the simulator: every metric the probe
found is on /metrics from the first scrape after the GPUs are up, the costly tier's included
(DCGM_FI_PROF_GR_ENGINE_ACTIVE used to be missing for the first minute), and stays there
between its reads; doctor names each source's period."""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, parse_exposition, run, series  # noqa: E402

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


if __name__ == "__main__":
    unittest.main()
