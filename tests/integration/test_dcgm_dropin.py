"""dcgm-exporter's interface through the real binary: its current label set (hostname,
DCGM_FI_DRIVER_VERSION, err_code/err_msg on Xid, MIG labels on every instance series), its
counters CSV (-f), its flags and DCGM_EXPORTER_* variables, and the flags gpuscope refuses
with one line that says what to use instead."""
import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, one, parse_exposition, run, series, write_scenario  # noqa: E402

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
DCGM_FI_DEV_CPU_UTIL_TOTAL, gauge, Total CPU utilization
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
                (["--hpc-job-mapping-dir", ""], {}, "needs a directory"),
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
                    self.assertIn("DCGM_FI_DEV_CPU_UTIL_TOTAL", err)
                    self.assertEqual(err.count("DCGM_FI_DEV_CPU_UTIL_TOTAL"), 1)
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
            self.assertRegex(out, r"no +DCGM_FI_DEV_CPU_UTIL_TOTAL +\S")
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


# Every field of dcgm-exporter's etc/default-counters.csv and etc/dcp-metrics-included.csv
# (release 4.5.3-4.8.2), commented-out rows included, with the type each file gives it.  The
# help texts are ours: what is checked is the interface, name and type.
DEFAULT_FIELDS = [
    ("DCGM_FI_DEV_SM_CLOCK", "gauge"), ("DCGM_FI_DEV_MEM_CLOCK", "gauge"),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge"), ("DCGM_FI_DEV_GPU_TEMP", "gauge"),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge"), ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter"),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter"),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge"), ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge"),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge"), ("DCGM_FI_DEV_DEC_UTIL", "gauge"),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge"),
    ("DCGM_FI_DEV_POWER_VIOLATION", "counter"), ("DCGM_FI_DEV_THERMAL_VIOLATION", "counter"),
    ("DCGM_FI_DEV_SYNC_BOOST_VIOLATION", "counter"),
    ("DCGM_FI_DEV_BOARD_LIMIT_VIOLATION", "counter"),
    ("DCGM_FI_DEV_LOW_UTIL_VIOLATION", "counter"),
    ("DCGM_FI_DEV_RELIABILITY_VIOLATION", "counter"),
    ("DCGM_EXP_CLOCK_EVENTS_COUNT", "counter"), ("DCGM_EXP_XID_ERRORS_COUNT", "counter"),
    ("DCGM_EXP_GPU_HEALTH_STATUS", "counter"), ("DCGM_EXP_P2P_STATUS", "counter"),
    ("DCGM_FI_DEV_FB_FREE", "gauge"), ("DCGM_FI_DEV_FB_USED", "gauge"),
    ("DCGM_FI_DEV_FB_RESERVED", "gauge"),
    ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "counter"), ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter"),
    ("DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "counter"), ("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "counter"),
    ("DCGM_FI_DEV_RETIRED_SBE", "counter"), ("DCGM_FI_DEV_RETIRED_DBE", "counter"),
    ("DCGM_FI_DEV_RETIRED_PENDING", "counter"),
    ("DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", "counter"),
    ("DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", "counter"),
    ("DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", "counter"),
    ("DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL", "counter"),
    ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter"), ("DCGM_FI_DEV_NVLINK_BANDWIDTH_L0", "counter"),
    ("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge"),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter"),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge"),
    ("DCGM_FI_DRIVER_VERSION", "label"), ("DCGM_FI_NVML_VERSION", "label"),
    ("DCGM_FI_DEV_BRAND", "label"), ("DCGM_FI_DEV_SERIAL", "label"),
    ("DCGM_FI_DEV_OEM_INFOROM_VER", "label"), ("DCGM_FI_DEV_ECC_INFOROM_VER", "label"),
    ("DCGM_FI_DEV_POWER_INFOROM_VER", "label"), ("DCGM_FI_DEV_INFOROM_IMAGE_VER", "label"),
    ("DCGM_FI_DEV_VBIOS_VERSION", "label"),
    ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge"), ("DCGM_FI_PROF_SM_ACTIVE", "gauge"),
    ("DCGM_FI_PROF_SM_OCCUPANCY", "gauge"), ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge"),
    ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge"), ("DCGM_FI_PROF_PIPE_FP64_ACTIVE", "gauge"),
    ("DCGM_FI_PROF_PIPE_FP32_ACTIVE", "gauge"), ("DCGM_FI_PROF_PIPE_FP16_ACTIVE", "gauge"),
    ("DCGM_FI_PROF_PCIE_TX_BYTES", "gauge"), ("DCGM_FI_PROF_PCIE_RX_BYTES", "gauge"),
]
# What gpuscope cannot produce, each said once at start with its reason.
NOT_PRODUCED = set()
# A GPU that answers everything the files name (an H200 would not: no fan, no page retirement).
FULL_GPU = {"power_mgmt_limit_w": 650, "virtualization_mode": 1, "inforom_power_version": "1.0",
            "serial": "1650923018291", "vbios_version": "96.00.99.00.01", "brand": 2,
            "inforom_image_version": "G520.0205.00.02", "inforom_oem_version": "2.1",
            "inforom_ecc_version": "7.16", "nvlink_links": 2,
            "metrics": {"nvlink_tx_mibps": 100, "util_gpu_pct": 60, "fan_speed_pct": 37, "clock_event_reasons": "0x4",
                        "vgpu_licensed": 1,
                        "violation_thermal_s": 12.345678901, "violation_board_limit_s": 2.5,
                        "violation_low_util_s": 0, "violation_reliability_s": 0.000000001,
                        "retired_sbe": 1, "retired_dbe": 0, "retired_pending": 0,
                        "nvlink_crc_flit_errors": 0, "nvlink_crc_data_errors": 0,
                        "nvlink_replay_errors": 0, "nvlink_recovery_errors": 0}}


