"""Per-process attribution through the real binary: the simulator lists processes, a
fixture host tree (/proc, /etc/passwd, /var/log/pods, /var/log/containers) written from the
same scenario says who they are, and /metrics, /api/v1/processes and /api/v1/workloads must
agree with both: every label, the cardinality cap, dcgm-exporter's pod labels on DCGM_FI_*
series, GPU-seconds and energy shares, memory peak, CPU, tensor-parallel skew; and one check
through a real Prometheus."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, one, run, series, write_scenario  # noqa: E402
from test_prometheus import promql, start_prometheus, wait_until  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1048576

VLLM_CTR = "c1" * 32
TRAIN_CTR = "d2" * 32
VLLM_UID = "11111111-2222-3333-4444-555555555555"
TRAIN_UID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def pod_cgroup(uid, ctr):
    u = uid.replace("-", "_")
    return ("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
            "cri-containerd-%s.scope\n" % (u, ctr))


def scenario():
    """GPU 0: a vLLM pod, a Slurm job, ten small services (the cap folds them), a gone pid;
    GPUs 1 and 2: one trainer pod's two shards (a tensor-parallel group, 2x skewed);
    GPU 3: MIG, one service in a GPU instance."""
    gpu0 = [
        {"pid": 2001, "name": "vllm", "cgroup": pod_cgroup(VLLM_UID, VLLM_CTR),
         "used_mib": 40000, "sm_util_pct": 60},
        {"pid": 2002, "name": "python",
         "cgroup": "8:memory:/slurm/uid_1001/job_555/step_0/task_0\n",
         "used_mib": {"steps": [[0, 9000], [1.5, 3000]]}, "sm_util_pct": 20},
    ]
    for k in range(10):
        gpu0.append({"pid": 2100 + k, "name": "svc%d" % k,
                     "cgroup": "0::/system.slice/svc%d.service\n" % k,
                     "used_mib": 100 + k, "sm_util_pct": 1})
    gpu0.append({"pid": 2999, "name": "ghost", "used_mib": 50})  # not in /proc: gone

    def shard(pid, mib, util):
        return {"pid": pid, "name": "torchrun", "cgroup": pod_cgroup(TRAIN_UID, TRAIN_CTR),
                "used_mib": mib, "sm_util_pct": util}

    return {"name": "attribution", "gpus": [
        {"metrics": {"power_w": 500, "util_gpu_pct": 90}, "processes": gpu0},
        {"metrics": {"power_w": 400, "util_gpu_pct": 80}, "processes": [shard(3001, 40000, 80)]},
        {"metrics": {"power_w": 300, "util_gpu_pct": 40}, "processes": [shard(3002, 20000, 40)]},
        # MIG: the process runs in GPU instance 1; no per-process utilization.
        {"mig": [{"gpu_instance_id": 1}], "metrics": {"util_gpu_pct": 50},
         "processes": [{"pid": 4001, "name": "migjob", "gpu_instance_id": 1, "used_mib": 1000,
                        "sm_util_pct": 50, "cgroup": "0::/system.slice/migjob.service\n"}]}]}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)  # a sweep never sees half a file


def stat_line(pid, comm, utime):
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice threads itreal starttime vsize rss ...
    return ("%d (%s) S 1 %d %d 0 -1 4194560 0 0 0 0 %d 0 0 0 20 0 8 0 %d 1000000 2560 "
            "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n"
            % (pid, comm, pid, pid, utime, 5000 + pid))


def uid_of(pid):
    return 1001 if pid == 2002 else 0 if 2100 <= pid < 2200 else 1000


def write_host(root, scn):
    """The fixture host for the scenario's pids (all but 2999, which has exited)."""
    write(os.path.join(root, "etc/passwd"),
          "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n"
          "bob:x:1001:1001::/home/bob:/bin/sh\n")
    for g in scn["gpus"]:
        for p in g["processes"]:
            if p["pid"] == 2999:
                continue
            d = os.path.join(root, "proc", str(p["pid"]))
            u = uid_of(p["pid"])
            write(os.path.join(d, "stat"), stat_line(p["pid"], p["name"], 0))
            write(os.path.join(d, "status"), "Name:\t%s\nUid:\t%d\t%d\t%d\t%d\n" % (p["name"], u, u, u, u))
            write(os.path.join(d, "cmdline"), "/usr/bin/%s\0--serve\0" % p["name"])
            write(os.path.join(d, "cgroup"), p["cgroup"])
    for ns, pod, uid, ctr, ctr_id in (("ml", "vllm-0", VLLM_UID, "vllm", VLLM_CTR),
                                      ("train", "trainer-0", TRAIN_UID, "trainer", TRAIN_CTR)):
        write(os.path.join(root, "var/log/pods", "%s_%s_%s" % (ns, pod, uid), ctr, "0.log"), "")
        write(os.path.join(root, "var/log/containers", "%s_%s_%s-%s.log" % (pod, ns, ctr, ctr_id)), "")


