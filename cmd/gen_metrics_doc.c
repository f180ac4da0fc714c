/* gen_metrics_doc.c - writes docs/metrics.md from the metric table, so the
 * reference can never drift from the code (a test compares the two). */
#include <stdio.h>

#include "series/inference.h"
#include "series/nccl.h"
#include "series/metric_table.h"
#include "series/nvlink.h"

int main(void)
{
	puts("# gpuscope metrics\n");
	puts("Generated from `series/metric_table.h` by `make docs`; do not edit by hand.\n");
	puts("Every series carries `gpu` (NVML index) and `uuid` labels natively; the DCGM_FI_* "
	     "copies carry the labels of dcgm-exporter's current release, `gpu, UUID, "
	     "pci_bus_id, device, modelName, hostname, DCGM_FI_DRIVER_VERSION` (`hostname` is "
	     "`$NODE_NAME` or the host's name; `-n` drops it, `--hostname-label Hostname` gives "
	     "the older spelling; `--no-driver-version-label` drops the driver version), "
	     "`err_code` and `err_msg` on `DCGM_FI_DEV_XID_ERRORS`, and its units. On a GPU in "
	     "MIG mode every DCGM_FI_* series is per GPU instance (`GPU_I_ID`, `GPU_I_PROFILE`), "
	     "device-wide values repeated under each, as dcgm-exporter watches instances, not "
	     "the GPU. `-f FILE` (dcgm-exporter's counters CSV) selects which DCGM_FI_* names are "
	     "served. A metric the GPU does not support is absent, never 0. `gpuscope doctor` "
	     "lists what each GPU supports and why not.\n");
	puts("Tiers: **fast** every `--fast-interval` (100 ms), **slow** every `--slow-interval` "
	     "(5 s), **buffer** the driver's power sample buffer read every 2 s since the last "
	     "sample seen (and the utilization buffers, when the fast tier is slower than their "
	     "200 ms period), **costly** every `--costly-interval` (60 s; calls that burn "
	     "milliseconds of CPU: energy counter, PCIe replay counter and link width, GPM "
	     "graphics engine, NVLink), **static** read once after the probe (ECC mode too: it "
	     "changes only across a GPU reset), "
	     "**event** from the NVML event thread as events arrive, **agent** computed by "
	     "gpuscope.\n");
	puts("GPM rows (`nvmlGpmMetricsGet`) exist on Hopper and newer; each value is the "
	     "activity between two GPM samples `--gpm-interval` apart (1 s by default; never "
	     "under 110 ms: the driver refreshes GPM about every 100 ms and a closer pair reads "
	     "zero), kept between pairs. Each source has its own period (the fast interval for "
	     "fast sources, but memory info at most 5 times a second; `--gpm-interval` for GPM; "
	     "the tier's interval for the others) and keeps its last values until it is read "
	     "again; a worker source whose read costs more than 10 ms of CPU is read 10 times "
	     "less often (`doctor` shows each period). On an idle GPU (utilization 0, no "
	     "process, clock-event reasons and power steady) the fast sources but utilization "
	     "are read every `--idle-interval` (1 s) until utilization or another reading shows "
	     "work, which restores the fast periods in the same sweep; values stay on the board "
	     "between reads (`gpuscope_sample_idle`). With MIG on, memory and GPM rows are also "
	     "exported per GPU instance with dcgm-exporter's labels `GPU_I_ID` and "
	     "`GPU_I_PROFILE` (under both name sets).\n");
	puts("A label written `{link}` or `{xid}` takes one value per NVLink link or Xid code "
	     "found at run time.\n");
	puts("| native series | type | unit | tier | NVML source | dcgm-exporter name (unit) | "
	     "description |");
	puts("|---|---|---|---|---|---|---|");
	for (int i = 0; i < METRIC_COUNT; i++) {
		const struct metric_def *d = &metric_table[i];
		const char *labels = metric_dynamic_label(i) ? metric_dynamic_label(i) : d->labels;
		printf("| `%s%s%s%s` | %s | %s | %s | `%s` | ", d->name, labels[0] ? "{" : "",
		       labels, labels[0] ? "}" : "", d->type == COUNTER ? "counter" : "gauge",
		       metric_native_unit(d->unit), sample_tier_name(source_table[d->source].tier),
		       source_table[d->source].call);
		if (d->dcgm && metric_dynamic_label(i)) /* one DCGM field per link */
			printf("`%s0` .. `%s%d` (%s) | ", d->dcgm, d->dcgm, GPU_MAX_NVLINKS - 1,
			       metric_dcgm_unit(d->unit));
		else if (d->dcgm)
			printf("`%s` (%s) | ", d->dcgm, metric_dcgm_unit(d->unit));
		else
			printf("- | ");
		for (const char *p = d->help; *p; p++)
			fputs(*p == '|' ? "\\|" : (char[]){*p, 0}, stdout);
		puts(" |");
	}
	puts("\nAlso, per GPU: `gpuscope_gpu_info{gpu, uuid, name, pci_bus_id, device, "
	     "driver_version, nvml_version, cuda_driver_version} 1`; and once: "
	     "`gpuscope_build_info{version, simulator} 1` (simulator names the scenario, empty "
	     "on real GPUs).\n");
	puts("**Window aggregates.** Every fast gauge marked *windowed* below also comes as "
	     "`<name>_window_max_<unit>` and `<name>_window_mean_<unit>` (for example "
	     "`gpuscope_power_instant_window_max_watts`): the maximum and mean of every reading "
	     "in the whole seconds since this scraper's previous scrape (a scraper is its "
	     "address and User-Agent, so each of several Prometheus servers sees every sample). "
	     "Fast sweeps feed them, and for power and utilization the driver's own 20 ms and "
	     "200 ms samples do, so a 100 ms burst reaches the max of a 15 s scrape. Seconds "
	     "are served once 2 s old (late driver samples are in by then); a first scrape "
	     "covers the last 15 s; a window is at most 180 s.\n");
	fputs("Windowed:", stdout);
	for (int i = 0; i < METRIC_COUNT; i++)
		if (metric_windowed(i) && metric_family_first(i))
			printf(" `%s`", metric_table[i].name);
	puts(".\n");
	fputs("Also per MIG GPU instance (`GPU_I_ID`, `GPU_I_PROFILE`):", stdout);
	for (int i = 0; i < METRIC_COUNT; i++)
		if (metric_per_mig(i) && metric_family_first(i))
			printf(" `%s`", metric_table[i].name);
	puts(".\n");
	puts("**Energy.** `gpuscope_energy_joules_total` is the driver's counter (slow tier); "
	     "`gpuscope_power_integrated_joules_total` integrates the 20 ms power samples "
	     "(trapezoid) from the agent's start, for windows shorter than the slow tier. Their "
	     "rates agree (bench/README.md has the measurement on an H200).\n");
	puts("In OpenMetrics (`Accept: application/openmetrics-text`) counter families are "
	     "named without `_total` as the format requires, and dcgm-exporter's counters, "
	     "whose names lack `_total`, are typed `unknown` (`rate()` works the same).");
	puts("");
	puts("**dcgm-exporter's computed metrics**, with its labels and window flags (served "
	     "like the `DCGM_FI_*` names: all without `-f`, the file's with it): "
	     "`DCGM_EXP_XID_ERRORS_COUNT{xid, window_size_in_ms}`, the Xids of each code in the "
	     "last `-x/--xid-count-window-size` ms (300000; a 0 series without `xid` when there "
	     "were none); `DCGM_EXP_CLOCK_EVENTS_COUNT{clock_event, window_size_in_ms}`, for each "
	     "reason the time it held the clocks in the last `--clock-events-count-window-size` "
	     "ms (300000) divided by `-c` (30000 ms, dcgm-exporter's sample period), rounded: the "
	     "DCGM samples that would have seen it; `DCGM_EXP_P2P_STATUS{peer_gpu, link_status}`, "
	     "each GPU's NVLink P2P status towards each other GPU (nvmlDeviceGetP2PStatus, read "
	     "once; 0 OK, 5 NotSupported, ...); `DCGM_EXP_GPU_HEALTH_STATUS{health_watch, "
	     "health_error_code}`, DCGM's results (0 pass, 10 warn, 20 fail) for the watches "
	     "gpuscope judges from what it reads: `PCIE` (more than 8 replays in the last minute: "
	     "`DCGM_FR_PCI_REPLAY_RATE`), `NVLINK` (CRC, replay or recovery errors in the last "
	     "minute), `MEM` (an uncorrected volatile ECC error or Xid 48: fail; failed row "
	     "remapping: fail; a pending row remap or page retirement: warn), `THERMAL` (thermal "
	     "slowdown in the last minute), `POWER` (a hardware power brake in the last minute, or "
	     "power that cannot be read) and `ALL` (Xid 79 or a GPU lost: "
	     "`DCGM_FR_FALLEN_OFF_BUS`; Xid 95: `DCGM_FR_UNCONTAINED_ERROR`; NVML calls failing: "
	     "warn). DCGM's `PMU`, `MCU`, `SM`, `INFOROM` and `DRIVER` watches need its host "
	     "engine's checks and are not written; power-cap throttling, normal under load, is "
	     "not a `POWER` warning here.\n");
	puts("## Per-process series\n");
	puts("Read on the slow tier from NVML's process lists and per-process utilization, "
	     "attributed through /proc (docs/attribution.md); all gauges. Labels: `gpu`, `uuid`, "
	     "`pid`, `process` (the executable's name) and, where they apply, `container` (the "
	     "Kubernetes container name, else the first 12 hex digits of the container id), "
	     "`pod`, `namespace`, `slurm_job` (not `job`: Prometheus owns that label) and, with "
	     "MIG, `gpu_instance`. **Cardinality cap:** per GPU, the `--process-cap` (default "
	     "10, at most 64) processes with the most GPU memory get series of their own; the "
	     "others are summed into one series with `process=\"_other\"` and `pid=\"\"`, so a "
	     "GPU costs at most cap + 1 series per family.\n");
	puts("| native series | labels | description |");
	puts("|---|---|---|");
	for (int f = 0; f < PROC_FAMILY_COUNT; f++) {
		const struct process_family_def *fam = &process_family_table[f];
		printf("| `%s` | %s | %s |\n", fam->name,
		       fam->per_process ? "gpu, uuid, pid, process, ..." : "gpu, uuid", fam->help);
	}
	puts("\nWhen exactly one Kubernetes pod holds a GPU (the kubelet's pod-resources "
	     "allocation, else every process on the GPU being in one pod), the GPU's `DCGM_FI_*` "
	     "series carry dcgm-exporter's `pod`, `namespace` and `container` labels.");
	puts("\n## Per-inference series\n");
	puts("Histograms of the inferences that programs under `gpuscope run` report over the "
	     "agent's inference socket (`--inference-socket`, docs/inference.md); absent until "
	     "the first datagram arrives. Labels: `process` (the program's name), `workload` "
	     "(`pod:UID`, `container:ID12`, `slurm_job:N`, a systemd unit, or empty, from the "
	     "sender's cgroup; the sender's pid comes from the kernel, not the message) and "
	     "`range` (the NVTX range name; empty for busy periods). **Cardinality cap:** the "
	     "first `--inference-cap` (default 32) combinations get series of their own; later "
	     "ones are counted with every label `_other`.\n");
	puts("| native series | type | description |");
	puts("|---|---|---|");
#define DOC_INF_ROW(id, suffix, help, buckets) \
	printf("| `gpuscope_inference_%s` | histogram | %s |\n", suffix, help);
	INFERENCE_FAMILIES(DOC_INF_ROW)
#undef DOC_INF_ROW
	puts("| `gpuscope_inference_messages_total` | counter | Inference datagrams received. |");
	puts("| `gpuscope_inference_messages_rejected_total` | counter | Datagrams that were not "
	     "inference messages. |");
	puts("| `gpuscope_inference_messages_folded_total` | counter | Inferences counted under "
	     "`_other` because the cap was reached. |");
	puts("\n## NCCL collectives\n");
	puts("Figures of programs whose NCCL loaded libgpuscope-nccl.so (`NCCL_PROFILER_PLUGIN`, "
	     "docs/nccl.md), over the same socket; absent until the first line arrives. Labels of "
	     "the per-collective series: `process`, `workload`, `comm` (NCCL's communicator hash), "
	     "`rank`, `collective` (AllReduce, AllGather, ReduceScatter, Broadcast, Reduce, Send, "
	     "Recv, Other), `algorithm`, `protocol` and `timing` (`gpu`: GPU timers, NCCL 2.27+; "
	     "`kernel`: kernel-channel events seen by the host, 2.26; `proxy`: network proxy "
	     "operations; `enqueue`: the call only, older NCCLs). Per-process series "
	     "(`busy_seconds_total`, `time_ratio`) are labelled `process`, `workload`, `pid`. "
	     "At most 256 series; later ones are counted in "
	     "`gpuscope_nccl_messages_folded_total`.\n");
	puts("| native series | type | description |");
	puts("|---|---|---|");
#define DOC_NCCL_ROW(suffix, type, help) \
	printf("| `gpuscope_nccl_%s` | %s | %s |\n", suffix, type, help);
	NCCL_FAMILIES(DOC_NCCL_ROW)
#undef DOC_NCCL_ROW
	puts("| `gpuscope_nccl_messages_total` | counter | NCCL lines received. |");
	puts("| `gpuscope_nccl_messages_folded_total` | counter | NCCL lines not shown because "
	     "the series cap was reached. |");
	return 0;
}