class DefaultCountersTest(unittest.TestCase):
    """dcgm-exporter's two shipped counters files, every row enabled, through the real binary:
    each name is served with the file's type, or listed once at start with a reason; every
    label field is on every DCGM series with the GPU's own value; what a GPU lacks is absent."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.csv = os.path.join(self.dir, "all-counters.csv")
        with open(self.csv, "w") as f:
            f.write("# every row of default-counters.csv and dcp-metrics-included.csv\n")
            for name, kind in DEFAULT_FIELDS:
                f.write("%s, %s, help of %s\n" % (name, kind, name.lower()))
        self.path = write_scenario({"name": "full", "driver_version": "580.159.04",
                                    "gpus": [FULL_GPU, {"metrics": {"util_gpu_pct": 10}}]})

    def tearDown(self):
        os.unlink(self.path)
        os.unlink(self.csv)
        os.rmdir(self.dir)

    def test_every_default_field_served_or_explained(self):
        with Agent("--no-history", "--slow-interval", "500ms", "--costly-interval", "1s",
                   "-f", self.csv, scenario=self.path) as a:
            text = a.wait_for(lambda: (lambda t: t if "DCGM_FI_DEV_RETIRED_SBE{" in t
                                       and "DCGM_FI_PROF_GR_ENGINE_ACTIVE{" in t
                                       and "DCGM_FI_DEV_NVLINK_BANDWIDTH_L0{" in t else None)(
                a.metrics_text()), timeout=10, what="the slow and costly tiers")
            err = a.stderr()
            fams = families(text)
            unexplained = []
            for name, kind in DEFAULT_FIELDS:
                if kind == "label":
                    continue
                if name in NOT_PRODUCED:
                    self.assertEqual(err.count(": %s: " % name), 1, name)
                    self.assertNotIn(name, fams)
                    continue
                if name not in fams:
                    unexplained.append(name)
                    continue
                self.assertEqual(fams[name], (kind, "help of " + name.lower()), name)
            self.assertEqual(unexplained, [])
            produced = len([n for n, k in DEFAULT_FIELDS if n not in NOT_PRODUCED])
            self.assertIn("serving %d of its %d fields" % (produced, len(DEFAULT_FIELDS)), err)
            m = parse_exposition(text)
            want0 = {"DCGM_FI_DRIVER_VERSION": "580.159.04", "DCGM_FI_DEV_BRAND": "Tesla",
                     "DCGM_FI_DEV_SERIAL": "1650923018291",
                     "DCGM_FI_DEV_VBIOS_VERSION": "96.00.99.00.01",
                     "DCGM_FI_DEV_INFOROM_IMAGE_VER": "G520.0205.00.02",
                     "DCGM_FI_DEV_OEM_INFOROM_VER": "2.1", "DCGM_FI_DEV_ECC_INFOROM_VER": "7.16",
                     "DCGM_FI_DEV_POWER_INFOROM_VER": "1.0"}
            for (name, ls), _ in m.items():
                if not name.startswith("DCGM_FI_"):
                    continue
                keys = dict(ls)
                self.assertIn("DCGM_FI_NVML_VERSION", keys, name)
                if keys["gpu"] == "0":
                    for k, v in want0.items():
                        self.assertEqual(keys.get(k), v, (name, k))
                else:  # the default GPU: an H200's strings, no power inforom object
                    self.assertEqual(keys["DCGM_FI_DEV_BRAND"], "NVIDIA", name)
                    self.assertNotIn("DCGM_FI_DEV_POWER_INFOROM_VER", keys, name)
                    self.assertEqual(keys["DCGM_FI_DEV_SERIAL"], "1654923000001", name)

    def test_new_fields_values_and_absence(self):
        with Agent("--no-history", "--slow-interval", "500ms", scenario=self.path) as a:
            m = a.wait_for(lambda: (lambda m: m if series(m, "DCGM_FI_DEV_THERMAL_VIOLATION") else None)(
                a.metrics()), timeout=10, what="the slow tier")
            # The driver's ns, exactly, under both names.
            self.assertEqual(one(m, "DCGM_FI_DEV_THERMAL_VIOLATION", gpu=0), 12345678901)
            self.assertEqual(one(m, "DCGM_FI_DEV_BOARD_LIMIT_VIOLATION", gpu=0), 2500000000)
            self.assertEqual(one(m, "DCGM_FI_DEV_LOW_UTIL_VIOLATION", gpu=0), 0)
            self.assertEqual(one(m, "DCGM_FI_DEV_RELIABILITY_VIOLATION", gpu=0), 1)
            self.assertEqual(one(m, "gpuscope_clock_violation_seconds_total", gpu=0,
                                 policy="board_limit"), 2.5)
            self.assertEqual(one(m, "DCGM_FI_DEV_FAN_SPEED", gpu=0), 37)
            self.assertEqual(one(m, "gpuscope_fan_speed_ratio", gpu=0), 0.37)
            self.assertEqual(one(m, "DCGM_FI_DEV_POWER_MGMT_LIMIT", gpu=0), 650)
            self.assertEqual(one(m, "gpuscope_power_management_limit_watts", gpu=1), 700)
            self.assertEqual(one(m, "DCGM_FI_DEV_VIRTUAL_MODE", gpu=0), 1)
            self.assertEqual(one(m, "DCGM_FI_DEV_VIRTUAL_MODE", gpu=1), 0)
            # A GPU that holds a vGPU licence reads 1; where licensing does not apply (GPU 1,
            # like bare metal), nothing.
            self.assertEqual(one(m, "DCGM_FI_DEV_VGPU_LICENSE_STATUS", gpu=0), 1)
            self.assertEqual(one(m, "gpuscope_vgpu_licensed", gpu=0), 1)
            self.assertEqual(series(m, "DCGM_FI_DEV_VGPU_LICENSE_STATUS", gpu=1), [])
            # GPU 1 answers NOT_SUPPORTED for fan and violations, as an H200 does: absent.
            for name in ("DCGM_FI_DEV_FAN_SPEED", "DCGM_FI_DEV_THERMAL_VIOLATION",
                         "gpuscope_fan_speed_ratio", "gpuscope_clock_violation_seconds_total"):
                self.assertEqual(series(m, name, gpu=1), [], name)
            # Without -f, no GPU label field but the driver version (dcgm-exporter's default).
            self.assertNotIn("DCGM_FI_DEV_SERIAL=", a.metrics_text())
        rc, out, err = run("doctor", "--demo", self.path)
        gpu1 = out[out.index("\nGPU 1"):]
        self.assertRegex(gpu1, r"no +gpuscope_fan_speed_ratio +nvmlDeviceGetFanSpeed: Not Supported")


class HpcJobMappingTest(unittest.TestCase):
    """--hpc-job-mapping-dir as dcgm-exporter reads it: a file per GPU ("0") or MIG instance
    ("1.2") listing job ids; each DCGM series of such a GPU once per job with hpc_job; read
    again each second; bad lines and names skipped; a missing directory is no jobs."""

    def test_jobs_label_series_and_follow_the_files(self):
        d = tempfile.mkdtemp()
        jobs = os.path.join(d, "jobs")
        os.mkdir(jobs)
        with open(os.path.join(jobs, "0"), "w") as f:
            f.write("job-17\n\n  job 18 \r\njob-17\n\x01bad\n")  # blank, dup, control: skipped
        with open(os.path.join(jobs, "1.2"), "w") as f:
            f.write("4242\n")
        with open(os.path.join(jobs, "README"), "w") as f:
            f.write("not a GPU\n")
        os.mkdir(os.path.join(jobs, "3"))  # a directory named like a GPU: no jobs
        path = write_scenario({"name": "hpc", "gpus": [
            {"metrics": {"temp_c": 40}},
            {"metrics": {"temp_c": 50}, "mig": [
                {"profile": "1g.18gb", "gpu_instance_id": 2, "memory_total_mib": 16384,
                 "metrics": {"fb_used_mib": 1024}},
                {"profile": "1g.18gb", "gpu_instance_id": 5, "memory_total_mib": 16384,
                 "metrics": {"fb_used_mib": 2048}}]},
            {"metrics": {"temp_c": 60}}, {}]})
        try:
            with Agent("--no-history", "--hpc-job-mapping-dir", jobs, scenario=path) as a:
                m = a.metrics()
                temps = {(dict(ls)["gpu"], dict(ls).get("GPU_I_ID"), dict(ls).get("hpc_job")): v
                         for (n, ls), v in m.items() if n == "DCGM_FI_DEV_GPU_TEMP"}
                self.assertEqual(temps, {("0", None, "job-17"): 40, ("0", None, "job 18"): 40,
                                         ("1", "2", "4242"): 50, ("1", "5", None): 50,
                                         ("2", None, None): 60, ("3", None, None): 30})
                # Only DCGM series carry it; gpuscope's own keep one series per GPU.
                self.assertEqual(len(series(m, "gpuscope_temperature_celsius", gpu=0)), 1)
                self.assertNotIn("hpc_job", "".join(
                    ln for ln in a.metrics_text().splitlines() if ln.startswith("gpuscope_")))
                # A job ends, another starts: seen within a second or two.
                os.unlink(os.path.join(jobs, "0"))
                with open(os.path.join(jobs, "2"), "w") as f:
                    f.write("job-99\n")
                m = a.wait_for(lambda: (lambda m: m if series(m, "DCGM_FI_DEV_GPU_TEMP", gpu=2,
                                                             hpc_job="job-99") else None)(
                    a.metrics()), timeout=5, what="the new job")
                gpu0 = [dict(ls) for (n, ls), _ in m.items()
                        if n == "DCGM_FI_DEV_GPU_TEMP" and dict(ls)["gpu"] == "0"]
                self.assertEqual(gpu0[0].get("hpc_job"), None)
                self.assertEqual(len(gpu0), 1)
            # A directory that does not exist: no jobs, said once, the agent serves.
            missing = os.path.join(d, "none")
            with Agent("--no-history", scenario=path,
                       env={"DCGM_HPC_JOB_MAPPING_DIR": missing}) as a:
                a.metrics()
                time.sleep(1.2)  # read again: still missing, not said again
                self.assertNotIn("hpc_job", a.metrics_text())
                self.assertEqual(a.stderr().count(missing + ": No such file"), 1)
        finally:
            os.unlink(path)
            for root, dirs, files in os.walk(d, topdown=False):
                for f in files:
                    os.unlink(os.path.join(root, f))
                for x in dirs:
                    os.rmdir(os.path.join(root, x))
            os.rmdir(d)


class P2PStatusTest(unittest.TestCase):
    def test_nvlink_pairs(self):
        """Each GPU towards each other: OK between two NVLink GPUs, NotSupported (5) with a
        PCIe-only one, in dcgm-exporter's labels; the native count of NVLink peers."""
        path = write_scenario({"name": "p2p", "gpus": [{"nvlink_links": 18},
                                                        {"nvlink_links": 18}, {}]})
        try:
            with Agent("--no-history", scenario=path) as a:
                m = a.metrics()
                got = {(dict(ls)["gpu"], dict(ls)["peer_gpu"]): (dict(ls)["link_status"], v)
                       for (n, ls), v in m.items() if n == "DCGM_EXP_P2P_STATUS"}
                self.assertEqual(got, {("0", "1"): ("OK", 0), ("1", "0"): ("OK", 0),
                                       ("0", "2"): ("NotSupported", 5),
                                       ("1", "2"): ("NotSupported", 5),
                                       ("2", "0"): ("NotSupported", 5),
                                       ("2", "1"): ("NotSupported", 5)})
                self.assertEqual([one(m, "gpuscope_nvlink_p2p_peers", gpu=i) for i in range(3)],
                                 [1, 1, 0])
            # A driver without the call: neither, and doctor says why.
            path2 = write_scenario({"name": "nop2p", "gpus": [
                {"nvlink_links": 18, "faults": {"unsupported": ["nvmlDeviceGetP2PStatus"]}},
                {"nvlink_links": 18, "faults": {"unsupported": ["nvmlDeviceGetP2PStatus"]}}]})
            try:
                with Agent("--no-history", scenario=path2) as a:
                    names = set(families(a.metrics_text()))
                    self.assertNotIn("DCGM_EXP_P2P_STATUS", names)
                    self.assertNotIn("gpuscope_nvlink_p2p_peers", names)
            finally:
                os.unlink(path2)
        finally:
            os.unlink(path)


