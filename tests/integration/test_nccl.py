"""test_nccl.py - libgpuscope-nccl.so (the NCCL profiler plugin) against a fake NCCL.

The fake NCCL (tests/inject/fake_nccl.c) loads the real plugin from NCCL_PROFILER_PLUGIN,
picks ncclProfiler_vN as NCCL N would, calls init with that version's argument order and
plays a script of events laid out at NVIDIA's offsets.  Every figure below is worked out by
hand from the script's GPU timers, counts and sizes.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

FAKE = os.environ.get("FAKE_NCCL", "build/tests/fake_nccl")
LIB = os.environ.get("NCCL_LIB", "build/libgpuscope-nccl.so")
MiB = 1048576

# One AllReduce of 1 Mi float32 (4 MiB) on two channels; GPU timers 1.0-1.5 ms and
# 1.1-1.6 ms: 600 us from the first start to the last stop.
ALLREDUCE = """
init 0 0xabc 2 0 tp
coll 1 0 AllReduce 1048576 ncclFloat32 RING LL128 2
stop 1
kch 1 1 0 1000000
kch 2 1 1 1100000
kstop 1 1500000
kstop 2 1600000
finalize 0
"""


def play(script, abi=None, env=None):
    """Runs the fake NCCL on script; returns (stdout, [final JSON lines])."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "script.txt")
        with open(path, "w") as f:
            f.write(("abi %d\n" % abi if abi else "") + script)
        e = dict(os.environ, NCCL_PROFILER_PLUGIN=LIB, GPUSCOPE_AGENT_SOCKET="none",
                 GPUSCOPE_INJECT_DIR=d)
        e.update(env or {})
        p = subprocess.run([FAKE, path], env=e, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("fake_nccl failed:\n" + p.stdout + p.stderr)
        lines = []
        for name in glob.glob(os.path.join(d, "nccl-*.jsonl")):
            with open(name) as f:
                lines += [json.loads(x) for x in f if x.strip()]
        return p.stdout, lines


def colls(lines, **match):
    return [x for x in lines if x["type"] == "nccl" and
            all(x.get(k) == v for k, v in match.items())]


def process(lines):
    (p,) = [x for x in lines if x["type"] == "nccl_process"]
    return p


class PluginTest(unittest.TestCase):
    def test_newest_version_is_taken(self):
        out, lines = play(ALLREDUCE)
        self.assertIn("abi 6", out)
        self.assertEqual(colls(lines)[0]["abi"], 6)

    def test_each_abi_version(self):
        for abi in (6, 5, 4, 3, 2, 1):
            with self.subTest(abi=abi):
                out, lines = play(ALLREDUCE, abi=abi)
                self.assertIn("init 0 rc=0", out)
                (c,) = colls(lines)
                self.assertEqual(c["abi"], abi)
                self.assertEqual(c["collective"], "AllReduce")
                self.assertEqual(c["count"], 1)
                self.assertEqual(c["bytes"], 4 * MiB)
                self.assertEqual(c["algorithm"], "ring")
                self.assertEqual(c["protocol"], "ll128")
                self.assertEqual(c["comm"], "0000000000000abc")
                self.assertTrue(c["final"])
                if abi >= 4:  # GPU timers, communicator size from init
                    self.assertEqual(c["timing"], "gpu")
                    self.assertAlmostEqual(c["time_s"], 0.0006, places=9)
                    self.assertEqual((c["nranks"], c["rank"], c["comm_name"]), (2, 0, "tp"))
                    # two ranks: bus factor 2(n-1)/n = 1
                    self.assertAlmostEqual(c["busbw_bytes_per_s"], 4 * MiB / 0.0006, delta=1)
                    self.assertAlmostEqual(process(lines)["busy_s"], 0.0006, places=9)
                    self.assertGreater(process(lines)["wall_s"], 0)
                elif abi == 3:  # kernel channels, timed on the host only
                    self.assertEqual(c["timing"], "kernel")
                    self.assertEqual(c["timed"], 1)
                    self.assertIsNone(c["busbw_bytes_per_s"])  # nranks unknown
                else:  # no completion events before v3: enqueue only, and said so
                    self.assertEqual(c["timing"], "enqueue")
                    self.assertEqual((c["timed"], c["enqueue_only"]), (0, 1))
                    self.assertIsNone(c["algbw_bytes_per_s"])
                mask = int(out.split("mask=")[1].split()[0], 16)
                self.assertEqual(mask & 0x6, 0x6)                   # Coll | P2p
                self.assertEqual(bool(mask & 0x40), abi >= 3)      # KernelCh where it exists

    def test_without_kernel_channel_events(self):
        # Announced no channels and none come: enqueue timing, measured on the host.
        _, lines = play("init 0 7 2 0\ncoll 1 0 AllReduce 256 ncclBfloat16 TREE LL 0\n"
                        "sleep 30\nstop 1\nfinalize 0\n", abi=5)
        (c,) = colls(lines)
        self.assertEqual(c["timing"], "enqueue")
        self.assertEqual(c["bytes"], 512)
        self.assertGreaterEqual(c["enqueue_s"], 0.03)
        self.assertLess(c["enqueue_s"], 1.0)
        self.assertEqual((c["algorithm"], c["protocol"]), ("tree", "ll"))

    def test_missing_channel_is_swept(self):
        # Two channels announced, one came: the collective is timed by what arrived.
        _, lines = play("init 0 7 2 0\ncoll 1 0 AllReduce 1024 ncclFloat32 RING SIMPLE 2\n"
                        "stop 1\nkch 1 1 0 5000\nkstop 1 9000\nfinalize 0\n", abi=6)
        (c,) = colls(lines)
        self.assertEqual(c["timing"], "gpu")
        self.assertAlmostEqual(c["time_s"], 4e-6, places=12)
        self.assertEqual(process(lines)["swept"], 1)

    def test_communicator_without_channel_events_stops_waiting(self):
        # An NVLink-only communicator on NCCL 2.26-2.27 announces channels but sends no
        # channel events: after 8 swept collectives the plugin stops waiting for them, so
        # the 9th is finished at its enqueue, not held in its slot.
        script = "init 0 7 2 0\n" + "".join(
            "coll %d 0 AllReduce 1024 ncclFloat32 RING LL 2\nstop %d\n" % (i, i)
            for i in range(1, 9)) + "sleep 600\ncoll 9 0 AllReduce 1024 ncclFloat32 " \
            "RING LL 2\nstop 9\nfinalize 0\n"
        _, lines = play(script, abi=4, env={"GPUSCOPE_NCCL_SWEEP_MS": "100"})
        (c,) = colls(lines)
        self.assertEqual((c["count"], c["timing"], c["enqueue_only"]), (9, "enqueue", 9))
        self.assertEqual(process(lines)["swept"], 8)

    def test_sizes_and_bus_factors(self):
        script = """init 0 9 4 1 dp
coll 1 0 AllGather 1000 ncclFloat16 RING SIMPLE 1
stop 1
kch 1 1 0 100000
kstop 1 200000
coll 2 0 ReduceScatter 500 ncclInt8 RING SIMPLE 1
stop 2
kch 2 2 0 300000
kstop 2 400000
p2p 3 0 Send 64 ncclFloat64 1 1
stop 3
kch 3 3 0 500000
kstop 3 500100
finalize 0
"""
        _, lines = play(script, abi=5)
        ag, = colls(lines, collective="AllGather")
        self.assertEqual(ag["bytes"], 1000 * 2 * 4)          # per-rank count x 4 ranks
        self.assertAlmostEqual(ag["busbw_bytes_per_s"], 8000 * 0.75 / 1e-4, delta=1e-3)
        rs, = colls(lines, collective="ReduceScatter")
        self.assertEqual(rs["bytes"], 500 * 4)
        send, = colls(lines, collective="Send")
        self.assertEqual(send["bytes"], 512)
        self.assertAlmostEqual(send["busbw_bytes_per_s"], 512 / 1e-7, delta=1)
        # three collectives, 100 + 100 + 0.1 us, never overlapping on the host clock
        self.assertAlmostEqual(process(lines)["busy_s"], 0.0002001, places=9)

    def test_proxy_events(self):
        # A proxy op of another process (PXN) carries a pointer into its memory: never
        # followed, only counted.  Our own proxy op times the collective (no channels).
        script = """init 0 5 2 0
coll 1 0 AllReduce 4096 ncclFloat32 RING SIMPLE 0
proxy 1 bogus 1
pstop 1
proxy 2 1 self
stop 1
sleep 20
pstop 2
finalize 0
"""
        _, lines = play(script, abi=2)
        (c,) = colls(lines)
        self.assertEqual(c["timing"], "proxy")
        self.assertGreaterEqual(c["time_s"], 0.02)
        self.assertEqual(process(lines)["foreign_proxy"], 1)

    def test_init_failing(self):
        # The second communicator is refused; NCCL then runs it without the plugin.
        script = ALLREDUCE.replace("finalize 0", "") + """init 1 0xdef 2 1
coll 2 1 AllReduce 8 ncclFloat32 RING LL 0
stop 2
finalize 1
finalize 0
"""
        out, lines = play(script, abi=5, env={"GPUSCOPE_NCCL_MAX_COMMS": "1"})
        self.assertIn("init 0 rc=0", out)
        self.assertRegex(out, r"init 1 rc=[1-9]")
        self.assertEqual([c["comm"] for c in colls(lines)], ["0000000000000abc"])
        self.assertIn("fake nccl ran", out)

    def test_exit_without_finalize(self):
        _, lines = play(ALLREDUCE.replace("finalize 0", ""), abi=6)
        self.assertEqual(colls(lines)[0]["count"], 1)

    def test_overhead_bench(self):
        out, lines = play("init 0 1 8 0\nbench 0 20000 8\nfinalize 0\n", abi=6)
        ns = float(out.split("channels: ")[1].split()[0])
        print("plugin cost: %.0f ns per collective with 8 channels" % ns, file=sys.stderr)
        c, = colls(lines)
        self.assertEqual(c["count"] + process(lines)["dropped"], 20000)


COMM_BOUND = """abi 6
init 0 0x77 2 0 tp
sleep 200
coll 1 0 AllReduce 67108864 ncclBfloat16 RING SIMPLE 1
stop 1
kch 1 1 0 1000000000
kstop 1 1300000000
sleep 300
finalize 0
"""


class RunTest(unittest.TestCase):
    """`gpuscope run` sets NCCL_PROFILER_PLUGIN and prints the NCCL section."""

    def run_cmd(self, script, *extra, env=None, rc=0):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "s.txt")
        with open(path, "w") as f:
            f.write(script)
        e = dict(os.environ, GPUSCOPE_NCCL_LIB=LIB)
        e.pop("NCCL_PROFILER_PLUGIN", None)
        e.update(env or {})
        p = subprocess.run([harness.BIN, "run", "--agent-socket", "none", "--no-energy"] +
                           list(extra) + ["--", FAKE, path], capture_output=True, text=True,
                           env=e, timeout=60)
        self.assertEqual(p.returncode, rc, p.stdout + p.stderr)
        return p

    def test_summary_and_verdict(self):
        p = self.run_cmd(COMM_BOUND)
        self.assertIn("fake nccl ran", p.stdout)  # the program itself, unchanged
        self.assertRegex(p.stderr, r"\d+\s+00000077 0/2\s+AllReduce\s+1\s+128 MiB\s+"
                         r"300\.00 ms\s+300\.00 ms\s+447 MB/s ring/simple\s+gpu")
        self.assertIn("300.00 ms inside collectives", p.stderr)
        self.assertIn("verdict communication_bound (warning)", p.stderr)
        self.assertIn("128.0 MiB on average", p.stderr)

    def test_threshold_flag(self):
        p = self.run_cmd(COMM_BOUND, "--threshold", "comm_share_max=0.95")
        self.assertIn("inside collectives", p.stderr)
        self.assertNotIn("verdict communication_bound", p.stderr)

    def test_enqueue_only_is_not_judged(self):
        p = self.run_cmd(COMM_BOUND.replace("abi 6", "abi 2"))
        self.assertIn("enqueue", p.stderr)
        self.assertIn("communication_bound not judged", p.stderr)

    def test_user_plugin_is_kept(self):
        p = subprocess.run([harness.BIN, "run", "--agent-socket", "none", "--no-energy", "--",
                            "sh", "-c", "echo plugin=$NCCL_PROFILER_PLUGIN"],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, GPUSCOPE_NCCL_LIB=LIB,
                                    NCCL_PROFILER_PLUGIN="/opt/other.so"))
        self.assertIn("plugin=/opt/other.so", p.stdout)
        self.assertIn("NCCL: not measured (NCCL_PROFILER_PLUGIN is already /opt/other.so)",
                      p.stderr)
        p = self.run_cmd(COMM_BOUND, "--no-nccl", rc=2)  # the fake NCCL got no plugin
        self.assertIn("NCCL_PROFILER_PLUGIN unset", p.stderr)
        self.assertIn("NCCL: not measured (--no-nccl)", p.stderr)


