/* json.c - JSON documents built with jansson from a board snapshot.
 *
 * Metric keys are the native series names with their fixed labels, e.g.
 * "gpuscope_ecc_errors_total{error=\"corrected\",scope=\"volatile\"}", so
 * a value found here can be looked up in /metrics and docs/metrics.md.
 * Values are in native units.
 */
#include "export/json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "series/mig.h"
#include "series/nvlink.h"
#include "series/xid_log.h"

/* Whole numbers as JSON integers (memory in bytes, clocks in Hz). */
static json_t *number(double v)
{
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static void series_key(int m, char *buf, size_t len)
{
	if (metric_dynamic_label(m))
		snprintf(buf, len, "%s{%s}", metric_table[m].name, metric_dynamic_label(m));
	else if (metric_table[m].labels[0])
		snprintf(buf, len, "%s{%s}", metric_table[m].name, metric_table[m].labels);
	else
		snprintf(buf, len, "%s", metric_table[m].name);
}

/* The metrics failing now, by series key, with the call and its error. */
static json_t *errors_json(const struct gpu_record *g, double now)
{
	json_t *errors = json_object();
	char key[256], why[256];
	for (int m = 0; m < METRIC_COUNT; m++) {
		if (!gpu_record_failing(g, m, now, why, sizeof(why)))
			continue;
		series_key(m, key, sizeof(key));
		json_object_set_new(errors, key, json_string(why));
	}
	return errors;
}

/* "health" and "reason": a GPU that is ok but has failing metrics is "degraded", and its
 * reason names the first of them. */
static void health_json(json_t *o, const struct gpu_record *g, double now)
{
	unsigned failing;
	const char *state = gpu_record_state(g, &failing);
	json_object_set_new(o, "health", json_string(state));
	char reason[640];
	snprintf(reason, sizeof(reason), "%s", g->health_reason);
	for (int m = 0; failing && !reason[0] && m < METRIC_COUNT; m++) {
		char why[256], key[256];
		if (!gpu_record_failing(g, m, now, why, sizeof(why)))
			continue;
		series_key(m, key, sizeof(key));
		snprintf(reason, sizeof(reason), "%u metric%s failing: %s: %s", failing,
		         failing == 1 ? "" : "s", key, why);
	}
	json_object_set_new(o, "reason", json_string(reason));
	json_object_set_new(o, "errors", errors_json(g, now));
}

static json_t *gpu_json(const struct gpu_record *g, double now)
{
	json_t *o = json_object();
	json_object_set_new(o, "gpu", json_integer(g->index));
	json_object_set_new(o, "uuid", json_string(g->id.uuid));
	json_object_set_new(o, "name", json_string(g->id.name));
	json_object_set_new(o, "pci_bus_id", json_string(g->id.pci_bus_id));
	json_object_set_new(o, "minor", g->id.minor >= 0 ? json_integer(g->id.minor) : json_null());
	health_json(o, g, now);
	json_t *metrics = json_object();
	json_t *unsupported = json_object();
	char key[256], why[256];
	for (int m = 0; m < METRIC_COUNT; m++) {
		series_key(m, key, sizeof(key));
		if (metric_dynamic_label(m) && metric_set_has(&g->valid, m))
			continue; /* per link / per code: below */
		if (metric_set_has(&g->valid, m))
			json_object_set_new(
			    metrics, key,
			    number(metric_native_value(metric_table[m].unit, g->raw[m])));
		else if (!metric_set_has(&g->supported, m) && metric_table[m].source != SRC_AGENT &&
		         g->health != GPU_PROBING) {
			gpu_record_reason(g, m, why, sizeof(why));
			json_object_set_new(unsupported, key, json_string(why));
		}
	}
	json_object_set_new(o, "metrics", metrics);
	json_object_set_new(o, "unsupported", unsupported);
	json_t *links = json_array();
	for (unsigned l = 0; l < g->nvlink.links; l++) {
		const struct nvlink_record *nv = &g->nvlink;
		double up = nvlink_value(nv, METRIC_NVLINK_UP, l);
		double tx = nvlink_value(nv, METRIC_NVLINK_TX_BYTES, l);
		double rx = nvlink_value(nv, METRIC_NVLINK_RX_BYTES, l);
		json_array_append_new(
		    links, json_pack("{s:i, s:o, s:o, s:o}", "link", (int)l, "up",
		                     up < 0 ? json_null() : json_boolean(up > 0), "transmit_bytes",
		                     tx < 0 ? json_null() : number(tx), "receive_bytes",
		                     rx < 0 ? json_null() : number(rx)));
	}
	json_object_set_new(o, "nvlink", links);
	json_t *xids = json_object();
	for (unsigned i = 0; i < g->xids.n; i++) {
		snprintf(key, sizeof(key), "%u", g->xids.code[i]);
		json_object_set_new(xids, key, number(g->xids.count[i]));
	}
	json_object_set_new(o, "xid_counts", xids);
	json_t *mig = json_array();
	for (unsigned k = 0; k < g->n_mig; k++) {
		const struct mig_record *r = &g->mig[k];
		json_t *mm = json_object();
		for (int m = 0; m < METRIC_COUNT; m++) {
			if (!metric_set_has(&r->valid, m))
				continue;
			series_key(m, key, sizeof(key));
			json_object_set_new(
			    mm, key, number(metric_native_value(metric_table[m].unit, r->raw[m])));
		}
		json_array_append_new(mig, json_pack("{s:i, s:s, s:s, s:o}", "gpu_instance_id",
		                                     (int)r->gi, "profile", r->profile, "uuid",
		                                     r->uuid, "metrics", mm));
	}
	json_object_set_new(o, "mig", mig);
	return o;
}

static json_t *info_json(const struct board_snapshot *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "version", json_string(GPUSCOPE_VERSION));
	json_object_set_new(o, "hostname", json_string(s->info.hostname));
	json_object_set_new(o, "driver_version", json_string(s->info.driver_version));
	json_object_set_new(o, "nvml_version", json_string(s->info.nvml_version));
	json_object_set_new(o, "cuda_driver_version", json_string(s->info.cuda_driver_version));
	json_object_set_new(o, "library", json_string(s->info.library));
	json_object_set_new(o, "simulator",
	                    s->info.scenario[0] ? json_string(s->info.scenario) : json_null());
	json_object_set_new(o, "simulated", json_boolean(s->info.scenario[0] != 0));
	return o;
}