class NvlinkBandwidthTest(unittest.TestCase):
    """DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL and _L*: tx+rx MB/s between two reads of the
    links' data counters; nothing (not 0) before the second read; the file's type and help."""

    def test_rates_per_link_and_total(self):
        # 4 links, link 3 down: the simulator splits 300 + 150 MiB/s over the 3 up links.
        path = write_scenario({"name": "nvbw", "gpus": [
            {"nvlink_links": 4, "nvlink_down": [3],
             "metrics": {"nvlink_tx_mibps": 300, "nvlink_rx_mibps": 150}}, {}]})
        per_link = 150 * 1048576 / 1e6  # MB/s on each up link
        try:
            with Agent("--no-history", "--costly-interval", "3s", scenario=path) as a:
                # The first scrape with counters: one read so far, so no rate at all.
                first = a.wait_for(lambda: (lambda t: t if "gpuscope_nvlink_transmit_bytes_total{"
                                            in t else None)(a.metrics_text()),
                                   timeout=10, what="the first counter read")
                self.assertNotIn("NVLINK_BANDWIDTH", first)
                self.assertNotIn("gpuscope_nvlink_data_bytes_per_second", first)
                self.assertNotIn("gpuscope_nvlink_link_data_bytes_per_second", first)
                m = a.wait_for(lambda: (lambda m: m if series(
                    m, "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL") else None)(a.metrics()),
                    timeout=20, what="the second counter read")
                for link in range(3):
                    self.assertAlmostEqual(one(m, "DCGM_FI_DEV_NVLINK_BANDWIDTH_L%d" % link,
                                               gpu=0), per_link, delta=per_link * 0.05)
                    self.assertAlmostEqual(one(m, "gpuscope_nvlink_link_data_bytes_per_second",
                                               gpu=0, link=link), per_link * 1e6,
                                           delta=per_link * 1e6 * 0.05)
                self.assertEqual(one(m, "DCGM_FI_DEV_NVLINK_BANDWIDTH_L3", gpu=0), 0)
                self.assertEqual(series(m, "DCGM_FI_DEV_NVLINK_BANDWIDTH_L4"), [])
                self.assertAlmostEqual(one(m, "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", gpu=0),
                                       3 * per_link, delta=3 * per_link * 0.05)
                self.assertEqual(series(m, "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", gpu=1), [])
                fams = families(a.metrics_text())
                self.assertEqual(fams["DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"][0], "gauge")
                self.assertEqual(fams["DCGM_FI_DEV_NVLINK_BANDWIDTH_L0"][0], "gauge")
            # A counters file: its type and help, and only the links it names.
            d = tempfile.mkdtemp()
            csv = os.path.join(d, "c.csv")
            with open(csv, "w") as f:
                f.write("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL, counter, my total\n"
                        "DCGM_FI_DEV_NVLINK_BANDWIDTH_L1, counter, my link 1\n"
                        "DCGM_FI_DEV_NVLINK_BANDWIDTH_L18, counter, no such link\n")
            try:
                with Agent("--no-history", "--costly-interval", "1s", "-f", csv,
                           scenario=path) as a:
                    text = a.wait_for(lambda: (lambda t: t if "DCGM_FI_DEV_NVLINK_BANDWIDTH_L1{"
                                               in t else None)(a.metrics_text()),
                                      timeout=10, what="two counter reads")
                    fams = families(text)
                    self.assertEqual(fams["DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"],
                                     ("counter", "my total"))
                    self.assertEqual(fams["DCGM_FI_DEV_NVLINK_BANDWIDTH_L1"],
                                     ("counter", "my link 1"))
                    self.assertEqual([n for n in fams if "BANDWIDTH_L" in n],
                                     ["DCGM_FI_DEV_NVLINK_BANDWIDTH_L1"])
                    self.assertIn("DCGM_FI_DEV_NVLINK_BANDWIDTH_L18", a.stderr())
            finally:
                os.unlink(csv)
                os.rmdir(d)
        finally:
            os.unlink(path)


