/* gen_metrics_doc.c - writes docs/metrics.md from the metric table, so the
 * reference can never drift from the code (a test compares the two). */
#include <stdio.h>
#include <string.h>

#include "series/metric_table.h"

int main(void)
{
	puts("# gpuscope metrics\n");
	puts("Generated from `series/metric_table.h` by `make docs`; do not edit by hand.\n");
	puts("Every series carries `gpu` (NVML index) and `uuid` labels natively; the DCGM_FI_* "
	     "copies carry dcgm-exporter's labels `gpu, UUID, pci_bus_id, device, modelName, "
	     "Hostname` and its units. A metric the GPU does not support is absent, never 0. "
	     "`gpuscope doctor` lists what each GPU supports and why not.\n");
	puts("Tiers: **fast** every `--fast-interval` (100 ms), **slow** every `--slow-interval` "
	     "(5 s; calls that cost milliseconds), **static** read once after the probe, "
	     "**event** from the NVML event thread as events arrive, **agent** computed by "
	     "gpuscope.\n");
	puts("| native series | type | unit | tier | NVML source | dcgm-exporter name (unit) | "
	     "description |");
	puts("|---|---|---|---|---|---|---|");
	for (int i = 0; i < METRIC_COUNT; i++) {
		const struct metric_def *d = &metric_table[i];
		printf("| `%s%s%s%s` | %s | %s | %s | `%s` | ", d->name, d->labels[0] ? "{" : "",
		       d->labels, d->labels[0] ? "}" : "", d->type == COUNTER ? "counter" : "gauge",
		       metric_native_unit(d->unit), sample_tier_name(source_table[d->source].tier),
		       source_table[d->source].call);
		if (d->dcgm)
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
	puts("In OpenMetrics (`Accept: application/openmetrics-text`) counter families are "
	     "named without `_total` as the format requires, and dcgm-exporter's counters, "
	     "whose names lack `_total`, are typed `unknown` (`rate()` works the same).");
	return 0;
}
