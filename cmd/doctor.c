/* doctor.c - `gpuscope doctor`: what this machine's GPUs and driver offer.
 *
 * It runs the same sampler as serve for a moment, so what it reports is
 * exactly what serve would export, and a hung GPU shows as stalled rather
 * than hanging doctor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/commands.h"
#include "cmd/session.h"
#include "export/collectors.h"
#include "servers/servers.h"

static void doctor_usage(FILE *to)
{
	fprintf(to, "Usage: gpuscope doctor [--nvml-lib PATH] [--demo [SCENARIO]]\n"
	            "                       [-f, --collectors FILE] [--inference-server URL]...\n"
	            "\n"
	            "Prints, per GPU, its identity, the driver and NVML versions, its health\n"
	            "and every metric gpuscope knows with 'yes' or why not.  With a\n"
	            "dcgm-exporter counters CSV, also which of its fields serve would produce\n"
	            "and, for each it cannot, why; per inference server given, whether its\n"
	            "/metrics answers with a known server's names.\n"
	            "Exits 0 when every GPU is healthy, 1 otherwise.\n");
}

/* "costly, every 60 s"; with the rule for dear reads (sample/schedule.h) in force, "costly,
 * every 600 s (10x: a read costs 16.0 ms of CPU)"; a source the idle rule slows, "fast, every
 * 0.1 s (1 s while the GPU is idle)"; "static" and the like when the source is not read on a
 * period. */
static const char *source_schedule(const struct gpu_record *g, enum source_id src, char *buf,
                                   size_t len)
{
	const char *tier = sample_tier_name(source_table[src].tier);
	double p = g->source_period[src];
	if (p <= 0)
		snprintf(buf, len, "%s", tier);
	else if (g->source_stretch[src] > 1)
		snprintf(buf, len, "%s, every %g s (%ux: a read costs %.1f ms of CPU)", tier, p,
		         g->source_stretch[src], g->source_cost[src] * 1e3);
	else if (g->source_idle_period[src] > 0)
		snprintf(buf, len, "%s, every %g s (%g s while the GPU is idle)", tier, p,
		         g->source_idle_period[src]);
	else
		snprintf(buf, len, "%s, every %g s", tier, p);
	return buf;
}