class DcgmExpTest(unittest.TestCase):
    """dcgm-exporter's computed DCGM_EXP_XID_ERRORS_COUNT and DCGM_EXP_CLOCK_EVENTS_COUNT:
    counts over a window, per Xid code and per clock event reason, with its labels; a 0
    series without the code or reason when there is nothing; windows from its flags."""

    def test_windowed_counts(self):
        path = write_scenario({"name": "exp", "gpus": [
            {"metrics": {"clock_event_reasons": "0x24"},
             "faults": {"xid": [{"at": 0.2, "code": 48}, {"at": 0.3, "code": 48},
                                {"at": 0.4, "code": 79}]}},
            {"metrics": {"clock_event_reasons": 0}}]})
        try:
            with Agent("--no-history", "-c", "1000", "--xid-count-window-size", "1500",
                       "--clock-events-count-window-size", "3000", scenario=path) as a:
                m = a.wait_for(lambda: (lambda m: m if series(m, "DCGM_EXP_XID_ERRORS_COUNT",
                                                             gpu=0, xid="79") else None)(
                    a.metrics()), timeout=5, what="the Xids")
                self.assertEqual(one(m, "DCGM_EXP_XID_ERRORS_COUNT", gpu=0, xid="48"), 2)
                [(labels, v)] = [(dict(ls), v) for (n, ls), v in m.items()
                                 if n == "DCGM_EXP_XID_ERRORS_COUNT" and ("gpu", "1") in ls]
                self.assertEqual(v, 0)
                self.assertNotIn("xid", labels)
                self.assertEqual(labels["window_size_in_ms"], "1500")
                self.assertEqual(set(labels), set(BASE + ["hostname", "DCGM_FI_DRIVER_VERSION",
                                                         "window_size_in_ms"]))
                # Past the window the Xids are no longer counted.
                m = a.wait_for(lambda: (lambda m: m if series(
                    m, "DCGM_EXP_XID_ERRORS_COUNT", gpu=0) == [0] else None)(a.metrics()),
                    timeout=5, what="the window to pass")
                self.assertNotIn("xid=", "".join(ln for ln in a.metrics_text().splitlines()
                                                 if ln.startswith("DCGM_EXP_XID")))
                # 0x24 held all along: 3 s window / 1 s collect interval = 3 of each; none
                # of the other reasons; GPU 1 had none at all.
                time.sleep(3.5)
                m = a.metrics()
                counts = {dict(ls).get("clock_event"): v for (n, ls), v in m.items()
                          if n == "DCGM_EXP_CLOCK_EVENTS_COUNT" and ("gpu", "0") in ls}
                self.assertEqual(counts, {"power_cap": 3, "sw_thermal": 3})
                self.assertEqual(series(m, "DCGM_EXP_CLOCK_EVENTS_COUNT", gpu=1), [0])
            # With a counters file, only what it lists; its type and help.
            d = tempfile.mkdtemp()
            csv = os.path.join(d, "c.csv")
            with open(csv, "w") as f:
                f.write("DCGM_EXP_XID_ERRORS_COUNT, gauge, my xids\n")
            try:
                with Agent("--no-history", "-f", csv, scenario=path) as a:
                    fams = families(a.metrics_text())
                    self.assertEqual(fams.get("DCGM_EXP_XID_ERRORS_COUNT"), ("gauge", "my xids"))
                    self.assertNotIn("DCGM_EXP_CLOCK_EVENTS_COUNT", fams)
            finally:
                os.unlink(csv)
                os.rmdir(d)
            rc, out, err = run("serve", "--demo", "-x", "10")
            self.assertEqual(rc, 2)
            self.assertIn("give milliseconds", err)
            rc, out, err = run("serve", "--demo", "--clock-events-count-window-size", "1e99")
            self.assertEqual(rc, 2)
            self.assertIn("give milliseconds", err)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)


