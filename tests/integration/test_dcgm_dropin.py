"""dcgm-exporter's interface through the real binary: its current label set (hostname,
DCGM_FI_DRIVER_VERSION, err_code/err_msg on Xid, MIG labels on every instance series), its
counters CSV (-f), its flags and DCGM_EXPORTER_* variables, and the flags gpuscope refuses
with one line that says what to use instead."""
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, one, run, series, write_scenario  # noqa: E402

BASE = ["gpu", "UUID", "pci_bus_id", "device", "modelName"]

# A counters file in dcgm-exporter's format (etc/default-counters.csv): comments, aligned
# columns, a blank before a comma, label rows, a field gpuscope cannot produce.
COUNTERS = """# Format
# If line starts with a '#' it is considered a comment
# DCGM FIELD, Prometheus metric type, help message

# Clocks
DCGM_FI_DEV_SM_CLOCK,  gauge, SM clock in a custom help.
DCGM_FI_DEV_DEC_UTIL ,     gauge, Decoder utilization (in %).
# DCGM_FI_DEV_MEM_CLOCK, gauge, commented out
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).
DCGM_FI_DEV_XID_ERRORS,              gauge,   Value of the last XID error encountered.
DCGM_FI_DEV_POWER_VIOLATION,       counter, Throttling duration due to power constraints (in ns).
DCGM_FI_DEV_VGPU_LICENSE_STATUS, gauge, vGPU License status
DCGM_FI_DRIVER_VERSION,        label, Driver Version
"""
SELECTED = {"DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_DEC_UTIL", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
            "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_POWER_VIOLATION"}


def scenario():
    xid_gpu = {"metrics": {"util_gpu_pct": 40, "clock_event_reasons": "0x4"},
               "faults": {"xid": [{"at": 0.2, "code": 48}, {"at": 0.3, "code": 999}]}}
    mig_gpu = {"metrics": {"fb_used_mib": 30000, "temp_c": 51},
               "mig": [{"profile": "1g.18gb", "gpu_instance_id": 9, "memory_total_mib": 16384,
                        "metrics": {"fb_used_mib": 1024}},
                       {"profile": "3g.71gb", "gpu_instance_id": 2, "memory_total_mib": 71680,
                        "metrics": {"fb_used_mib": 20480}}]}
    return {"name": "dropin", "driver_version": "580.159.04", "gpus": [xid_gpu, mig_gpu]}


def families(text):
    """{name: (type, help)} of every family in an exposition."""
    out = {}
    for m in re.finditer(r"^# HELP (\S+) (.*)\n# TYPE \1 (\S+)$", text, re.M):
        out[m.group(1)] = (m.group(3), m.group(2))
    return out


class DcgmLabelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = write_scenario(scenario())

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.path)

    def xid_seen(self, a):
        return a.wait_for(lambda: (lambda m: m if series(m, "DCGM_FI_DEV_XID_ERRORS", gpu=0) else None)(
            a.metrics()), timeout=10, what="the Xid")

    def test_current_dcgm_exporter_labels(self):
        with Agent("--no-history", scenario=self.path, env={"NODE_NAME": "gpu-node-3"}) as a:
            m = self.xid_seen(a)
            for (name, ls), _ in m.items():
                if not name.startswith("DCGM_FI_"):
                    continue
                keys = dict(ls)
                self.assertEqual(keys["hostname"], "gpu-node-3", name)  # NODE_NAME wins
                self.assertEqual(keys["DCGM_FI_DRIVER_VERSION"], "580.159.04", name)
                self.assertNotIn("Hostname", keys)
                want = set(BASE + ["hostname", "DCGM_FI_DRIVER_VERSION"])
                if keys["gpu"] == "1":  # the MIG GPU: every series is an instance's
                    want |= {"GPU_I_ID", "GPU_I_PROFILE"}
                if name == "DCGM_FI_DEV_XID_ERRORS":
                    want |= {"err_code", "err_msg"}
                self.assertEqual(set(keys), want, name)
            # The last Xid (999, unknown) with dcgm-exporter's err_code and err_msg.
            [(labels, v)] = [(dict(ls), v) for (n, ls), v in m.items()
                             if n == "DCGM_FI_DEV_XID_ERRORS" and ("gpu", "0") in ls]
            self.assertEqual(v, 999)
            self.assertEqual((labels["err_code"], labels["err_msg"]), ("999", "Unknown Error"))
            # MIG: the instances' memory sums to what they hold; the GPU is not counted twice;
            # a device value (temperature) is repeated under each instance.
            self.assertEqual(sorted(series(m, "DCGM_FI_DEV_FB_USED", gpu=1)), [1024, 20480])
            self.assertEqual(series(m, "DCGM_FI_DEV_GPU_TEMP", gpu=1), [51, 51])
            # New DCGM names for data gpuscope has: P-state, instant power, remap pending,
            # violations in ns from the throttle time.
            self.assertEqual(len(series(m, "DCGM_FI_DEV_PSTATE")), 3)
            ns = one(m, "DCGM_FI_DEV_POWER_VIOLATION", gpu=0)
            secs = one(m, "gpuscope_clock_event_seconds_total", gpu=0, reason="power_cap")
            self.assertGreater(ns, 0)
            self.assertLessEqual(abs(ns / 1e9 - secs), 0.5)

    def test_flags_and_environment(self):
        cases = [
            (["-n"], {}, None),
            (["--no-hostname"], {}, None),
            ([], {"DCGM_EXPORTER_NO_HOSTNAME": "true"}, None),
            ([], {"DCGM_EXPORTER_NO_HOSTNAME": "false"}, ("hostname", None)),
            (["--hostname-label", "Hostname", "--hostname", "old-node"], {}, ("Hostname", "old-node")),
        ]
        for args, env, want in cases:
            with Agent("--no-history", *args, scenario=self.path, env=env) as a:
                samples = a.metrics()
                keys = [dict(ls) for (n, ls), _ in samples.items() if n == "DCGM_FI_DEV_GPU_UTIL"]
                self.assertTrue(keys)
                for k in keys:
                    if want is None:
                        self.assertFalse({"hostname", "Hostname"} & set(k), (args, env))
                    else:
                        self.assertIn(want[0], k, (args, env))
                        if want[1]:
                            self.assertEqual(k[want[0]], want[1])
        with Agent("--no-history", "--no-driver-version-label", scenario=self.path) as a:
            self.assertNotIn("DCGM_FI_DRIVER_VERSION=", a.metrics_text())

    def test_refused_and_bad_flags_say_what_instead(self):
        for args, env, say in (
                (["--web-config-file", "/nonexistent/web.yml"], {}, "web.yml: No such file"),
                ([], {"DCGM_EXPORTER_WEB_CONFIG_FILE": "/nonexistent/w.yml"}, "w.yml: No such file"),
                (["-r", "host:5555"], {}, "needs no DCGM host engine"),
                (["--hpc-job-mapping-dir", "/run/jobs"], {}, "slurm_job"),
                (["-d", "g:0,1"], {}, "select GPUs in Prometheus"),
                (["--kubernetes-gpu-id-type", "device-name"], {}, "use uid"),
                (["-c", "abc"], {}, "milliseconds"),
                (["--hostname-label", "host"], {}, "hostname or Hostname")):
            rc, out, err = run("serve", "--demo", *args, env=env)
            self.assertEqual(rc, 2, (args, err))
            lines = [ln for ln in err.splitlines() if ln.startswith("gpuscope serve:")]
            self.assertEqual(len(lines), 1, err)
            self.assertIn(say, lines[0])

    def test_address_alias_and_accepted_flags(self):
        # -a is --listen; -k, --kubernetes-gpu-id-type uid, -d f and -c are accepted.
        with Agent("--no-history", "-k", "--kubernetes-gpu-id-type=uid", "-d", "f", "-c", "30000",
                   scenario=self.path) as a:
            self.assertIn("DCGM_FI_DEV_GPU_UTIL", a.metrics_text())