class AgentTest(unittest.TestCase):
    def test_agent_shows_nccl_series(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        sock = os.path.join(tmp.name, "inference.sock")
        script = ALLREDUCE.replace("finalize 0", """coll 3 0 AllReduce 1048576 ncclFloat32 RING LL128 2
stop 3
kch 3 3 0 2000000
kch 4 3 1 2000000
kstop 3 2400000
kstop 4 2400000
sleep 300
finalize 0""")
        with harness.Agent("--inference-socket", sock) as agent:
            play(script, abi=6, env={"GPUSCOPE_AGENT_SOCKET": sock,
                                     "GPUSCOPE_NCCL_INTERVAL_MS": "100"})
            lab = dict(collective="AllReduce", comm="0000000000000abc", rank="0",
                       algorithm="ring", protocol="ll128", timing="gpu", process="fake_nccl")
            agent.wait_for(lambda: harness.series(
                agent.metrics(), "gpuscope_nccl_collectives_total", **lab) == [2.0],
                what="two AllReduces at the agent")
            m = agent.metrics()
            self.assertEqual(harness.one(m, "gpuscope_nccl_bytes_total", **lab), 8 * MiB)
            self.assertAlmostEqual(harness.one(m, "gpuscope_nccl_time_seconds_total", **lab),
                                   0.001, places=9)
            self.assertAlmostEqual(harness.one(
                m, "gpuscope_nccl_bus_bandwidth_bytes_per_second", **lab),
                8 * MiB / 0.001, delta=1)
            self.assertAlmostEqual(harness.one(m, "gpuscope_nccl_busy_seconds_total",
                                               process="fake_nccl"), 0.001, places=9)
            ratio = harness.one(m, "gpuscope_nccl_time_ratio", process="fake_nccl")
            self.assertGreaterEqual(ratio, 0)
            self.assertLessEqual(ratio, 1)
            self.assertGreaterEqual(harness.one(m, "gpuscope_nccl_messages_total"), 2)
            self.assertEqual(harness.one(m, "gpuscope_nccl_messages_folded_total"), 0)

    def test_live_communication_bound(self):
        # 300 ms of GPU time in one AllReduce within ~0.5 s of the process's life: over the
        # default 30 % share, judged live (the figures are not in history).
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        sock = os.path.join(tmp.name, "inference.sock")
        script = """init 0 0x77 2 0 tp
sleep 200
coll 1 0 AllReduce 67108864 ncclBfloat16 RING SIMPLE 1
stop 1
kch 1 1 0 1000000000
kstop 1 1300000000
sleep 300
finalize 0
"""
        with harness.Agent("--history", os.path.join(tmp.name, "h.db"),
                           "--inference-socket", sock) as agent:
            play(script, abi=6, env={"GPUSCOPE_AGENT_SOCKET": sock})

            def judged():
                status, doc = agent.json("/api/v1/diagnosis")
                vs = [v for v in doc.get("verdicts", []) if v["id"] == "communication_bound"]
                return vs[0] if status == 200 and vs else None

            v = agent.wait_for(judged, timeout=60, what="communication_bound")
            ev = {e["name"]: e["value"] for e in v["evidence"]["values"]}
            self.assertIn("fake_nccl (pid", v["evidence"]["text"])
            self.assertGreater(ev["comm_share"], 0.3)
            self.assertLess(ev["comm_share"], 1.0)
            self.assertAlmostEqual(ev["comm_seconds"], 0.3, places=6)
            self.assertEqual(ev["bytes_per_call"], 128 * MiB)
            self.assertEqual(ev["calls"], 1)
            self.assertIn("AllReduce", v["title"])

    def test_agent_without_lines_shows_nothing(self):
        with harness.Agent("--inference-socket", "none") as agent:
            self.assertNotIn("gpuscope_nccl_", agent.metrics_text())


if __name__ == "__main__":
    unittest.main()