static char *dump(json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
	json_decref(doc);
	return text;
}

char *json_gpus(const struct board_snapshot *s)
{
	json_t *doc = info_json(s);
	json_t *gpus = json_array();
	for (unsigned i = 0; i < s->count; i++)
		json_array_append_new(gpus, gpu_json(&s->gpus[i], s->taken));
	json_object_set_new(doc, "gpus", gpus);
	return dump(doc);
}

char *json_health(const struct board_snapshot *s, bool *healthy)
{
	json_t *doc = json_object();
	json_t *gpus = json_array();
	*healthy = true;
	bool degraded = false, probing = false;
	for (unsigned i = 0; i < s->count; i++) {
		const struct gpu_record *g = &s->gpus[i];
		probing |= g->health == GPU_PROBING;
		bool ok = g->health == GPU_OK || g->health == GPU_PROBING ||
		          g->health == GPU_INACCESSIBLE;
		*healthy &= ok;
		unsigned failing;
		gpu_record_state(g, &failing);
		degraded |= ok && failing > 0;
		json_t *o = json_object();
		json_object_set_new(o, "gpu", json_integer(g->index));
		json_object_set_new(o, "uuid", json_string(g->id.uuid));
		health_json(o, g, s->taken);
		json_array_append_new(gpus, o);
	}
	/* Degraded (some metrics fail, the rest are served) is still 200: restarting the
	 * agent would not mend a driver call. */
	/* Probing is still 200: the agent listens before its GPUs are probed, and a GPU
	 * still probed is absent from /metrics, not wrong there. */
	json_object_set_new(doc, "status",
	                    json_string(!*healthy  ? "unhealthy"
	                                : degraded ? "degraded"
	                                : probing  ? "probing"
	                                           : "ok"));
	json_object_set_new(doc, "nvml", json_string("ok"));
	json_object_set_new(doc, "gpus", gpus);
	return dump(doc);
}

char *json_with_field(char *doc, const char *key, const char *value_json)
{
	json_t *d = json_loads(doc, 0, NULL);
	free(doc);
	if (!d)
		return NULL;
	json_t *v = value_json ? json_loads(value_json, JSON_DECODE_ANY, NULL) : NULL;
	json_object_set_new(d, key, v ? v : json_null());
	return dump(d);
}