class CpuTicker(threading.Thread):
    """Rewrites pid 2001's stat so that it burns 1.5 cores of CPU."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.stop, self.t0 = root, threading.Event(), time.monotonic()

    def run(self):
        while not self.stop.wait(0.05):
            ticks = int((time.monotonic() - self.t0) * 1.5 * CLK_TCK)
            write(os.path.join(self.root, "proc/2001/stat"), stat_line(2001, "vllm", ticks))


def labels_of(samples, name, **want):
    """The label dicts of every series called name whose labels include want."""
    w = set((k, str(v)) for k, v in want.items())
    return [dict(ls) for (n, ls), _ in samples.items() if n == name and w <= ls]


class AttributionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp()
        cls.scn = scenario()
        write_host(cls.root, cls.scn)
        cls.path = write_scenario(cls.scn)
        cls.ticker = CpuTicker(cls.root)
        cls.ticker.start()

    @classmethod
    def tearDownClass(cls):
        cls.ticker.stop.set()
        cls.ticker.join()
        shutil.rmtree(cls.root, ignore_errors=True)
        os.unlink(cls.path)

    def agent(self, *extra):
        return Agent("--slow-interval", "500ms", "--host-root", self.root, "--kubelet-socket", "",
                     *extra, scenario=self.path)

    def settled(self, agent):
        """Waits until names are resolved and CPU has been measured over an interval."""
        def ready():
            s = agent.metrics()
            names = series(s, "gpuscope_process_memory_used_bytes", pid="2001", pod="vllm-0")
            cpu = series(s, "gpuscope_process_cpu_utilization_ratio", pid="2001")
            return s if names and cpu and cpu[0] > 1.0 else None
        return agent.wait_for(ready, timeout=20, what="attributed processes")

    def test_labels_cap_and_pod_labels(self):
        mem = "gpuscope_process_memory_used_bytes"
        with self.agent("--process-cap", "3") as agent:
            s = self.settled(agent)
            self.assertEqual(one(s, "gpuscope_processes", gpu=0), 13)
            self.assertEqual(one(s, "gpuscope_processes", gpu=2), 1)
            # Every label of the pod's process, exactly.
            vllm = labels_of(s, mem, pid=2001)
            self.assertEqual(len(vllm), 1)
            self.assertEqual(vllm[0], {"gpu": "0", "uuid": vllm[0]["uuid"], "pid": "2001",
                                       "process": "vllm", "container": "vllm", "pod": "vllm-0",
                                       "namespace": "ml"})
            self.assertEqual(one(s, mem, pid=2001), 40000 * MIB)
            self.assertEqual(one(s, "gpuscope_process_sm_utilization_ratio", pid=2001), 0.6)
            self.assertAlmostEqual(one(s, "gpuscope_process_cpu_utilization_ratio", pid=2001), 1.5,
                                   delta=0.3)
            slurm = labels_of(s, mem, pid=2002)[0]
            self.assertEqual((slurm["slurm_job"], slurm["process"]), ("555", "python"))
            self.assertNotIn("pod", slurm)
            self.assertNotIn("job", slurm)
            # The cap: GPU 0's 3 largest by memory (vllm, the Slurm job, svc9); the rest
            # (svc0-8 and the gone pid) summed in _other.
            self.assertEqual(sorted(ls["pid"] for ls in labels_of(s, mem, gpu=0)),
                             ["", "2001", "2002", "2109"])
            self.assertEqual(one(s, mem, gpu=0, process="_other"),
                             (sum(100 + k for k in range(9)) + 50) * MIB)
            self.assertAlmostEqual(one(s, "gpuscope_process_sm_utilization_ratio", gpu=0,
                                       process="_other"), 0.09, places=6)
            for name in ("gpuscope_process_memory_used_bytes",
                         "gpuscope_process_sm_utilization_ratio",
                         "gpuscope_process_cpu_utilization_ratio"):
                self.assertLessEqual(len(series(s, name, gpu=0)), 4, name)
            # dcgm-exporter's pod labels: GPUs 1 and 2 each held by one pod; GPU 0 by several.
            dcgm = {ls["gpu"]: ls for ls in labels_of(s, "DCGM_FI_DEV_GPU_UTIL")}
            for g in ("1", "2"):
                self.assertEqual((dcgm[g]["pod"], dcgm[g]["namespace"], dcgm[g]["container"]),
                                 ("trainer-0", "train", "trainer"))
            self.assertNotIn("pod", dcgm["0"])
            for ls in labels_of(s, "gpuscope_gpu_utilization_ratio"):
                self.assertNotIn("pod", ls)  # native per-GPU series stay as they were
            # MIG: the instance as a label; no SM utilization (the driver has none).
            self.assertEqual(labels_of(s, mem, pid=4001)[0]["gpu_instance"], "1")
            self.assertEqual(series(s, "gpuscope_process_sm_utilization_ratio", pid=4001), [])

    def test_default_cap_and_openmetrics(self):
        mem = "gpuscope_process_memory_used_bytes"
        with self.agent() as agent:
            s = self.settled(agent)
            self.assertEqual(len(series(s, mem, gpu=0)), 11)  # 10 + _other
            # Kept: vllm, the Slurm job, svc9..svc2; folded: svc1, svc0 and the gone pid.
            self.assertEqual(one(s, mem, gpu=0, process="_other"), (101 + 100 + 50) * MIB)
            om = agent.metrics_text({"Accept": "application/openmetrics-text"})
            self.assertIn("# TYPE gpuscope_process_memory_used_bytes gauge", om)
            self.assertTrue(om.endswith("# EOF\n"))

    def test_json_endpoints(self):
        with self.agent() as agent:
            self.settled(agent)
            time.sleep(2.5)  # a few more intervals of GPU-seconds and energy
            status, doc = agent.json("/api/v1/processes")
            self.assertEqual(status, 200)
            self.assertEqual(doc["schema"], "gpuscope.processes/v1")
            g0 = doc["gpus"][0]
            self.assertTrue(g0["attributed"])
            self.assertEqual(g0["processes_total"], 13)
            self.assertIsNone(g0["owner"])
            self.assertEqual(g0["energy"]["method"], "sm_util")
            procs = {p["pid"]: p for p in g0["processes"]}
            v = procs[2001]
            self.assertEqual((v["name"], v["user"], v["status"]), ("vllm", "alice", "ok"))
            self.assertEqual(v["workload"]["container_id"], VLLM_CTR)
            self.assertEqual(v["workload"]["pod_uid"], VLLM_UID)
            self.assertEqual(v["workload"]["runtime"], "containerd")
            self.assertEqual(v["memory_used_bytes"], 40000 * MIB)
            self.assertAlmostEqual(v["sm_utilization_ratio"], 0.6)
            self.assertAlmostEqual(v["cpu_utilization_ratio"], 1.5, delta=0.3)
            self.assertAlmostEqual(v["energy_share_ratio"], 0.6, places=6)
            self.assertGreater(v["gpu_seconds"], 0.5)
            # Shares by SM utilization: the vLLM process (60 %) gets three times the Slurm
            # job's (20 %) GPU-seconds and energy; at 500 W a GPU-second is at most ~500 J
            # (the energy counter runs up to one 1.5 s buffer read behind).
            slurm = procs[2002]
            self.assertAlmostEqual(v["gpu_seconds"] / slurm["gpu_seconds"], 3, places=6)
            self.assertAlmostEqual(v["energy_joules"] / slurm["energy_joules"], 3, places=6)
            self.assertGreater(v["energy_joules"], 0)
            self.assertLess(v["energy_joules"] / v["gpu_seconds"], 520)
            self.assertIsNone(v["memory_growth"])  # needs samples 60 s apart
            self.assertEqual((slurm["user"], slurm["workload"]["slurm_job"]), ("bob", 555))
            self.assertEqual(slurm["memory_used_bytes"], 3000 * MIB)
            self.assertEqual(slurm["memory_peak_bytes"], 9000 * MIB)  # before the step down
            self.assertEqual(procs[2999]["status"], "gone")
            self.assertEqual(procs[2100]["workload"]["systemd_unit"], "svc0.service")
            self.assertEqual(procs[2100]["user"], "root")
            mig = doc["gpus"][3]
            self.assertEqual(mig["energy"]["method"], "memory")
            self.assertEqual((mig["processes"][0]["gpu_instance"],
                              mig["processes"][0]["sm_utilization_ratio"]), (1, None))
            self.assertEqual(doc["gpus"][1]["owner"],
                             {"namespace": "train", "pod": "trainer-0", "container": "trainer",
                              "source": "procs"})

            status, wl = agent.json("/api/v1/workloads")
            self.assertEqual(status, 200)
            self.assertEqual(wl["schema"], "gpuscope.workloads/v1")
            by_key = {(w["key"]["kind"], w["key"]["value"]): w for w in wl["workloads"]}
            train = by_key[("container", TRAIN_CTR)]
            self.assertEqual((train["pod"], train["namespace"], train["gpus"]),
                             ("trainer-0", "train", [1, 2]))
            self.assertEqual(train["memory_used_bytes"], 60000 * MIB)
            self.assertGreater(train["energy_joules"], 0)
            self.assertGreater(train["gpu_seconds"], 0)
            self.assertIn(("slurm_job", "555"), by_key)
            groups = wl["tensor_parallel_groups"]
            self.assertEqual(len(groups), 1)
            tp = groups[0]
            self.assertEqual((tp["key"]["kind"], tp["gpu_count"]), ("container", 2))
            self.assertAlmostEqual(tp["memory_skew"], 2.0)
            self.assertAlmostEqual(tp["memory_imbalance"], 0.5)
            self.assertAlmostEqual(tp["utilization_skew"], 2.0)
            self.assertEqual(sorted((m["gpu"], m["pid"]) for m in tp["members"]),
                             [(1, 3001), (2, 3002)])

    def test_no_processes_bad_flags_and_no_proc(self):
        with self.agent("--no-processes") as agent:
            time.sleep(1.2)
            text = agent.metrics_text()
            self.assertNotIn("gpuscope_process", text)
            self.assertNotIn("pod=", text)
            status, doc = agent.json("/api/v1/processes")
            self.assertEqual((status, doc["gpus"][0]["read"]), (200, False))
        code, _, err = run("serve", "--demo", "--process-cap", "0")
        self.assertEqual(code, 2)
        self.assertIn("--process-cap '0': give 1 to 64", err)
        # A /proc it cannot read is a warning: NVML's view alone, without names.
        with Agent("--slow-interval", "500ms", "--proc-root", "/nonexistent",
                   "--kubelet-socket", "", scenario=self.path) as agent:
            agent.wait_for(lambda: series(agent.metrics(), "gpuscope_process_memory_used_bytes",
                                          pid="2001"), what="NVML-only rows")
            self.assertIn("cannot read /nonexistent", agent.stderr())
            self.assertEqual(one(agent.metrics(), "gpuscope_process_memory_used_bytes", pid=2001,
                                 process="unknown"), 40000 * MIB)

    def test_memory_growth(self):
        # 10 MiB/s = 36000 MiB/h, sampled every 200 ms: the fit's slope and R^2 (a steady
        # climb, R^2 near 1) in /api/v1/processes and summed in /api/v1/workloads.
        scn = write_scenario({"name": "growth", "gpus": [{"processes": [
            {"pid": 2002, "used_mib": {"ramp": {"from": 1000, "to": 2000, "duration": 100}}}]}]})
        try:
            with Agent("--slow-interval", "300ms", "--growth-sample", "200ms", "--host-root",
                       self.root, "--kubelet-socket", "", scenario=scn) as agent:
                def fitted():
                    p = agent.json("/api/v1/processes")[1]["gpus"][0].get("processes", [])
                    g = p[0]["memory_growth"] if p else None
                    return g if g and g["samples"] >= 8 else None
                g = agent.wait_for(fitted, timeout=15, what="a growth fit")
                self.assertAlmostEqual(g["bytes_per_hour"] / (36000.0 * MIB), 1, delta=0.1)
                self.assertGreater(g["r_squared"], 0.99)
                self.assertGreater(g["span_seconds"], 1)
                w = agent.json("/api/v1/workloads")[1]["workloads"][0]
                self.assertAlmostEqual(w["memory_growth_bytes_per_hour"] / (36000.0 * MIB), 1,
                                       delta=0.1)
        finally:
            os.unlink(scn)

    def test_denied_list_is_not_zero(self):
        # A driver that will not list a GPU's processes (NO_PERMISSION) must not read as
        # "no processes": that GPU has no process series at all.
        scn = write_scenario({"name": "denied", "gpus": [
            {"processes": [{"pid": 2100, "used_mib": 10}]},
            {"processes": [{"pid": 2101, "used_mib": 10}], "faults": {"errors": [
                {"call": "nvmlDeviceGetComputeRunningProcesses_v3", "return": 4},
                {"call": "nvmlDeviceGetGraphicsRunningProcesses_v2", "return": 4}]}}]})
        try:
            with Agent("--slow-interval", "500ms", "--host-root", self.root,
                       "--kubelet-socket", "", scenario=scn) as agent:
                s = agent.wait_for(lambda: (lambda m: m if series(m, "gpuscope_processes", gpu=0)
                                            else None)(agent.metrics()), what="GPU 0's processes")
                time.sleep(1.2)
                s = agent.metrics()
                self.assertEqual(one(s, "gpuscope_processes", gpu=0), 1)
                self.assertEqual(series(s, "gpuscope_processes", gpu=1), [])
                self.assertEqual(series(s, "gpuscope_process_memory_used_bytes", gpu=1), [])
                self.assertFalse(agent.json("/api/v1/processes")[1]["gpus"][1]["read"])
        finally:
            os.unlink(scn)

    def test_kubelet_owner(self):
        # The fake kubelet (workload/tests/) allocates GPU-aaaaaaaa-... to ml-serving/vllm-0
        # (container vllm) and GPU-dddddddd-...::0 time-sliced to research/notebook.
        kubelet = os.path.join(os.path.dirname(__file__), "..", "..", "workload", "tests",
                               "fake_kubelet.py")
        sock = os.path.join(self.root, "kubelet.sock")
        scn = write_scenario({"name": "kubelet", "gpus": [
            {"uuid": "GPU-aaaaaaaa-1111-2222-3333-444444444444"},  # allocated, idle, no process
            {"uuid": "GPU-dddddddd-1111-2222-3333-444444444444",   # time-sliced: not one pod's
             "processes": [{"pid": 2100, "used_mib": 10}]},
            {}]})
        fake = subprocess.Popen([sys.executable, kubelet, sock, "ok"], stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 10
            while not os.path.exists(sock) and time.time() < deadline:
                time.sleep(0.02)
            with Agent("--slow-interval", "500ms", "--host-root", self.root,
                       "--kubelet-socket", sock, scenario=scn) as agent:
                def owned():
                    return labels_of(agent.metrics(), "DCGM_FI_DEV_GPU_UTIL", gpu=0,
                                     pod="vllm-0")
                ls = agent.wait_for(owned, timeout=15, what="the kubelet's pod on GPU 0")[0]
                self.assertEqual((ls["namespace"], ls["container"]), ("ml-serving", "vllm"))
                status, doc = agent.json("/api/v1/processes")
                self.assertEqual(doc["gpus"][0]["owner"]["source"], "kubelet")
                self.assertEqual(doc["gpus"][0]["processes_total"], 0)
                self.assertIsNone(doc["gpus"][1]["owner"])
                s = agent.metrics()
                for g in (1, 2):
                    for ls in labels_of(s, "DCGM_FI_DEV_GPU_UTIL", gpu=g):
                        self.assertNotIn("pod", ls)
            self.assertEqual(fake.wait(15), 0, fake.stderr.read().decode())
        finally:
            if fake.poll() is None:
                fake.kill()
                fake.wait()
            fake.stderr.close()
            os.unlink(scn)

    def test_through_prometheus(self):
        data = tempfile.mkdtemp()
        prom = None
        try:
            with self.agent() as agent:
                self.settled(agent)
                prom, port = start_prometheus(data, agent.port)
                got = wait_until(port, 'gpuscope_process_memory_used_bytes{pod="vllm-0"}')
                with open(os.path.join(data, "prom.log")) as log:
                    self.assertEqual(len(got), 1, log.read())
                self.assertEqual(list(got.values()), [40000.0 * MIB])
                self.assertEqual(len(promql(port, 'DCGM_FI_DEV_GPU_UTIL{pod="trainer-0",'
                                                  'namespace="train"}')), 2)
                # Each pod's GPU memory on the node, as a dashboard would ask.
                by_pod = promql(port, 'sum by (pod) (gpuscope_process_memory_used_bytes{pod!=""})')
                self.assertEqual(sorted(by_pod.values()), [40000.0 * MIB, 60000.0 * MIB])
        finally:
            if prom:
                prom.terminate()
                prom.wait(10)
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