class HealthFieldsTest(unittest.TestCase):
    def test_retired_pages_and_nvlink_errors_only_where_answered(self):
        """One field-values call on the slow tier: a GPU that answers gets the counters under
        both names; one that does not (an H200: no page retirement, no NVLink in a VM) has
        none of them, not zeros."""
        path = write_scenario({"name": "health", "gpus": [
            {"metrics": {"retired_sbe": 3, "retired_dbe": 1, "retired_pending": 2,
                         "nvlink_crc_flit_errors": 11, "nvlink_crc_data_errors": 12,
                         "nvlink_replay_errors": 13, "nvlink_recovery_errors": 14}},
            {"metrics": {}}]})
        try:
            with Agent("--no-history", "--slow-interval", "500ms", scenario=path) as a:
                m = a.wait_for(lambda: (lambda m: m if series(m, "DCGM_FI_DEV_RETIRED_SBE") else None)(
                    a.metrics()), timeout=10, what="the slow tier")
                want = {"DCGM_FI_DEV_RETIRED_SBE": 3, "DCGM_FI_DEV_RETIRED_DBE": 1,
                        "DCGM_FI_DEV_RETIRED_PENDING": 2,
                        "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL": 11,
                        "DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL": 12,
                        "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL": 13,
                        "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL": 14}
                for name, v in want.items():
                    self.assertEqual(series(m, name, gpu=0), [v], name)
                    self.assertEqual(series(m, name, gpu=1), [], name)
                self.assertEqual(one(m, "gpuscope_retired_pages_total", gpu=0, cause="double_bit"), 1)
                self.assertEqual(one(m, "gpuscope_nvlink_errors_total", gpu=0, error="replay"), 13)
                self.assertEqual(series(m, "gpuscope_nvlink_errors_total", gpu=1), [])
            rc, out, err = run("doctor", "--demo", path)
            gpu1 = out[out.index("\nGPU 1"):]
            self.assertRegex(gpu1, r'no +gpuscope_nvlink_errors_total\{error="replay"\} +\S')
        finally:
            os.unlink(path)


class CollectorsTest(unittest.TestCase):
    def test_counters_csv_selects_exactly_its_names(self):
        d = tempfile.mkdtemp()
        path = write_scenario(scenario())
        csv = os.path.join(d, "counters.csv")
        with open(csv, "w") as f:
            f.write(COUNTERS)
        try:
            for how in (("-f", csv), ("--collectors", csv), ("--collectors=" + csv,)):
                with Agent("--no-history", *how, scenario=path) as a:
                    a.wait_for(lambda: "DCGM_FI_DEV_XID_ERRORS{" in a.metrics_text(), what="Xid")
                    text = a.metrics_text()
                    fams = families(text)
                    dcgm = {n for n in fams if n.startswith("DCGM_FI_")}
                    self.assertEqual(dcgm, SELECTED)
                    # Type and help from the file.
                    self.assertEqual(fams["DCGM_FI_DEV_SM_CLOCK"], ("gauge", "SM clock in a custom help."))
                    self.assertEqual(fams["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"][0], "counter")
                    # The label row asks for the driver version; gpuscope's own names stay.
                    self.assertIn('DCGM_FI_DRIVER_VERSION="580.159.04"', text)
                    self.assertIn("gpuscope_gpu_utilization_ratio", text)
                    err = a.stderr()
                    self.assertIn("DCGM_FI_DEV_VGPU_LICENSE_STATUS", err)
                    self.assertEqual(err.count("DCGM_FI_DEV_VGPU_LICENSE_STATUS"), 1)
                    self.assertIn("serving 6 of its 7 fields", err)
            # Without the label row there is no driver-version label.
            with open(csv, "w") as f:
                f.write("DCGM_FI_DEV_GPU_UTIL, gauge, util\n")
            with Agent("--no-history", scenario=path, env={"DCGM_EXPORTER_COLLECTORS": csv}) as a:
                text = a.metrics_text()
                self.assertEqual({n for n in families(text) if n.startswith("DCGM_FI_")},
                                 {"DCGM_FI_DEV_GPU_UTIL"})
                self.assertNotIn("DCGM_FI_DRIVER_VERSION", text)
            # doctor -f lists what serve cannot produce, with the reason.
            with open(csv, "w") as f:
                f.write(COUNTERS)
            rc, out, err = run("doctor", "--demo", path, "-f", csv)
            self.assertIn("6 of 7 served", out)
            self.assertRegex(out, r"no +DCGM_FI_DEV_VGPU_LICENSE_STATUS +\S")
            # A broken file: exit 2 naming the file and the line.
            with open(csv, "w") as f:
                f.write("DCGM_FI_DEV_GPU_UTIL gauge util\n")
            rc, out, err = run("serve", "--demo", "-f", csv)
            self.assertEqual(rc, 2)
            self.assertIn(csv + ": line 1", err)
        finally:
            os.unlink(path)
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
            os.rmdir(d)


if __name__ == "__main__":
    unittest.main(verbosity=2)