int cmd_doctor(int argc, char **argv)
{
	struct gpu_opts gopts = {0};
	char err[512];
	const char *collectors_path = NULL;
	struct servers_config srv;
	servers_config_default(&srv);
	srv.no_discovery = true; /* doctor reads no processes: only the servers named */
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--collectors") == 0) &&
		    i + 1 < argc) {
			collectors_path = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--inference-server") == 0 && i + 1 < argc &&
		    srv.nurls < SERVERS_URLS_MAX) {
			srv.urls[srv.nurls++] = argv[++i];
			continue;
		}
		int taken = gpu_opts_take(&gopts, argc, argv, &i, err, sizeof(err));
		if (taken < 0) {
			fprintf(stderr, "gpuscope doctor: %s\n", err);
			return 2;
		}
		if (taken)
			continue;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			doctor_usage(stdout);
			return 0;
		}
		fprintf(stderr, "gpuscope doctor: unknown option '%s'\n", argv[i]);
		doctor_usage(stderr);
		return 2;
	}
	struct collectors coll = {0};
	if (collectors_path && collectors_load(collectors_path, &coll, err, sizeof(err)) != 0) {
		fprintf(stderr, "gpuscope doctor: --collectors %s\n", err);
		return 2;
	}
	struct session sess;
	struct sampling run;
	struct sampler_config scfg = {
	    .fast_s = 0.1, .slow_s = 1.0, .costly_s = 1.0, .idle_s = SAMPLER_IDLE_DEFAULT_S};
	if (sampling_start(&run, &sess, &gopts, &scfg) != 0) {
		collectors_free(&coll);
		return 1;
	}
	sampler_wait_probed(run.sampler, 5.0);
	/* A few fast sweeps, so a call that fails at run time is named below. */
	nanosleep(&(struct timespec){0, 350 * 1000 * 1000}, NULL);
	struct board_snapshot snap;
	int rc = board_snapshot(&run.board, &snap);

	printf("library      %s\n", sess.info.library);
	printf("driver       %s\n", sess.info.driver_version[0] ? sess.info.driver_version : "?");
	printf("NVML         %s\n", sess.info.nvml_version[0] ? sess.info.nvml_version : "?");
	printf("CUDA driver  %s\n",
	       sess.info.cuda_driver_version[0] ? sess.info.cuda_driver_version : "?");
	if (sess.info.scenario[0])
		printf("SIMULATOR    scenario %s\n", sess.info.scenario);
	printf("GPUs         %u\n", sess.count);
	int exit_code = rc == 0 ? 0 : 1;
	for (unsigned i = 0; rc == 0 && i < snap.count; i++) {
		const struct gpu_record *g = &snap.gpus[i];
		printf("\nGPU %u  %s\n", g->index, g->id.name[0] ? g->id.name : "(name unknown)");
		printf("  uuid        %s\n", g->id.uuid);
		printf("  pci bus id  %s\n", g->id.pci_bus_id);
		if (g->id.minor >= 0)
			printf("  device      /dev/nvidia%d\n", g->id.minor);
		unsigned failing;
		const char *state = gpu_record_state(g, &failing);
		if (g->health_reason[0])
			printf("  health      %s: %s\n", state, g->health_reason);
		else if (failing)
			printf("  health      %s: %u metric%s failing (ERR below)\n", state,
			       failing, failing == 1 ? "" : "s");
		else
			printf("  health      %s\n", state);
		if ((g->health != GPU_OK && g->health != GPU_INACCESSIBLE) || failing)
			exit_code = 1;
		int yes = 0;
		for (int m = 0; m < METRIC_COUNT; m++)
			yes += metric_set_has(&g->supported, m);
		printf("  metrics     %d of %d supported\n", yes, METRIC_COUNT);
		for (int m = 0; m < METRIC_COUNT; m++) {
			char why[256], series[160];
			gpu_record_reason(g, m, why, sizeof(why));
			snprintf(series, sizeof(series), "%s%s%s%s", metric_table[m].name,
			         metric_table[m].labels[0] ? "{" : "",
			         metric_dynamic_label(m) ? metric_dynamic_label(m)
			                                 : metric_table[m].labels,
			         metric_table[m].labels[0] ? "}" : "");
			bool ok = metric_set_has(&g->supported, m);
			char failure[256];
			if (gpu_record_failing(g, m, snap.taken, failure, sizeof(failure)))
				printf("    %-4s %-62s %s\n", "ERR", series, failure);
			else if (ok)
				printf(
				    "    %-4s %-62s %s\n", "yes", series,
				    source_schedule(g, metric_table[m].source, why, sizeof(why)));
			else
				printf("    %-4s %-62s %s\n", "no", series, why);
		}
	}
	if (collectors_path) {
		size_t served = 0;
		for (size_t i = 0; i < coll.n; i++)
			served += coll.v[i].why == NULL;
		printf("\ndcgm-exporter fields in %s: %zu of %zu served\n", collectors_path, served,
		       coll.n);
		for (size_t i = 0; i < coll.n; i++)
			if (coll.v[i].why)
				printf("    no   %-46s %s\n", coll.v[i].name, coll.v[i].why);
	}
	collectors_free(&coll);
	if (rc == 0)
		board_snapshot_free(&snap);
	if (srv.nurls) {
		struct servers *sv = servers_start(&run.board, &srv, err, sizeof(err));
		if (!sv) {
			printf("\ninference servers: %s\n", err);
		} else {
			servers_wait_polled(sv, srv.timeout_s + 3);
			char *text = servers_doctor_text(sv);
			printf("\n%s", text ? text : "inference servers: out of memory\n");
			free(text);
			servers_stop(sv);
		}
	}
	sampling_stop(&run, &sess);
	return exit_code;
}