class HealthStatusTest(unittest.TestCase):
    """DCGM_EXP_GPU_HEALTH_STATUS{health_watch, health_error_code}: each watch gpuscope judges
    (PCIE, NVLINK, MEM, THERMAL, POWER, ALL) is 0 on a healthy GPU; an uncorrected ECC error,
    a pending row remap, a PCIe replay rate over 8 a minute, NVLink errors, thermal slowdown,
    a power brake and Xid 79 each set their watch to DCGM's warn (10) or fail (20) with DCGM's
    error code."""

    def test_watches(self):
        replays = {"ramp": {"from": 0, "to": 600, "start": 0, "duration": 60}}  # 10 a second
        path = write_scenario({"name": "health", "gpus": [
            {"metrics": {"util_gpu_pct": 50}},
            {"metrics": {"ecc_dbe_volatile": 1, "remap_pending": 1, "pcie_replay": replays}},
            {"nvlink_links": 2,
             "metrics": {"clock_event_reasons": "0xc0",
                         "nvlink_crc_flit_errors": {"steps": [[0, 0], [0.5, 3]]},
                         "nvlink_crc_data_errors": 0, "nvlink_replay_errors": 0,
                         "nvlink_recovery_errors": 0},
             "faults": {"xid": [{"at": 0.3, "code": 79}]}},
            {"metrics": {"remap_failure": 1, "pcie_replay": 5}},
            {"metrics": {"remap_pending": 1}}]})
        try:
            with Agent("--no-history", "--slow-interval", "500ms", "--costly-interval", "1s",
                       scenario=path) as a:
                def watches(m):
                    out = {}
                    for (n, ls), v in m.items():
                        if n == "DCGM_EXP_GPU_HEALTH_STATUS":
                            d = dict(ls)
                            out[(d["gpu"], d["health_watch"])] = (v, d["health_error_code"])
                    return out
                want = {
                    ("1", "MEM"): (20, "DCGM_FR_VOLATILE_DBE_DETECTED"),
                    ("1", "PCIE"): (10, "DCGM_FR_PCI_REPLAY_RATE"),
                    ("2", "NVLINK"): (10, "DCGM_FR_NVLINK_ERROR_THRESHOLD"),
                    ("2", "THERMAL"): (10, "DCGM_FR_CLOCK_THROTTLE_THERMAL"),
                    ("2", "POWER"): (10, "DCGM_FR_CLOCK_THROTTLE_POWER"),
                    ("2", "ALL"): (20, "DCGM_FR_FALLEN_OFF_BUS"),
                    ("3", "MEM"): (20, "DCGM_FR_ROW_REMAP_FAILURE"),
                    ("4", "MEM"): (10, "DCGM_FR_PENDING_ROW_REMAP"),
                }
                w = a.wait_for(lambda: (lambda w: w if all(w.get(k) == v for k, v in want.items())
                                        else None)(watches(a.metrics())),
                               timeout=10, what="every incident")
                for gpu in "01234":
                    for watch in ("PCIE", "NVLINK", "MEM", "THERMAL", "POWER", "ALL"):
                        self.assertEqual(w[(gpu, watch)], want.get(
                            (gpu, watch), (0, "DCGM_FR_OK")), (gpu, watch))
                self.assertEqual({k[1] for k in w},
                                 {"PCIE", "NVLINK", "MEM", "THERMAL", "POWER", "ALL"})
                # The labels are dcgm-exporter's: the DCGM set plus the watch and its code.
                labels = next(dict(ls) for (n, ls), _ in a.metrics().items()
                              if n == "DCGM_EXP_GPU_HEALTH_STATUS")
                self.assertEqual(set(labels), set(BASE + ["hostname", "DCGM_FI_DRIVER_VERSION",
                                                         "health_watch", "health_error_code"]))
        finally:
            os.unlink(path)
