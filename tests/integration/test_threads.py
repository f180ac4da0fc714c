"""Threads that do not grow with the GPU count, through the real binary on 64 simulated GPUs:
at most 16 threads; every GPU's slow tier still runs on the shared workers; Xid and ECC
events reach the right GPU through the one event set, also after a GPU falls off the bus;
slow-tier calls that hang stall only their own GPUs, even more of them than there are
workers."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, one, series, write_scenario  # noqa: E402

N = 64
MAX_THREADS = 16
SBE = "gpuscope_ecc_errors_total"
SBE_LABELS = {"error": "corrected", "scope": "volatile"}


def gpu(i, faults=None):
    g = {"uuid": "GPU-%08x-0000-4000-8000-%012x" % (0x64000000 + i, i),
         "pci_bus_id": "00000000:%02x:00.0" % (i + 1),
         # A slow-tier counter that keeps rising: a GPU whose slow tier runs shows it moving.
         "metrics": {"util_gpu_pct": 20, "power_w": 200,
                     "ecc_sbe_volatile": {"ramp": {"from": 0, "to": 100000, "start": 0,
                                                   "duration": 1000}}}}
    if faults:
        g["faults"] = faults
    return g


def threads(agent):
    """Threads: from /proc/PID/status, less any fast sweeper the agent started for a GPU
    whose fast steps ran slow (a response to a fault, which a test machine under load can
    trigger; at most one per GPU, see sample/sweeper.c)."""
    with open("/proc/%d/status" % agent.proc.pid) as f:
        n = [int(line.split()[1]) for line in f if line.startswith("Threads:")][0]
    return n - sum(1 for t in thread_names(agent) if t.startswith("gpuscope-fast") and t != "gpuscope-fast0")


def thread_names(agent):
    names = []
    for tid in os.listdir("/proc/%d/task" % agent.proc.pid):
        try:
            with open("/proc/%d/task/%s/comm" % (agent.proc.pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return sorted(names)


def sbe(m, i):
    vals = series(m, SBE, gpu=i, **SBE_LABELS)
    return vals[0] if vals else None


def slow_swept(m):
    """GPUs whose slow tier has published a sweep (the probe does not publish this)."""
    return {i for i in range(N) if series(m, "gpuscope_sample_duration_seconds", gpu=i, tier="slow")}


class ThreadsTest(unittest.TestCase):
    def test_64_gpus_few_threads_every_slow_tier_and_event_delivered(self):
        faults = {
            5: {"xid": [{"at": 1.0, "code": 48}]},
            37: {"xid": [{"at": 1.5, "code": 79}, {"at": 2.0, "code": 13}]},
            63: {"ecc_dbe_events": [{"at": 1.2}]},
            # GPU 20 reports an Xid, then falls off the bus; the set is rebuilt without it,
            # GPU 41's later Xid still arrives, and no earlier event is counted twice.
            20: {"xid": [{"at": 2.5, "code": 94}], "lost_at": 3.0},
            41: {"xid": [{"at": 5.0, "code": 31}]},
            # No events on GPU 10; GPU 11 says it has them but cannot register: both
            # leave their event metrics absent, and the set goes on without them.
            10: {"unsupported": ["nvmlDeviceGetSupportedEventTypes"]},
            11: {"errors": [{"call": "nvmlDeviceRegisterEvents", "return": 3}]},
        }
        path = write_scenario({"name": "threads-64", "gpus": [gpu(i, faults.get(i)) for i in range(N)]})
        try:
            with Agent(scenario=path) as a:  # the default 5 s slow interval
                # (GPU 20 is lost at 3 s: a lost GPU exports no readings.)
                a.wait_for(lambda: slow_swept(a.metrics()) >= set(range(N)) - {20}, timeout=20,
                           what="a slow sweep of every GPU")
                self.assertLessEqual(threads(a), MAX_THREADS, thread_names(a))
                before = a.metrics()
                time.sleep(5.5)
                after = a.metrics()
                moved = [i for i in range(N) if i != 20 and sbe(after, i) > sbe(before, i)]
                self.assertEqual(len(moved), N - 1, "slow tier stood still on GPUs %s" %
                                 sorted(set(range(N)) - set(moved) - {20}))

                a.wait_for(lambda: series(a.metrics(), "gpuscope_xid_errors_total", gpu=41) == [1],
                           timeout=20, what="GPU 41's Xid after GPU 20 was lost")
                m = a.metrics()
                for i in (10, 11):
                    self.assertEqual(series(m, "gpuscope_xid_errors_total", gpu=i), [])
                    self.assertEqual(series(m, "gpuscope_ecc_dbe_events_total", gpu=i), [])
                with_events = [i for i in range(N) if i not in (10, 11, 20)]
                xids = {i: one(m, "gpuscope_xid_errors_total", gpu=i) for i in with_events}
                self.assertEqual({i: v for i, v in xids.items() if v}, {5: 1, 37: 2, 41: 1})
                self.assertEqual(one(m, "gpuscope_xid_last", gpu=5), 48)
                self.assertEqual(one(m, "gpuscope_xid_last", gpu=37), 13)
                self.assertEqual(one(m, "gpuscope_xid_last", gpu=41), 31)
                dbes = {i: one(m, "gpuscope_ecc_dbe_events_total", gpu=i) for i in with_events}
                self.assertEqual({i: v for i, v in dbes.items() if v}, {63: 1})
                _, doc = a.json("/healthz")
                self.assertEqual(doc["gpus"][20]["health"], "lost")
                self.assertEqual([(g["gpu"], g["reason"]) for g in doc["gpus"] if g["health"] != "ok"],
                                 [(20, doc["gpus"][20]["reason"])])
                self.assertLessEqual(threads(a), MAX_THREADS)
                self.assertEqual(a.stop(), 0)
        finally:
            os.unlink(path)

    def test_hung_slow_calls_stall_only_their_gpus(self):
        # Five GPUs hang in a slow-tier call, more than the pool's three workers.  At a 2 s
        # slow interval a worker is written off after 2 s, and the slow tier is stalled
        # after 6 s.
        hung = [3, 9, 17, 33, 50]
        fault = {"hang": [{"call": "nvmlDeviceGetTotalEccErrors", "at": 4.0}]}
        path = write_scenario({"name": "threads-hang", "gpus": [
            gpu(i, fault if i in hung else None) for i in range(N)]})
        with Agent("--slow-interval", "2s", scenario=path,
                   env={"ASAN_OPTIONS": "detect_leaks=0"}) as a:
            try:
                a.wait_for(lambda: all(a.json("/healthz")[1]["gpus"][i]["health"] == "stalled"
                                       for i in hung), timeout=30, what="the hung GPUs stalled")
                _, doc = a.json("/healthz")
                others = [i for i in range(N) if i not in hung]
                self.assertEqual([(i, doc["gpus"][i]["health"], doc["gpus"][i]["reason"])
                                  for i in others if doc["gpus"][i]["health"] != "ok"], [])
                # The others' slow tier keeps its period: their counter moves within one.
                before = a.metrics()
                time.sleep(2.5)
                after = a.metrics()
                still = [i for i in others if not sbe(after, i) > sbe(before, i)]
                self.assertEqual(still, [])
                self.assertEqual([i for i in hung if sbe(after, i) is not None], [])
                # One replacement worker per hung GPU, no more.
                names = thread_names(a)
                self.assertLessEqual(len([t for t in names if t.startswith("gpuscope-slow")]),
                                     3 + len(hung), names)
                self.assertLessEqual(threads(a), MAX_THREADS + len(hung), names)
                self.assertEqual(a.stop(), 0)
                self.assertIn("still blocked in the driver", a.stderr())
            finally:
                os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
